"""Path confinement: the one function every front door calls before touching the disk.

A client path (absolute, or relative to the session's current folder) becomes a
`Target`: the normalised virtual path users see and the real path under the pool root.
Anything that could reach outside the root or that the pool refuses to store is
rejected here, with a message that says why.
"""

from __future__ import annotations

import os
import posixpath
import unicodedata
from dataclasses import dataclass
from pathlib import Path

from catalog.layout import FEED_DIR, is_internal_name

from .errors import InvalidPath, PathOutsidePool

MAX_NAME_BYTES = 255
DEFAULT_MAX_DEPTH = 16


@dataclass(frozen=True)
class Target:
    """A confined path: `vpath` is what users see ('/TRT/news/a.mxf'), `real` the file."""

    vpath: str
    real: Path

    @property
    def parts(self) -> tuple[str, ...]:
        return tuple(p for p in self.vpath.split("/") if p)

    @property
    def name(self) -> str:
        return posixpath.basename(self.vpath)

    @property
    def is_root(self) -> bool:
        return self.vpath == "/"

    @property
    def member_area(self) -> str | None:
        """The top-level folder this path lies in (a member's code), or None at the root."""
        parts = self.parts
        if not parts or parts[0] == FEED_DIR:
            return None
        return parts[0]

    @property
    def in_feed(self) -> bool:
        parts = self.parts
        return bool(parts) and parts[0] == FEED_DIR


_BIDI_CONTROLS = frozenset(
    "\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069"
)
"""Marks that reorder how a name is shown (U+202E makes 'gpj.exe' read 'exe.jpg')."""


def is_control(c: str) -> bool:
    """C0, DEL, C1, and the bidirectional overrides and isolates."""
    o = ord(c)
    return o < 0x20 or 0x7F <= o <= 0x9F or c in _BIDI_CONTROLS


def _check_name(name: str) -> None:
    if any(is_control(c) for c in name):
        raise InvalidPath(f"name {name!r} contains control characters")
    try:
        encoded = name.encode("utf-8")
    except UnicodeEncodeError:
        raise InvalidPath(f"name {name!r} is not valid UTF-8")
    if len(encoded) > MAX_NAME_BYTES:
        raise InvalidPath(f"name is {len(encoded)} bytes long; the limit is {MAX_NAME_BYTES}")
    if is_internal_name(name):
        raise InvalidPath(f"name {name!r} is reserved for the pool's own use")
    if "\\" in name:
        raise InvalidPath(f"name {name!r} contains a backslash")
    if unicodedata.category(name[0]) in ("Zs", "Cf") or name.strip() != name:
        raise InvalidPath(f"name {name!r} starts or ends with a space")


def normalise(path: str, cwd: str = "/", max_depth: int = DEFAULT_MAX_DEPTH) -> str:
    """Join `path` to `cwd` and normalise; refuse escapes, bad names and deep paths."""
    if "\x00" in path:
        raise InvalidPath("path contains a NUL byte")
    joined = path if path.startswith("/") else posixpath.join(cwd or "/", path)
    parts: list[str] = []
    for part in joined.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not parts:
                raise PathOutsidePool(f"{path!r} points outside the pool")
            parts.pop()
            continue
        _check_name(part)
        parts.append(part)
    if len(parts) > max_depth:
        raise InvalidPath(f"{path!r} is {len(parts)} folders deep; the limit is {max_depth}")
    return "/" + "/".join(parts)


def confine(root: Path, path: str, cwd: str = "/", max_depth: int = DEFAULT_MAX_DEPTH) -> Target:
    """The confined `Target` for a client path, or `InvalidPath`/`PathOutsidePool`.

    Symbolic links are resolved, and the rules are decided on the path as it is on
    disk: the folders on the way are resolved, so `Target.vpath` names the entry the
    operation really acts on (a link `/TRT/news/x -> ../../AZTV/news` makes
    `/TRT/news/x/a.mxf` the target `/AZTV/news/a.mxf`, which only AZTV may change). The
    last component is kept as it is: removing or renaming a link acts on the link. A
    path whose resolution leads outside the pool is refused.
    """
    named = normalise(path, cwd, max_depth)
    real_root = os.path.realpath(root)
    if named == "/":
        return Target("/", Path(real_root))
    candidate = os.path.join(real_root, named.lstrip("/"))
    resolved = os.path.realpath(candidate)
    if resolved != real_root and not resolved.startswith(real_root + os.sep):
        raise PathOutsidePool(f"{named!r} leads outside the pool")
    parent = os.path.realpath(os.path.dirname(candidate))
    entry = os.path.join(parent, os.path.basename(candidate))
    vpath = named if entry == candidate else to_vpath(root, entry)
    if vpath.count("/") > max_depth:
        raise InvalidPath(
            f"{named!r} leads {vpath.count('/')} folders deep; the limit is {max_depth}"
        )
    return Target(vpath, Path(entry))


def to_vpath(root: Path, real: str | os.PathLike[str]) -> str:
    """The virtual path of a real path under `root` (the inverse of `confine`). The
    error never names the real path: replies carry virtual paths only."""
    rel = os.path.relpath(os.fspath(real), os.path.realpath(root))
    if rel == ".":
        return "/"
    if rel == os.pardir or rel.startswith(os.pardir + os.sep):
        raise PathOutsidePool("that path points outside the pool")
    return "/" + rel.replace(os.sep, "/")

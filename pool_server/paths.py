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


def _check_name(name: str) -> None:
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in name):
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

    Symbolic links are resolved: a link inside the pool that points outside it is
    refused, whether it is the last component or a folder on the way.
    """
    vpath = normalise(path, cwd, max_depth)
    real_root = os.path.realpath(root)
    candidate = os.path.join(real_root, vpath.lstrip("/"))
    resolved = os.path.realpath(candidate)
    if resolved != real_root and not resolved.startswith(real_root + os.sep):
        raise PathOutsidePool(f"{vpath!r} leads outside the pool")
    return Target(vpath, Path(candidate))


def to_vpath(root: Path, real: str | os.PathLike[str]) -> str:
    """The virtual path of a real path under `root` (the inverse of `confine`)."""
    rel = os.path.relpath(os.fspath(real), os.path.realpath(root))
    if rel == ".":
        return "/"
    if rel.startswith(".."):
        raise PathOutsidePool(f"{os.fspath(real)!r} is outside the pool")
    return "/" + rel.replace(os.sep, "/")

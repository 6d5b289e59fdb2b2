"""One file on disk → its `item_files` row: role, stat, sha256 and what it says.

Nothing here raises for bad content: an unreadable essence or a hostile sidecar gives
a row whose ``info.error`` says what went wrong, and the item is catalogued anyway.
Only a file that vanished (or turned into a folder) raises FileNotFoundError.
"""

from __future__ import annotations

import os
import stat as statmod
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from .clean import clean_text, clean_value
from .errors import Cancelled, CatalogError
from .items import item_key, role_by_extension, split_name
from .manifest import MAX_SIGNATURE_BYTES, parse_member_signature
from .media import sha256_file, technical_metadata
from .sidecars import parse_sidecar, xml_role
from .textio import decode_text, read_limited


def stat_key(st: os.stat_result) -> tuple[int, int, int]:
    """What tells a file changed without reading it: (size, mtime_ns, inode)."""
    return (st.st_size, st.st_mtime_ns, st.st_ino)


def pool_path(pool_root: Path, path: Path) -> str:
    """'/TRT/news/story.mxf' for <pool_root>/TRT/news/story.mxf."""
    return "/" + path.relative_to(pool_root).as_posix()


def extract_file(
    pool_root: Path,
    relpath: str,
    max_sidecar_bytes: int,
    cancel: threading.Event | None = None,
) -> dict[str, Any]:
    """The `item_files` row of the file at pool path `relpath` ('/TRT/news/story.mxf').

    Raises Cancelled if `cancel` is set while the file is being hashed.
    """
    path = pool_root / relpath.lstrip("/")
    st = os.stat(path)
    if not statmod.S_ISREG(st.st_mode):
        raise FileNotFoundError(relpath)
    name = path.name
    role = role_by_extension(name)
    _, ext, lang = split_name(name)
    info: dict[str, Any] = {
        "uploaded": datetime.fromtimestamp(st.st_mtime, UTC).isoformat(),
    }
    if lang:
        info["language"] = lang
    if ext == ".xml":
        role = xml_role(path) or role
    errors: list[str] = []
    if role in ("sidecar", "script", "subtitle") and (ext in (".json", ".xml", ".xmp", ".nitf")):
        try:
            fields = parse_sidecar(path, max_sidecar_bytes)
            role = fields.pop("role", role)
            info["format"] = fields.pop("format", None)
            if "subtitle_language" in fields:
                info.setdefault("language", fields.pop("subtitle_language"))
            info["fields"] = fields
        except CatalogError as exc:
            errors.append(str(exc))
        except Exception as exc:  # a parser bug must not cost the item: note it, go on
            errors.append(f"cannot parse: {type(exc).__name__}: {exc}")
    elif role == "subtitle" and ext in (".srt", ".vtt"):
        try:
            text, encoding = decode_text(read_limited(path, max_sidecar_bytes))
            info["format"] = ext[1:]
            if encoding not in ("utf-8", "utf-8-sig"):
                info["encoding"] = encoding
            del text
        except CatalogError as exc:
            errors.append(str(exc))
    elif role == "signature":
        try:
            info["member_signature"] = parse_member_signature(
                read_limited(path, MAX_SIGNATURE_BYTES)
            )
        except CatalogError as exc:
            errors.append(str(exc))
    analysis: threading.Thread | None = None
    media_errors: list[str] = []
    if role == "essence":
        # MediaInfo reads headers (or, for a damaged file, scans it) while this thread
        # hashes: both release the GIL, so a big file costs its hash time, not the sum.
        def analyse() -> None:
            try:
                info["technical"] = technical_metadata(path)
            except CatalogError as exc:
                media_errors.append(str(exc))
            except Exception as exc:  # whatever MediaInfo's output does to us
                media_errors.append(f"cannot analyse: {type(exc).__name__}: {exc}")

        analysis = threading.Thread(target=analyse, name="catalog-mediainfo", daemon=True)
        analysis.start()
    sha256 = None
    hash_errors: list[str] = []
    try:
        sha256 = sha256_file(path, cancel=cancel)
    except Cancelled:
        raise
    except CatalogError as exc:
        hash_errors.append(str(exc))
    finally:
        if analysis is not None:
            analysis.join()
    errors += media_errors + hash_errors
    info = clean_value(info, warnings=errors)  # last line of defence: storable values only
    if errors:
        info["error"] = clean_text("; ".join(errors))
    info["role"] = role
    return {
        "path": relpath,
        "key": item_key(relpath),
        "role": role,
        "size": st.st_size,
        "mtime_ns": st.st_mtime_ns,
        "inode": st.st_ino,
        "sha256": sha256,
        "info": info,
    }

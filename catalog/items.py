"""From files to items: grouping by stem, file roles, and merging what each file says.

Pure functions over plain data: no I/O, so the indexer and the tests share them.
"""

from __future__ import annotations

import hashlib
import re
from pathlib import PurePosixPath
from typing import Any

from .folding import fold, fold_document
from .schema import ITEM_COLUMNS, JSON_COLUMNS
from .sidecars import FIELDS, LIST_FIELDS, TECH_FIELDS


def _exts(names: str) -> frozenset[str]:
    return frozenset("." + n for n in names.split())


ESSENCE_EXT = _exts(
    "mxf mov mp4 m4v mkv ts mts m2ts mpg mpeg m2v avi wmv webm dv gxf lxf vob flv 3gp"
    " wav mp3 aac m4a flac ogg opus bwf aif aiff"
)
SIDECAR_EXT = _exts("json xml xmp nitf")
SUBTITLE_EXT = _exts("srt vtt stl ttml dfxp scc sub ass")
SCRIPT_EXT = _exts("txt rtf doc docx odt pdf")
STILL_EXT = _exts("jpg jpeg png tif tiff webp bmp gif dpx exr heic")
SIGNATURE_EXT = _exts("sig")
"""A member's signature over the item (`pool put --sign`; catalog/manifest.py)."""
LANG_SUFFIX_EXT = SUBTITLE_EXT | SCRIPT_EXT | frozenset({".xml"})
"""Extensions after which `.<lang>` is a language tag of the file, not part of the stem."""

_LANG_TAG = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z0-9]{2,8})?$", re.IGNORECASE)

LANGUAGE_CODES = {
    "tur": "tr",
    "turkish": "tr",
    "aze": "az",
    "azerbaijani": "az",
    "kaz": "kk",
    "kazakh": "kk",
    "kir": "ky",
    "kyrgyz": "ky",
    "kirghiz": "ky",
    "uzb": "uz",
    "uzbek": "uz",
    "rus": "ru",
    "russian": "ru",
    "eng": "en",
    "english": "en",
    "hun": "hu",
    "hungarian": "hu",
    "tat": "tt",
    "tatar": "tt",
    "tuk": "tk",
    "turkmen": "tk",
    "ara": "ar",
    "arabic": "ar",
    "fra": "fr",
    "fre": "fr",
    "french": "fr",
    "deu": "de",
    "ger": "de",
    "german": "de",
    "spa": "es",
    "spanish": "es",
    "per": "fa",
    "fas": "fa",
    "persian": "fa",
    "ukr": "uk",
    "ukrainian": "uk",
    "bak": "ba",
    "tgk": "tg",
}


def normalize_language(tag: str | None) -> str | None:
    """'tr', 'tur', 'tr-TR', 'Turkish', 'uz-Latn' → 'tr'/'uz': the primary ISO 639-1 code."""
    if not tag:
        return None
    primary = tag.strip().replace("_", "-").split("-")[0].lower()
    primary = LANGUAGE_CODES.get(primary, primary)
    return primary if re.fullmatch(r"[a-z]{2,3}", primary) else None


def split_name(name: str) -> tuple[str, str, str | None]:
    """(stem, extension, language tag) of a file name: 'story.tr.srt' → ('story', '.srt', 'tr')."""
    path = PurePosixPath(name)
    ext = path.suffix.lower()
    stem = name[: len(name) - len(path.suffix)] if path.suffix else name
    lang = None
    if ext in LANG_SUFFIX_EXT:
        inner = PurePosixPath(stem).suffix
        if inner and _LANG_TAG.match(inner[1:]):
            lang = normalize_language(inner[1:])
            if lang:
                stem = stem[: -len(inner)]
    return stem, ext, lang


def item_key(relpath: str) -> str:
    """The item a pool path belongs to: its folder plus the shared stem ('/TRT/news/story')."""
    path = PurePosixPath("/" + relpath.strip("/"))
    stem, _, _ = split_name(path.name)
    return str(path.parent / stem)


def role_by_extension(name: str) -> str:
    _, ext, _ = split_name(name)
    if ext in ESSENCE_EXT:
        return "essence"
    if ext in SIDECAR_EXT:
        return "sidecar"
    if ext in SUBTITLE_EXT:
        return "subtitle"
    if ext in SCRIPT_EXT:
        return "script"
    if ext in STILL_EXT:
        return "still"
    if ext in SIGNATURE_EXT:
        return "signature"
    return "other"


def item_id(key: str) -> str:
    """Stable id shown to users: the member code and 10 hex digits of the key's hash."""
    member = key.strip("/").split("/")[0]
    return f"{member}-{hashlib.sha256(key.encode()).hexdigest()[:10]}"


def path_fields(key: str) -> dict[str, Any]:
    """What the path says: /<MEMBER>/<category>/[<series>/]<stem>."""
    parts = key.strip("/").split("/")
    out: dict[str, Any] = {"member": parts[0]}
    if len(parts) >= 3:
        out["category"] = parts[1]
    if len(parts) >= 4:
        out["series"] = "/".join(parts[2:-1])
    out["title"] = " ".join(re.sub(r"[_]+", " ", parts[-1]).split()) or parts[-1]
    return out


ROLE_ORDER = {
    "essence": 0,
    "sidecar": 1,
    "script": 2,
    "subtitle": 3,
    "still": 4,
    "other": 5,
    "signature": 6,
}
SIDECAR_FORMAT_ORDER = {"json": 0}


def _source_order(f: dict[str, Any]) -> tuple[int, int, str]:
    info = f["info"]
    role = info.get("role", f["role"])
    if role == "sidecar":
        rank = 0 if info.get("format") == "json" else 1
    elif role == "script":
        rank = 2
    else:
        rank = 3
    return (rank, 0, f["path"])


def build_item(key: str, files: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The item row for `key` from its files' rows (path, role, size, sha256, info, ...).

    Merge order for descriptive fields: sidecars (our JSON first), scripts, embedded
    tags of the essence, the path. Technical fields: the essence's MediaInfo first, then
    what a sidecar claims. None when no file is left.
    """
    if not files:
        return None
    files = sorted(files, key=lambda f: (ROLE_ORDER.get(f["role"], 9), f["path"]))
    # the largest essence is the item (the high-resolution file, not its proxy)
    essences = sorted((f for f in files if f["role"] == "essence"), key=lambda f: -f["size"])
    primary = essences[0] if essences else files[0]
    technical = dict(primary["info"].get("technical") or {})
    tags = technical.pop("tags", {})
    sources = [f["info"].get("fields") or {} for f in sorted(files, key=_source_order)]
    sources = [*sources, tags, path_fields(key)]

    row: dict[str, Any] = {name: None for name in ITEM_COLUMNS}
    for name in FIELDS:
        if name in TECH_FIELDS:
            continue
        for src in sources:
            value = src.get(name)
            if value not in (None, "", []):
                row[name] = value
                break
    for name in (
        "container",
        "operational_pattern",
        "commercial_name",
        "video_codec",
        "video_profile",
        "width",
        "height",
        "frame_rate",
        "scan_type",
        "aspect_ratio",
        "bit_rate",
        "duration",
        "start_timecode",
    ):
        value = technical.get(name)
        if value in (None, ""):
            value = next((s[name] for s in sources[:-2] if s.get(name) not in (None, "")), None)
        row[name] = value
    for name in ("width", "height", "bit_rate"):
        if row[name] is not None:
            row[name] = int(row[name])
    for name in ("frame_rate", "duration"):
        if row[name] is not None:
            row[name] = float(row[name])
    row["audio"] = technical.get("audio") or []
    row["member"] = path_fields(key)["member"]
    langs = [normalize_language(v) for v in row["languages"] or []]
    row["languages"] = sorted({v for v in langs if v})
    for name in ("keywords", "subjects"):
        row[name] = list(row[name] or [])
    subtitles = [f for f in files if (f["info"].get("role") or f["role"]) == "subtitle"]
    row["has_subtitles"] = 1 if subtitles else 0
    row["attachments"] = [
        {
            k: v
            for k, v in {
                "path": f["path"],
                "role": f["info"].get("role") or f["role"],
                "size": f["size"],
                "sha256": f["sha256"],
                "language": f["info"].get("language"),
                "format": f["info"].get("format"),
            }.items()
            if v is not None
        }
        for f in files
        if f is not primary
    ]
    row["errors"] = [
        f"{PurePosixPath(f['path']).name}: {f['info']['error']}"
        for f in files
        if f["info"].get("error")
    ] + [
        f"{PurePosixPath(f['path']).name}: {w}"
        for f in files
        for w in (f["info"].get("fields") or {}).get("warnings", [])
    ]
    row.update(
        {
            "id": item_id(key),
            "key": key,
            "path": primary["path"],
            "size": primary["size"],
            "sha256": primary["sha256"],
            "uploader": primary["info"].get("uploader"),
            "uploaded": primary["info"].get("uploaded"),
            "indexed": max(f["indexed"] or "" for f in files) or None,
        }
    )
    for name in LIST_FIELDS:
        row[name] = row[name] or []
    return row


def new_preview(state: str, source_sha256: str | None, **extra: Any) -> dict[str, Any]:
    """An item's `preview` field: state ("pending" | "ready" | "failed" | "none"), the
    published files ({name: size}), the error, the essence's sha256 it is about."""
    record: dict[str, Any] = {
        "state": state,
        "files": {},
        "error": None,
        "source_sha256": source_sha256,
    }
    record.update(extra)
    return record


def next_preview(old: dict[str, Any] | None, new: dict[str, Any]) -> tuple[dict[str, Any], bool]:
    """The `preview` of a rebuilt item, and whether a preview job is wanted.

    Unchanged essence (same sha256): the old record stays. A new essence: "pending",
    with the files of the previous version still listed (they stay published until the
    new ones replace them). No essence: "none".
    """
    previous = (old or {}).get("preview") or None
    if role_by_extension(PurePosixPath(new["path"]).name) != "essence":
        if previous and previous.get("state") == "none" and not previous.get("files"):
            return previous, False
        return new_preview("none", None), bool(previous and previous.get("files"))
    sha = new.get("sha256")
    if previous and previous.get("source_sha256") == sha and sha is not None:
        return previous, False
    files = dict(previous.get("files") or {}) if previous else {}
    return new_preview("pending", sha, files=files), True


def encode_row(row: dict[str, Any]) -> dict[str, Any]:
    """The row as stored: JSON columns as compact JSON text."""
    import json

    return {
        k: (
            json.dumps(v, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
            if k in JSON_COLUMNS
            else v
        )
        for k, v in row.items()
    }


def decode_row(row: dict[str, Any]) -> dict[str, Any]:
    import json

    return {
        k: (json.loads(v) if k in JSON_COLUMNS and v is not None else v) for k, v in row.items()
    }


def facet_token(prefix: str, value: str) -> str:
    return prefix + fold(value).replace(" ", "")


def fts_document(row: dict[str, Any]) -> tuple[str, str, str]:
    """(title, body, facets) folded text of an item for items_fts."""
    title = fold_document(row.get("title"))
    body_parts: list[str] = [
        row.get(name) or ""
        for name in (
            "slug",
            "description",
            "shotlist",
            "location",
            "dateline",
            "series",
            "episode",
            "story_id",
            "creator",
            "category",
            "commercial_name",
            "restrictions",
        )
    ]
    body_parts += list(row.get("keywords") or []) + list(row.get("subjects") or [])
    body_parts.append(PurePosixPath(row["key"]).name)
    body = fold_document(" ".join(p for p in body_parts if p))
    facets = [facet_token("m", row["member"])]
    if row.get("category"):
        facets.append(facet_token("c", row["category"]))
    langs = set(row.get("languages") or [])
    langs |= {a.get("language") for a in row.get("audio") or [] if a.get("language")}
    langs |= {a.get("language") for a in row.get("attachments") or [] if a.get("language")}
    facets += sorted(facet_token("l", lang) for lang in langs if lang)
    if row.get("has_subtitles"):
        facets.append("hassubs")
    facets.append("all")
    return title, body, " ".join(facets)

"""Descriptive sidecars and attachments: detect the format, parse safely, map to fields.

`parse_sidecar(path, max_bytes)` returns a dict of item fields (FIELDS) plus ``format``
and ``role`` (``sidecar``, ``script`` or ``subtitle``). It raises `SidecarError` for a
file that cannot be used; the caller records the error on the item and goes on.

XML is parsed with defusedxml: DTD entity declarations (billion laughs) and external
entities/references (XXE) are refused. Text is UTF-8, or cp1251/cp1254 for legacy files.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from xml.etree.ElementTree import ParseError

import defusedxml
import defusedxml.ElementTree as SafeET

from .clean import clean_number, clean_text, clean_value
from .errors import SidecarError
from .sidecar_xml import Fields, parser_for
from .textio import decode_text, read_limited

TEXT_FIELDS = (
    "title",
    "description",
    "shotlist",
    "story_id",
    "slug",
    "series",
    "episode",
    "location",
    "dateline",
    "restrictions",
    "embargo",
    "content_date",
    "creator",
    "category",
)
LIST_FIELDS = ("languages", "keywords", "subjects")
TECH_FIELDS = (
    "container",
    "video_codec",
    "width",
    "height",
    "frame_rate",
    "scan_type",
    "aspect_ratio",
    "duration",
    "start_timecode",
)
FIELDS = TEXT_FIELDS + LIST_FIELDS + TECH_FIELDS
"""Item fields a sidecar may set. `member` is never taken from a sidecar: the path says."""

JSON_ALIASES = {
    "headline": "title",
    "dope_sheet": "description",
    "dopesheet": "description",
    "language": "languages",
    "usage_terms": "restrictions",
    "rights": "restrictions",
    "storyId": "story_id",
    "story": "story_id",
    "date": "content_date",
    "subject": "subjects",
    "tags": "keywords",
}

_XML_DECL = re.compile(rb"^\s*<\?xml[^>]*\?>")
_ENCODING_DECL = re.compile(rb"""encoding\s*=\s*["']([A-Za-z0-9._-]+)["']""")


def _text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, (str, int, float)) and not isinstance(value, bool):
        text = str(value).strip()
        return text or None
    raise SidecarError(f"expected text, got {type(value).__name__}")


def _list(value: Any) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [v.strip() for v in value.split(",") if v.strip()]
    if isinstance(value, list):
        return [t for t in (_text(v) for v in value) if t]
    raise SidecarError(f"expected a list of texts, got {type(value).__name__}")


def parse_json_sidecar(data: bytes) -> Fields:
    """Our JSON sidecar (catalog/SIDECAR_JSON.md): one object of item fields."""
    text, _ = decode_text(data)
    try:
        doc = json.loads(text)
    except (ValueError, RecursionError) as exc:  # ValueError: also a 5,000-digit integer
        raise SidecarError(f"not valid JSON: {exc}") from exc
    if not isinstance(doc, dict):
        raise SidecarError("a JSON sidecar must be an object of fields")
    fields: Fields = {"format": "json"}
    errors: list[str] = []
    for raw_key, value in doc.items():
        key = JSON_ALIASES.get(raw_key, raw_key)
        try:
            if key in LIST_FIELDS:
                if _list(value):
                    fields[key] = _list(value)
            elif key in ("width", "height", "frame_rate", "duration"):
                if value is not None:
                    number, why = clean_number(key, value)
                    if why:
                        raise SidecarError(why.split(": ", 1)[1])
                    fields[key] = number
            elif key in FIELDS and _text(value):
                fields[key] = _text(value)
        except SidecarError as exc:
            errors.append(f"{raw_key}: {exc}")
    return _cleaned(fields, errors)


def _cleaned(fields: Fields, warnings: list[str]) -> Fields:
    """Fields safe to store and publish (catalog.clean), what was dropped in `warnings`."""
    warnings = [*warnings, *fields.pop("warnings", [])]
    out: Fields = clean_value(fields, warnings=warnings)
    if warnings:
        out["warnings"] = [clean_text(w) for w in warnings]
    return out


def _parse_xml_bytes(data: bytes) -> Any:
    """The root element, decoding legacy text that claims (or defaults to) UTF-8."""
    declared = _ENCODING_DECL.search(data[:200])
    encoding = declared.group(1).decode().lower() if declared else "utf-8"
    try:
        if encoding in ("utf-8", "utf8") and not data.startswith(b"\xef\xbb\xbf"):
            try:
                data.decode("utf-8")
            except UnicodeDecodeError:
                text, _ = decode_text(data)
                return SafeET.fromstring(_XML_DECL.sub(b"", text.encode("utf-8")).decode())
        return SafeET.fromstring(data, forbid_dtd=False)
    except defusedxml.DefusedXmlException as exc:
        raise SidecarError(f"refused hostile XML ({type(exc).__name__})") from exc
    except (ParseError, ValueError, LookupError) as exc:
        raise SidecarError(f"malformed XML: {exc}") from exc


def parse_xml_sidecar(data: bytes) -> Fields:
    root = _parse_xml_bytes(data)
    parser = parser_for(root)
    if parser is None:
        raise SidecarError(f"unknown XML format (root element {clean_text(str(root.tag))!r})")
    return _cleaned(parser(root), [])


def parse_sidecar(path: Path, max_bytes: int) -> Fields:
    """Fields from a sidecar file (.json, .xml, .xmp, .nitf); SidecarError if unusable."""
    data = read_limited(path, max_bytes)
    suffix = path.suffix.lower()
    fields = parse_json_sidecar(data) if suffix == ".json" else parse_xml_sidecar(data)
    fields.setdefault("role", "sidecar")
    return fields


def xml_role(path: Path) -> str | None:
    """'subtitle', 'script' or 'sidecar' from the root element of an .xml file, cheaply.

    Reads the first 4 KiB only; None if the root cannot be recognised that way.
    """
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return None
    m = re.search(rb"<(?![?!])([A-Za-z_][\w.-]*:)?([A-Za-z_][\w.-]*)", head)
    if not m:
        return None
    name = m.group(2).decode()
    if name == "tt":
        return "subtitle"
    if name == "nitf":
        return "script"
    return "sidecar"

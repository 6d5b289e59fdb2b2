"""XML sidecars mapped onto item fields: NewsML-G2, EBUCore, DC/OAI-DC, XMP (IPTC Video
Metadata Hub), NITF scripts and EBU-TT/TTML subtitles.

Every parser takes a parsed root element and returns a dict of item fields (see
`catalog.sidecars.FIELDS`). Elements are matched by local name within the format's
namespaces, so the dated EBUCore namespaces and un-namespaced NITF work alike.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterator
from typing import Any
from xml.etree.ElementTree import Element

NEWSML_NS = "http://iptc.org/std/nar/2006-10-01/"
EBUCORE_NS_PREFIX = "urn:ebu:metadata-schema:ebu"  # ebucore, ebuCore_2012 ... ebuCore_2017
DC_NS = "http://purl.org/dc/elements/1.1/"
DCTERMS_NS = "http://purl.org/dc/terms/"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
XMP_NS = "adobe:ns:meta/"
RDF_NS = "http://www.w3.org/1999/02/22-rdf-syntax-ns#"
NITF_NS = "http://iptc.org/std/NITF/2006-10-18/"
TTML_NS = "http://www.w3.org/ns/ttml"
XML_LANG = "{http://www.w3.org/XML/1998/namespace}lang"

Fields = dict[str, Any]


def ns_of(tag: str) -> str:
    return tag[1:].split("}", 1)[0] if tag.startswith("{") else ""


def local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def text_of(el: Element | None) -> str | None:
    """All text inside `el`, whitespace collapsed; None when empty."""
    if el is None:
        return None
    text = " ".join(" ".join(el.itertext()).split())
    return text or None


def children(el: Element, name: str) -> Iterator[Element]:
    return (c for c in el if local(c.tag) == name)


def child(el: Element, name: str) -> Element | None:
    return next(children(el, name), None)


def descendants(el: Element, name: str) -> Iterator[Element]:
    return (d for d in el.iter() if local(d.tag) == name)


def first_desc(el: Element, name: str) -> Element | None:
    return next(descendants(el, name), None)


def _put(fields: Fields, name: str, value: Any) -> None:
    if value not in (None, "", []) and name not in fields:
        fields[name] = value


def _append(fields: Fields, name: str, values: list[str]) -> None:
    values = [v for v in values if v]
    if values:
        existing = fields.setdefault(name, [])
        existing.extend(v for v in values if v not in existing)


def _number(text: str | None) -> float | None:
    """A finite number, or None ("inf", "nan", "1e999" and non-numbers are not numbers)."""
    try:
        value = float(text) if text not in (None, "") else None
    except ValueError:
        return None
    return value if value is not None and math.isfinite(value) else None


def _warn_number(fields: Fields, name: str, text: str | None) -> None:
    """Note in the sidecar's warnings a number field that holds no finite number."""
    if text and text.strip() and _number(text) is None:
        fields.setdefault("warnings", []).append(f"{name}: {text[:40]!r} is not a finite number")


def _put_number(fields: Fields, name: str, text: str | None) -> None:
    _warn_number(fields, name, text)
    _put(fields, name, _number(text))


_ISO_DURATION = re.compile(
    r"^P(?:(?P<d>\d+(?:\.\d+)?)D)?(?:T(?:(?P<h>\d+(?:\.\d+)?)H)?(?:(?P<m>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<s>\d+(?:\.\d+)?)S)?)?$"
)


def iso_duration_seconds(text: str | None) -> float | None:
    """Seconds of an ISO 8601 duration such as PT1M35S; None if not one."""
    m = _ISO_DURATION.match((text or "").strip())
    if not m or not any(m.groupdict().values()):
        return None
    g = {k: float(v) if v else 0.0 for k, v in m.groupdict().items()}
    seconds = g["d"] * 86400 + g["h"] * 3600 + g["m"] * 60 + g["s"]
    return seconds if math.isfinite(seconds) else None


# --- NewsML-G2 --------------------------------------------------------------------------


def parse_newsml(root: Element) -> Fields:
    item = root if local(root.tag) == "newsItem" else first_desc(root, "newsItem")
    if item is None:
        return {}
    f: Fields = {"format": "newsml-g2"}
    _put(f, "story_id", item.get("guid"))
    content = child(item, "contentMeta")
    meta = child(item, "itemMeta")
    rights = child(item, "rightsInfo")
    if content is not None:
        _put(f, "title", text_of(child(content, "headline")))
        _put(f, "slug", text_of(child(content, "slugline")))
        _put(f, "dateline", text_of(child(content, "dateline")))
        for desc in children(content, "description"):
            role = (desc.get("role") or "").lower()
            _put(f, "shotlist" if "shotlist" in role else "description", text_of(desc))
        _append(f, "languages", [lang.get("tag") or "" for lang in children(content, "language")])
        for located in children(content, "located"):
            _put(f, "location", text_of(child(located, "name")) or located.get("literal"))
        for creator in children(content, "creator"):
            _put(f, "creator", text_of(child(creator, "name")) or creator.get("literal"))
        subjects = list(children(content, "subject"))
        _append(f, "subjects", [s.get("qcode") or "" for s in subjects])
        _append(f, "keywords", [text_of(child(s, "name")) or "" for s in subjects])
        _append(f, "keywords", [text_of(k) or "" for k in children(content, "keyword")])
        for genre in children(content, "genre"):
            _append(f, "keywords", [text_of(child(genre, "name")) or ""])
        _put(f, "content_date", text_of(child(content, "contentCreated")))
    if meta is not None:
        _put(f, "embargo", text_of(child(meta, "embargoed")))
        _put(f, "content_date", text_of(child(meta, "firstCreated")))
        note = text_of(child(meta, "edNote"))
        if note:
            _put(f, "description", note)
    if rights is not None:
        _put(f, "restrictions", text_of(child(rights, "usageTerms")))
    remote = first_desc(item, "remoteContent")
    if remote is not None:
        _put_number(f, "width", remote.get("width"))
        _put_number(f, "height", remote.get("height"))
        _put_number(f, "frame_rate", remote.get("videoframerate"))
        _put(f, "scan_type", remote.get("videoscan"))
        _put(f, "aspect_ratio", remote.get("videoaspectratio"))
        duration = _number(remote.get("duration"))
        _warn_number(f, "duration", remote.get("duration"))
        unit = remote.get("durationunit") or "timeunit:seconds"
        if duration is not None and unit.endswith("seconds"):
            _put(f, "duration", duration)
    return f


# --- EBUCore ----------------------------------------------------------------------------


def _typed(el: Element) -> str:
    return (el.get("typeLabel") or el.get("typeDefinition") or el.get("typeLink") or "").lower()


def parse_ebucore(root: Element) -> Fields:
    core = root if local(root.tag) == "coreMetadata" else first_desc(root, "coreMetadata")
    if core is None:
        return {}
    f: Fields = {"format": "ebucore"}
    for title in children(core, "title"):
        _put(f, "title", text_of(title))
    for title in children(core, "alternativeTitle"):
        kind = _typed(title)
        if "series" in kind:
            _put(f, "series", text_of(title))
        elif "episode" in kind:
            _put(f, "episode", text_of(title))
        elif "slug" in kind:
            _put(f, "slug", text_of(title))
    for desc in children(core, "description"):
        _put(f, "shotlist" if "shot" in _typed(desc) else "description", text_of(desc))
    for ident in children(core, "identifier"):
        if "story" in _typed(ident) and text_of(ident):
            f["story_id"] = text_of(ident)
        else:
            _put(f, "story_id", text_of(ident))
    _append(f, "languages", [text_of(lang) or "" for lang in children(core, "language")])
    for coverage in children(core, "coverage"):
        for loc in descendants(coverage, "location"):
            _put(f, "location", text_of(child(loc, "name")) or text_of(loc))
    for rights in children(core, "rights"):
        _put(f, "restrictions", text_of(rights))
    _append(f, "keywords", [text_of(s) or "" for s in children(core, "subject")])
    for date in children(core, "date"):
        created = child(date, "created")
        _put(f, "content_date", created.get("startDate") if created is not None else None)
        _put(f, "content_date", text_of(date))
    for creator in children(core, "creator"):
        _put(f, "creator", text_of(first_desc(creator, "name")) or text_of(creator))
    for part in ("isEpisodeOf", "isMemberOf", "isPartOf"):
        for rel in children(core, part):
            _put(f, "series", text_of(first_desc(rel, "title")) or text_of(rel))
    fmt = child(core, "format")
    if fmt is not None:
        _put_number(f, "width", text_of(first_desc(fmt, "width")))
        _put_number(f, "height", text_of(first_desc(fmt, "height")))
        rate = first_desc(fmt, "frameRate")
        if rate is not None:
            ratio = (_number(rate.get("factorNumerator")) or 1.0) / (
                _number(rate.get("factorDenominator")) or 1.0
            )
            base = _number(text_of(rate))
            # a factor near 1 corrects the value (30 x 1000/1001); a larger one is the rate
            rate_value = base * ratio if base and ratio < 1.5 else ratio if ratio >= 1.5 else base
            _put(f, "frame_rate", round(rate_value, 3) if rate_value else None)
        container = first_desc(fmt, "containerFormat")
        if container is not None:
            _put(f, "container", container.get("containerFormatName") or text_of(container))
        video = first_desc(fmt, "videoFormat")
        if video is not None:
            _put(f, "video_codec", video.get("videoFormatName"))
        start = first_desc(fmt, "start")
        _put(f, "start_timecode", text_of(first_desc(fmt if start is None else start, "timecode")))
        duration = first_desc(fmt, "duration")
        if duration is not None:
            _put(
                f, "duration", iso_duration_seconds(text_of(first_desc(duration, "normalPlayTime")))
            )
        tracks = [t.get("trackLanguage") or "" for t in descendants(fmt, "audioTrack")]
        _append(f, "audio_languages", tracks)
    return f


# --- Dublin Core / OAI-DC ---------------------------------------------------------------


def parse_dc(root: Element) -> Fields:
    f: Fields = {"format": "dublin-core"}
    elements = [el for el in root.iter() if ns_of(el.tag) in (DC_NS, DCTERMS_NS)]
    for el in elements:
        name, value = local(el.tag), text_of(el)
        if not value:
            continue
        if name == "title":
            _put(f, "title", value)
        elif name == "alternative":
            _put(f, "slug", value)
        elif name in ("description", "abstract"):
            key = "shotlist" if value.lower().startswith("shotlist") else "description"
            _put(f, key, value)
        elif name == "identifier":
            _put(f, "story_id", value)
        elif name == "language":
            _append(f, "languages", [value])
        elif name in ("coverage", "spatial"):
            _put(f, "location", value)
        elif name in ("date", "created", "issued"):
            _put(f, "content_date", value)
        elif name in ("creator", "publisher"):
            _put(f, "creator", value)
        elif name == "subject":
            _append(f, "keywords", [value])
        elif name in ("rights", "accessRights", "license"):
            _put(f, "restrictions", value)
        elif name == "isPartOf":
            _put(f, "series", value)
    return f


# --- XMP / IPTC Video Metadata Hub ------------------------------------------------------


def _rdf_values(el: Element) -> list[str]:
    """Values of an XMP property: a simple text, or the rdf:li of an Alt/Bag/Seq."""
    items = [text_of(li) for li in descendants(el, "li")]
    if items:
        return [i for i in items if i]
    value = text_of(el)
    return [value] if value else []


def _xmp_props(root: Element) -> dict[str, list[Element | str]]:
    """Every property of every rdf:Description, by local name (attributes included)."""
    props: dict[str, list[Element | str]] = {}
    for desc in descendants(root, "Description"):
        for attr, value in desc.attrib.items():
            if ns_of(attr) != RDF_NS:
                props.setdefault(local(attr), []).append(value)
        for prop in desc:
            props.setdefault(local(prop.tag), []).append(prop)
    return props


def parse_xmp(root: Element) -> Fields:
    f: Fields = {"format": "xmp"}
    props = _xmp_props(root)

    def values(name: str) -> list[str]:
        out: list[str] = []
        for p in props.get(name, []):
            out.extend([p] if isinstance(p, str) else _rdf_values(p))
        return out

    def first(*names: str) -> str | None:
        for name in names:
            vals = values(name)
            if vals:
                return vals[0]
        return None

    _put(f, "title", first("Headline", "title"))
    _put(f, "description", first("description", "Caption"))
    _put(f, "shotlist", first("Dopesheet", "Shotlist"))
    _put(f, "story_id", first("TransmissionReference", "identifier", "JobId"))
    _append(f, "keywords", values("subject") + values("Keywords"))
    _append(f, "languages", values("language"))
    _put(f, "content_date", first("DateCreated", "CreateDate", "date"))
    _put(f, "creator", first("Credit", "creator", "Source"))
    _put(f, "restrictions", first("UsageTerms", "rights", "Instructions"))
    _put(f, "location", first("City", "Location"))
    for name in ("LocationShown", "LocationCreated"):
        for p in props.get(name, []):
            if not isinstance(p, str):
                _put(
                    f,
                    "location",
                    text_of(first_desc(p, "City")) or text_of(first_desc(p, "Sublocation")),
                )
    for p in props.get("Series", []):
        if not isinstance(p, str):
            _put(f, "series", text_of(first_desc(p, "Name")) or text_of(p))
    for p in props.get("Episode", []):
        if not isinstance(p, str):
            _put(f, "episode", text_of(first_desc(p, "Number")) or text_of(first_desc(p, "Name")))
    _put_number(f, "frame_rate", first("videoFrameRate"))
    for p in props.get("duration", []):
        if isinstance(p, str):
            continue
        value = _number(text_of(first_desc(p, "value")) or p.get(f"{{{ns_of(p.tag)}}}value"))
        scale = text_of(first_desc(p, "scale")) or p.get(f"{{{ns_of(p.tag)}}}scale") or "1"
        num, _, den = scale.partition("/")
        factor = (_number(num) or 1.0) / (_number(den) or 1.0) if den else _number(num) or 1.0
        if value is not None:
            _put(f, "duration", round(value * factor, 3))
    for p in props.get("startTimecode", []):
        if not isinstance(p, str):
            _put(f, "start_timecode", text_of(first_desc(p, "timeValue")))
    return f


# --- NITF (scripts) ---------------------------------------------------------------------


def parse_nitf(root: Element) -> Fields:
    f: Fields = {"format": "nitf", "role": "script"}
    _put(f, "title", text_of(first_desc(root, "hl1")))
    _put(f, "title", text_of(first_desc(root, "title")))
    doc_id = first_desc(root, "doc-id")
    if doc_id is not None:
        _put(f, "story_id", doc_id.get("id-string"))
    issue = first_desc(root, "date.issue")
    if issue is not None:
        _put(f, "content_date", issue.get("norm"))
    _put(f, "creator", text_of(first_desc(root, "byline")))
    dateline = first_desc(root, "dateline")
    if dateline is not None:
        _put(f, "location", text_of(first_desc(dateline, "location")))
        _put(f, "dateline", text_of(dateline))
    lang = root.get(XML_LANG) or root.get("lang")
    _append(f, "languages", [lang or ""])
    _append(f, "keywords", [k.get("key") or "" for k in descendants(root, "keyword")])
    body = first_desc(root, "body.content")
    text = text_of(body)
    if text:
        f["script"] = text[:20000]
    return f


# --- EBU-TT / TTML subtitles ------------------------------------------------------------


def parse_ttml(root: Element) -> Fields:
    f: Fields = {"format": "ebu-tt", "role": "subtitle"}
    lang = root.get(XML_LANG)
    if lang:
        f["subtitle_language"] = lang
    return f


def parser_for(root: Element) -> Callable[[Element], Fields] | None:
    """The parser for this document, by its root element; None if unknown."""
    ns, name = ns_of(root.tag), local(root.tag)
    if ns == NEWSML_NS or name in ("newsItem", "newsMessage"):
        return parse_newsml
    if ns.startswith(EBUCORE_NS_PREFIX) or name == "ebuCoreMain":
        return parse_ebucore
    if ns in (XMP_NS, RDF_NS) or name in ("xmpmeta", "RDF"):
        return parse_xmp
    if ns == NITF_NS or name == "nitf":
        return parse_nitf
    if ns == TTML_NS or name == "tt":
        return parse_ttml
    if ns == OAI_DC_NS or any(ns_of(el.tag) in (DC_NS, DCTERMS_NS) for el in root.iter()):
        return parse_dc
    return None

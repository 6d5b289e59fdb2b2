"""A demo sample's descriptive sidecar in the format its row names: our JSON
(catalog/SIDECAR_JSON.md), IPTC NewsML-G2, EBUCore, Dublin Core (OAI-DC) or XMP with
IPTC Core/Extension — shaped like the examples members send (shared/examples)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from xml.sax.saxutils import escape, quoteattr

from .demo_samples import Sample

CONTAINERS = {".mp4": "MPEG-4", ".mxf": "MXF", ".mov": "QuickTime", ".m4a": "MPEG-4"}


def render(sample: Sample, essence_ext: str) -> tuple[str, str]:
    """(file name, text) of the sample's sidecar."""
    renderers = {"json": _json, "newsml": _newsml, "ebucore": _ebucore, "dc": _dc, "xmp": _xmp}
    ext = {"json": ".json", "xmp": ".xmp"}.get(sample.sidecar, ".xml")
    return sample.stem + ext, renderers[sample.sidecar](sample, essence_ext)


def _story_id(sample: Sample) -> str:
    return f"{sample.member}-DEMO-{sample.stem.upper().replace('_', '-')}"


def _today() -> str:
    return datetime.now(UTC).date().isoformat()


def _json(sample: Sample, essence_ext: str) -> str:
    doc = {
        "title": sample.title,
        "description": sample.description,
        "shotlist": sample.shotlist or None,
        "story_id": _story_id(sample),
        "languages": [sample.language],
        "location": sample.location,
        "keywords": list(sample.keywords),
        "date": _today(),
        "creator": sample.member,
        "restrictions": "Ortak demo material: pool members only.",
    }
    return json.dumps({k: v for k, v in doc.items() if v}, ensure_ascii=False, indent=1) + "\n"


def _e(text: str) -> str:
    return escape(text)


def _newsml(sample: Sample, essence_ext: str) -> str:
    item_class = "ninat:audio" if sample.kind == "audio" else "ninat:video"
    keywords = "".join(
        f'\n    <keyword xml:lang="{sample.language}">{_e(k)}</keyword>' for k in sample.keywords
    )
    shotlist = (
        f'\n    <description role="descrole:shotlist">{_e(sample.shotlist)}</description>'
        if sample.shotlist
        else ""
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/"
    guid="urn:newsml:ortak.demo:{_story_id(sample)}" version="1"
    standard="NewsML-G2" standardversion="2.35" conformance="power" xml:lang="{sample.language}">
  <rightsInfo>
    <copyrightHolder literal={quoteattr(sample.member)}/>
    <usageTerms xml:lang="en">Ortak demo material: pool members only.</usageTerms>
  </rightsInfo>
  <itemMeta>
    <itemClass qcode="{item_class}"/>
    <provider literal={quoteattr(sample.member)}/>
    <versionCreated>{datetime.now(UTC).isoformat(timespec="seconds")}</versionCreated>
    <pubStatus qcode="stat:usable"/>
  </itemMeta>
  <contentMeta>
    <contentCreated>{_today()}</contentCreated>
    <located><name xml:lang="{sample.language}">{_e(sample.location)}</name></located>
    <creator literal={quoteattr(sample.member)}/>
    <language tag="{sample.language}"/>{keywords}
    <headline xml:lang="{sample.language}">{_e(sample.title)}</headline>
    <description role="descrole:summary">{_e(sample.description)}</description>{shotlist}
  </contentMeta>
</newsItem>
"""


def _ebucore(sample: Sample, essence_ext: str) -> str:
    shotlist = (
        f'\n    <ebucore:description typeLabel="shotlist"><dc:description>'
        f"{_e(sample.shotlist)}</dc:description></ebucore:description>"
        if sample.shotlist
        else ""
    )
    keywords = "".join(
        f"\n    <ebucore:subject><dc:subject>{_e(k)}</dc:subject></ebucore:subject>"
        for k in sample.keywords
    )
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<ebucore:ebuCoreMain xmlns:ebucore="urn:ebu:metadata-schema:ebucore"
    xmlns:dc="http://purl.org/dc/elements/1.1/" version="1.10">
  <ebucore:coreMetadata>
    <ebucore:title>
      <dc:title xml:lang="{sample.language}">{_e(sample.title)}</dc:title>
    </ebucore:title>
    <ebucore:description typeLabel="summary">
      <dc:description>{_e(sample.description)}</dc:description>
    </ebucore:description>{shotlist}
    <ebucore:identifier typeLabel="storyId">
      <dc:identifier>{_story_id(sample)}</dc:identifier>
    </ebucore:identifier>
    <ebucore:language typeLabel="audio">
      <dc:language>{sample.language}</dc:language>
    </ebucore:language>{keywords}
    <ebucore:coverage><ebucore:spatial><ebucore:location>
      <ebucore:name>{_e(sample.location)}</ebucore:name>
    </ebucore:location></ebucore:spatial></ebucore:coverage>
    <ebucore:rights typeLabel="usage">
      <dc:rights>Ortak demo material: pool members only.</dc:rights>
    </ebucore:rights>
    <ebucore:format>
      <ebucore:containerFormat containerFormatName="{CONTAINERS.get(essence_ext, "")}"/>
      <ebucore:fileName>{_e(sample.stem + essence_ext)}</ebucore:fileName>
    </ebucore:format>
  </ebucore:coreMetadata>
</ebucore:ebuCoreMain>
"""


def _dc(sample: Sample, essence_ext: str) -> str:
    subjects = "".join(f"\n  <dc:subject>{_e(k)}</dc:subject>" for k in sample.keywords)
    shotlist = (
        f"\n  <dc:description>Shotlist: {_e(sample.shotlist)}</dc:description>"
        if sample.shotlist
        else ""
    )
    kind = "Sound" if sample.kind == "audio" else "MovingImage"
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<oai_dc:dc xmlns:oai_dc="http://www.openarchives.org/OAI/2.0/oai_dc/" xmlns:dc="http://purl.org/dc/elements/1.1/">
  <dc:identifier>{_story_id(sample)}</dc:identifier>
  <dc:title xml:lang="{sample.language}">{_e(sample.title)}</dc:title>
  <dc:description>{_e(sample.description)}</dc:description>{shotlist}
  <dc:language>{sample.language}</dc:language>
  <dc:coverage>{_e(sample.location)}</dc:coverage>
  <dc:date>{_today()}</dc:date>
  <dc:creator>{_e(sample.member)}</dc:creator>{subjects}
  <dc:rights>Ortak demo material: pool members only.</dc:rights>
  <dc:type>{kind}</dc:type>
</oai_dc:dc>
"""


def _xmp(sample: Sample, essence_ext: str) -> str:
    subjects = "".join(f"<rdf:li>{_e(k)}</rdf:li>" for k in sample.keywords)
    dopesheet = (
        f'\n   <Iptc4xmpExt:Dopesheet><rdf:Alt><rdf:li xml:lang="{sample.language}">'
        f"{_e(sample.shotlist)}</rdf:li></rdf:Alt></Iptc4xmpExt:Dopesheet>"
        if sample.shotlist
        else ""
    )
    lang = sample.language
    return f"""<x:xmpmeta xmlns:x="adobe:ns:meta/">
 <rdf:RDF xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#">
  <rdf:Description rdf:about=""
    xmlns:dc="http://purl.org/dc/elements/1.1/"
    xmlns:Iptc4xmpExt="http://iptc.org/std/Iptc4xmpExt/2008-02-29/"
    xmlns:Iptc4xmpCore="http://iptc.org/std/Iptc4xmpCore/1.0/xmlns/"
    xmlns:photoshop="http://ns.adobe.com/photoshop/1.0/">
   <Iptc4xmpExt:Headline><rdf:Alt>
    <rdf:li xml:lang="{lang}">{_e(sample.title)}</rdf:li>
   </rdf:Alt></Iptc4xmpExt:Headline>
   <dc:description><rdf:Alt>
    <rdf:li xml:lang="{lang}">{_e(sample.description)}</rdf:li>
   </rdf:Alt></dc:description>{dopesheet}
   <dc:subject><rdf:Bag>{subjects}</rdf:Bag></dc:subject>
   <dc:language><rdf:Bag><rdf:li>{lang}</rdf:li></rdf:Bag></dc:language>
   <photoshop:DateCreated>{_today()}</photoshop:DateCreated>
   <photoshop:City>{_e(sample.location)}</photoshop:City>
   <photoshop:Credit>{_e(sample.member)}</photoshop:Credit>
   <Iptc4xmpCore:Location>{_e(sample.location)}</Iptc4xmpCore:Location>
  </rdf:Description>
 </rdf:RDF>
</x:xmpmeta>
"""

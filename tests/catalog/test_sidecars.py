"""Every sample sidecar maps onto the expected item fields; hostile ones are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from catalog.errors import SidecarError
from catalog.sidecars import parse_sidecar

from .conftest import FIXTURES

LIMIT = 4 * 1024 * 1024


def test_newsml_g2():
    f = parse_sidecar(FIXTURES / "newsml_video.xml", LIMIT)
    assert f["format"] == "newsml-g2" and f["role"] == "sidecar"
    assert f["title"] == "İstanbul'da Nevruz kutlaması"
    assert f["slug"] == "TURKIYE-CULTURE/NOWRUZ"
    assert f["story_id"] == "urn:newsml:pool.example.org:20250314:TRT-0042"
    assert f["shotlist"] == "1. WIDE of square 2. SOT Mayor (Turkish, 12 sec)"
    assert f["description"] == "Natural sound; Turkish SOT at 00:41."
    assert f["languages"] == ["tr"]
    assert f["location"] == "İstanbul"
    assert f["dateline"] == "İSTANBUL, 14 Mart (TRT)"
    assert f["subjects"] == ["medtop:01000000"]
    assert f["keywords"] == ["arts, culture, entertainment and media"]
    assert f["restrictions"] == "Members only. No archive use after 30 days."
    assert f["embargo"] == "2025-03-14T12:00:00Z"
    assert f["content_date"] == "2025-03-14T08:30:00+03:00"
    assert f["creator"] == "TRT Haber"
    assert (f["width"], f["height"], f["frame_rate"], f["duration"]) == (1920, 1080, 25, 95)
    assert f["scan_type"] == "interlaced" and f["aspect_ratio"] == "16:9"


def test_ebucore():
    f = parse_sidecar(FIXTURES / "ebucore.xml", LIMIT)
    assert f["format"] == "ebucore"
    assert f["title"] == "Қазақстандағы Наурыз мейрамы"
    assert f["shotlist"] == "1. WS Astana square ..."
    assert f["story_id"] == "KZ-2025-0314-007"
    assert f["languages"] == ["kk"]
    assert f["location"] == "Astana"
    assert f["restrictions"] == "OTS pool members only"
    assert f["container"] == "MXF" and f["video_codec"] == "MPEG Video"
    assert (f["width"], f["height"], f["frame_rate"]) == (1920, 1080, 25)
    assert f["start_timecode"] == "10:00:00:00"
    assert f["duration"] == 95


@pytest.mark.parametrize("year", ["2012", "2013", "2014", "2015", "2016", "2017"])
def test_ebucore_dated_namespaces(tmp_path: Path, year: str):
    text = (
        (FIXTURES / "ebucore.xml")
        .read_text("utf-8")
        .replace("urn:ebu:metadata-schema:ebucore", f"urn:ebu:metadata-schema:ebuCore_{year}")
    )
    (tmp_path / "x.xml").write_text(text, "utf-8")
    f = parse_sidecar(tmp_path / "x.xml", LIMIT)
    assert f["format"] == "ebucore" and f["story_id"] == "KZ-2025-0314-007"


def test_oai_dc():
    f = parse_sidecar(FIXTURES / "dc.xml", LIMIT)
    assert f["format"] == "dublin-core"
    assert f["title"] == "Oʻzbekistonda Navroʻz bayrami"
    assert f["shotlist"] == "Shotlist: 1. WS Tashkent ..."
    assert f["story_id"] == "UZ-MTRK-2025-0314-003"
    assert f["languages"] == ["uz"]
    assert f["location"] == "Tashkent, Uzbekistan"
    assert f["content_date"] == "2025-03-14"
    assert f["creator"] == "MTRK"
    assert f["keywords"] == ["culture"]
    assert f["restrictions"] == "Pool members only"


def test_xmp_video_metadata_hub():
    f = parse_sidecar(FIXTURES / "vmhub.xmp", LIMIT)
    assert f["format"] == "xmp"
    assert f["title"] == "Бишкекте Нооруз майрамы"
    assert f["description"] == "Nowruz celebrations in Bishkek"
    assert f["shotlist"] == "1. WS Ala-Too square 2. SOT (Kyrgyz, 9 sec)"
    assert f["keywords"] == ["Nowruz", "culture"]
    assert f["languages"] == ["ky"]
    assert f["content_date"] == "2025-03-21"
    assert f["creator"] == "KTRK"
    assert f["frame_rate"] == 25
    assert f["duration"] == 95  # 2375 frames at 1/25


def test_nitf_script():
    f = parse_sidecar(FIXTURES / "nitf.xml", LIMIT)
    assert (f["format"], f["role"]) == ("nitf", "script")
    assert f["title"] == "İstanbul'da Nevruz kutlaması"
    assert f["story_id"] == "AA-2025-0314-11"
    assert f["content_date"] == "20250314T093000+0300"
    assert f["creator"] == "Anadolu Ajansı"
    assert f["location"] == "İSTANBUL"


def test_ebu_tt_subtitles():
    f = parse_sidecar(FIXTURES / "ebutt.xml", LIMIT)
    assert (f["format"], f["role"], f["subtitle_language"]) == ("ebu-tt", "subtitle", "az")


def test_json_sidecar_all_fields(tmp_path: Path):
    doc = {
        "title": "Başlık",
        "description": "d",
        "shotlist": "1. WS",
        "story_id": "S-1",
        "slug": "SLUG",
        "series": "Dizi",
        "episode": "4",
        "languages": ["tr", "en"],
        "location": "Ankara",
        "dateline": "ANKARA",
        "keywords": "a, b",
        "subjects": ["x"],
        "restrictions": "none",
        "embargo": "2026-01-01T00:00:00Z",
        "date": "2026-01-01",
        "creator": "TRT",
        "category": "news",
        "duration": 12.5,
        "member": "AZTV",
    }
    (tmp_path / "a.json").write_text(json.dumps(doc), "utf-8")
    f = parse_sidecar(tmp_path / "a.json", LIMIT)
    assert f["keywords"] == ["a", "b"] and f["languages"] == ["tr", "en"]
    assert f["content_date"] == "2026-01-01" and f["duration"] == 12.5
    assert "member" not in f  # the path decides whose item it is
    assert "warnings" not in f


def test_json_sidecar_type_errors_are_warnings(tmp_path: Path):
    (tmp_path / "a.json").write_text('{"title": {"x": 1}, "duration": "long", "slug": "ok"}')
    f = parse_sidecar(tmp_path / "a.json", LIMIT)
    assert f["slug"] == "ok" and len(f["warnings"]) == 2


@pytest.mark.parametrize(
    ("text", "encoding"),
    [("Işık İstanbul'da şöyle ışığı", "cp1254"), ("Казахстан Москва новости", "cp1251")],
)
def test_legacy_code_pages(tmp_path: Path, text: str, encoding: str):
    (tmp_path / "a.json").write_bytes(
        json.dumps({"title": text}, ensure_ascii=False).encode(encoding)
    )
    assert parse_sidecar(tmp_path / "a.json", LIMIT)["title"] == text
    xml = (
        f'<?xml version="1.0"?><dc xmlns:dc="{"http://purl.org/dc/elements/1.1/"}">'
        f"<dc:title>{text}</dc:title></dc>"
    )
    (tmp_path / "b.xml").write_bytes(xml.encode(encoding))
    assert parse_sidecar(tmp_path / "b.xml", LIMIT)["title"] == text


XXE = """<?xml version="1.0"?>
<!DOCTYPE foo [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/"><contentMeta>
<headline>&xxe;</headline></contentMeta></newsItem>"""

LAUGHS = (
    """<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol">
"""
    + "".join(
        f'<!ENTITY lol{i} "{("&lol" + (str(i - 1) if i > 1 else "") + ";") * 10}">\n'
        for i in range(1, 10)
    )
    + """]>
<newsItem xmlns="http://iptc.org/std/nar/2006-10-01/"><contentMeta>
<headline>&lol9;</headline></contentMeta></newsItem>"""
)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (XXE, "hostile"),
        (LAUGHS, "hostile"),
        ("<newsItem><contentMeta><headline>unclosed", "malformed"),
        ("<html><body>not a sidecar</body></html>", "unknown XML format"),
    ],
    ids=["xxe", "billion-laughs", "malformed", "unknown"],
)
def test_bad_xml_raises_sidecar_error(tmp_path: Path, content: str, message: str):
    (tmp_path / "a.xml").write_text(content, "utf-8")
    with pytest.raises(SidecarError, match=message):
        parse_sidecar(tmp_path / "a.xml", LIMIT)


def test_oversized_sidecar_is_not_read(tmp_path: Path):
    path = tmp_path / "big.xml"
    with open(path, "wb") as f:
        f.write(b"<dc>")
        f.truncate(20 * 1024 * 1024)
    with pytest.raises(SidecarError, match="larger than max_sidecar_bytes"):
        parse_sidecar(path, LIMIT)


def test_malformed_json(tmp_path: Path):
    (tmp_path / "a.json").write_text('{"title": ')
    with pytest.raises(SidecarError, match="not valid JSON"):
        parse_sidecar(tmp_path / "a.json", LIMIT)
    (tmp_path / "b.json").write_text("[1, 2]")
    with pytest.raises(SidecarError, match="object"):
        parse_sidecar(tmp_path / "b.json", LIMIT)

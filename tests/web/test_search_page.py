"""The search page's cheaper paths keep its answers: previews found on disk for items
catalogued before previews existed, and facets that follow the catalog."""

from __future__ import annotations

import os
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from pool_server.http.previews import PublishedFolders

from ..helpers import ServerProcess, copy_template, set_setting, start_server
from .conftest import add_file, login, wait_catalogued

HOUR_AGO = time.time() - 3600


@pytest.fixture(scope="module")
def plain_data(template_data: Path, tmp_path_factory) -> Path:
    data = copy_template(template_data, tmp_path_factory.mktemp("searchpage") / "data")
    set_setting(data, "previews", "enabled", "false")
    set_setting(data, "catalog", "settle_seconds", "0.3")
    return data


@pytest.fixture(scope="module")
def plain_server(plain_data: Path) -> Iterator[ServerProcess]:
    srv = start_server(plain_data, sftp=False, http=True, indexer=True)
    yield srv
    srv.stop()


def catalogue(data: Path, path: str) -> str:
    """A file placed in the pool and catalogued; its item's id."""
    add_file(data, path, Path(), text="archive footage " + path)
    return str(wait_catalogued(data, path)["id"])


def publish(folder: Path, name: str) -> None:
    """An item's preview folder published as a whole (made aside, renamed into place)."""
    aside = folder.parent / f".publish-{folder.name}"
    aside.mkdir(parents=True)
    (aside / name).write_bytes(b"\xff\xd8\xff\xe0 preview")
    aside.rename(folder)


def test_previews_published_after_indexing_show_for_items_without_a_record(
    plain_data, plain_server
):
    """An item catalogued before previews existed has no `preview` record; its folder
    under .catalog/previews/ is what counts, also when it appears after the folder's
    listing was kept."""
    item_id = catalogue(plain_data, "TRT/news/zarchive.txt")
    conn = sqlite3.connect(plain_data / "pool.db")
    with conn:  # as catalogued before previews existed
        conn.execute("UPDATE items SET preview = NULL WHERE id = ?", [item_id])
    conn.close()
    root = plain_data / "pool" / ".catalog" / "previews"
    root.mkdir(parents=True, exist_ok=True)
    os.utime(root, (HOUR_AGO, HOUR_AGO))  # settled: the door keeps its listing
    web = login(f"http://127.0.0.1:{plain_server.http_port}", "news")
    poster = f"/api/v1/items/{item_id}/previews/poster.jpg"
    try:

        def found() -> tuple[dict, str]:
            api = web.get("/api/v1/search", params={"q": "zarchive"})
            page = web.get("/search", params={"q": "zarchive"})
            assert api.status_code == 200 and page.status_code == 200
            (item,) = [i for i in api.json()["items"] if i["id"] == item_id]
            return item["preview"], page.text

        preview, page = found()
        assert preview == {"state": "none", "files": [], "error": None, "source_sha256": None}
        assert poster not in page and f'href="/items/{item_id}"' in page
        publish(root / item_id, "poster.jpg")
        preview, page = found()
        assert preview["state"] == "ready" and preview["files"] == ["poster.jpg"]
        assert f'src="{poster}"' in page
        item_page = web.get(f"/items/{item_id}")
        assert item_page.status_code == 200 and poster in item_page.text
    finally:
        web.close()


def test_search_page_facets_follow_the_catalog(plain_data, plain_server):
    web = login(f"http://127.0.0.1:{plain_server.http_port}", "news")
    try:
        catalogue(plain_data, "TRT/news/first.txt")
        page = web.get("/search").text
        assert "<option>TRT</option>" in page and "<option>news</option>" in page
        assert "<option>AZTV</option>" not in page and "<option>weather</option>" not in page
        catalogue(plain_data, "AZTV/weather/forecast.txt")
        page = web.get("/search").text
        assert "<option>AZTV</option>" in page and "<option>weather</option>" in page
    finally:
        web.close()


def test_published_folders_are_listed_again_when_the_folder_changes(tmp_path):
    pool = tmp_path / "pool"
    root = pool / ".catalog" / "previews"
    folders = PublishedFolders(pool)
    assert folders.names() == frozenset()  # nothing published yet
    root.mkdir(parents=True)
    (root / "A").mkdir()
    os.utime(root, (HOUR_AGO, HOUR_AGO))
    assert folders.names() == {"A"}
    (root / "B").mkdir()  # the folder's mtime moves: listed again
    assert folders.names() == {"A", "B"}
    # changed just now: a change within the same clock tick would leave the mtime as
    # it is, so a recent listing is not kept
    settled = root.stat().st_mtime_ns
    (root / "C").mkdir()
    os.utime(root, ns=(settled, settled))
    assert folders.names() == {"A", "B", "C"}
    (root / "A").rmdir()
    os.utime(root, (HOUR_AGO, HOUR_AGO))
    assert folders.names() == {"B", "C"}


def test_result_cards_follow_each_requests_language(plain_data, plain_server):
    """The cards are a macro of a template imported once: their labels are still
    translated per request, in the language of that request."""
    catalogue(plain_data, "TRT/news/zlanguage.txt")
    web = login(f"http://127.0.0.1:{plain_server.http_port}", "news")
    try:
        for lang, label in (
            ("tr", "<dt>Üye</dt>"),
            ("en", "<dt>Member</dt>"),
            ("tr", "<dt>Üye</dt>"),
        ):
            web.cookies.set("ortak_lang", lang)
            page = web.get("/search", params={"q": "zlanguage"}).text
            assert 'class="card"' in page and label in page, lang
            other = "<dt>Member</dt>" if lang == "tr" else "<dt>Üye</dt>"
            assert other not in page, lang
    finally:
        web.close()

"""The JSON API with tokens from `pool-server token create`, and the OpenAPI document."""

from __future__ import annotations

import json
import sqlite3

import httpx

from ..helpers import run_cli
from .conftest import TITLE


def _token(data, *args: str) -> dict:
    return json.loads(run_cli(data, "token", "create", *args, "--json").output)


def test_token_create_use_list_revoke(base_url, web_data):
    made = _token(web_data, "news", "--name", "sync-bot", "--expires", "30d")
    secret = made["token"]
    assert secret.startswith("ortak_") and made["state"] == "active"
    stored = (
        sqlite3.connect(web_data / "pool.db")
        .execute("SELECT hash FROM api_tokens WHERE id = ?", [made["id"]])
        .fetchone()[0]
    )
    assert secret not in stored  # only a hash is kept
    api = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {secret}"})
    assert api.get("/api/v1/me").json() == {
        "user": "news",
        "role": "reader",
        "member": "TRT",
        "auth": "token",
    }
    found = api.get("/api/v1/search", params={"q": "qazaqstan", "lang": "kk"}).json()
    [item] = found["items"]
    assert item["title"] == TITLE
    one = api.get(f"/api/v1/items/{item['id']}").json()
    assert one["sha256"] == item["sha256"] and one["preview"]["state"] == "ready"
    listed = json.loads(run_cli(web_data, "token", "list", "news", "--json").output)
    mine = [t for t in listed if t["id"] == made["id"]]
    assert [(t["name"], t["state"], t["user"]) for t in mine] == [("sync-bot", "active", "news")]
    assert all("token" not in t and "hash" not in t for t in listed)
    run_cli(web_data, "token", "revoke", str(made["id"]))
    refused = api.get("/api/v1/me")
    assert refused.status_code == 401 and "revoked" in refused.json()["error"]
    api.close()


def test_expired_and_unknown_tokens_are_refused(base_url, web_data):
    made = _token(web_data, "news", "--expires", "1h")
    conn = sqlite3.connect(web_data / "pool.db")
    conn.execute(
        "UPDATE api_tokens SET expires = '2020-01-01T00:00:00+00:00' WHERE id = ?", [made["id"]]
    )
    conn.commit()
    conn.close()
    r = httpx.get(f"{base_url}/api/v1/me", headers={"Authorization": f"Bearer {made['token']}"})
    assert r.status_code == 401 and "expired" in r.json()["error"]
    r = httpx.get(f"{base_url}/api/v1/me", headers={"Authorization": "Bearer ortak_madeup"})
    assert r.status_code == 401
    assert r.headers["www-authenticate"].startswith("Bearer")
    bad = run_cli(web_data, "token", "create", "news", "--expires", "soon", expect=1)
    assert "--expires" in bad.output
    run_cli(web_data, "token", "create", "nobody", expect=1)


def test_openapi_document_lists_the_routes(base_url):
    doc = httpx.get(f"{base_url}/api/v1/openapi.json").json()
    assert doc["openapi"].startswith("3.")
    for path in (
        "/api/v1/search",
        "/api/v1/items/{item_id}",
        "/api/v1/items/{item_id}/content",
        "/api/v1/items/{item_id}/previews/{name}",
        "/api/v1/feed/{path}",
    ):
        assert path in doc["paths"], path
    assert "bearer" in doc["components"]["securitySchemes"]


def test_basic_auth_is_refused_over_plain_http(base_url):
    r = httpx.get(f"{base_url}/api/v1/me", auth=("news", "news-secret-pw"))
    assert r.status_code == 403 and "TLS" in r.json()["error"]


def test_search_filters_read_like_the_command_lines(base_url, web_data):
    """since/until/min_duration/max_duration mean what `pool` and `pool-server` mean
    (catalog/units.py): 30d, an ISO date (until: the whole day), 90, 5m, 1:30."""
    made = _token(web_data, "news")
    api = httpx.Client(base_url=base_url, headers={"Authorization": f"Bearer {made['token']}"})
    try:

        def titles(**params: str) -> list[str]:
            reply = api.get("/api/v1/search", params={"q": "qazaqstan", **params})
            assert reply.status_code == 200, reply.text
            return [i["title"] for i in reply.json()["items"]]

        assert titles(since="30d") == [TITLE]
        assert titles(until="30d") == []
        today = api.get("/api/v1/search", params={"q": "qazaqstan"}).json()["items"][0]
        day = today["uploaded"][:10]
        assert titles(since=day, until=day) == [TITLE]  # until a date includes that day
        assert titles(min_duration="0:01", max_duration="1h") == [TITLE]
        assert titles(max_duration="0.5s") == []
        bad = api.get("/api/v1/search", params={"q": "x", "since": "last week"})
        assert bad.status_code == 400 and "30d" in bad.json()["error"]
    finally:
        api.close()

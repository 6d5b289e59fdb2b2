"""Saved searches and webhooks in the web door: the JSON API with tokens, the /alerts
page with a logged-in browser session (CSRF), the access rules for webhooks."""

from __future__ import annotations

import json

import httpx

from ..helpers import run_cli
from .conftest import csrf_of, login


def _api(data, base_url: str, user: str) -> httpx.Client:
    made = json.loads(run_cli(data, "token", "create", user, "--json").output)
    return httpx.Client(
        base_url=base_url, headers={"Authorization": f"Bearer {made['token']}"}, timeout=15
    )


def test_alerts_api(base_url, web_data):
    with _api(web_data, base_url, "news") as api:
        r = api.post(
            "/api/v1/alerts",
            json={
                "name": "floods",
                "query": "su tasqyny",
                "filters": {"member": "QAZAQ", "lang": "kk"},
                "email": "desk@example.org",
                "digest": "hourly",
            },
        )
        assert r.status_code == 201, r.text
        alert = r.json()["alert"]
        assert alert["filters"] == {"member": "QAZAQ", "language": "kk"}
        assert alert["mode"] == "hourly"
        [listed] = api.get("/api/v1/alerts").json()["alerts"]
        assert listed["name"] == "floods" and listed["failed"] == 0
        dup = api.post("/api/v1/alerts", json={"name": "floods", "query": "x"})
        assert dup.status_code == 409
        bad = api.post("/api/v1/alerts", json={"name": "y", "query": "x", "digest": "weekly"})
        assert bad.status_code == 400 and "weekly" in bad.json()["error"]
        private = api.post(
            "/api/v1/alerts", json={"name": "z", "query": "x", "webhook": "http://127.0.0.1:22/"}
        )
        assert private.status_code == 400 and "loopback" in private.json()["error"]
        assert api.get("/api/v1/alerts/matches").json() == {"matches": []}
        assert api.delete("/api/v1/alerts/floods").json()["removed"]["name"] == "floods"
        assert api.delete("/api/v1/alerts/floods").status_code == 404
        assert api.get("/api/v1/alerts").json() == {"alerts": []}


def test_alerts_page(base_url, web_data):
    client = login(base_url, "news")
    try:
        page = client.get("/alerts")
        assert page.status_code == 200 and "Save a search" in page.text
        token = csrf_of(client)
        refused = client.post("/alerts", data={"name": "a", "query": "x"})
        assert refused.status_code == 403
        made = client.post(
            "/alerts",
            data={"csrf_token": token, "name": "kazakh floods", "query": "qazaqstan", "lang": "kk"},
        )
        assert made.status_code == 303
        page = client.get("/alerts")
        assert "kazakh floods" in page.text and "language=kk" in page.text
        bad = client.post(
            "/alerts", data={"csrf_token": token, "name": "b", "query": "x", "email": "nope"}
        )
        assert bad.status_code == 400 and "not an e-mail address" in bad.text
        gone = client.post("/alerts/kazakh%20floods/remove", data={"csrf_token": token})
        assert gone.status_code == 303
        assert "kazakh floods" not in client.get("/alerts").text
    finally:
        client.close()


def test_webhooks_api_rules(base_url, web_data):
    with _api(web_data, base_url, "trt-up") as contributor:
        private = contributor.post("/api/v1/webhooks", json={"url": "http://10.0.0.1/hook"})
        assert private.status_code == 400 and "private" in private.json()["error"]
        allow = contributor.post(
            "/api/v1/webhooks", json={"url": "http://10.0.0.1/hook", "allow_private": True}
        )
        assert allow.status_code == 403 and "only an admin" in allow.json()["error"]
        other = contributor.post(
            "/api/v1/webhooks", json={"url": "https://example.org/h", "member": "AZTV"}
        )
        assert other.status_code == 403
        assert contributor.get("/api/v1/webhooks").json() == {"webhooks": []}
    with _api(web_data, base_url, "news") as reader:
        assert reader.post("/api/v1/webhooks", json={"url": "https://x.org/"}).status_code == 403
    with _api(web_data, base_url, "admin") as admin:
        r = admin.post(
            "/api/v1/webhooks",
            json={"url": "http://10.0.0.1/hook", "allow_private": True, "member": "TRT"},
        )
        assert r.status_code == 201
        hook = r.json()["webhook"]
        assert hook["secret"].startswith("whsec_") and hook["member"] == "TRT"
        assert admin.get(f"/api/v1/webhooks/{hook['id']}/deliveries").json() == {"deliveries": []}
    with _api(web_data, base_url, "trt-up") as contributor:
        [seen] = contributor.get("/api/v1/webhooks").json()["webhooks"]
        assert seen["id"] == hook["id"] and "secret" not in seen
        assert contributor.delete(f"/api/v1/webhooks/{hook['id']}").status_code == 200

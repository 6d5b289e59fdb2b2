"""Provenance end to end: a real server (FTP, indexer), `pool-server` key commands and the
`pool` client: login pins the pool's key, update checks the chain, get checks signatures,
verify traces files offline, put --sign is recorded, rotations are followed."""

from __future__ import annotations

import json
import os
import sqlite3
from pathlib import Path

from ..helpers import password, run_cli
from .conftest import Pool, wait_for


def _login(pool: Pool, **env: str) -> str:
    out = pool.run(
        "login",
        pool.url("ftp"),
        "--user",
        "news",
        "--password-stdin",
        input=password("news") + "\n",
        **env,
    )
    return out.stdout + out.stderr


def _manifest(pool: Pool, rel: str) -> dict:
    conn = sqlite3.connect(f"file:{pool.server.data / 'pool.db'}?mode=ro", uri=True, timeout=5)
    try:
        row = conn.execute("SELECT manifest FROM items WHERE path = ?", [rel]).fetchone()
    finally:
        conn.close()
    assert row and row[0], rel
    return json.loads(row[0])


def test_take_verify_and_trace_a_file_offline(pool: Pool, tmp_path: Path) -> None:
    essence = os.urandom(300_000)
    pool.upload("/TRT/news/deprem.mp4", essence)
    pool.upload("/TRT/news/deprem.json", json.dumps({"title": "Deprem"}).encode())
    pool.wait_items(1, where="title = 'Deprem'")

    said = _login(pool)
    fp = json.loads((pool.server.data / "keys/signing/keys.json").read_text())["keys"][-1][
        "fingerprint"
    ]
    assert f"signing key: {fp}" in said or f"signing key {fp}" in said
    assert (pool.home / "config" / "known_pool_keys").read_text().split() == [
        f"127.0.0.1:{pool.server.ftp_port}",
        fp,
    ]
    assert "added" in pool.run("update").stdout
    item = pool.json("search", "Deprem")[0]
    dest = tmp_path / "takes"
    got = pool.json("get", item["id"], "--dest", str(dest), "--attachments", "--manifest")
    assert {f["verified"] for f in got["files"]} == {"signature+sha256"}
    bundle = json.loads((dest / f"{item['id']}.manifest.json").read_text())
    assert bundle["manifest"]["member"] == "TRT"
    assert bundle["pool_keys"]["keys"][-1]["fingerprint"] == fp
    assert {c["status"] for c in pool.json("verify", str(dest))} == {"ok"}

    # what is this loose file? (offline: the server is no longer needed)
    loose = tmp_path / "renamed-by-someone.mp4"
    loose.write_bytes(essence)
    pool.server.stop()
    told = pool.run("verify", str(loose)).stdout
    assert f"item {item['id']} version" in told and "contributed by TRT" in told
    assert f"signed by the pool ({fp}): verified" in told and "member signature: unsigned" in told

    # one byte flipped: exit 5 naming the file, in the folder and alone
    taken = dest / "deprem.mp4"
    data = bytearray(taken.read_bytes())
    data[1234] ^= 0x01
    taken.write_bytes(bytes(data))
    bad = pool.run("verify", str(dest), expect=5)
    assert "deprem.mp4" in bad.stderr
    alone = pool.run("verify", str(taken), expect=5)
    assert "deprem.mp4: the pool never published this file" in alone.stderr

    # a manifest edited after the fact does not verify
    bundle["manifest"]["metadata"]["title"] = "Başka bir şey"
    (dest / f"{item['id']}.manifest.json").write_text(json.dumps(bundle))
    taken.write_bytes(essence)
    rows = pool.json("verify", str(dest), expect=5)
    assert [r["status"] for r in rows if r["name"].endswith(".manifest.json")] == [
        "signature invalid"
    ]


def _journal(pool: Pool) -> Path:
    index = json.loads((pool.feed_dir / "index.json").read_text())
    return pool.feed_dir / index["journals"][-1]["file"]


def test_update_refuses_a_rewritten_feed_and_keeps_its_catalog(pool: Pool) -> None:
    pool.upload("/TRT/news/first.mp4", b"first" * 100)
    pool.wait_items(1)
    _login(pool)
    pool.run("update")
    seq = pool.json("update")["seq"]
    for i in range(3):
        pool.upload(f"/TRT/news/later{i}.mp4", f"later {i}".encode() * 100)
    pool.wait_items(4)
    journal = _journal(pool)
    genuine = journal.read_bytes()
    lines = genuine.splitlines(keepends=True)

    def edited_title(line: bytes) -> bytes:
        rec = json.loads(line)
        rec["item"]["title"] = "Sahte"
        return (json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n").encode()

    tampered = {
        "swap": [*lines[:-2], lines[-1], lines[-2]],
        "edit": [*lines[:-2], edited_title(lines[-2]), lines[-1]],
        "drop": [*lines[:-2], lines[-1]],
        "truncate": lines[:-1],
    }
    try:
        for how, new_lines in tampered.items():
            journal.write_bytes(b"".join(new_lines))
            refused = pool.run("update", expect=5)
            assert "integrity check" in refused.stderr, (how, refused.stderr)
            assert pool.run("search", "later0", expect=0).stderr.startswith("no items"), how
            cache = pool.home / f"cache-news/127.0.0.1_{pool.server.ftp_port}"
            conn = sqlite3.connect(cache / "catalog.sqlite")
            try:
                kept = conn.execute("SELECT value FROM catalog_meta WHERE key='seq'").fetchone()
            finally:
                conn.close()
            assert int(kept[0]) == seq, how
    finally:
        journal.write_bytes(genuine)
    assert pool.json("update")["added"] == 3


def test_rotation_is_followed_and_an_unannounced_key_refused(pool: Pool, tmp_path: Path) -> None:
    pool.upload("/TRT/news/before.mp4", b"before" * 100)
    pool.wait_items(1)
    _login(pool)
    pool.run("update")
    old = json.loads((pool.server.data / "keys/signing/keys.json").read_text())
    rotated = run_cli(pool.server.data, "key", "rotate").stdout
    new_fp = rotated.split("new signing key ")[1].split()[0]
    pool.upload("/TRT/news/after.mp4", b"after" * 100)
    pool.wait_items(2)
    wait_for(lambda: _manifest(pool, "/TRT/news/after.mp4"), what="the new item")
    pool.run("update")  # the head is signed by the new key, announced by the old one
    dest = tmp_path / "takes"
    for name in ("before", "after"):
        item = pool.json("show", f"/TRT/news/{name}.mp4")
        got = pool.json("get", item["id"], "--dest", str(dest))
        assert got["files"][0]["verified"] == "signature+sha256"
        signed_by = item["manifest_signature"]["key"]
        assert (signed_by == new_fp) == (name == "after")
    assert {c["status"] for c in pool.json("verify", str(dest))} == {"ok"}

    # a mirror replaces the pool's keys by its own: the pinned key is not in that chain
    from catalog.signing import PoolSigner

    rogue = PoolSigner(tmp_path / "rogue")
    rogue.ensure()
    (pool.feed_dir / "keys.json").write_bytes(rogue.published())
    fresh = tmp_path / "fresh-cache"
    refused = pool.run("update", expect=5, POOL_CACHE_DIR=str(fresh))
    assert "cannot be trusted" in refused.stderr and "pinned" in refused.stderr
    assert old["keys"][0]["fingerprint"] in (pool.home / "config/known_pool_keys").read_text()


def test_put_sign_is_recorded_and_a_revoked_key_is_invalid(pool: Pool, tmp_path: Path) -> None:
    up = {"user": "trt-up"}
    made = pool.run("keygen", **up).stdout
    pub = pool.home / "config" / "signing_key.pub"
    pem = pool.home / "config" / "signing_key.pem"
    assert pem.stat().st_mode & 0o777 == 0o600 and pub.read_text().startswith("ssh-ed25519 ")
    fp = made.split("signing key ")[1].split()[0]
    added = run_cli(pool.server.data, "member", "key", "add", "TRT", str(pub)).stdout
    assert fp in added
    clip = tmp_path / "imza.mp4"
    clip.write_bytes(os.urandom(50_000))
    args = ["put", str(clip), "--category", "news", "--title", "İmzalı", "--member", "TRT"]
    sent = pool.json(*args, "--sign", **up)
    assert [f["path"] for f in sent["files"]][-1] == "/TRT/news/imza.sig"
    wait_for(
        lambda: (
            _manifest(pool, "/TRT/news/imza.mp4")["member_signature"]["status"]
            == "signed by member"
        ),
        what="the member signature recorded",
    )
    assert _manifest(pool, "/TRT/news/imza.mp4")["member_signature"]["key"] == fp

    listed = json.loads(run_cli(pool.server.data, "member", "key", "list", "TRT", "--json").stdout)
    assert [r["fingerprint"] for r in listed] == [fp] and listed[0]["revoked"] is None
    run_cli(pool.server.data, "member", "key", "revoke", "TRT", fp)
    clip2 = tmp_path / "imza2.mp4"
    clip2.write_bytes(os.urandom(50_000))
    pool.json("put", str(clip2), "--category", "news", "--member", "TRT", "--sign", **up)
    wait_for(
        lambda: (
            _manifest(pool, "/TRT/news/imza2.mp4")["member_signature"].get("reason")
            == "key revoked"
        ),
        what="the revoked signature recorded",
    )
    assert _manifest(pool, "/TRT/news/imza2.mp4")["member_signature"]["status"] == (
        "signature invalid"
    )
    # The catalog records the signature before the feed publishes it: the client reads
    # the feed, so wait for it to carry every change so far (a run read it in between).
    pool.wait_items(2, where="path LIKE '/TRT/news/imza%.mp4'")
    _login(pool)
    pool.run("update")
    item = pool.json("show", "/TRT/news/imza.mp4")
    told = pool.run("verify", str(clip)).stdout
    assert f"item {item['id']}" in told and f"member signature: signed by member ({fp})" in told


def test_get_and_sync_refuse_an_item_whose_manifest_does_not_verify(
    pool: Pool, tmp_path: Path
) -> None:
    pool.upload("/TRT/news/clean.mp4", b"clean" * 1000)
    pool.upload("/TRT/news/forged.mp4", b"forged" * 1000)
    pool.wait_items(2)
    _login(pool)
    pool.run("update")
    forged = pool.json("show", "/TRT/news/forged.mp4")
    # someone with write access to the local catalog claims other bytes for the file
    cache = pool.home / f"cache-news/127.0.0.1_{pool.server.ftp_port}/catalog.sqlite"
    conn = sqlite3.connect(cache)
    try:
        manifest = json.loads(
            conn.execute("SELECT manifest FROM items WHERE id = ?", [forged["id"]]).fetchone()[0]
        )
        manifest["files"][0]["sha256"] = "0" * 64
        conn.execute(
            "UPDATE items SET manifest = ?, sha256 = ? WHERE id = ?",
            [json.dumps(manifest), "0" * 64, forged["id"]],
        )
        conn.commit()
    finally:
        conn.close()
    dest = tmp_path / "takes"
    refused = pool.run("get", forged["id"], "--dest", str(dest), expect=5)
    assert "signature" in refused.stderr and forged["id"] in refused.stderr
    assert not (dest / "forged.mp4").exists() and not list(dest.glob("*.part"))
    clean = pool.json("show", "/TRT/news/clean.mp4")
    assert pool.json("get", clean["id"], "--dest", str(dest))["files"][0]["ok"]
    hot = tmp_path / "hot"
    hot.mkdir()
    synced = pool.run("sync", "--dest", str(hot), "--member", "TRT", expect=5)
    assert forged["id"] in synced.stderr
    assert not (hot / "forged.mp4").exists()
    assert (hot / "clean.mp4").read_bytes() == b"clean" * 1000  # the others are taken

    # a catalog row that disagrees with its (valid) signed manifest is refused too
    conn = sqlite3.connect(cache)
    try:
        conn.execute("UPDATE items SET sha256 = ? WHERE id = ?", ["1" * 64, clean["id"]])
        conn.commit()
    finally:
        conn.close()
    stale = pool.run("get", clean["id"], "--dest", str(tmp_path / "again"), expect=5)
    assert "not the one in the item's signed manifest" in stale.stderr

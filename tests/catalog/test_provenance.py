"""Signing keys, signed manifests, member signatures and the hash-chained feed, with a
real indexer over real files and SQLite (no server)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from catalog import feed_reader
from catalog.indexer import Indexer
from catalog.items import item_id, item_key
from catalog.manifest import (
    MEMBER_KEYS_TABLE,
    SIGNATURE_INVALID,
    SIGNED_BY_MEMBER,
    UNSIGNED,
    member_payload,
    signature_file,
    verify_manifest,
)
from catalog.schema import open_catalog
from catalog.signing import (
    PoolSigner,
    SignatureError,
    fingerprint,
    sign,
    ssh_public_line,
    trusted_chain,
    verify_key_list,
)
from catalog.store import get_item_row

SETTINGS = {"settle_seconds": 0.2, "index_workers": 2}


@pytest.fixture
def signer(tmp_path: Path) -> PoolSigner:
    s = PoolSigner(tmp_path / "signing")
    assert s.ensure()
    s.load()
    return s


def _index(pool: Path, db: Path, signer: PoolSigner) -> dict:
    return Indexer(pool, db, SETTINGS, signing_dir=signer.folder).run_once(timeout=30)


def _item(db_path: Path, rel: str) -> dict:
    db = open_catalog(db_path)
    try:
        row = get_item_row(db, key=item_key(rel))
        assert row is not None, rel
        return row
    finally:
        db.conn.close()


def _put(pool: Path, rel: str, data: bytes) -> None:
    path = pool / rel.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


def test_key_list_is_a_chain_only_the_current_key_extends(signer: PoolSigner) -> None:
    first = signer.fingerprint
    old, new = signer.rotate()
    assert old == first and new != first
    doc = json.loads(signer.published())
    keys = verify_key_list(doc)
    assert [k.fingerprint for k in keys] == [old, new]
    assert keys[0].valid_until == keys[1].valid_from and keys[1].valid_until is None
    assert trusted_chain(doc, old)[-1].fingerprint == new  # a pin follows the rotation

    # someone without the current key appends a key of theirs: refused
    rogue = Ed25519PrivateKey.generate()
    forged = json.loads(json.dumps(doc))
    forged["keys"].append({**forged["keys"][-1], "public_key": forged["keys"][0]["public_key"]})
    with pytest.raises(SignatureError):
        verify_key_list(forged)
    swapped = json.loads(json.dumps(doc))
    from catalog.signing import new_entry

    swapped["keys"][1] = new_entry(rogue, rogue, old)  # announced by itself, not the old key
    with pytest.raises(SignatureError, match="not announced"):
        verify_key_list(swapped)
    with pytest.raises(SignatureError, match="pinned"):
        trusted_chain(doc, fingerprint(rogue.public_key()))


def test_every_item_gets_a_signed_manifest_and_rotation_keeps_old_ones_valid(
    tmp_path: Path, signer: PoolSigner
) -> None:
    pool, db = tmp_path / "pool", tmp_path / "pool.db"
    _put(pool, "/TRT/news/old.mp4", b"old essence" * 100)
    _put(pool, "/TRT/news/old.json", json.dumps({"title": "Eski haber"}).encode())
    _index(pool, db, signer)
    old = _item(db, "/TRT/news/old.mp4")
    manifest, sig = old["manifest"], old["manifest_signature"]
    assert manifest["id"] == old["id"] and manifest["member"] == "TRT"
    first_version = manifest["version"]  # 1, or 2 if the essence was published alone first
    assert {f["path"] for f in manifest["files"]} == {"/TRT/news/old.mp4", "/TRT/news/old.json"}
    assert manifest["metadata"]["title"] == "Eski haber"
    assert manifest["member_signature"] == {"status": UNSIGNED}
    assert verify_manifest(manifest, sig, signer.keys).fingerprint == signer.fingerprint

    tampered = {**manifest, "metadata": {"title": "Sahte haber"}}
    with pytest.raises(SignatureError):
        verify_manifest(tampered, sig, signer.keys)

    old_fp, new_fp = signer.rotate()
    _put(pool, "/TRT/news/new.mp4", b"new essence" * 100)
    _index(pool, db, signer)
    new = _item(db, "/TRT/news/new.mp4")
    assert new["manifest_signature"]["key"] == new_fp
    assert _item(db, "/TRT/news/old.mp4")["manifest_signature"]["key"] == old_fp  # unchanged
    keys = verify_key_list(json.loads(signer.published()))
    assert verify_manifest(manifest, sig, keys).fingerprint == old_fp
    assert verify_manifest(new["manifest"], new["manifest_signature"], keys).fingerprint == new_fp
    # the old key cannot sign for times after it retired
    late = {**manifest, "signed": new["manifest"]["signed"]}
    with pytest.raises(SignatureError, match="not the pool's key"):
        verify_manifest(late, sig, keys)

    # a change makes a new version; the old version stays in the history
    _put(pool, "/TRT/news/old.json", json.dumps({"title": "Düzeltilmiş haber"}).encode())
    _index(pool, db, signer)
    changed = _item(db, "/TRT/news/old.mp4")["manifest"]
    assert changed["version"] == first_version + 1
    cat = open_catalog(db)
    try:
        versions = cat.execute(
            "SELECT version FROM manifests WHERE item_id = ? ORDER BY version", [old["id"]]
        ).fetchall()
    finally:
        cat.conn.close()
    assert versions[-2:] == [(first_version,), (first_version + 1,)]


def _member_keys(db_path: Path) -> None:
    from pool_server.store import Store

    store = Store(db_path)
    try:
        store.create_schema()
        store.db["members"].insert({"code": "TRT", "name": "TRT", "quota_bytes": 0})
    finally:
        store.close()


def _register(db_path: Path, key: Ed25519PrivateKey, revoked: str | None = None) -> None:
    import sqlite3

    conn = sqlite3.connect(db_path)
    try:
        conn.execute(
            f"INSERT INTO {MEMBER_KEYS_TABLE} (fingerprint, member, public_key, added, revoked)"
            " VALUES (?, 'TRT', ?, '2026-01-01', ?)",
            [fingerprint(key.public_key()), ssh_public_line(key.public_key(), "t"), revoked],
        )
        conn.commit()
    finally:
        conn.close()


def _signed_upload(pool: Path, stem: str, key: Ed25519PrivateKey, tamper: bool = False) -> None:
    import hashlib

    files = {f"/TRT/news/{stem}.mp4": stem.encode() * 500, f"/TRT/news/{stem}.json": b"{}"}
    for rel, data in files.items():
        _put(pool, rel, data)
    payload = member_payload(
        item_id(item_key(f"/TRT/news/{stem}.mp4")),
        "TRT",
        [
            {"path": p, "size": len(d), "sha256": hashlib.sha256(d).hexdigest()}
            for p, d in files.items()
        ],
    )
    signed = sign(key, payload)
    _put(pool, f"/TRT/news/{stem}.sig", signature_file(fingerprint(key.public_key()), signed, {}))
    if tamper:
        _put(pool, f"/TRT/news/{stem}.mp4", b"changed after signing")


def test_member_signatures_are_checked_against_registered_keys(
    tmp_path: Path, signer: PoolSigner
) -> None:
    pool, db = tmp_path / "pool", tmp_path / "pool.db"
    _member_keys(db)
    good, revoked, stranger = (Ed25519PrivateKey.generate() for _ in range(3))
    _register(db, good)
    _register(db, revoked, revoked="2026-06-01T00:00:00+00:00")
    _signed_upload(pool, "signed", good)
    _signed_upload(pool, "by_revoked", revoked)
    _signed_upload(pool, "by_stranger", stranger)
    _signed_upload(pool, "altered", good, tamper=True)
    _put(pool, "/TRT/news/plain.mp4", b"plain" * 100)
    _index(pool, db, signer)

    def verdict(stem: str) -> dict:
        row = _item(db, f"/TRT/news/{stem}.mp4")
        verify_manifest(row["manifest"], row["manifest_signature"], signer.keys)
        return row["manifest"]["member_signature"]

    assert verdict("signed")["status"] == SIGNED_BY_MEMBER
    assert verdict("signed")["key"] == fingerprint(good.public_key())
    assert verdict("by_revoked") | {"signature": ""} == {
        "status": SIGNATURE_INVALID,
        "key": fingerprint(revoked.public_key()),
        "signature": "",
        "reason": "key revoked",
    }
    assert "not registered" in verdict("by_stranger")["reason"]
    assert verdict("altered")["reason"] == "does not match the files"
    assert verdict("plain") == {"status": UNSIGNED}


def _feed(tmp_path: Path, signer: PoolSigner, n: int) -> tuple[Path, Path]:
    pool, db = tmp_path / "pool", tmp_path / "pool.db"
    for i in range(n):
        _put(pool, f"/TRT/news/item{i}.mp4", f"essence {i}".encode() * 50)
        _index(pool, db, signer)  # one publication per item: records in order
    return pool / ".catalog", db


def _client_copy(feed: Path, local: Path, signer: PoolSigner) -> int:
    """What `pool update` does, on a folder: check the signed head, the snapshot and the
    chain, and only then apply."""
    index = feed_reader.read_index((feed / "index.json").read_bytes())
    head = feed_reader.verify_head(index, signer.keys)
    db = open_catalog(local)
    try:
        seq, start = feed_reader.local_seq(db), feed_reader.local_head(db)
        plan = feed_reader.plan_update(index, seq)
        records = []
        for name in plan.journals:
            records += feed_reader.parse_records((feed / name).read_bytes())
        new_seq, new_head = feed_reader.check_chain(records, seq, start, strict=True)
        if (new_seq, new_head) != (head["seq"], head["hash"]):
            raise feed_reader.ChainError("not the history the pool signed")
        return feed_reader.apply_records(db, records, new_head)
    finally:
        db.conn.close()


@pytest.mark.parametrize("tamper", ["swap", "edit-title", "drop", "truncate"])
def test_a_rewritten_journal_is_refused(tmp_path: Path, signer: PoolSigner, tamper: str) -> None:
    feed, _ = _feed(tmp_path, signer, 2)
    local = tmp_path / "client.sqlite"
    shutil.copyfile(feed / json.loads((feed / "index.json").read_text())["snapshot"]["file"], local)
    base = feed_reader.local_seq(open_catalog(local))
    assert feed_reader.local_head(open_catalog(local))
    _put(tmp_path / "pool", "/TRT/news/later1.mp4", b"later 1" * 50)
    _put(tmp_path / "pool", "/TRT/news/later2.mp4", b"later 2" * 50)
    _put(tmp_path / "pool", "/TRT/news/later3.mp4", b"later 3" * 50)
    Indexer(tmp_path / "pool", tmp_path / "pool.db", SETTINGS, signing_dir=signer.folder).run_once(
        timeout=30
    )
    copy = tmp_path / "copied-feed"
    shutil.copytree(feed, copy)
    index = json.loads((copy / "index.json").read_text())
    journal = copy / index["journals"][-1]["file"]
    lines = journal.read_bytes().splitlines(keepends=True)
    assert len(lines) >= 3
    if tamper == "swap":
        lines[-1], lines[-2] = lines[-2], lines[-1]
    elif tamper == "edit-title":
        rec = json.loads(lines[-2])
        rec["item"]["title"] = "Sahte başlık"
        lines[-2] = (json.dumps(rec, ensure_ascii=False, separators=(",", ":")) + "\n").encode()
    elif tamper == "drop":
        del lines[-2]
    else:
        del lines[-1]
    journal.write_bytes(b"".join(lines))
    with pytest.raises(feed_reader.ChainError):
        _client_copy(copy, local, signer)
    assert feed_reader.local_seq(open_catalog(local)) == base  # the last good copy is kept

    assert _client_copy(feed, local, signer) == index["seq"]  # the genuine feed applies


def test_a_forged_head_is_refused(tmp_path: Path, signer: PoolSigner) -> None:
    feed, _ = _feed(tmp_path, signer, 1)
    index = json.loads((feed / "index.json").read_text())
    assert feed_reader.verify_head(index, signer.keys)["seq"] == index["seq"]
    index["head"]["seq"] -= 1  # "the feed ends earlier": a truncated chain announced
    with pytest.raises(feed_reader.ChainError):
        feed_reader.verify_head(index, signer.keys)
    index = json.loads((feed / "index.json").read_text())
    index["snapshot"]["sha256"] = "0" * 64
    with pytest.raises(feed_reader.ChainError):
        feed_reader.verify_head(index, signer.keys)
    keys = json.loads((feed / "keys.json").read_text())
    assert verify_key_list(keys)[-1].fingerprint == signer.fingerprint


def test_items_from_before_signing_get_signed_manifests_at_the_next_start(
    tmp_path: Path, signer: PoolSigner
) -> None:
    pool, db_path = tmp_path / "pool", tmp_path / "pool.db"
    for i in range(3):
        _put(pool, f"/TRT/news/early{i}.mp4", f"early {i}".encode() * 100)
    Indexer(pool, db_path, SETTINGS).run_once(timeout=30)  # no signing key yet
    db = open_catalog(db_path)
    try:
        db.execute("UPDATE items SET manifest = NULL WHERE key LIKE '%early0'")  # as schema 2
        unsigned = db.execute(
            "SELECT count(*) FROM items WHERE coalesce(manifest_signature, 'null') = 'null'"
        )
        assert unsigned.fetchone()[0] == 3
        seq = db.execute("SELECT max(seq) FROM journal").fetchone()[0]
    finally:
        db.conn.close()
    _index(pool, db_path, signer)
    for i in range(3):
        row = _item(db_path, f"/TRT/news/early{i}.mp4")
        assert verify_manifest(row["manifest"], row["manifest_signature"], signer.keys)
        assert row["rid"] > seq  # published again, with its manifest

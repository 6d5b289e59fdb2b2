"""`pool update` over NEW new journal records: this tree (hash chain, signed head,
manifests in every record) against the code before provenance (a git revision, default
6c9b58f), in one run (issue 15: within 1.2x).

For each of the two versions: a fresh data folder made by that version's `pool-server`
(init, a member, a reader), one item indexed, a client `pool update` (its copy at that
seq is kept), then NEW small files indexed by `pool-server index --once` (so NEW journal
records). Then, REPS times, alternately: the client copy is put back and a fresh `pool
update` process (that version's client) catches up over FTP from `pool-server serve
--no-indexer`. Median of REPS per version, and the ratio this tree / base.

    .venv/bin/python benchmarks/provenance_bench.py [--new 10000] [--reps 3]
        [--base 6c9b58f] [--work DIR]
    .venv/bin/python benchmarks/provenance_bench.py --crypto [--size-mb 100]

--crypto: what signing and verifying cost per item, in-process: the indexer's work
(manifest built, canonicalised, signed by the pool, a member signature checked) and the
client's (manifest signature verified, record hashed into the chain), against the one
thing the pool does for every upload anyway, the sha256 of SIZE_MB MB (a lower bound
of upload-to-searchable, so the share is an upper bound).

The base revision is checked out with `git worktree add` into the work folder and run
with PYTHONPATH pointing at it (same interpreter and libraries).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "bench-password-1"


def run_py(tree: Path, module_main: str, *args: str, stdin: str | None = None, env=None) -> str:
    code = f"import sys; from {module_main} import main; sys.argv[0] = 'x'; main()"
    full = {**os.environ, "PYTHONPATH": str(tree), **(env or {})}
    out = subprocess.run(
        [sys.executable, "-c", code, *args],
        input=stdin,
        text=True,
        capture_output=True,
        env=full,
        timeout=900,
    )
    if out.returncode != 0:
        raise RuntimeError(f"{module_main} {args}: {out.stderr[-2000:]}")
    return out.stdout


def server(tree: Path, data: Path, *args: str, stdin: str | None = None) -> str:
    return run_py(tree, "pool_server.cli", "--data", str(data), *args, stdin=stdin)


@contextlib.contextmanager
def serving(tree: Path, data: Path) -> Iterator[int]:
    (data / "serve.json").unlink(missing_ok=True)
    code = "import sys; from pool_server.cli import main; sys.argv[0] = 'x'; main()"
    proc = subprocess.Popen(
        [
            sys.executable,
            "-c",
            code,
            "--data",
            str(data),
            "serve",
            "--ftp-port",
            "0",
            "--no-sftp",
            "--no-indexer",
            *(["--no-http"] if tree == ROOT else []),
        ],
        env={**os.environ, "PYTHONPATH": str(tree)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 60
        while not (data / "serve.json").exists():
            if time.monotonic() > deadline or proc.poll() is not None:
                raise RuntimeError("pool-server did not start")
            time.sleep(0.1)
        yield int(json.loads((data / "serve.json").read_text())["ftp"])
    finally:
        proc.terminate()
        proc.wait(60)


def prepare(tree: Path, work: Path, new: int) -> tuple[Path, Path]:
    data, home = work / "data", work / "client"
    server(tree, data, "init")
    server(tree, data, "member", "add", "TRT", "--name", "TRT")
    server(tree, data, "user", "add", "news", "--role", "reader", "--password-stdin",
           stdin=PASSWORD + "\n")  # fmt: skip
    area = data / "pool" / "TRT" / "news"
    area.mkdir(parents=True, exist_ok=True)
    (area / "first.json").write_text(json.dumps({"title": "first"}))
    server(tree, data, "index", "--once")
    with serving(tree, data) as port:
        update(tree, home, port)
    shutil.copytree(home, work / "client-at-start")
    for i in range(new):
        folder = area / f"f{i // 1000:03d}"
        folder.mkdir(exist_ok=True)
        (folder / f"story{i:05d}.json").write_text(
            json.dumps({"title": f"Haber {i}", "description": "Kısa bir açıklama " * 5})
        )
    server(tree, data, "index", "--once")
    return data, home


def update(tree: Path, home: Path, port: int) -> float:
    env = {
        "POOL_CONFIG_DIR": str(home / "config"),
        "POOL_CACHE_DIR": str(home / "cache"),
        "POOL_URL": f"ftp://127.0.0.1:{port}",
        "POOL_USER": "news",
        "POOL_PASSWORD": PASSWORD,
        "POOL_PROFILE": "",
    }
    start = time.perf_counter()
    out = run_py(tree, "pool_client.cli", "update", "--json", env=env)
    took = time.perf_counter() - start
    json.loads(out)
    return took


def crypto(size_mb: int, reps: int = 2000) -> dict[str, float]:
    import hashlib

    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from catalog.feed import journal_line, record_hash
    from catalog.manifest import Notary, member_payload, signature_file, verify_manifest
    from catalog.signing import PoolSigner, fingerprint, sign, ssh_public_line

    tmp = Path(tempfile.mkdtemp(prefix="prov-crypto-"))
    try:
        signer = PoolSigner(tmp / "signing")
        signer.ensure()
        signer.load()
        member = Ed25519PrivateKey.generate()
        files = [
            {"path": f"/TRT/news/story{ext}", "role": role, "size": size, "sha256": "ab" * 32,
             "info": {"role": role}}
            for ext, role, size in ((".mxf", "essence", size_mb * 10**6),
                                    (".json", "sidecar", 900), (".tr.srt", "subtitle", 4000))
        ]  # fmt: skip
        payload = member_payload("TRT-0123456789", "TRT", files)
        sig = json.loads(
            signature_file(fingerprint(member.public_key()), sign(member, payload), {})
        )
        files.append(
            {"path": "/TRT/news/story.sig", "role": "signature", "size": 300, "sha256": "cd" * 32,
             "info": {"role": "signature", "member_signature": sig}}
        )  # fmt: skip
        line = ssh_public_line(member.public_key(), "bench")
        notary = Notary(signer, lambda m, fp: (line, False))
        row = {
            "id": "TRT-0123456789", "member": "TRT", "path": "/TRT/news/story.mxf",
            "title": "Çay hasadı Rize'de", "description": "Dope sheet " * 40,
            "languages": ["tr"], "keywords": ["çay", "Rize"], "uploaded": "2026-11-29T10:00:00",
        }  # fmt: skip
        t = time.perf_counter()
        for _ in range(reps):
            new = dict(row)
            notary.seal(new, None, files)
        seal = (time.perf_counter() - t) / reps
        assert new["manifest"]["member_signature"]["status"] == "signed by member"
        t = time.perf_counter()
        for _ in range(reps):
            verify_manifest(new["manifest"], new["manifest_signature"], signer.keys)
            record_hash(journal_line(1, "t", "upsert", row["id"], json.dumps(new), prev="0" * 64))
        check = (time.perf_counter() - t) / reps
        body = os.urandom(size_mb * 10**6)
        t = time.perf_counter()
        hashlib.sha256(body).hexdigest()
        digest = time.perf_counter() - t
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return {
        "sign_per_item_ms": round(seal * 1000, 3),
        "verify_per_item_ms": round(check * 1000, 3),
        f"sha256_{size_mb}mb_ms": round(digest * 1000, 1),
        "share_of_hashing_pct": round(100 * (seal + check) / digest, 3),
    }


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--crypto", action="store_true")
    ap.add_argument("--size-mb", type=int, default=100)
    ap.add_argument("--new", type=int, default=10_000)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--base", default="6c9b58f")
    ap.add_argument("--work", type=Path)
    args = ap.parse_args()
    if args.crypto:
        print(json.dumps(crypto(args.size_mb)))
        return 0
    work = args.work or Path(tempfile.mkdtemp(prefix="prov-bench-"))
    base_tree = work / "base-tree"
    if not base_tree.exists():
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "add", "--detach", str(base_tree), args.base],
            check=True,
            capture_output=True,
        )
    trees = {"base": base_tree, "this": ROOT}
    prepared = {}
    try:
        for name, tree in trees.items():
            t = time.perf_counter()
            prepared[name] = prepare(tree, work / name, args.new)
            print(f"{name}: prepared in {time.perf_counter() - t:.1f} s", file=sys.stderr)
        times: dict[str, list[float]] = {name: [] for name in trees}
        for _ in range(args.reps):
            for name, tree in trees.items():
                data, home = prepared[name]
                shutil.rmtree(home)
                shutil.copytree(work / name / "client-at-start", home)
                with serving(tree, data) as port:
                    times[name].append(update(tree, home, port))
        result = {
            "new_records": args.new,
            "reps": args.reps,
            **{f"{n}_median_s": round(statistics.median(v), 3) for n, v in times.items()},
            **{f"{n}_all_s": [round(x, 3) for x in v] for n, v in times.items()},
        }
        result["ratio"] = round(result["this_median_s"] / result["base_median_s"], 3)
        print(json.dumps(result))
    finally:
        subprocess.run(
            ["git", "-C", str(ROOT), "worktree", "remove", "--force", str(base_tree)],
            capture_output=True,
        )
        if not args.work:
            shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())

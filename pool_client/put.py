"""`pool put`: upload files into the member's area with our JSON sidecar.

The target folder is ``/<MEMBER>/<category>/[<series>/]``. Each essence file gets a
sidecar ``<stem>.json`` (catalog/SIDECAR_JSON.md) made from the options, or the file
given with ``--sidecar``; other files (subtitles, scripts, stills) go up as they are.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import UsageError
from .progress import Display
from .remote import Remote
from .transfer import PutResult, RateLimiter, upload

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

_SEGMENT = re.compile(r"^[^/\x00-\x1f]{1,255}$")


@dataclass
class Metadata:
    category: str
    series: str | None = None
    episode: str | None = None
    title: str | None = None
    description: str | None = None
    language: str | None = None
    location: str | None = None
    restrictions: str | None = None
    embargo: str | None = None

    def sidecar(self) -> dict[str, Any]:
        """Our JSON sidecar: only the fields that were given."""
        doc: dict[str, Any] = {}
        for name in (
            "title",
            "description",
            "series",
            "episode",
            "location",
            "restrictions",
            "embargo",
            "category",
        ):
            value = getattr(self, name)
            if value:
                doc[name] = value
        if self.language:
            doc["languages"] = [v.strip() for v in self.language.split(",") if v.strip()]
        return doc


def _segment(value: str, option: str) -> str:
    value = value.strip().strip("/")
    if not value or not all(_SEGMENT.match(p) and p not in (".", "..") for p in value.split("/")):
        raise UsageError(f"{option} {value!r}: not a usable folder name")
    return value


def target_folder(member: str, meta: Metadata) -> str:
    folder = f"/{_segment(member, '--member')}/{_segment(meta.category, '--category')}"
    if meta.series:
        folder += f"/{_segment(meta.series, '--series')}"
    return folder


def plan(files: list[Path], meta: Metadata, sidecar: Path | None) -> list[tuple[Path | bytes, str]]:
    """(local file, remote name) pairs in upload order: each essence, then its sidecar."""
    from catalog.items import role_by_extension, split_name

    for f in files:
        if not f.is_file():
            raise UsageError(f"{f}: no such file")
    essences = [f for f in files if role_by_extension(f.name) == "essence"]
    if sidecar is not None and len(essences) != 1:
        raise UsageError("--sidecar goes with exactly one media file")
    out: list[tuple[Path | bytes, str]] = []
    names = {f.name for f in files}
    for f in files:
        out.append((f, f.name))
        if f not in essences:
            continue
        stem, _, _ = split_name(f.name)
        if sidecar is not None:
            if not sidecar.is_file():
                raise UsageError(f"--sidecar {sidecar}: no such file")
            out.append((sidecar, stem + sidecar.suffix.lower()))
            continue
        if f"{stem}.json" in names:
            continue  # the user brought one
        doc = json.dumps(meta.sidecar(), ensure_ascii=False, indent=1) + "\n"
        out.append((doc.encode("utf-8"), f"{stem}.json"))
    return out


def put_files(
    remote: Remote,
    files: list[Path],
    member: str,
    meta: Metadata,
    *,
    sidecar: Path | None,
    limiter: RateLimiter,
    display: Display,
    on_retry: Callable[[Exception, float], None] | None = None,
    sign_with: Ed25519PrivateKey | None = None,
) -> list[PutResult]:
    """Upload; with `sign_with` (the member's key), each item's files are followed by a
    ``<stem>.sig`` signing their sha256 (catalog/manifest.py `member_payload`)."""
    folder = target_folder(member, meta)
    t = remote.transport()
    results = []
    pairs = plan(files, meta, sidecar)
    remote.retrying(lambda: t.mkdirs(folder))

    def send(local: Path | bytes, name: str) -> PutResult:
        bar = display.bar(name, len(local) if isinstance(local, bytes) else local.stat().st_size)
        try:
            return upload(
                remote,
                t,
                local,
                f"{folder}/{name}",
                progress=bar.advance,
                limiter=limiter,
                on_retry=on_retry,
            )
        finally:
            bar.done()

    for local, name in pairs:
        results.append(send(local, name))
    if sign_with is not None:
        for sig_name, data in signatures(results, member, sign_with):
            results.append(send(data, sig_name))
    return results


def signatures(
    results: list[PutResult], member: str, key: Ed25519PrivateKey
) -> list[tuple[str, bytes]]:
    """(``<stem>.sig`` name, content) for each item among the uploaded files."""
    from catalog.items import item_id, item_key
    from catalog.manifest import member_payload, signature_file
    from catalog.signing import fingerprint, sign

    fp = fingerprint(key.public_key())
    by_item: dict[str, list[PutResult]] = {}
    for r in results:
        by_item.setdefault(item_key(r.remote_path), []).append(r)
    out = []
    for ikey, sent in by_item.items():
        payload = member_payload(
            item_id(ikey),
            member,
            [{"path": r.remote_path, "size": r.size, "sha256": r.sha256} for r in sent],
        )
        data = signature_file(fp, sign(key, payload), payload)
        out.append((ikey.rsplit("/", 1)[-1] + ".sig", data))
    return out

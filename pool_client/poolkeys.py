"""The pool's signing keys as this client trusts them: pinned on first use, followed
through announced rotations, kept for offline checks.

``known_pool_keys`` in the config folder pins, per pool (``host:port``), the fingerprint
accepted at `pool login` (or the first `pool update`), as ``known_hosts`` pins SSH keys.
The pool's key list (``/.catalog/keys.json``, catalog.signing) is accepted only if that
key is in its chain; the verified list is kept beside the local catalog
(``pool-keys.json``) so `pool verify` works offline.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .errors import AuthError, NotFound, ProvenanceError
from .feedpath import FEED

if TYPE_CHECKING:
    from catalog.signing import PoolKey

PIN_FILE = "known_pool_keys"
CACHE_NAME = "pool-keys.json"
KEYS_PATH = f"{FEED}/keys.json"


class PoolTrust:
    def __init__(
        self, config_folder: Path, entry: str, cache_folder: Path, notify: Callable[[str], None]
    ) -> None:
        self.pin_path = config_folder / PIN_FILE
        self.entry = entry
        self.cache_path = cache_folder / CACHE_NAME
        self.notify = notify

    # -- the pin -----------------------------------------------------------------------

    def pinned(self) -> str | None:
        try:
            lines = self.pin_path.read_text("utf-8").splitlines()
        except OSError:
            return None
        for line in lines:
            parts = line.split()
            if len(parts) == 2 and parts[0] == self.entry:
                return parts[1]
        return None

    def _pin(self, fp: str) -> None:
        self.pin_path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.pin_path, "a", encoding="utf-8") as f:
            f.write(f"{self.entry} {fp}\n")
        self.notify(
            f"pool {self.entry}: trusting its signing key {fp} (recorded in {self.pin_path}; "
            "check it with the pool's operator: `pool-server info`)"
        )

    # -- the key list ------------------------------------------------------------------

    def cached(self) -> list[PoolKey]:
        """The key list verified last time (offline); [] if there is none."""
        from catalog.signing import SignatureError, trusted_chain

        pin = self.pinned()
        if pin is None:
            return []
        try:
            return trusted_chain(json.loads(self.cache_path.read_text("utf-8")), pin)
        except (OSError, ValueError, SignatureError):
            return []

    def cached_document(self) -> Any:
        """The verified key list as kept (for `pool get --manifest`); None if none."""
        try:
            return json.loads(self.cache_path.read_text("utf-8")) if self.cached() else None
        except (OSError, ValueError):
            return None

    def accept(self, raw: bytes, *, at_login: bool = False) -> list[PoolKey]:
        """Verify a key list fetched from the pool against the pin (pinning its newest key
        if nothing is pinned yet), keep it, and return its keys."""
        from catalog.signing import SignatureError, trusted_chain, verify_key_list

        try:
            doc = json.loads(raw)
            pin = self.pinned()
            keys = verify_key_list(doc) if pin is None else trusted_chain(doc, pin)
        except (ValueError, SignatureError) as exc:
            error = AuthError if at_login else ProvenanceError
            raise error(
                f"the pool's signing keys ({KEYS_PATH}) cannot be trusted: {exc}. If the "
                f"pool's operator confirms a new key, remove the line for {self.entry} "
                f"from {self.pin_path} and log in again"
            ) from exc
        if pin is None:
            self._pin(keys[-1].fingerprint)
        self.cache_path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.cache_path.with_name(self.cache_path.name + ".tmp")
        tmp.write_bytes(raw)
        os.replace(tmp, self.cache_path)
        return keys

    def keys_for(self, fp: str, fetch: Callable[[], bytes]) -> list[PoolKey]:
        """A verified key list that holds key `fp`: the cached one, or the pool's list
        fetched again (a rotation). ProvenanceError if the pool never announced `fp`."""
        keys = self.cached()
        if any(k.fingerprint == fp for k in keys):
            return keys
        try:
            raw = fetch()
        except NotFound:
            raise ProvenanceError(
                f"the feed is signed by key {fp} but the pool publishes no key list"
            ) from None
        keys = self.accept(raw)
        if not any(k.fingerprint == fp for k in keys):
            raise ProvenanceError(
                f"the feed is signed by key {fp}, which the pool's key list never announced: "
                "refusing it"
            )
        return keys


def trust_for(remote: Any, cache_folder: Path) -> PoolTrust:
    ep = remote.endpoint
    return PoolTrust(remote.config_folder, f"{ep.host}:{ep.port}", cache_folder, remote.notify)

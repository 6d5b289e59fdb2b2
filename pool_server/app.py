"""A pool opened from its data folder: configuration, accounts, policy, audit, defence,
and the session core every door acts through."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from catalog.signing import PoolSigner

from .accounts import Accounts
from .audit import Audit
from .config import Config
from .context import DataDir
from .core import Core, Limits
from .defender import Defender
from .quota import QuotaLedger
from .store import Store


@dataclass
class Pool:
    data: DataDir
    config: Config
    store: Store
    accounts: Accounts
    audit: Audit
    defender: Defender
    quotas: QuotaLedger
    core: Core

    @classmethod
    def open(cls, data: DataDir) -> Pool:
        config = Config.load(data.config_path)
        if data.path.is_dir():  # a data folder made before signing keys existed gets one
            PoolSigner(data.signing_dir).ensure()
        store = Store(data.db_path)
        store.create_schema()
        security = config.section("security")
        accounts = Accounts(
            store, data.pool_root, security["min_password_length"], security["login_cache_seconds"]
        )
        audit = Audit(store)
        quotas = QuotaLedger(data.pool_root, accounts.quota_of)
        defender = Defender(store, security)
        core = Core(
            data.pool_root,
            accounts,
            audit,
            quotas,
            defender,
            Limits.from_config(config),
            max_depth=config.get("uploads", "max_path_depth"),
            fsync_uploads=config.get("uploads", "fsync_on_complete"),
        )
        return cls(data, config, store, accounts, audit, defender, quotas, core)

    def catalog_settings(self) -> dict[str, object]:
        return self.config.section("catalog")

    def preview_settings(self) -> dict[str, object]:
        return self.config.section("previews")

    def content_credentials(self) -> Any:
        """C2PA Content Credentials from `[provenance]`, or None when not configured."""
        from catalog.credentials import ContentCredentials

        return ContentCredentials.from_settings(self.data.path, self.config.section("provenance"))

    def close(self) -> None:
        self.core.live.stop()
        self.store.close()

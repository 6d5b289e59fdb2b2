"""A pool opened from its data folder: configuration, accounts, policy, audit, defence."""

from __future__ import annotations

from dataclasses import dataclass

from .accounts import Accounts
from .audit import Audit
from .config import Config
from .context import DataDir
from .defender import Defender
from .fs import PoolFS
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
    fs: PoolFS

    @classmethod
    def open(cls, data: DataDir) -> Pool:
        config = Config.load(data.config_path)
        store = Store(data.db_path)
        store.create_schema()
        security = config.section("security")
        accounts = Accounts(
            store, data.pool_root, security["min_password_length"], security["login_cache_seconds"]
        )
        audit = Audit(store)
        quotas = QuotaLedger(data.pool_root, accounts.quota_of)
        fs = PoolFS(
            data.pool_root,
            accounts,
            audit,
            quotas,
            max_depth=config.get("uploads", "max_path_depth"),
            fsync_uploads=config.get("uploads", "fsync_on_complete"),
        )
        defender = Defender(store, security)
        return cls(data, config, store, accounts, audit, defender, quotas, fs)

    def catalog_settings(self) -> dict[str, object]:
        return self.config.section("catalog")

    def preview_settings(self) -> dict[str, object]:
        return self.config.section("previews")

    def close(self) -> None:
        self.store.close()

"""Where a pool lives on disk: the one object every command and front door is given."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

DEFAULT_DATA = "pool-data"


@dataclass(frozen=True)
class DataDir:
    """The server's data folder and the well-known paths inside it (DESIGN.md "On disk")."""

    path: Path

    @classmethod
    def resolve(cls, given: str | os.PathLike[str] | None) -> DataDir:
        """`--data` if given, else `$POOL_DATA`, else `./pool-data`."""
        raw = given or os.environ.get("POOL_DATA") or DEFAULT_DATA
        return cls(Path(raw).expanduser().absolute())

    @property
    def config_path(self) -> Path:
        return self.path / "pool.toml"

    @property
    def db_path(self) -> Path:
        return self.path / "pool.db"

    @property
    def pool_root(self) -> Path:
        return self.path / "pool"

    @property
    def keys_dir(self) -> Path:
        return self.path / "keys"

    @property
    def signing_dir(self) -> Path:
        """The pool's Ed25519 signing keys and their published list (catalog.signing)."""
        return self.keys_dir / "signing"

    @property
    def tls_dir(self) -> Path:
        return self.path / "tls"

    @property
    def serve_json(self) -> Path:
        return self.path / "serve.json"

    def exists(self) -> bool:
        return self.config_path.is_file() and self.db_path.is_file()

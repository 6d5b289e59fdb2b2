"""Catalog settings as data: (name, default, help). pool_server's config reads this
table into the `[catalog]` section of pool.toml, with defaults and comments."""

from __future__ import annotations

SETTINGS: tuple[tuple[str, object, str], ...] = (
    ("index_workers", 2, "threads extracting metadata and hashing"),
    ("reconcile_minutes", 10, "minutes between reconciliation scans of the pool"),
    ("settle_seconds", 2.0, "a file written in place is taken once unchanged this long"),
    ("snapshot_every_changes", 1000, "refresh the feed snapshot after this many changes"),
    ("snapshot_every_minutes", 60, "refresh the feed snapshot at least this often when changed"),
    ("journal_keep_days", 30, "keep feed journals this many days; older clients take a snapshot"),
    ("max_sidecar_bytes", 4 * 1024 * 1024, "sidecars larger than this are not parsed"),
    (
        "large_file_bytes",
        256 * 1024 * 1024,
        "files this large are hashed off the fast lane, so small items never wait behind them",
    ),
)

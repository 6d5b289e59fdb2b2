"""Preview settings as data: (name, default, help). pool_server's config reads this
table into the `[previews]` section of pool.toml."""

from __future__ import annotations

SETTINGS: tuple[tuple[str, object, str], ...] = (
    ("enabled", True, "make a poster, strip and proxy of every item with video or audio"),
    ("workers", 1, "preview jobs at once (plus one express lane for news and short items)"),
    ("proxy_height", 360, "proxy height in pixels; the proxy fits in 16:9 of it (640x360)"),
    ("proxy_video_bitrate", "700k", "proxy H.264 bit rate (ffmpeg notation: 700k, 1.5M)"),
    ("strip_interval_seconds", 10.0, "one strip thumbnail every this many seconds (at most 100)"),
    ("burn_timecode", True, "burn the source's start timecode into the proxy"),
    ("nice", 10, "niceness added to ffmpeg (0-19); its I/O runs in the lowest best-effort class"),
    (
        "transfer_share",
        0.25,
        "while the pool is sending or receiving files, long jobs run this share of the "
        "time (0.05-1; 1: never yield); news and short items are not held back",
    ),
    ("timeout_factor", 4.0, "a job may run this many times the item's duration (at least 60 s)"),
    ("ffmpeg", "", "ffmpeg to use; empty: the system's, else the one imageio-ffmpeg ships"),
    (
        "broker",
        "",
        "job queue: empty for SQLite in the data folder (previews-queue.db); a redis:// URL to "
        "share the queue with preview workers on other machines",
    ),
    (
        "express_max_seconds",
        300.0,
        "news items and items up to this long go to the express lane: they never wait "
        "behind a long job (which pauses while they run)",
    ),
)

DEFAULTS: dict[str, object] = {name: default for name, default, _ in SETTINGS}

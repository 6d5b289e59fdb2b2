"""`pool-server init --demo`: six members, their users and a dozen sample items that the
indexer catalogues and `pool search` finds across scripts, the moment the pool is up."""

from __future__ import annotations

import json
import os
import re
import sqlite3
import stat
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from click.testing import CliRunner

from pool_client.commands import cli as pool_cli
from pool_server.demo_samples import SAMPLES
from pool_server.samples import find_ffmpeg, make_samples

from .helpers import ServerProcess, run_cli, start_server, wait_for

USER_LINE = re.compile(r"^\s+(\S+)\s+\S+\s+\S+\s+(\S+)$", re.M)


@dataclass
class Demo:
    data: Path
    output: str
    passwords: dict[str, str]
    server: ServerProcess
    home: Path

    def pool(self, *args: str, user: str = "aztv-news", expect: int = 0) -> str:
        env = {
            "POOL_CONFIG_DIR": str(self.home / "config"),
            "POOL_CACHE_DIR": str(self.home / f"cache-{user}"),
            "POOL_URL": f"ftp://127.0.0.1:{self.server.ftp_port}",
            "POOL_USER": user,
            "POOL_PASSWORD": self.passwords[user],
            "POOL_PROFILE": "",
            "HOME": str(self.home),
        }
        result = CliRunner().invoke(pool_cli, list(args), env=env, catch_exceptions=False)
        assert result.exit_code == expect, f"pool {' '.join(args)}: {result.output}"
        return result.stdout

    def search(self, query: str, *options: str) -> set[str]:
        rows = json.loads(self.pool("search", query, *options, "--json"))
        return {row["path"].rsplit("/", 1)[-1].rsplit(".", 1)[0] for row in rows}


def published(data: Path) -> bool:
    """Every sample is in the catalog and the published feed covers it."""
    conn = sqlite3.connect(f"file:{data / 'pool.db'}?mode=ro", uri=True, timeout=5)
    try:
        count, last = conn.execute("SELECT count(*), coalesce(max(rid), 0) FROM items").fetchone()
    except sqlite3.Error:
        return False
    finally:
        conn.close()
    try:
        seq = json.loads((data / "pool" / ".catalog" / "index.json").read_text())["seq"]
    except (OSError, ValueError, KeyError):
        return False
    return count >= len(SAMPLES) and seq >= last


@pytest.fixture(scope="module")
def demo(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Demo]:
    where = tmp_path_factory.mktemp("demo")
    data = where / "pool-data"
    out = run_cli(data, "init", "--demo").output
    server = start_server(data, sftp=False, indexer=True)
    try:
        wait_for(lambda: published(data), 60, "the samples in the published catalog")
        home = where / "client"
        home.mkdir()
        demo = Demo(data, out, dict(USER_LINE.findall(out)), server, home)
        demo.pool("update")
        yield demo
    finally:
        server.stop()


def test_a_dozen_samples_in_every_format(demo: Demo) -> None:
    pool = demo.data / "pool"
    files = [p for p in pool.glob("*/**/*") if not p.relative_to(pool).parts[0].startswith(".")]
    essences = sorted(
        p.relative_to(pool).as_posix()
        for p in files
        if p.suffix in (".mp4", ".mxf", ".mov", ".m4a")
    )
    assert len(essences) == len(SAMPLES) == 12
    assert {Path(e).suffix for e in essences} == {".mp4", ".mxf", ".mov", ".m4a"}
    assert {e.split("/")[0] for e in essences} == {"TRT", "AZTV", "QAZAQ", "MTRK", "KTRK", "MTVA"}
    sidecars = {p.suffix for p in files if p.suffix in (".json", ".xml", ".xmp")}
    assert sidecars == {".json", ".xml", ".xmp"}
    assert "sample /QAZAQ/news/astana_nauryz.mp4" in demo.output
    # catalogued with no errors, technical metadata and the sidecar's descriptive fields
    rows = json.loads(run_cli(demo.data, "search", "", "--limit", "50", "--json").output)
    assert len(rows) == 12
    by_stem = {Path(r["path"]).stem: r for r in rows}
    for sample in SAMPLES:
        row = by_stem[sample.stem]
        assert row["title"] == sample.title, row
        assert row["member"] == sample.member
        assert sample.language in row["languages"]
        assert 2.5 < row["duration"] < 3.5


def test_mxf_has_timecode_and_the_mov_a_language_tagged_track(demo: Demo) -> None:
    mxf = json.loads(demo.pool("show", "/QAZAQ/documentaries/dala_jylqyshylar.mxf", "--json"))
    assert mxf["container"] == "MXF" and mxf["start_timecode"] == "10:00:00:00"
    assert mxf["scan_type"] == "Interlaced"
    mov = json.loads(demo.pool("show", "/KTRK/sport/kochmon_oyundary.mov", "--json"))
    assert "ProRes" in (mov["video_codec"] or "") and mov["audio"][0]["language"] == "ky"
    trt = json.loads(demo.pool("show", "/TRT/news/ankara_kar_yagisi.mp4", "--json"))
    assert any(a["path"].endswith(".tr.srt") for a in trt["attachments"])


@pytest.mark.parametrize(
    ("query", "found"),
    [
        ("qazaqstan", {"astana_nauryz", "dala_jylqyshylar"}),  # Kazakh, Cyrillic
        ("nauryz", {"astana_nauryz"}),
        ("Ўзбекистон", {"toshkent_metro"}),  # Uzbek, Latin (Oʻzbekiston)
        ("bishkek nooruz", {"bishkek_nooruz"}),  # Kyrgyz, Cyrillic
        ("Анкара", {"ankara_kar_yagisi"}),  # Turkish
        ("Шуша", {"shusha_xaribulbul"}),  # Azerbaijani (Şuşa)
        ("Будапешт", {"budapest_arviz", "zeneakademia_hegedu"}),  # Hungarian
        ("ARVIZ", {"budapest_arviz"}),  # Árvíz
        ("kapadokya", {"kapadokya_balonlari"}),
    ],
)
def test_search_finds_samples_across_scripts(demo: Demo, query: str, found: set[str]) -> None:
    assert demo.search(query) == found


def test_since_until_and_durations_mean_the_same_in_both_commands(demo: Demo) -> None:
    everything = {s.stem for s in SAMPLES}
    assert demo.search("", "--since", "30d", "--limit", "50") == everything
    assert demo.search("", "--since", "1h", "--min-duration", "0:02", "--limit", "50") == everything
    assert demo.search("", "--until", "30d", "--limit", "50") == set()
    assert demo.search("", "--max-duration", "2s", "--limit", "50") == set()
    server_side = json.loads(
        run_cli(
            demo.data,
            "search",
            "",
            "--since",
            "30d",
            "--min-duration",
            "0:02",
            "--limit",
            "50",
            "--json",
        ).output
    )
    assert {Path(r["path"]).stem for r in server_side} == everything
    bad = demo.pool("search", "x", "--since", "last week", expect=2)
    assert bad == ""


def test_passwords_file_and_rerun(demo: Demo) -> None:
    path = demo.data / "demo-passwords.txt"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert f"The passwords are also in {path} (mode 0600)." in demo.output
    text = path.read_text()
    for user, password in demo.passwords.items():
        assert re.search(rf"^{re.escape(user)}\s+\S+\s+\S+\s+{re.escape(password)}$", text, re.M)
    assert len(demo.passwords) == 13
    before = {p: p.stat().st_mtime_ns for p in (demo.data / "pool").glob("[A-Z]*/**/*.*")}
    again = run_cli(demo.data, "init", "--demo").output
    assert "already initialised; nothing changed" in again
    assert path.read_text() == text
    assert {p: p.stat().st_mtime_ns for p in before} == before


def test_no_samples(tmp_path: Path) -> None:
    out = run_cli(tmp_path / "data", "init", "--demo", "--no-samples").output
    assert "sample items" not in out and not re.search(r"^sample ", out, re.M)
    assert not [p for p in (tmp_path / "data" / "pool").glob("*/**/*") if p.is_file()]
    assert (tmp_path / "data" / "demo-passwords.txt").is_file()


def _wrapper(folder: Path, refuse: str) -> None:
    """A PATH entry `ffmpeg` that is the system's but refuses `refuse` in its arguments
    (as a build without that muxer would)."""
    real = find_ffmpeg()
    assert real is not None
    script = folder / "ffmpeg"
    script.write_text(
        "#!/bin/sh\n"
        f'case " $* " in *" {refuse} "*) echo "Requested output format mxf is not a '
        'suitable output format" >&2; exit 1;; esac\n'
        f'exec {real[0]} "$@"\n'
    )
    script.chmod(0o755)


def test_an_ffmpeg_without_mxf_makes_a_mov_and_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _wrapper(bin_dir, "mxf")
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    pool = tmp_path / "pool"
    mxf_samples = [s for s in SAMPLES if s.kind == "mxf"]
    result = make_samples(tmp_path, pool, samples=mxf_samples)
    assert sorted(p for p in result.made if p.endswith((".mov", ".mxf"))) == [
        "/QAZAQ/documentaries/dala_jylqyshylar.mov",
        "/TRT/documentaries/Anadolu Mirası/kapadokya_balonlari.mov",
    ]
    assert len(result.notes) == 2
    assert all("cannot write MXF" in n and "is a MOV instead" in n for n in result.notes)
    assert (pool / "QAZAQ" / "documentaries" / "dala_jylqyshylar.json").is_file()


def test_without_a_system_ffmpeg_imageio_ffmpeg_makes_them(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(Path(sys.executable).parent))  # no ffmpeg there
    found = find_ffmpeg()
    assert found is not None and found[1] == "imageio-ffmpeg"
    picked = [s for s in SAMPLES if s.kind in ("mxf", "audio")][:2]
    result = make_samples(tmp_path, tmp_path / "pool", samples=picked)
    assert result.ffmpeg is not None and result.ffmpeg.startswith("imageio-ffmpeg: ")
    essences = [p for p in result.made if p.endswith((".mxf", ".mov", ".m4a"))]
    assert len(essences) == 2, (result.made, result.notes)
    for path in essences:
        assert (tmp_path / "pool" / path.lstrip("/")).stat().st_size > 1000

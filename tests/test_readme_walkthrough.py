"""The README's first hour and walkthrough, run as written: they cannot rot.

The blocks after the `<!-- walkthrough: ... -->` markers are extracted from README.md and
run, in order, by one bash against a demo pool made by `pool-server init --demo` (with
its sample items), from a folder where `pool-data` is that pool's data folder, as it is
after `make run`. The only change: the demo's fixed FTP port is replaced by the one the
test server got (port 0).
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

from .helpers import run_cli, start_server

REPO = Path(__file__).resolve().parent.parent


def walkthrough() -> str:
    text = (REPO / "README.md").read_text(encoding="utf-8")
    blocks = re.findall(r"<!-- walkthrough:[^>]*-->\n```sh\n(.*?)```", text, re.S)
    assert len(blocks) == 2, "README.md has a first-hour block and a walkthrough block"
    return "".join(blocks)


def test_readme_walkthrough_runs_as_written(tmp_path: Path) -> None:
    work = tmp_path / "newcomer"
    work.mkdir()
    data = work / "pool-data"
    run_cli(data, "init", "--demo")
    srv = start_server(data, sftp=False, indexer=True)
    try:
        (work / ".venv").symlink_to(Path(sys.executable).parent.parent)
        script = walkthrough().replace("127.0.0.1:2121", f"127.0.0.1:{srv.ftp_port}")
        assert "--member" not in script
        env = {k: v for k, v in os.environ.items() if not k.startswith("POOL_")}
        done = subprocess.run(
            ["bash", "-euo", "pipefail", "-c", script],
            cwd=work,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert done.returncode == 0, done.stdout + done.stderr
    finally:
        srv.stop()
    out = done.stdout
    # the first hour: who am I, the samples found across scripts, taken and synced
    assert re.search(r"member: AZTV", out) and re.search(r"role: reader", out)
    assert "Астанада Наурыз мейрамы тойланды" in out
    assert "Árvíz a Dunán" in out and "Hegedűverseny" in out
    assert "Toshkentda yangi metro bekati ochildi" in out
    sample = data / "pool" / "QAZAQ" / "news" / "astana_nauryz.mp4"
    assert (work / "takes" / "astana_nauryz.mp4").read_bytes() == sample.read_bytes()
    synced = sorted(p.name for p in (work / "hot").iterdir() if not p.name.startswith("."))
    assert synced == ["astana_nauryz.mp4", "dala_jylqyshylar.mxf"]
    # the walkthrough: an upload without --member, found and taken by another member
    assert "İstanbul'da Nevruz" in out
    taken = work / "takes" / "story.mp4"
    assert taken.read_bytes() == (work / "story.mp4").read_bytes()
    assert (data / "pool" / "TRT" / "news" / "story.mp4").is_file()

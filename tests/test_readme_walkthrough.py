"""The README's walkthrough, run as written: it cannot rot.

The block after the `<!-- walkthrough: ... -->` marker is extracted from README.md and
run by bash against a demo pool made by `pool-server init --demo` (the passwords it
prints go into the variables the README tells a newcomer to set). The only change: the
demo's fixed FTP port is replaced by the one the test server got (port 0).
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
    match = re.search(r"<!-- walkthrough:[^>]*-->\n```sh\n(.*?)```", text, re.S)
    assert match, "README.md has no walkthrough block"
    return match.group(1)


def test_readme_walkthrough_runs_as_written(tmp_path: Path) -> None:
    data = tmp_path / "data"
    out = run_cli(data, "init", "--demo").output
    passwords = dict(re.findall(r"^\s+(\S+)\s+\S+\s+\S+\s+(\S+)$", out, re.M))
    srv = start_server(data, sftp=False, indexer=True)
    try:
        work = tmp_path / "newcomer"
        work.mkdir()
        (work / ".venv").symlink_to(Path(sys.executable).parent.parent)
        script = walkthrough().replace("127.0.0.1:2121", f"127.0.0.1:{srv.ftp_port}")
        env = {k: v for k, v in os.environ.items() if not k.startswith("POOL_")}
        env.update(
            TRT_UPLOAD_PASSWORD=passwords["trt-upload"], AZTV_NEWS_PASSWORD=passwords["aztv-news"]
        )
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
    assert "İstanbul'da Nevruz" in done.stdout
    taken = work / "takes" / "story.mp4"
    assert taken.read_bytes() == (work / "story.mp4").read_bytes()
    assert (data / "pool" / "TRT" / "news" / "story.mp4").is_file()

"""How long a newcomer waits: the set-up steps of `make test` and `make run`, from a fresh
clone (issue 11).

    python benchmarks/setup_time.py [--repo .] [--runs 2] [--no-venv] [--cold]

In a temporary clone of `--repo` (its committed HEAD): `make .venv/.installed` from
scratch (`--cold`: without pip's cache, as on a fresh machine; the default uses the
cache, as on a second clone), then `tools/setup_test_tools.py` with every tool present
(what `make test` adds before ruff and pytest), then `pool-server init --demo` with
and without the sample items (what `make run` does before serving). Wall time and the
CPU time of the step and its children; the machine's load average alongside, since
wall time on a shared machine says more about the neighbours than about us.

Not a timed test: nothing fails on a slow figure. Results: benchmarks/README.md.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def timed(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple[float, float]:
    """(wall seconds, CPU seconds of the children) of one command, which must succeed."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.monotonic()
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, timeout=1800)
    wall = time.monotonic() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0:
        sys.exit(f"{' '.join(args)} failed ({done.returncode}):\n{done.stderr.decode()[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return wall, cpu


def report(name: str, samples: list[tuple[float, float]]) -> None:
    walls, cpus = [w for w, _ in samples], [c for _, c in samples]
    print(
        f"| {name} | {statistics.median(walls):.1f} s | {statistics.median(cpus):.1f} s "
        f"| {len(samples)} | {os.getloadavg()[0]:.1f} |",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repo", default=str(Path(__file__).resolve().parent.parent))
    parser.add_argument("--runs", type=int, default=2, help="runs of the quick steps")
    parser.add_argument("--no-venv", action="store_true", help="skip `make .venv/.installed`")
    parser.add_argument("--cold", action="store_true", help="pip without its cache")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="ortak-setup-") as tmp:
        clone = Path(tmp) / "ortak"
        subprocess.run(["git", "clone", "-q", args.repo, str(clone)], check=True, timeout=300)
        print("| step | wall (median) | CPU (median) | runs | load avg |")
        print("| --- | --- | --- | --- | --- |")
        venv_python = clone / ".venv" / "bin" / "python"
        if not args.no_venv:
            env = {**os.environ, **({"PIP_NO_CACHE_DIR": "1"} if args.cold else {})}
            what = "no pip cache" if args.cold else "pip cache warm"
            report(
                f"`make .venv/.installed`, fresh clone ({what})",
                [timed(["make", ".venv/.installed"], clone, env)],
            )
        else:
            subprocess.run(["make", ".venv/.installed"], cwd=clone, check=True, timeout=1800)
        tools = [venv_python.as_posix(), "tools/setup_test_tools.py", "--quiet", "--no-install"]
        report(
            "tools check, all present (`make test-tools`)",
            [timed(tools, clone) for _ in range(args.runs)],
        )
        server = (clone / ".venv" / "bin" / "pool-server").as_posix()
        for label, extra in (("with samples", []), ("--no-samples", ["--no-samples"])):
            runs = []
            for i in range(args.runs):
                data = Path(tmp) / f"data-{label[:4]}-{i}"
                runs.append(timed([server, "--data", str(data), "init", "--demo", *extra], clone))
            report(f"`pool-server init --demo` {label} (`make run`'s first step)", runs)


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Vendor the web door's third-party assets from the npm registry into the package.

Each asset is one row of `ASSETS`: an npm package at a pinned version, the files to take
from its tarball and where they go under `pool_server/http/static/vendor/`. The tarball is
fetched with `npm pack` (the registry's own integrity check applies), and the files and
the package's licence are copied in. Run it to refresh or add an asset, then commit the
result: the pool's pages load nothing from outside the pool, and a fresh clone serves them
without npm.

    python tools/vendor_web_assets.py            # every asset
    python tools/vendor_web_assets.py uppy       # one
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENDOR = ROOT / "pool_server" / "http" / "static" / "vendor"

# name: (npm package, version, {file in the tarball: name under vendor/<name>/})
ASSETS: dict[str, tuple[str, str, dict[str, str]]] = {
    "uppy": (
        "uppy",
        "6.0.1",
        {
            "package/dist/uppy.min.mjs": "uppy.min.mjs",
            "package/dist/uppy.min.css": "uppy.min.css",
            "package/LICENSE": "LICENSE",
        },
    ),
}


def vendor(name: str) -> None:
    package, version, files = ASSETS[name]
    dest = VENDOR / name
    with tempfile.TemporaryDirectory() as tmp:
        out = (
            subprocess.run(
                ["npm", "pack", f"{package}@{version}", "--silent"],
                cwd=tmp,
                check=True,
                capture_output=True,
                text=True,
            )
            .stdout.strip()
            .splitlines()[-1]
        )
        with tarfile.open(Path(tmp) / out) as tar:
            tar.extractall(tmp, filter="data")
        dest.mkdir(parents=True, exist_ok=True)
        for src, target in files.items():
            shutil.copyfile(Path(tmp) / src, dest / target)
    (dest / "VERSION").write_text(f"{package}@{version} (npm)\n")
    print(f"vendored {package}@{version} into {dest.relative_to(ROOT)}")


def main(argv: list[str]) -> int:
    names = argv or sorted(ASSETS)
    unknown = [n for n in names if n not in ASSETS]
    if unknown:
        print(f"unknown asset(s): {', '.join(unknown)}; known: {', '.join(sorted(ASSETS))}")
        return 2
    for name in names:
        vendor(name)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

"""Property tests of path confinement: whatever a client sends, nothing outside the
pool root is ever reached, and every refusal is the package's own error."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from pool_server.errors import InvalidPath
from pool_server.paths import confine, normalise

SEGMENTS = st.one_of(
    st.sampled_from(
        [
            "..",
            ".",
            "",
            "TRT",
            "news",
            "escape",
            "inside-link",
            "a..b",
            "...",
            "İSTANBUL",
            "Ўзбекистон",
            "x" * 255,
            "x" * 256,
            "a\x00b",
            "a\nb",
            ".ortak-part-1",
            "~",
            "%2e%2e",
            "\\..\\",
            " lead",
            "trail ",
        ]
    ),
    st.text(min_size=0, max_size=12),
)
PATHS = st.lists(SEGMENTS, max_size=24).map("/".join)


@pytest.fixture(scope="module")
def tree(tmp_path_factory) -> tuple[Path, Path]:
    base = tmp_path_factory.mktemp("confine")
    root, outside = base / "pool", base / "outside"
    (root / "TRT" / "news").mkdir(parents=True)
    outside.mkdir()
    (outside / "secret").write_text("secret")
    (root / "TRT" / "escape").symlink_to(outside)
    (root / "TRT" / "inside-link").symlink_to(root / "TRT" / "news")
    return root, outside


def _check(root: Path, path: str, cwd: str) -> None:
    try:
        target = confine(root, path, cwd)
    except InvalidPath:
        return
    real = os.path.realpath(target.real)
    real_root = os.path.realpath(root)
    assert real == real_root or real.startswith(real_root + os.sep)
    assert ".." not in target.vpath.split("/")
    assert target.vpath.startswith("/")
    assert normalise(target.vpath) == target.vpath  # idempotent


@settings(max_examples=300, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(path=PATHS, cwd=st.sampled_from(["/", "/TRT", "/TRT/news", "/TRT/escape"]))
def test_confine_never_leaves_the_root(tree, path: str, cwd: str) -> None:
    _check(tree[0], path, cwd)


@pytest.mark.slow
@settings(
    max_examples=10_000, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None
)
@given(path=PATHS, cwd=st.sampled_from(["/", "/TRT", "/TRT/news", "/TRT/escape"]))
def test_confine_never_leaves_the_root_long(tree, path: str, cwd: str) -> None:
    _check(tree[0], path, cwd)

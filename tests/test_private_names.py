"""The private names of pyftpdlib and paramiko the doors rely on are still there: a
release that renames one fails here, loudly, rather than in a door at run time."""

from __future__ import annotations

import importlib
import inspect

import paramiko
import pyftpdlib
import pytest

from pool_server.private_names import PRIVATE_NAMES


def _source_of(cls: type) -> str:
    """The source of `cls` and of every class it inherits from (where there is one)."""
    parts = []
    for klass in cls.__mro__:
        try:
            parts.append(inspect.getsource(klass))
        except (OSError, TypeError):
            continue  # a built-in
    return "\n".join(parts)


@pytest.mark.parametrize(("module", "cls", "name", "used_in"), PRIVATE_NAMES)
def test_private_name_still_exists(module: str, cls: str, name: str, used_in: str) -> None:
    klass = getattr(importlib.import_module(module), cls, None)
    assert isinstance(klass, type), f"{module}.{cls} is gone; {used_in} relies on it"
    versions = f"pyftpdlib {pyftpdlib.__ver__}, paramiko {paramiko.__version__}"
    assert hasattr(klass, name) or name in _source_of(klass), (
        f"{module}.{cls} no longer has {name} ({versions}); {used_in} relies on it: "
        "adapt the door or keep the version pinned in pyproject.toml"
    )


def test_the_table_lists_every_private_name_the_doors_use() -> None:
    """The table stays the whole truth: each name in it is still used somewhere."""
    from pathlib import Path

    import pool_server

    root = Path(pool_server.__file__).parent
    code = "\n".join(p.read_text() for p in root.rglob("*.py") if p.name != "private_names.py")
    for _module, _cls, name, used_in in PRIVATE_NAMES:
        assert name in code, f"{name} is no longer used ({used_in}): drop it from the table"

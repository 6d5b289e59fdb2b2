"""Reading members' text files: bounded size, UTF-8 first, legacy code pages after."""

from __future__ import annotations

import codecs
from pathlib import Path

from .errors import SidecarError

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)


def read_limited(path: Path, limit: int) -> bytes:
    """The bytes of `path`, refusing files larger than `limit` without reading them."""
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as exc:
        raise SidecarError(f"cannot read: {exc.strerror or exc}") from exc
    if len(data) > limit:
        raise SidecarError(f"larger than max_sidecar_bytes ({limit} bytes): not parsed")
    return data


def guess_legacy_codepage(data: bytes) -> str:
    """cp1251 (Cyrillic) or cp1254 (Turkish) for bytes that are not UTF-8.

    In both, letters beyond ASCII are bytes >= 0xC0. Cyrillic words are made of them
    alone, while a Turkish word mixes them with ASCII letters (ş, ı, ğ in ``Işık``): so
    the share of such bytes standing next to an ASCII letter tells the two apart.
    """

    def ascii_letter(b: int) -> bool:
        return 0x41 <= b <= 0x5A or 0x61 <= b <= 0x7A

    high = mixed = 0
    for i, b in enumerate(data):
        if b >= 0xC0:
            high += 1
            before = data[i - 1] if i else 0
            after = data[i + 1] if i + 1 < len(data) else 0
            mixed += ascii_letter(before) or ascii_letter(after)
    return "cp1254" if high and mixed / high > 0.3 else "cp1251" if high else "cp1254"


def decode_text(data: bytes) -> tuple[str, str]:
    """(text, encoding): a BOM if any, else UTF-8, else cp1251 or cp1254 by guess."""
    for bom, encoding in _BOMS:
        if data.startswith(bom):
            return data.decode(encoding, errors="replace"), encoding
    try:
        return data.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        encoding = guess_legacy_codepage(data)
        return data.decode(encoding, errors="replace"), encoding

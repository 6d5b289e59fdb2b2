"""The web door's languages: gettext catalogues (Babel's .po files) read at start-up.

`locale/<lang>/LC_MESSAGES/messages.po` beside this module; `messages.pot` is the
template extracted from the templates and code (`make i18n` updates them). The
language follows the `ortak_lang` cookie (set by the switch on every page), else the
browser's Accept-Language, else English.
"""

from __future__ import annotations

import gettext
import io
from contextvars import ContextVar
from pathlib import Path

from babel import Locale
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

LOCALE_DIR = Path(__file__).parent / "locale"
LANGUAGES: tuple[str, ...] = ("en", "tr", "az", "kk", "ky", "uz", "hu", "ru")
"""Every language a catalogue exists for; English is the source language."""
DEFAULT = "en"
LANG_COOKIE = "ortak_lang"

_NULL = gettext.NullTranslations()
_current: ContextVar[gettext.NullTranslations | None] = ContextVar(
    "ortak_translations", default=None
)


def load(lang: str) -> gettext.NullTranslations:
    path = LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po"
    if not path.is_file():
        return gettext.NullTranslations()
    with path.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    buf = io.BytesIO()
    write_mo(buf, catalog)
    buf.seek(0)
    return gettext.GNUTranslations(buf)


class Translations:
    """Every catalogue, compiled once."""

    def __init__(self) -> None:
        self.by_lang = {lang: load(lang) for lang in LANGUAGES}
        self.names = {lang: Locale.parse(lang).get_display_name(lang) or lang for lang in LANGUAGES}

    def negotiate(self, cookie: str | None, accept_language: str | None) -> str:
        if cookie in self.by_lang:
            return str(cookie)
        for lang in _accepted(accept_language or ""):
            if lang in self.by_lang:
                return lang
        return DEFAULT

    def activate(self, lang: str) -> None:
        _current.set(self.by_lang.get(lang, self.by_lang[DEFAULT]))


def _accepted(header: str) -> list[str]:
    """Primary language subtags of an Accept-Language header, by preference."""
    weighted: list[tuple[float, int, str]] = []
    for i, part in enumerate(header.split(",")):
        tag, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if tag and tag != "*":
            weighted.append((-q, i, tag.split("-")[0].lower()))
    return [tag for _, _, tag in sorted(weighted)]


def gettext_(message: str) -> str:
    return (_current.get() or _NULL).gettext(message)


def ngettext_(singular: str, plural: str, n: int) -> str:
    return (_current.get() or _NULL).ngettext(singular, plural, n)

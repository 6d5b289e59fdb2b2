"""The web door's catalogues: the template is current, Turkish is complete, and every
member language has a catalogue that loads."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from babel.messages.pofile import read_po

from pool_server.http import i18n

ROOT = Path(__file__).resolve().parent.parent.parent


def _catalog(lang: str):
    with (i18n.LOCALE_DIR / lang / "LC_MESSAGES" / "messages.po").open("rb") as fh:
        return read_po(fh, locale=lang)


def test_template_lists_every_message_of_the_templates(tmp_path: Path):
    fresh = tmp_path / "messages.pot"
    subprocess.run(
        [str(Path(sys.executable).parent / "pybabel"), "-q", "extract", "-F", "babel.cfg",
         "--no-location", "--sort-output", "-o", str(fresh), "pool_server/http"],
        cwd=ROOT, check=True, timeout=120,
    )  # fmt: skip
    with fresh.open("rb") as fh:
        extracted = {m.id for m in read_po(fh) if m.id}
    with (i18n.LOCALE_DIR / "messages.pot").open("rb") as fh:
        committed = {m.id for m in read_po(fh) if m.id}
    assert extracted - committed == set(), "run `make i18n` and translate the new strings"


def test_turkish_is_complete_and_the_others_are_present():
    with (i18n.LOCALE_DIR / "messages.pot").open("rb") as fh:
        wanted = {m.id for m in read_po(fh) if m.id}
    tr = _catalog("tr")
    missing = [m for m in wanted if not (tr.get(m) and tr.get(m).string)]
    assert missing == [], f"untranslated in Turkish: {missing}"
    for lang in ("az", "kk", "ky", "uz", "hu", "ru", "en"):
        ids = {m.id for m in _catalog(lang) if m.id}
        assert wanted <= ids, f"{lang} lacks {sorted(wanted - ids)[:5]}"
    loaded = i18n.Translations()
    assert loaded.by_lang["tr"].gettext("Log out") == "Çıkış yap"
    assert loaded.negotiate(None, "ru-RU,ru;q=0.9") == "ru"
    assert loaded.negotiate(None, "fr, de;q=0.5") == "en"
    assert loaded.negotiate("kk", "tr") == "kk"

"""Text folding for search: one function for documents and queries alike.

`fold()` maps text in any of the pool's languages and scripts to one lower-case, Latin,
ASCII key, so that a query typed on any keyboard finds the item in either script:

- Turkish/Azerbaijani dotted and dotless i (İ I ı i) all become ``i`` (lower-casing is
  done by hand: Python's ``"İ".lower()`` leaves a combining dot behind);
- Azerbaijani ``ə`` becomes ``e`` (``Azərbaycan`` = ``azerbaycan``), other Latin letters
  lose their diacritics (``ş`` → ``s``, ``ğ`` → ``g``, ``ñ`` → ``n``...);
- an apostrophe inside a word (``ʻ ' ‘ ’ ʼ``) is dropped: Uzbek ``Oʻzbekiston`` is one
  word ``ozbekiston``, Turkish ``İstanbul'da`` is ``istanbulda``;
- Cyrillic (Kazakh, Kyrgyz, Uzbek, Russian) is transliterated to the same key as the
  Latin spelling of these languages: ``Қазақстан`` = ``Qazaqstan`` = ``qazaqstan``,
  ``Ўзбекистон`` = ``Oʻzbekiston`` = ``ozbekiston``;
- the few sounds each script spells differently get one spelling on both sides:
  ``sh ş ш`` → ``s``, ``ch ç ч`` → ``c``, ``zh ж`` → ``j``, ``kh x х һ`` → ``h``, so
  Russian ``Kazakhstan`` = ``Казахстан`` and Uzbek ``Xorazm`` = ``Хоразм``.

The key is only ever compared with other keys; it is never shown to anybody.
"""

from __future__ import annotations

import re
import unicodedata

APOSTROPHES = "'\u2018\u2019\u02bb\u02bc\u02b9\u0060\u00b4"
"""Characters used as apostrophes: ASCII, ‘ ’, Uzbek ʻ (okina), ʼ, ʹ, backtick, acute."""

_CYRILLIC = {
    "а": "a",
    "б": "b",
    "в": "v",
    "г": "g",
    "д": "d",
    "е": "e",
    "ё": "yo",
    "ж": "j",
    "з": "z",
    "и": "i",
    "й": "y",
    "к": "k",
    "л": "l",
    "м": "m",
    "н": "n",
    "о": "o",
    "п": "p",
    "р": "r",
    "с": "s",
    "т": "t",
    "у": "u",
    "ф": "f",
    "х": "h",
    "ц": "ts",
    "ч": "c",
    "ш": "s",
    "щ": "s",
    "ъ": "",
    "ы": "y",
    "ь": "",
    "э": "e",
    "ю": "yu",
    "я": "ya",
    # Kazakh, Kyrgyz, Uzbek, Tatar/Bashkir letters
    "ә": "a",
    "ғ": "g",
    "қ": "q",
    "ң": "n",
    "ө": "o",
    "ұ": "u",
    "ү": "u",
    "һ": "h",
    "і": "i",
    "ў": "o",
    "ҳ": "h",
    "ҷ": "j",
    "ҙ": "z",
    "ҫ": "s",
    "ӣ": "i",
    "ӯ": "u",
    "ї": "yi",
    "є": "ye",
    "ґ": "g",
    "ј": "j",
    "ђ": "dj",
    "ћ": "c",
    "љ": "l",
    "њ": "n",
    "џ": "dj",
    "ѕ": "dz",
}

_LATIN_SPECIAL = {
    "ı": "i",
    "ə": "e",
    "ß": "ss",
    "æ": "ae",
    "œ": "oe",
    "ø": "o",
    "đ": "d",
    "ð": "d",
    "þ": "th",
    "ł": "l",
    "ħ": "h",
    "ŋ": "n",
    "ʻ": "",
    "ʼ": "",
}

_DIGRAPHS = (("x", "h"), ("sh", "s"), ("ch", "c"), ("zh", "j"), ("kh", "h"))

_TABLE = {ord(k): v for k, v in {**_CYRILLIC, **_LATIN_SPECIAL}.items()}
_TABLE.update({ord(k.upper()): v for k, v in _CYRILLIC.items()})
_TABLE[ord("İ")] = "i"
_TABLE[ord("I")] = "i"
_TABLE[ord("Ə")] = "e"

_APOSTROPHE_IN_WORD = re.compile(rf"(?<=\w)[{re.escape(APOSTROPHES)}](?=\w)")
_NON_WORD = re.compile(r"[^a-z0-9*]+")


def _strip_marks(text: str) -> str:
    decomposed = unicodedata.normalize("NFKD", text)
    return "".join(c for c in decomposed if not unicodedata.combining(c))


def fold_word_chars(text: str) -> str:
    """Fold without touching separators: lower-case, transliterate, strip diacritics."""
    text = unicodedata.normalize("NFC", text).translate(_TABLE)
    text = _strip_marks(text).lower().translate(_TABLE)
    previous = None
    while previous != text:  # to a fixed point: "shh" → "sh" → "s", so fold(fold(x)) == fold(x)
        previous = text
        for digraph, single in _DIGRAPHS:
            text = text.replace(digraph, single)
    return text


def fold(text: str | None) -> str:
    """The search key of `text`: lower-case ASCII words separated by single spaces.

    `*` is kept so that a query's prefix marker survives; documents do not contain it
    after `fold_document`.
    """
    if not text:
        return ""
    text = _APOSTROPHE_IN_WORD.sub("", unicodedata.normalize("NFC", text))
    text = fold_word_chars(text)
    return " ".join(_NON_WORD.sub(" ", text).split())


# Case, plural and possessive endings of Turkish, Azerbaijani, Kazakh, Kyrgyz and Uzbek,
# as they look after folding (-дағы → dagy, -ning → nin...), longest first.
_ENDINGS = """
    dagy degi tagy tegi dagi daki deki taki teki ndagy ndegi ndaki ndeki
    dan den tan ten ndan nden nan nen nda nde da de ta te
    ga ge qa ke ka ya ye na ne nin nun nyn ning dyn din tyn tin
    ni nu ny di dy ti ty yi lar ler dar der tar ter nar ner lari leri si su sy
"""
TURKIC_SUFFIXES: tuple[str, ...] = tuple(sorted(set(_ENDINGS.split()), key=lambda x: (-len(x), x)))
MIN_STEM = 4


def turkic_stems(word: str) -> list[str]:
    """Stems a folded word may have once one or two Turkic endings are cut off.

    Every ending that fits gives a candidate (``ozbekistonda`` → ``ozbekiston`` and
    ``ozbekisto``), so no guess about where the stem ends is needed. Only used to add
    index terms: a wrong candidate adds a term nobody searches for, it removes nothing.
    """

    def cut(w: str) -> list[str]:
        return [
            w[: -len(s)] for s in TURKIC_SUFFIXES if w.endswith(s) and len(w) - len(s) >= MIN_STEM
        ]

    first = cut(word)
    second = [stem for f in first for stem in cut(f)]
    return list(dict.fromkeys(first + second))[:6]


def fold_document(text: str | None) -> str:
    """`fold()` for indexed text, plus index-only variants of some words.

    Turkish writes a suffix after an apostrophe (``İstanbul'da``): the word is indexed as
    ``istanbulda`` (what `fold` makes of it) and also as ``istanbul``. Words with Turkic
    case endings are indexed with their stems too (`turkic_stems`), so the bare name
    ``qazaqstan`` finds ``Қазақстандағы`` and ``ozbekiston`` finds ``Oʻzbekistonda``.
    """
    if not text:
        return ""
    text = text.replace("*", " ")
    normalized = unicodedata.normalize("NFC", text)
    extra = [
        fold(m.group(1)) for m in re.finditer(rf"(\w+)[{re.escape(APOSTROPHES)}]\w", normalized)
    ]
    folded = fold(text)
    extra = [e for e in extra if len(e) >= 3]
    seen = set(folded.split())
    for word in folded.split():
        if len(word) > MIN_STEM + 1:
            extra.extend(turkic_stems(word))
    extra = [e for e in dict.fromkeys(extra) if e not in seen]
    return f"{folded} {' '.join(extra)}" if extra else folded

"""Synthetic catalog for the search benchmark: N items, Zipf-distributed vocabulary.

Writes straight into the catalog tables (same schema, same FTS document layout) so
that a million items take a minute or two, not the hours real indexing would.
"""

from __future__ import annotations

import random
import sys
from collections.abc import Callable
from itertools import accumulate
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from catalog.folding import fold_document
from catalog.schema import ITEM_COLUMNS, open_catalog
from catalog.store import transaction

VOCABULARY = 50_000
ZIPF_S = 1.07
MEMBERS = ("TRT", "AZTV", "QAZAQ", "MTRK", "KTRK", "MTVA")
CATEGORIES = ("news", "sport", "culture", "documentaries", "series")


def vocabulary(seed: int = 7) -> tuple[list[str], list[float]]:
    """(words, cumulative weights): word i has weight 1 / (i + 1) ** ZIPF_S."""
    rng = random.Random(seed)
    syllables = [c + v for c in "bcdfghjklmnpqrstvyz" for v in "aeiou"]
    words: set[str] = set()
    while len(words) < VOCABULARY:
        words.add("".join(rng.choice(syllables) for _ in range(rng.randint(2, 4))))
    ordered = sorted(words)
    rng.shuffle(ordered)
    cum = list(accumulate(1.0 / (i + 1) ** ZIPF_S for i in range(VOCABULARY)))
    return ordered, cum


def _folder() -> Callable[[str], str]:
    """`fold_document`, memoised word by word (the same terms, 30x faster here)."""
    cache: dict[str, tuple[str, list[str]]] = {}

    def fold(text: str) -> str:
        words, extra = [], []
        for word in text.split():
            if word not in cache:
                folded = fold_document(word).split()
                cache[word] = (folded[0], folded[1:])
            words.append(cache[word][0])
            extra.extend(cache[word][1])
        seen = set(words)
        return " ".join(words + [e for e in dict.fromkeys(extra) if e not in seen])

    return fold


def build(path: Path, n: int, seed: int = 11, first_rid: int = 1) -> None:
    """N items with rids first_rid.. (after the items a catalog already holds)."""
    words, cum = vocabulary()
    fold = _folder()
    rng = random.Random(seed)
    db = open_catalog(path)
    cols = list(ITEM_COLUMNS)
    insert_item = f"INSERT INTO items ({', '.join(cols)}) VALUES ({', '.join('?' for _ in cols)})"
    batch = 20_000
    last = first_rid + n - 1
    for start in range(first_rid, last + 1, batch):
        items, docs = [], []
        for rid in range(start, min(start + batch, last + 1)):
            member = MEMBERS[rid % len(MEMBERS)]
            category = CATEGORIES[rid % len(CATEGORIES)]
            title = " ".join(rng.choices(words, cum_weights=cum, k=rng.randint(4, 9)))
            body = " ".join(rng.choices(words, cum_weights=cum, k=rng.randint(15, 40)))
            key = f"/{member}/{category}/item{rid}"
            row = dict.fromkeys(cols)
            row.update(
                {
                    "rid": rid,
                    "id": f"{member}-{rid:010x}",
                    "key": key,
                    "path": key + ".mxf",
                    "member": member,
                    "category": category,
                    "title": title,
                    "description": body,
                    "languages": "[]",
                    "keywords": "[]",
                    "subjects": "[]",
                    "audio": "[]",
                    "attachments": "[]",
                    "errors": "[]",
                    "has_subtitles": rid % 3 == 0,
                    "duration": float(rid % 600),
                    "uploaded": f"2026-{1 + rid % 11:02d}-01",
                }
            )
            items.append([row[c] for c in cols])
            facets = f"m{member.lower()} c{category} all" + (" hassubs" if rid % 3 == 0 else "")
            docs.append((rid, fold(title), fold(f"{body} item{rid}"), facets))
        with transaction(db):
            db.conn.executemany(insert_item, items)
            db.conn.executemany(
                "INSERT INTO items_fts (rowid, title, body, facets) VALUES (?, ?, ?, ?)", docs
            )
    db.execute("INSERT INTO items_fts (items_fts) VALUES ('optimize')")
    db.conn.close()


def queries(count: int, seed: int = 3) -> list[str]:
    """Two-word queries drawn by word frequency (so most contain common words)."""
    words, cum = vocabulary()
    rng = random.Random(seed)
    return [" ".join(rng.choices(words, cum_weights=cum, k=2)) for _ in range(count)]


if __name__ == "__main__":
    build(Path(sys.argv[1]), int(sys.argv[2]))

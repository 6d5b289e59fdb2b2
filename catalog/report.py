"""The usage report: what each member gave to the pool and took from it.

Per member, since a date: items contributed and their hours, takes of its items by
other members (complete downloads in pool_server's audit, joined to the catalog), and
how many distinct items it took from others. Takes of a member's own items do not count.
"""

from __future__ import annotations

import csv
import io
import sqlite3
from dataclasses import asdict, dataclass
from datetime import datetime

import sqlite_utils

from .units import iso_utc


@dataclass
class MemberUsage:
    member: str
    name: str | None = None
    items: int = 0
    hours: float = 0.0
    taken_by_others: int = 0
    """Complete downloads of this member's items by users of other members."""
    took_from_others: int = 0
    """Distinct items of other members that this member's users downloaded."""


def _has_table(db: sqlite_utils.Database, name: str) -> bool:
    return name in db.table_names()


def usage_report(db: sqlite_utils.Database, since: datetime | str) -> list[MemberUsage]:
    """Per-member usage since `since` (a datetime, or an ISO string in UTC), by member."""
    since_iso = iso_utc(since) if isinstance(since, datetime) else since
    rows: dict[str, MemberUsage] = {}

    def member(code: str) -> MemberUsage:
        return rows.setdefault(code, MemberUsage(code))

    if _has_table(db, "members"):
        for code, name in db.execute("SELECT code, name FROM members").fetchall():
            member(code).name = name
    for code, count, seconds in db.execute(
        "SELECT member, count(*), coalesce(sum(duration), 0) FROM items"
        " WHERE uploaded >= ? GROUP BY member",
        [since_iso],
    ).fetchall():
        usage = member(code)
        usage.items, usage.hours = int(count), round(float(seconds) / 3600.0, 3)
    if _has_table(db, "audit"):
        try:
            takes = db.execute(
                "SELECT a.member, i.member, i.id FROM audit a"
                " JOIN item_files f ON f.path = a.path JOIN items i ON i.key = f.key"
                " WHERE a.action = 'download' AND a.status = 'complete' AND a.time >= ?"
                " AND a.member IS NOT NULL AND a.member != i.member",
                [since_iso],
            ).fetchall()
        except sqlite3.OperationalError:  # an audit table of another shape
            takes = []
        taken: dict[str, set[str]] = {}
        for taker, owner, item in takes:
            member(owner).taken_by_others += 1
            taken.setdefault(taker, set()).add(item)
        for taker, items in taken.items():
            member(taker).took_from_others = len(items)
    return [rows[code] for code in sorted(rows)]


FIELDS = ("member", "name", "items", "hours", "taken_by_others", "took_from_others")


def as_dicts(report: list[MemberUsage]) -> list[dict[str, object]]:
    return [asdict(r) for r in report]


def as_csv(report: list[MemberUsage]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=FIELDS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(as_dicts(report))
    return out.getvalue()


def as_table(report: list[MemberUsage]) -> str:
    """A plain text table for terminals."""
    header = ("member", "items", "hours", "taken by others", "took from others")
    lines = [header] + [
        (r.member, str(r.items), f"{r.hours:.2f}", str(r.taken_by_others), str(r.took_from_others))
        for r in report
    ]
    widths = [max(len(line[i]) for line in lines) for i in range(len(header))]
    return "\n".join(
        "  ".join(
            cell.ljust(w) if i == 0 else cell.rjust(w)
            for i, (cell, w) in enumerate(zip(line, widths, strict=True))
        )
        for line in lines
    )


def usage_by_period(
    db: sqlite_utils.Database, since: datetime | str, member: str | None = None
) -> list[dict[str, object]]:
    """Items contributed and takes made per month since `since` (all members, or one):
    the reciprocity figures over time, oldest month first."""
    since_iso = iso_utc(since) if isinstance(since, datetime) else since
    months: dict[str, dict[str, object]] = {}

    def month(key: str) -> dict[str, object]:
        return months.setdefault(key, {"month": key, "contributed": 0, "hours": 0.0, "taken": 0})

    where, args = "uploaded >= ?", [since_iso]
    if member:
        where, args = where + " AND member = ?", [*args, member]
    for key, count, seconds in db.execute(
        "SELECT substr(uploaded, 1, 7), count(*), coalesce(sum(duration), 0) FROM items"
        f" WHERE {where} GROUP BY 1",
        args,
    ).fetchall():
        row = month(key)
        row["contributed"] = int(count)
        row["hours"] = round(float(seconds) / 3600.0, 3)
    if _has_table(db, "audit"):
        sql = (
            "SELECT substr(a.time, 1, 7), count(*) FROM audit a"
            " JOIN item_files f ON f.path = a.path JOIN items i ON i.key = f.key"
            " WHERE a.action = 'download' AND a.status = 'complete' AND a.time >= ?"
            " AND a.member IS NOT NULL AND a.member != i.member"
        )
        targs: list[object] = [since_iso]
        if member:
            sql += " AND i.member = ?"
            targs.append(member)
        try:
            for key, count in db.execute(sql + " GROUP BY 1", targs).fetchall():
                month(key)["taken"] = int(count)
        except sqlite3.OperationalError:
            pass
    return [months[k] for k in sorted(months)]

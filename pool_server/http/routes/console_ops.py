"""The operators' console: security (bans, failed logins, live sessions), the audit trail
with filters and CSV, and the reciprocity report with its chart and CSV."""

from __future__ import annotations

import csv
import io
from datetime import UTC, datetime, timedelta
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from catalog.errors import CatalogError
from catalog.report import as_csv, as_dicts, usage_by_period, usage_report
from catalog.units import parse_when

from ...admin import Admin
from ...errors import UsageError
from ..app import door_of
from ..charts import bar_chart, grouped_bars
from ..console import act, admin_principal, field, page

AUDIT_FILTERS = ("user", "member", "action", "protocol", "path", "status")
AUDIT_LIMIT = 1000


def _since(text: str | None, default: str) -> datetime:
    try:
        return parse_when(text or default)
    except CatalogError as err:
        raise UsageError(f"since: {err}")


# --- security


def _failed_by_hour(request: Request) -> tuple[list[str], list[float]]:
    pool = door_of(request).pool
    now = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
    start = now - timedelta(hours=23)
    rows = pool.store.db.execute(
        "SELECT substr(time, 1, 13), count(*) FROM audit WHERE action = 'login'"
        " AND status IN ('failed', 'banned') AND time >= ? GROUP BY 1",
        [start.isoformat()],
    ).fetchall()
    counts = {k: n for k, n in rows}
    labels, values = [], []
    for h in range(24):
        t = start + timedelta(hours=h)
        labels.append(t.strftime("%H:00"))
        values.append(float(counts.get(t.isoformat()[:13], 0)))
    return labels, values


def _live_sessions(request: Request) -> list[dict[str, Any]]:
    """Connections logged in on FTP/FTPS and SFTP (any process), and web sessions."""
    door = door_of(request)
    rows = door.pool.core.live.list()
    web = door.pool.store.db.execute(
        "SELECT id_hash, user, ip, protocol, created FROM web_sessions"
        " WHERE mfa IS NULL OR mfa != 'pending' ORDER BY created"
    ).fetchall()
    for id_hash, user, ip, protocol, created in web:
        started = datetime.fromtimestamp(created, UTC).isoformat(timespec="seconds")
        rows.append(
            {
                "id": f"web:{id_hash}",
                "user": user,
                "ip": ip,
                "protocol": f"{protocol} (web)",
                "started": started,
                "transfer": None,
            }
        )
    return rows


async def security_page(request: Request) -> Response:
    admin_principal(request)
    pool = door_of(request).pool
    bans = await run_in_threadpool(pool.defender.bans)
    labels, values = await run_in_threadpool(_failed_by_hour, request)
    sessions = await run_in_threadpool(_live_sessions, request)
    chart = bar_chart("Failed logins per hour, last 24 hours", labels, values)
    return page(
        request,
        "console/security.html",
        {
            "bans": bans,
            "chart": chart,
            "failed": list(zip(labels, values, strict=True)),
            "sessions": sessions,
            "section": "security",
        },
    )


async def unban(request: Request) -> Response:
    def run(admin: Admin, form: FormData) -> str:
        ip = field(form, "ip")
        admin.unban(ip)
        return f"{ip} unbanned"

    return await act(request, "/console/security", run)


async def end_session(request: Request) -> Response:
    def run(admin: Admin, form: FormData) -> str:
        sid = field(form, "session")
        if sid.startswith("web:"):
            cur = admin.pool.store.db.execute(
                "DELETE FROM web_sessions WHERE id_hash = ?", [sid.removeprefix("web:")]
            )
            ended = cur.rowcount == 1
        else:
            ended = admin.pool.core.live.end(sid)
        if not ended:
            raise UsageError("that session has already ended")
        admin.record(f"session end {sid}")
        return f"session {sid} is being ended"

    return await act(request, "/console/security", run)


# --- audit


def _audit_rows(request: Request) -> tuple[list[dict[str, Any]], dict[str, str]]:
    q = request.query_params
    filters = {k: q.get(k, "").strip() for k in AUDIT_FILTERS}
    filters["since"] = q.get("since", "").strip() or "7d"
    since = _since(filters["since"], "7d")
    where, args = ["time >= ?"], [since.isoformat()]
    for name in ("user", "member", "action", "protocol", "status"):
        if filters[name]:
            where.append(f"{name} = ?")
            args.append(filters[name])
    if filters["path"]:
        where.append("path LIKE ? ESCAPE '\\'")
        escaped = filters["path"].replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        args.append(f"%{escaped}%")
    rows = list(
        door_of(request)
        .pool.store.db["audit"]
        .rows_where(" AND ".join(where), args, order_by="id desc", limit=AUDIT_LIMIT)
    )
    return rows, filters


AUDIT_COLUMNS = ("time", "user", "member", "ip", "protocol", "action", "path", "bytes", "status")


async def audit_page(request: Request) -> Response:
    admin_principal(request)
    rows, filters = await run_in_threadpool(_audit_rows, request)
    return page(
        request,
        "console/audit.html",
        {
            "rows": rows,
            "filters": filters,
            "limit": AUDIT_LIMIT,
            "columns": AUDIT_COLUMNS,
            "query": request.url.query,
            "section": "audit",
        },
    )


async def audit_csv(request: Request) -> Response:
    admin_principal(request)
    rows, _ = await run_in_threadpool(_audit_rows, request)
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow([*AUDIT_COLUMNS, "detail"])
    for r in rows:
        writer.writerow([_cell(r.get(c)) for c in (*AUDIT_COLUMNS, "detail")])
    return _csv(out.getvalue(), "ortak-audit.csv")


def _cell(value: object) -> object:
    """A CSV cell that a spreadsheet will not run as a formula (CSV injection)."""
    if isinstance(value, str) and value[:1] in ("=", "+", "-", "@", "\t", "\r"):
        return "'" + value
    return "" if value is None else value


def _csv(text: str, name: str) -> Response:
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


# --- reciprocity


def _report(request: Request) -> dict[str, Any]:
    q = request.query_params
    since_text = q.get("since", "").strip() or "365d"
    since = _since(since_text, "365d")
    member = q.get("member", "").strip() or None
    db = door_of(request).pool.store.db
    rows = as_dicts(usage_report(db, since))
    periods = usage_by_period(db, since, member)
    chart = grouped_bars(
        "Items contributed and takes by other members, per month"
        + (f" ({member})" if member else ""),
        [str(p["month"]) for p in periods],
        {
            "contributed": [float(str(p["contributed"])) for p in periods],
            "taken by others": [float(str(p["taken"])) for p in periods],
        },
    )
    members = [r["member"] for r in rows]
    return {
        "rows": rows,
        "periods": periods,
        "chart": chart,
        "since": since_text,
        "member": member or "",
        "members": members,
        "section": "report",
    }


async def report_page(request: Request) -> Response:
    admin_principal(request)
    ctx = await run_in_threadpool(_report, request)
    return page(request, "console/report.html", ctx)


async def report_csv(request: Request) -> Response:
    admin_principal(request)
    since = _since(request.query_params.get("since"), "365d")
    db = door_of(request).pool.store.db
    text = await run_in_threadpool(lambda: as_csv(usage_report(db, since)))
    return _csv(text, "ortak-usage.csv")


ROUTES = [
    Route("/console/security", security_page, methods=["GET"]),
    Route("/console/security/unban", unban, methods=["POST"]),
    Route("/console/security/end", end_session, methods=["POST"]),
    Route("/console/audit", audit_page, methods=["GET"]),
    Route("/console/audit.csv", audit_csv, methods=["GET"]),
    Route("/console/report", report_page, methods=["GET"]),
    Route("/console/report.csv", report_csv, methods=["GET"]),
]

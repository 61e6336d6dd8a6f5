"""The report page's HTML tables and recommendation cards (see html.py)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal
from html import escape

from optimizer.report.model import (
    Anomaly,
    AppliedRow,
    Freshness,
    KindSavings,
    RecRow,
    SpendSeries,
    usd,
)

ANOMALIES_SHOWN = 40


def _e(value: object) -> str:
    return escape("" if value is None else str(value))


def _when(value: datetime | None) -> str:
    return "–" if value is None else value.strftime("%Y-%m-%d %H:%M")


def _table(head: Sequence[str], rows: Sequence[str], table_id: str) -> str:
    cells = "".join(f'<th class="n">{h[1:]}</th>' if h.startswith("#") else f"<th>{h}</th>"
                    for h in head)  # fmt: skip
    body = "".join(rows)
    return f'<table id="{table_id}"><thead><tr>{cells}</tr></thead><tbody>{body}</tbody></table>'


def _share(part: Decimal, whole: Decimal) -> str:
    return "–" if whole == 0 else f"{part / whole * 100:.1f}%"


def spend_table(dim: str, series: Sequence[SpendSeries], total: Decimal) -> str:
    rows = []
    for s in series:
        change = "–" if s.previous_week_total == 0 else (
            f"{(s.week_total - s.previous_week_total) / s.previous_week_total * 100:+.1f}%"
        )  # fmt: skip
        rows.append(
            f'<tr data-{dim}="{_e(s.key)}"><td>{_e(s.key)}</td>'
            f'<td class="n week-total">{usd(s.week_total)}</td>'
            f'<td class="n">{usd(s.previous_week_total)}</td><td class="n">{change}</td>'
            f'<td class="n">{_share(s.week_total, total)}</td></tr>'
        )
    return _table([dim, "#this week", "#week before", "#change", "#share"], rows, f"table-{dim}")


def anomalies(items: Sequence[Anomaly]) -> str:
    if not items:
        return '<p class="empty" id="no-anomalies">no day outside the forecast band</p>'
    rows = [
        f'<tr class="{"inweek" if a.in_week else ""}"><td>{a.day}</td><td>{_e(a.provider)}</td>'
        f"<td>{_e(a.service)}</td><td>{_e(a.series)}</td><td class='n'>{usd(a.actual)}</td>"
        f"<td class='n'>{usd(a.lower)} – {usd(a.upper)}</td><td class='n'>{usd(a.excess)}</td>"
        f"<td>{_e(a.check)}</td></tr>"
        for a in items[:ANOMALIES_SHOWN]
    ]
    more = len(items) - ANOMALIES_SHOWN
    note = f'<p class="sub">… {more} more in anomalies.csv</p>' if more > 0 else ""
    return (
        f'<p class="sub">{len(items)} day(s) outside a band in these weeks, '
        f"{sum(a.in_week for a in items)} in the report week (highlighted).</p>"
        + _table(["day", "cloud", "service", "series", "#actual", "#band", "#outside by",
                  "check"], rows, "table-anomalies") + note
    )  # fmt: skip


def savings(items: Sequence[KindSavings]) -> str:
    if not items:
        return '<p class="empty">no recommendation in the store: run `optimizer plan`</p>'
    rows = [
        f'<tr data-kind="{_e(s.kind)}" data-status="{_e(s.status)}"><td>{_e(s.kind)}</td>'
        f'<td><span class="badge {_e(s.status)}">{_e(s.status)}</span></td>'
        f'<td class="n">{s.count}</td><td class="n savings">{usd(s.monthly_savings)}</td></tr>'
        for s in items
    ]
    return _table(["kind", "status", "#recommendations", "#savings / month"], rows,
                  "table-savings")  # fmt: skip


def _decision(r: RecRow) -> str:
    if r.status_by is None:
        return "awaiting a decision" if r.status == "proposed" else ""
    why = f": “{_e(r.status_reason)}”" if r.status_reason else ""
    return f"{_e(r.status)} by {_e(r.status_by)} on {_when(r.status_at)}{why}"


def recommendations(items: Sequence[RecRow]) -> str:
    if not items:
        return '<p class="empty">no open recommendation</p>'
    cards = []
    for r in items:
        band = ""
        if r.monthly_savings_p10 is not None and r.monthly_savings_p90 is not None:
            band = f" (p10 {usd(r.monthly_savings_p10)} – p90 {usd(r.monthly_savings_p90)})"
        payback = "–" if r.payback_days is None else f"{r.payback_days:,.1f} days"
        reasons = "".join(f"<li>{_e(x)}</li>" for x in r.reasons)
        alts = "".join(f"<li>{_e(x)}</li>" for x in r.alternatives)
        cards.append(
            f'<div class="rec" data-rec="{r.id}"><h3>#{r.id} {_e(r.kind)}: {_e(r.subject)} '
            f'<span class="badge {_e(r.status)}">{_e(r.status)}</span></h3>'
            f'<div class="meta">saves <b class="rec-savings">{usd(r.monthly_savings)}</b>/month'
            f"{band} · one-off cost {usd(r.one_off_cost)} · payback {payback} · "
            f"{_decision(r)}</div>"
            f'<div class="meta">today: {_e(r.current)}<br>proposed: {_e(r.proposed)}</div>'
            f"<div class='meta'>why:</div><ul>{reasons}</ul>"
            + (f"<div class='meta'>next-best alternatives:</div><ul>{alts}</ul>" if alts else "")
            + "</div>"
        )  # fmt: skip
    return "".join(cards)


def applied(items: Sequence[AppliedRow]) -> str:
    if not items:
        return '<p class="empty" id="nothing-applied">nothing applied this week</p>'
    rows = [
        f"<tr><td>{a.id}</td><td>#{a.recommendation_id} {_e(a.subject)}</td>"
        f"<td>{_e(a.provider)}</td><td>{_e(a.target)}</td><td>{_e(a.action)}</td>"
        f'<td><span class="badge {_e(a.status)}">{_e(a.status)}</span></td>'
        f"<td>{_e(a.actor)}</td><td class='n'>{a.bytes:,}</td><td class='n'>{a.objects:,}</td>"
        f"<td>{_when(a.created_at)}</td><td>{_when(a.rolled_back_at)}</td>"
        f"<td>{_e(a.error or '')}</td></tr>"
        for a in items
    ]
    return _table(["id", "recommendation", "cloud", "target", "action", "status", "by",
                   "#bytes", "#objects", "applied", "rolled back", "error"], rows,
                  "table-applied")  # fmt: skip


def freshness(items: Sequence[Freshness]) -> str:
    if not items:
        return '<p class="empty">no source has fed the store yet</p>'
    rows = []
    for f in items:
        state = "stale" if f.stale else f.status
        age = "–" if f.age_hours is None else f"{f.age_hours:,.1f} h"
        rows.append(
            f'<tr data-source="{_e(f.source)}"><td>{_e(f.source)}</td><td>{_e(f.kind)}</td>'
            f'<td><span class="badge {_e(state)}">{_e(state)}</span></td>'
            f"<td>{_when(f.last_success_at)}</td><td class='n'>{age}</td>"
            f"<td>{f.data_end or '–'}</td><td class='n'>{f.rows:,}</td><td>{_e(f.detail)}</td></tr>"
        )
    return _table(["source", "kind", "status", "last success / newest", "#age", "data through",
                   "#rows", "detail"], rows, "table-freshness")  # fmt: skip

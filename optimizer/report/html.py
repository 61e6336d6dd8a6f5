"""report.html: one self-contained page (inline CSS and SVG, no script, nothing fetched).

Every number is rendered from the same `ReportData` as report.json; the elements that
tests and scripts read carry ids or `data-*` attributes.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from html import escape

from optimizer.report import charts, tables
from optimizer.report.model import ReportData, SpendSeries, usd

CSS = """
body{font-family:-apple-system,"Segoe UI",Roboto,"DejaVu Sans",sans-serif;margin:0;
 background:#f9fafb;color:#111827}
main{max-width:1000px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 4px} h2{font-size:18px;margin:32px 0 8px;
 border-bottom:2px solid #e5e7eb;padding-bottom:4px}
.sub{color:#6b7280;font-size:13px;margin:0 0 16px}
.cards{display:grid;grid-template-columns:repeat(4,1fr);gap:10px}
.card{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:10px 12px}
.card .v{font-size:20px;font-weight:600;margin-top:2px} .card .k{font-size:12px;color:#6b7280}
.up{color:#b91c1c} .down{color:#047857}
table{border-collapse:collapse;width:100%;background:#fff;font-size:13px;margin:8px 0}
th,td{border-bottom:1px solid #e5e7eb;padding:5px 8px;text-align:left;vertical-align:top}
th{background:#f3f4f6;font-weight:600} td.n,th.n{text-align:right;white-space:nowrap}
tr.inweek td{background:#fff7ed}
svg.chart{background:#fff;border:1px solid #e5e7eb;border-radius:8px;max-width:100%;
 height:auto}
.rec{background:#fff;border:1px solid #e5e7eb;border-radius:8px;padding:10px 14px;
 margin:10px 0} .rec h3{font-size:15px;margin:0 0 6px}
.rec ul{margin:4px 0 4px 18px;padding:0;font-size:13px} .rec .meta{font-size:13px}
.badge{display:inline-block;border-radius:10px;padding:1px 8px;font-size:12px;
 background:#e5e7eb} .badge.approved,.badge.applied,.badge.ok{background:#d1fae5}
.badge.rejected,.badge.failed,.badge.stale{background:#fee2e2}
.badge.proposed{background:#dbeafe} .empty{color:#6b7280;font-style:italic}
footer{color:#6b7280;font-size:12px;margin-top:32px}
"""


def _change(now: Decimal, before: Decimal) -> str:
    if before == 0:
        return "–"
    pct = (now - before) / before * 100
    text = f"{pct:+.1f}%"
    cls = "" if text in ("+0.0%", "-0.0%") else ("up" if pct > 0 else "down")
    return f'<span class="{cls}">{text}</span>'


def _card(key: str, label: str, value: str) -> str:
    return (f'<div class="card"><div class="k">{escape(label)}</div>'
            f'<div class="v" id="{key}">{value}</div></div>')  # fmt: skip


def _summary(data: ReportData) -> str:
    t = data.totals
    cards = [
        _card("total-week", "usage spend this week", usd(t.week)),
        _card("total-previous-week", "the week before", usd(t.previous_week)),
        _card("total-change", "change", _change(t.week, t.previous_week)),
        _card("other-charges-week", "other charges this week", usd(t.other_charges_week)),
        _card("open-savings", f"open savings / month ({t.open_recommendations})",
              usd(t.open_savings)),
        _card("new-recommendations", "new recommendations", str(t.new_recommendations)),
        _card("anomalies-week", "anomalies this week", str(t.anomalies_in_week)),
        _card("applied-week", "applied / rolled back",
              f"{t.applied_in_week} / {t.rolled_back_in_week}"),
    ]  # fmt: skip
    return '<section class="cards">' + "".join(cards) + "</section>"


def _week_span(data: ReportData) -> tuple[int, int] | None:
    idx = [i for i, d in enumerate(data.days) if data.week.start <= d <= data.week.end]
    return (idx[0], idx[-1]) if idx else None


def _lines(series: Sequence[SpendSeries]) -> list[charts.Line]:
    return [charts.Line(s.key, s.daily, charts.color(i)) for i, s in enumerate(series)]


def _spend_section(
    data: ReportData, dim: str, title: str, series: Sequence[SpendSeries], chart: str
) -> str:
    head = f"<h2>{escape(title)}</h2>"
    if not series:
        return head + '<p class="empty">no usage spend in these weeks</p>'
    return head + chart + tables.spend_table(dim, series, data.totals.week)


def render(data: ReportData) -> str:
    """The whole page."""
    span = _week_span(data)
    cloud_colors = {s.key: charts.color(i) for i, s in enumerate(data.by_cloud)}
    bands = [
        charts.BandArea(b.key, b.p10, b.p50, b.p90, cloud_colors.get(b.key, "#6b7280"))
        for b in data.bands
    ]
    cloud_chart = charts.line_chart(
        "chart-cloud", "daily usage spend by cloud with the forecast band", data.days,
        _lines(data.by_cloud), bands, span,
    )  # fmt: skip
    service_chart = charts.stacked_bars(
        "chart-service", "daily usage spend by service", data.days, _lines(data.by_service), span
    )
    owner_chart = charts.stacked_bars(
        "chart-owner", "daily usage spend by owner", data.days, _lines(data.by_owner), span
    )
    kinds: dict[str, Decimal] = {}
    for s in data.savings:
        if s.status not in ("rejected", "rolled_back"):
            kinds[s.kind] = kinds.get(s.kind, Decimal(0)) + s.monthly_savings
    savings_chart = charts.hbars("chart-savings", "monthly savings found by kind",
                                 sorted(kinds.items(), key=lambda kv: -kv[1]))  # fmt: skip
    w = data.week
    end = data.data_end.isoformat() if data.data_end else "no cost records"
    owners = ", ".join(data.owner_tags)
    body = [
        f"<h1>FinOps report — week {w.label}</h1>",
        f'<p class="sub">{w.start:%a %d %b %Y} – {w.end:%a %d %b %Y} · data through '
        f'<span id="data-end">{end}</span> · generated {data.generated_at:%Y-%m-%d %H:%M} UTC'
        "</p>",
        _summary(data),
        _spend_section(data, "cloud", "Spend by cloud, with the forecast band",
                       data.by_cloud, cloud_chart),
        _spend_section(data, "service", "Spend by service", data.by_service, service_chart),
        _spend_section(data, "owner", f"Spend by owner (tag: {owners})", data.by_owner,
                       owner_chart),
        "<h2>Anomalies: days outside the forecast band</h2>",
        tables.anomalies(data.anomalies),
        "<h2>Savings found, by kind</h2>",
        savings_chart if kinds else "",
        tables.savings(data.savings),
        f"<h2>Top {len(data.recommendations) or ''} recommendations</h2>".replace("  ", " "),
        tables.recommendations(data.recommendations),
        "<h2>Applied and rolled back this week</h2>",
        tables.applied(data.applied),
        "<h2>Data freshness</h2>",
        tables.freshness(data.freshness),
        "<footer>Usage spend is FOCUS EffectiveCost of Usage charges (amortised "
        "commitments included), the quantity the spend forecasts forecast; other charges "
        "(purchases, taxes, credits, adjustments) are totalled apart. The band is the sum "
        "of each cloud's spend-series forecasts, p10–p90, half-widths added in quadrature. "
        "Money is rounded to cents here; report.json holds the exact amounts.</footer>",
    ]  # fmt: skip
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>FinOps report {w.label}</title>"
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<style>{CSS}</style></head><body><main>" + "\n".join(body) + "</main></body></html>"
    )  # fmt: skip

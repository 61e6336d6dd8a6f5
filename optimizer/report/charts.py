"""Inline SVG charts written in Python: no JavaScript, no fonts or files to fetch.

Each chart is one `<svg>` string with a `<title>` per mark (the browser shows it on
hover) and `data-*` attributes that tests read. Values arrive as the report's numbers;
floats here only place pixels.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from html import escape

from optimizer.report.model import usd

PALETTE = ("#2563eb", "#dc2626", "#059669", "#d97706", "#7c3aed", "#0891b2", "#db2777",
           "#65a30d", "#9ca3af")  # fmt: skip
W, H = 960, 320
LEFT, RIGHT, TOP, BOTTOM = 70, 190, 16, 34

Number = Decimal | float | None


@dataclass(frozen=True)
class Line:
    name: str
    values: Sequence[Number]
    color: str


@dataclass(frozen=True)
class BandArea:
    name: str
    p10: Sequence[float | None]
    p50: Sequence[float | None]
    p90: Sequence[float | None]
    color: str


def money(v: Decimal | float) -> str:
    return usd(v if isinstance(v, Decimal) else Decimal(str(round(v, 2))))


def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]


def _nice(top: float) -> tuple[float, int]:
    """A round axis maximum and its tick count."""
    if top <= 0:
        return 1.0, 4
    step = 10 ** len(str(int(top / 4))) / 10 if top >= 4 else 1.0
    for mult in (1, 2, 2.5, 5, 10, 20, 25, 50):
        if top / (step * mult) <= 5:
            ticks = int(-(-top // (step * mult)))
            return step * mult * ticks, ticks
    return top, 4


class Frame:
    """Pixel mapping of a chart's days and values."""

    def __init__(self, days: Sequence[date], top: float) -> None:
        self.days = days
        self.top, self.ticks = _nice(top)
        self.plot_w, self.plot_h = W - LEFT - RIGHT, H - TOP - BOTTOM
        self.step = self.plot_w / max(1, len(days))

    def x(self, i: float) -> float:
        return LEFT + (i + 0.5) * self.step

    def y(self, v: float) -> float:
        return TOP + self.plot_h * (1 - v / self.top)

    def axes(self, highlight: tuple[int, int] | None) -> list[str]:
        out = []
        if highlight:
            a, b = highlight
            out.append(f'<rect class="week" x="{LEFT + a * self.step:.1f}" y="{TOP}" '
                       f'width="{(b - a + 1) * self.step:.1f}" height="{self.plot_h}" '
                       'fill="#fef3c7"><title>the report week</title></rect>')  # fmt: skip
        for k in range(self.ticks + 1):
            v = self.top * k / self.ticks
            y = self.y(v)
            out.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" '
                       'stroke="#e5e7eb"/>')  # fmt: skip
            label = f"${v:,.0f}" if self.top >= 10 else f"${v:,.2f}"
            out.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end">{label}</text>')
        for i, d in enumerate(self.days):
            if d.weekday() == 0:
                x = LEFT + i * self.step
                out.append(f'<line x1="{x:.1f}" x2="{x:.1f}" y1="{TOP}" y2="{H - BOTTOM}" '
                           'stroke="#f3f4f6"/>')  # fmt: skip
                out.append(f'<text x="{x:.1f}" y="{H - BOTTOM + 16}" text-anchor="middle">'
                           f"{d.strftime('%b %d')}</text>")  # fmt: skip
        out.append(f'<line x1="{LEFT}" x2="{W - RIGHT}" y1="{H - BOTTOM}" y2="{H - BOTTOM}" '
                   'stroke="#374151"/>')  # fmt: skip
        return out


def _svg(chart_id: str, label: str, body: list[str], legend: list[tuple[str, str, str]]) -> str:
    items = []
    for i, (name, fill, style) in enumerate(legend):
        y = TOP + 6 + i * 20
        mark = (f'<rect x="{W - RIGHT + 14}" y="{y - 9}" width="14" height="10" fill="{fill}" '
                f'{style}/>')  # fmt: skip
        short = name if len(name) <= 24 else name[:23] + "…"
        items.append(f'{mark}<text x="{W - RIGHT + 34}" y="{y}">{escape(short)}</text>')
    return (
        f'<svg id="{chart_id}" class="chart" role="img" aria-label="{escape(label)}" '
        f'viewBox="0 0 {W} {H}" width="{W}" height="{H}" xmlns="http://www.w3.org/2000/svg" '
        'font-family="sans-serif" font-size="11" fill="#374151">'
        + "".join(body) + "".join(items) + "</svg>"
    )  # fmt: skip


def _path(frame: Frame, values: Sequence[Number]) -> str:
    """Polyline segments through the known values (a gap breaks the line)."""
    parts, pen = [], "M"
    for i, v in enumerate(values):
        if v is None:
            pen = "M"
            continue
        parts.append(f"{pen}{frame.x(i):.1f},{frame.y(float(v)):.1f}")
        pen = "L"
    return " ".join(parts)


def line_chart(
    chart_id: str,
    label: str,
    days: Sequence[date],
    lines: Sequence[Line],
    bands: Sequence[BandArea] = (),
    highlight: tuple[int, int] | None = None,
) -> str:
    """Daily actuals as lines; each band as a shaded p10-p90 area with a dashed p50."""
    peaks = [float(v) for ln in lines for v in ln.values if v is not None]
    peaks += [v for b in bands for v in b.p90 if v is not None]
    frame = Frame(days, max(peaks, default=0.0) * 1.05)
    body = frame.axes(highlight)
    legend: list[tuple[str, str, str]] = []
    for b in bands:
        idx = [i for i, v in enumerate(b.p90) if v is not None and b.p10[i] is not None]
        if not idx:
            continue
        upper = [f"{frame.x(i):.1f},{frame.y(float(b.p90[i] or 0)):.1f}" for i in idx]
        lower = [f"{frame.x(i):.1f},{frame.y(float(b.p10[i] or 0)):.1f}" for i in reversed(idx)]
        body.append(f'<polygon class="band" data-series="{escape(b.name)}" '
                    f'points="{" ".join(upper + lower)}" fill="{b.color}" fill-opacity="0.18">'
                    f"<title>{escape(b.name)} forecast p10–p90</title></polygon>")  # fmt: skip
        body.append(f'<path d="{_path(frame, b.p50)}" fill="none" stroke="{b.color}" '
                    'stroke-width="1.5" stroke-dasharray="5 4"/>')  # fmt: skip
    for ln in lines:
        body.append(f'<path class="actual" data-series="{escape(ln.name)}" '
                    f'd="{_path(frame, ln.values)}" fill="none" stroke="{ln.color}" '
                    'stroke-width="2"/>')  # fmt: skip
        for i, v in enumerate(ln.values):
            if v is not None:
                body.append(f'<circle cx="{frame.x(i):.1f}" cy="{frame.y(float(v)):.1f}" r="2" '
                            f'fill="{ln.color}"><title>{escape(ln.name)} {days[i]}: '
                            f"{money(v)}</title></circle>")  # fmt: skip
        legend.append((ln.name, ln.color, ""))
    if any(b.p10 for b in bands):
        legend.append(("forecast p10–p90", "#6b7280", 'fill-opacity="0.3"'))
    return _svg(chart_id, label, body, legend)


def stacked_bars(
    chart_id: str,
    label: str,
    days: Sequence[date],
    lines: Sequence[Line],
    highlight: tuple[int, int] | None = None,
) -> str:
    """One bar per day, one segment per series (first at the bottom)."""
    totals = [sum(float(ln.values[i] or 0) for ln in lines) for i in range(len(days))]
    frame = Frame(days, max(totals, default=0.0) * 1.05)
    body = frame.axes(highlight)
    width = max(1.0, frame.step * 0.8)
    for i, d in enumerate(days):
        base = 0.0
        for ln in lines:
            v = ln.values[i]
            if v is None or float(v) <= 0:
                continue
            y0, y1 = frame.y(base), frame.y(base + float(v))
            body.append(f'<rect class="seg" x="{frame.x(i) - width / 2:.1f}" y="{y1:.1f}" '
                        f'width="{width:.1f}" height="{max(0.5, y0 - y1):.1f}" fill="{ln.color}">'
                        f"<title>{escape(ln.name)} {d}: {money(v)}</title></rect>")  # fmt: skip
            base += float(v)
    return _svg(chart_id, label, body, [(ln.name, ln.color, "") for ln in lines])


def hbars(chart_id: str, label: str, items: Sequence[tuple[str, Decimal]]) -> str:
    """Horizontal bars, one per item, labelled with its amount."""
    height = TOP + 26 * max(1, len(items)) + 10
    top = max((float(v) for _, v in items), default=0.0) or 1.0
    left, span = 200, W - 200 - 160
    body = []
    for i, (name, value) in enumerate(items):
        y = TOP + i * 26
        w = max(0.0, float(value)) / top * span
        body.append(f'<text x="{left - 8}" y="{y + 14}" text-anchor="end">{escape(name)}</text>')
        body.append(f'<rect class="bar" x="{left}" y="{y}" width="{w:.1f}" height="18" '
                    f'fill="{color(i)}"><title>{escape(name)}: {money(value)}/month'
                    "</title></rect>")  # fmt: skip
        body.append(f'<text x="{left + w + 6:.1f}" y="{y + 14}">{money(value)}/mo</text>')
    return (
        f'<svg id="{chart_id}" class="chart" role="img" aria-label="{escape(label)}" '
        f'viewBox="0 0 {W} {height}" width="{W}" height="{height}" '
        'xmlns="http://www.w3.org/2000/svg" font-family="sans-serif" font-size="12" '
        f'fill="#374151">{"".join(body)}</svg>'
    )

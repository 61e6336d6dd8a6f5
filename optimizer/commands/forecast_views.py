"""`optimizer forecast backtest|list|anomalies|plot`: what the forecasts chose and why."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from optimizer.commands.forecast import _engine_options, _run, _settings, _span, forecast
from optimizer.context import AppContext, pass_app
from store.errors import ForecastError


def _num(value: Any, fmt: str = "{:.3f}") -> str:
    return "-" if value is None else fmt.format(value)


@forecast.command("backtest")
@_engine_options
@click.option(
    "--horizon",
    callback=_span,
    default="7d",
    show_default=True,
    help="Steps ahead each origin predicts: 72h, 7d, 2w.",
)
@click.option(
    "--origins",
    type=click.IntRange(1, 12),
    help="Rolling origins per series. Default: [forecast] origins.",
)
@pass_app
def backtest_cmd(
    app: AppContext,
    pattern: str | None,
    engine_name: str | None,
    workers: int | None,
    scheduler: str | None,
    horizon: timedelta,
    origins: int | None,
) -> None:
    """Backtest every series: Prophet against seasonal-naive on the same rolling origins.

    Prints per series the model that wins (lower MASE), its MASE and sMAPE, the
    seasonal-naive MASE on the same origins, and the 80% band's coverage; then a summary.
    Nothing is stored.
    """
    from dataclasses import replace

    from forecasts.job import backtest_series

    config, settings = _settings(app, None, None)
    settings = replace(settings, backtest_horizon=horizon, origins=origins or settings.origins)
    results, problems = _run(
        app, settings, config, pattern, engine_name, workers, scheduler, job=backtest_series
    )
    rows: list[dict[str, Any]] = []
    for res in results:
        cand = res.metrics.get("candidate", {})
        base = res.metrics.get("baseline", {})
        chosen = cand if res.model == cand.get("model") else base
        rows.append({
            "series_id": res.series_id, "metric": res.metric, "status": res.status,
            "model": res.model, "mase": chosen.get("mase"), "smape": chosen.get("smape"),
            "coverage": chosen.get("coverage"), "baseline_mase": base.get("mase"),
            "candidate": cand or None, "origins": res.metrics.get("origins"),
            "reason": res.reason,
        })  # fmt: skip
    rows += [{"series_id": p.series_id, "metric": p.metric, "status": "failed", "model": None,
              "reason": p.reason} for p in problems]  # fmt: skip
    scored = [r for r in rows if r.get("mase") is not None and r.get("baseline_mase")]
    better = sum(r["mase"] < r["baseline_mase"] for r in scored)
    ratio = [r["mase"] / r["baseline_mase"] for r in scored]
    summary = {
        "series": len(rows),
        "scored": len(scored),
        "better_than_seasonal_naive": better,
        "mean_mase_ratio": sum(ratio) / len(ratio) if ratio else None,
        "fallback": sum(r["status"] == "fallback" for r in rows),
        "failed": sum(r["status"] == "failed" for r in rows),
    }
    if app.json_output:
        app.emit_json({"series": rows, "summary": summary})
        return
    table = Table(title=f"backtest, {horizon} horizon")
    for col in ("series", "metric", "model", "MASE", "naive MASE", "sMAPE %", "coverage", "why"):
        table.add_column(col, overflow="fold")
    for r in rows[:200]:
        table.add_row(r["series_id"], r["metric"], r["model"] or "failed", _num(r.get("mase")),
                      _num(r.get("baseline_mase")), _num(r.get("smape"), "{:.1f}"),
                      _num(r.get("coverage"), "{:.0%}"), r["reason"])  # fmt: skip
    app.out.print(table)
    if len(rows) > 200:
        app.out.print(f"… {len(rows) - 200} more (use --json for all)")
    app.out.print(
        f"{summary['series']} series: the chosen model beats seasonal-naive on {better} of "
        f"{len(scored)} scored; mean MASE ratio {_num(summary['mean_mase_ratio'])}; "
        f"{summary['fallback']} fell back, {summary['failed']} failed"
    )


@forecast.command("list")
@click.option("--series", "pattern", help="Only series whose id, or id/metric, matches this glob.")
@click.option("--status", type=click.Choice(["ok", "fallback", "failed"]), help="Only this status.")
@click.option("--limit", type=click.IntRange(min=1), default=50, show_default=True)
@pass_app
def list_cmd(app: AppContext, pattern: str | None, status: str | None, limit: int) -> None:
    """The latest forecast of each series: model, status, backtest and why."""
    from forecasts.load import matches
    from forecasts.save import latest

    with app.engine().connect() as conn:
        stored = latest(conn, usable_only=False)
    rows = [
        f for f in stored.values()
        if matches(f.series_id, f.metric, pattern) and (status is None or f.status == status)
    ]  # fmt: skip
    rows.sort(key=lambda f: (f.series_id, f.metric))
    if app.json_output:
        app.emit_json([{**f.__dict__} for f in rows])
        return
    table = Table(title=f"{len(rows)} forecast(s)")
    table.add_column("series / metric", overflow="fold", ratio=3)
    table.add_column("model", overflow="fold", ratio=2)
    table.add_column("MASE / naive", no_wrap=True)
    table.add_column("cover", no_wrap=True)
    table.add_column("chosen / note", overflow="fold", ratio=3)
    for f in rows[:limit]:
        cand, base = f.metrics.get("candidate", {}), f.metrics.get("baseline", {})
        chosen = cand if f.model == cand.get("model") else base
        when = str(f.metrics.get("chosen_at", ""))[:10]
        note = f"backtest {when}" if f.status == "ok" and when else (f.reason or "")
        anomalies = len(f.metrics.get("anomalies", []))
        if anomalies:
            note += f"; {anomalies} anomal{'y' if anomalies == 1 else 'ies'}"
        model = f.model if f.status == "ok" else f"{f.model} ({f.status})"
        table.add_row(f"{f.series_id} / {f.metric}", model,
                      f"{_num(chosen.get('mase'))} / {_num(base.get('mase'))}",
                      _num(chosen.get("coverage"), "{:.0%}"), note)  # fmt: skip
    app.out.print(table)
    if len(rows) > limit:
        app.out.print(f"… {len(rows) - limit} more (--limit, or --json for all)")


@forecast.command("anomalies")
@click.option(
    "--series", "pattern", help="Only series matching this glob (default: every spend series)."
)
@click.option(
    "--min-excess",
    type=click.FloatRange(min=0),
    default=1.0,
    show_default=True,
    help="Only days at least this far (USD) outside the band: small misses are noise.",
)
@pass_app
def anomalies_cmd(app: AppContext, pattern: str | None, min_excess: float) -> None:
    """Days whose spend fell outside the forecast's 95% band (the last 14 days), biggest
    miss first. A 95% band misses about 1 normal day in 20 by design, hence --min-excess."""
    from forecasts.load import matches
    from forecasts.save import latest

    with app.engine().connect() as conn:
        stored = latest(conn, metrics=["spend"])
    flagged = [
        {"series_id": f.series_id, **a}
        for f in stored.values() if matches(f.series_id, f.metric, pattern)
        for a in f.metrics.get("anomalies", [])
        if a.get("excess", 0.0) >= min_excess
    ]  # fmt: skip
    flagged.sort(key=lambda a: (-a.get("excess", 0.0), a["ts"], a["series_id"]))
    if app.json_output:
        app.emit_json(flagged)
        return
    if not flagged:
        app.out.print("no spend anomaly in the latest forecasts")
        return
    table = Table(title=f"{len(flagged)} spend anomal{'y' if len(flagged) == 1 else 'ies'}")
    for col in ("day", "series", "actual", "expected (95% band)", "outside by"):
        table.add_column(col)
    for a in flagged:
        table.add_row(a["ts"][:10], a["series_id"], f"{a['actual']:,.2f}",
                      f"{a['lower']:,.2f} – {a['upper']:,.2f}", f"{a['excess']:,.2f}")  # fmt: skip
    app.out.print(table)


@forecast.command("plot")
@click.argument("series")
@click.option("--metric", help="The metric, when SERIES is not written as id/metric.")
@click.option(
    "--out",
    "out_path",
    required=True,
    type=click.Path(path_type=Path, dir_okay=False),
    help="PNG file to write.",
)
@click.option("--history-days", type=click.IntRange(1, 366), default=21, show_default=True)
@pass_app
def plot_cmd(
    app: AppContext, series: str, metric: str | None, out_path: Path, history_days: int
) -> None:
    """Plot a series' recent history, its latest forecast and the p10–p90 band."""
    from forecasts.load import load_specs
    from forecasts.plot import plot_forecast
    from forecasts.save import latest, points

    sid, _, given = series.rpartition("/") if "/" in series and not metric else (series, "", metric)
    with app.engine().connect() as conn:
        stored = latest(conn)
        found = [
            f for f in stored.values() if f.series_id == sid and (not given or f.metric == given)
        ]
        if len(found) != 1:
            known = sorted(
                {f"{f.series_id}/{f.metric}" for f in stored.values() if f.series_id == sid}
            )
            raise ForecastError(
                f"no stored forecast for {series!r}"
                if not found
                else f"{series!r} has several metrics: {', '.join(known)}",
                fix="write SERIES as id/metric (see `optimizer forecast list`), or run "
                "`optimizer forecast --series ID` first",
            )
        chosen = found[0]
        specs, _ = load_specs(
            conn,
            f"{chosen.series_id}/{chosen.metric}",
            history_days,
            spend=chosen.metric == "spend",
        )
        pts = points(conn, chosen.id)
    history = [s for s in specs if s.metric == chosen.metric]
    plot_forecast(out_path, chosen, history[0] if history else None, pts)
    app.out.print(f"wrote {out_path} ({chosen.series_id}/{chosen.metric}, model {chosen.model})")


COMMANDS: list[click.Command] = []  # subcommands attach to `forecast` on import

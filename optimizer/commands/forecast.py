"""`optimizer forecast …`: forecast every series, backtest, list, anomalies, plot."""

from __future__ import annotations

import re
from datetime import timedelta
from typing import TYPE_CHECKING, Any

import click

from optimizer.config import load_config
from optimizer.context import AppContext
from optimizer.progress import progress_bar
from store.errors import ConfigError, ForecastError

if TYPE_CHECKING:
    from forecasts.job import SeriesForecast, Settings


class ForecastFailed(ForecastError):
    """Some series could not be forecast; the others were stored."""

    kind = "forecast partly failed"


def parse_span(text: str) -> timedelta:
    """'30d', '72h', '2w' → a timedelta."""
    found = re.fullmatch(r"\s*(\d+)\s*([hdw])\s*", text.lower())
    if not found or int(found.group(1)) == 0:
        raise click.BadParameter(
            f"{text!r}: write a positive number of hours, days or weeks: 72h, 30d, 2w"
        )
    n, unit = int(found.group(1)), found.group(2)
    return {"h": timedelta(hours=n), "d": timedelta(days=n), "w": timedelta(weeks=n)}[unit]


def _span(_ctx: click.Context, _param: click.Parameter, value: str | None) -> timedelta | None:
    return None if value is None else parse_span(value)


def _settings(app: AppContext, horizon: timedelta | None, holidays: str | None) -> tuple[Any, Any]:
    config = load_config(app.config_path).forecast
    settings = config.settings()
    if horizon is not None:
        from dataclasses import replace

        settings = replace(settings, horizon=horizon)
    if holidays is not None:
        from dataclasses import replace

        settings = replace(settings, holidays_country=holidays or None)
    if settings.holidays_country:
        import holidays as known

        if settings.holidays_country not in known.list_supported_countries():
            raise ConfigError(
                f"unknown holiday country {settings.holidays_country!r}",
                fix="use an ISO 3166 code the `holidays` package knows, e.g. US, GB, DE, FR, JP",
            )
    return config, settings


def points_at(result: SeriesForecast, granularity: str) -> list[dict[str, Any]]:
    """The forecast at its own step, or per UTC day: the mean of the day's hourly points
    (a day's band is the mean of its hourly bands, a display band, not a daily quantile)."""
    stamps = result.timestamps()
    rows = list(zip(stamps, result.lower, result.p50, result.upper, strict=True))
    if granularity == "day" and result.step < timedelta(days=1):
        days: dict[Any, list[tuple[float, float, float]]] = {}
        for ts, lo, mid, hi in rows:
            days.setdefault(ts.replace(hour=0, minute=0, second=0, microsecond=0), []).append(
                (lo, mid, hi)
            )
        rows = [
            (d, *(sum(v[i] for v in vals) / len(vals) for i in range(3)))
            for d, vals in days.items()
        ]
    return [
        {"timestamp": ts.isoformat(), "p10": round(float(lo), 6), "p50": round(float(mid), 6),
         "p90": round(float(hi), 6)}
        for ts, lo, mid, hi in rows
    ]  # fmt: skip


def _engine_options(f: Any) -> Any:
    f = click.option(
        "--scheduler", help="Dask scheduler address (tcp://host:8786); implies --engine dask."
    )(f)
    f = click.option(
        "--workers",
        type=click.IntRange(min=1),
        help="Processes (local) or LocalCluster workers (dask). Default: every core.",
    )(f)
    f = click.option(
        "--engine",
        "engine_name",
        type=click.Choice(["local", "dask"]),
        help="local: a process pool; dask: a Dask cluster. Default: [forecast] engine.",
    )(f)
    f = click.option(
        "--series",
        "pattern",
        help="Only series whose id, or id/metric, matches this glob "
        "(e.g. 'wl:*', '*/cpu_cores', 'spend:*').",
    )(f)
    return f


def _run(app: AppContext, settings: Settings, config: Any, pattern: str | None,
         engine_name: str | None, workers: int | None, scheduler: str | None,
         job: Any = None) -> tuple[list[SeriesForecast], list[Any]]:  # fmt: skip
    from forecasts.engine import EngineChoice, run_all
    from forecasts.load import load_specs
    from forecasts.save import attach_priors

    try:
        choice = config.engine_choice()
    except ValueError as exc:  # e.g. [forecast] scheduler without engine = "dask"
        raise ConfigError(
            f"[forecast] {exc}", fix='set engine = "dask" with scheduler, or remove scheduler'
        ) from exc
    name = "dask" if scheduler else (engine_name or choice.name)
    try:
        choice = EngineChoice(name, workers or choice.workers, scheduler or choice.scheduler)
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from exc
    with app.engine().connect() as conn:
        specs, problems = load_specs(conn, pattern or config.series, config.history_days)
        if job is None:  # `forecast backtest` always backtests
            specs = attach_priors(conn, specs, settings)
    if not specs and not problems:
        raise ConfigError(
            "no series to forecast" + (f" match {pattern!r}" if pattern else " in the store"),
            fix="import utilization with `optimizer collect usage` or billing with "
            "`collect focus`, or widen --series (`optimizer forecast list` shows what is stored)",
        )
    label = f"forecasting {len(specs)} series ({choice.name}, {choice.worker_count()} workers)"
    with progress_bar(app, label, total=len(specs)) as advance:
        kwargs = {"job": job} if job else {}
        results = run_all(specs, settings, choice, advance, **kwargs)
    return results, problems


@click.group(invoke_without_command=True)
@_engine_options
@click.option(
    "--horizon",
    callback=_span,
    help="How far ahead: 72h, 30d, 2w. Default: [forecast] horizon_days.",
)
@click.option(
    "--granularity",
    type=click.Choice(["hour", "day"]),
    default="hour",
    show_default=True,
    help="Step of the points printed with --json.",
)
@click.option(
    "--holidays", help="Country code whose public holidays Prophet models (e.g. US); '' for none."
)
@click.option("--dry-run", is_flag=True, help="Forecast and print, but write nothing to the store.")
@click.option(
    "--reselect",
    is_flag=True,
    help="Backtest every series now, even those whose model a backtest chose in the last "
    "[forecast] reselect_days (7).",
)
@click.pass_context
def forecast(ctx: click.Context, pattern: str | None, engine_name: str | None, workers: int | None,
             scheduler: str | None, horizon: timedelta | None, granularity: str,
             holidays: str | None, dry_run: bool, reselect: bool) -> None:  # fmt: skip
    """Forecast every series in the store (or those matching --series) and store the results.

    Each series is backtested: Prophet against seasonal-naive on the same rolling origins,
    and the winner forecasts. Short (< 14 days) or flat histories use seasonal-naive, and
    the reason is recorded. A series that fails is recorded as failed; the others go on
    (exit code 3 when any failed).
    """
    if ctx.invoked_subcommand is not None:
        return
    app: AppContext = ctx.obj
    config, settings = _settings(app, horizon, holidays)
    if reselect:
        from dataclasses import replace

        settings = replace(settings, reselect_days=0)
    results, problems = _run(app, settings, config, pattern, engine_name, workers, scheduler)
    counts: dict[str, int] = {}
    if not dry_run:
        from forecasts.save import save
        from optimizer.audit_events import forecast_run

        with app.engine().begin() as conn:
            counts = save(conn, results, problems, settings)
            forecast_run(conn, results, problems, counts, pattern or config.series)
    failed = [r for r in results if r.status == "failed"]
    if app.json_output:
        app.emit_json({
            "series": [
                {"series_id": r.series_id, "metric": r.metric, "status": r.status,
                 "model": r.model, "reason": r.reason, "metrics": r.metrics,
                 "anomalies": [a.__dict__ for a in r.anomalies],
                 "points": points_at(r, granularity) if r.start else []}
                for r in results
            ] + [{"series_id": p.series_id, "metric": p.metric, "status": "failed",
                  "model": None, "reason": p.reason, "metrics": {}, "anomalies": [],
                  "points": []} for p in problems],
            "stored": not dry_run,
        })  # fmt: skip
    else:
        _print_summary(app, results, problems, counts, dry_run)
    if failed or problems:
        raise ForecastFailed(
            f"{len(failed) + len(problems)} series could not be forecast (the others were "
            + ("printed)" if dry_run else "stored)"),
            fix="see each reason in `optimizer forecast list --status failed`",
        )


def _print_summary(app: AppContext, results: list[SeriesForecast], problems: list[Any],
                   counts: dict[str, int], dry_run: bool) -> None:  # fmt: skip
    models: dict[str, int] = {}
    for r in results:
        if r.model:
            models[r.model] = models.get(r.model, 0) + 1
    fallback = sum(r.status == "fallback" for r in results)
    failed = sum(r.status == "failed" for r in results) + len(problems)
    anomalies = sum(len(r.anomalies) for r in results)
    chosen = ", ".join(f"{m} {n}" for m, n in sorted(models.items()))
    app.out.print(
        f"{len(results) + len(problems)} series: {chosen or 'none'}; {fallback} fell back to "
        f"the baseline (short or flat), {failed} failed; {anomalies} spend anomal"
        + ("y" if anomalies == 1 else "ies")
        + (
            "; nothing stored (--dry-run)"
            if dry_run
            else f"; {counts.get('points', 0):,} points stored"
        )
    )
    for r in [r for r in results if r.status == "failed"][:5]:
        app.err.print(f"  failed {r.series_id}/{r.metric}: {r.reason}", markup=False)
    for p in problems[:5]:
        app.err.print(f"  failed {p.series_id}/{p.metric}: {p.reason}", markup=False)


COMMANDS = [forecast]

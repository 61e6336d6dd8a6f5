"""Inputs for bench/forecast.py: the real traces as hourly series, and synthetic fleets
built from them.

Traces (../shared/data/traces, provenance in ../shared/data/SOURCES.md):
- `nab_aws_cloudwatch/*.csv`: `timestamp,value`, 5-minute CloudWatch samples; the
  timestamps are naive and read as UTC.
- `datacenter_aggregates/azure2019_v2_*`: `timestamp` in seconds from 0 at a 300 s step.
- `datacenter_aggregates/google2019_*` and `alibaba2018_*`: no timestamp column; rows are
  consecutive 300 s steps.
The three aggregates have no calendar date, so they are all placed at `AGG_START`
(2019-01-07T00:00Z, an arbitrary Monday). Every series is put on an hourly grid by
`forecasts.series.regularize` (the mean of each hour), exactly as the product does.

Also the scoring bench/forecast.py applies to every model: pooled over origins, against
seasonal-naive on the same origins.
"""

from __future__ import annotations

import csv
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import numpy as np

from forecasts.baseline import SeasonalNaive
from forecasts.job import SeriesForecast, SeriesSpec, Settings, candidate_for, clip, season_of
from forecasts.kinds import kind_of
from forecasts.metrics import coverage, mase, smape
from forecasts.protocol import Context
from forecasts.series import regularize_epoch

HOUR = timedelta(hours=1)
WEEK_H = 168
AGG_START = datetime(2019, 1, 7, tzinfo=UTC)  # a Monday; the aggregates carry no date
SYNTH_START = datetime(2026, 1, 5, tzinfo=UTC)  # a Monday
Arrays = tuple[np.ndarray, np.ndarray, np.ndarray]  # lower, p50, upper

# NAB file stem -> metric name (`*_pct` for percent series, so logistic growth applies).
NAB_METRICS = {
    "cpu_utilization": "cpu_pct",
    "disk_write_bytes": "disk_write_bytes",
    "network_in": "network_in_bytes",
    "NetworkIn": "network_in_bytes",
    "request_count": "request_count",
}
# Aggregate column -> metric name; google's avg_cycles_per_instruction is left out (a
# performance ratio, not demand anyone sizes for).
AGGREGATES = {
    "azure2019_v2_vm_cpu_mem_month_300s.csv": {
        "cpu_usage": "cpu_cores",
        "assigned_mem": "assigned_mem",
    },
    "google2019_instance_usage_month_300s.csv": {
        "avg_cpu": "avg_cpu",
        "avg_mem": "avg_mem",
        "avg_assigned_mem": "avg_assigned_mem",
    },
    "alibaba2018_machine_usage_8days_300s.csv": {
        "cpu_util_percent": "cpu_pct",
        "mem_util_percent": "mem_pct",
        "disk_io_percent": "disk_io_pct",
        "net_in": "net_in",
        "net_out": "net_out",
    },
}


@dataclass(frozen=True)
class Trace:
    series_id: str
    metric: str
    start: datetime
    values: np.ndarray  # hourly
    repairs: dict[str, int]

    def spec(self, cut: int | None = None) -> SeriesSpec:
        """The product's input: the history up to `cut` (exclusive)."""
        v = self.values if cut is None else self.values[:cut]
        return SeriesSpec(self.series_id, self.metric, self.start, HOUR, v, dict(self.repairs))


def _nab_metric(stem: str) -> str:
    for key, metric in NAB_METRICS.items():
        if key in stem:
            return metric
    raise ValueError(f"no metric name for NAB file {stem}: add it to NAB_METRICS")


def load_traces(root: Path) -> tuple[list[Trace], list[str]]:
    """Every trace as an hourly series, and the ones left out with why."""
    out: list[Trace] = []
    skipped: list[str] = []
    for path in sorted((root / "nab_aws_cloudwatch").glob("*.csv")):
        with path.open() as f:
            rows = list(csv.DictReader(f))
        epoch = np.array(
            [datetime.fromisoformat(r["timestamp"]).replace(tzinfo=UTC).timestamp() for r in rows]
        )
        values = np.array([float(r["value"]) for r in rows])
        metric = _nab_metric(path.stem)
        try:
            s = regularize_epoch(f"nab/{path.stem}", epoch, values, HOUR, kind_of(metric).counter)
        except ValueError as exc:
            skipped.append(str(exc))
            continue
        out.append(Trace(s.series_id, metric, s.start, s.values, s.repairs))
    for name, columns in AGGREGATES.items():
        with (root / "datacenter_aggregates" / name).open() as f:
            rows = list(csv.DictReader(f))
        if "timestamp" in rows[0]:
            secs = np.array([float(r["timestamp"]) for r in rows])
        else:
            secs = np.arange(len(rows)) * 300.0
        epoch = AGG_START.timestamp() + secs
        source = name.split("_")[0]
        for col, metric in columns.items():
            values = np.array([float(r[col]) for r in rows])
            s = regularize_epoch(f"{source}/{col}", epoch, values, HOUR, kind_of(metric).counter)
            out.append(Trace(s.series_id, metric, s.start, s.values, s.repairs))
    return out, skipped


def synthesize(traces: list[Trace], n: int, days: int, seed: int) -> list[SeriesSpec]:
    """`n` hourly series of `days` days shaped by the real traces (see RESULTS.md).

    Series i: a source trace with at least two weeks drawn uniformly; its whole weeks tiled
    end to end; a window of `days` days starting at a random hour of the tiling (the
    phase); then y = level + scale * (x - mean(x)) + noise, with level = mean(x) * U(0.5,
    1.5), scale = U(0.5, 1.5), noise ~ N(0, (U(0, 0.2) * std(x))^2), clipped to the
    metric's range ([0, 100] for percent, >= 0 otherwise)."""
    rng = np.random.default_rng(seed)
    pool = [t for t in traces if len(t.values) >= 2 * WEEK_H]
    length = days * 24
    specs = []
    for i in range(n):
        src = pool[int(rng.integers(len(pool)))]
        weeks = src.values[: len(src.values) // WEEK_H * WEEK_H]
        tiled = np.tile(weeks, length // len(weeks) + 2)
        phase = int(rng.integers(len(weeks)))
        x = tiled[phase : phase + length]
        mean, std = float(np.mean(weeks)), float(np.std(weeks))
        level = mean * rng.uniform(0.5, 1.5)
        y = level + rng.uniform(0.5, 1.5) * (x - mean)
        y = y + rng.normal(0.0, rng.uniform(0.0, 0.2) * std, length)
        bounds = kind_of(src.metric).bounds
        y = np.clip(y, *bounds) if bounds else np.maximum(y, 0.0)
        specs.append(SeriesSpec(f"synth-{i:05d}", src.metric, SYNTH_START, HOUR, y))
    return specs


def forced_prophet(spec: SeriesSpec, settings: Settings) -> SeriesForecast:
    """Prophet as the product configures it, with no selection and no fallback (a
    diagnostic: the candidate's raw strength). Module level, so process pools can run it."""
    began = time.perf_counter()
    empty = np.zeros(0)
    horizon = int(settings.horizon / spec.step)
    try:
        ctx = Context(spec.start, spec.step, settings.level)
        y = np.asarray(spec.values, dtype=np.float64)
        pred = clip(candidate_for(spec, settings).forecast(y, horizon, ctx), spec.metric)
        return SeriesForecast(
            spec.series_id, spec.metric, "ok", pred.model, "forced",
            spec.start + len(y) * spec.step, spec.step, pred.lower, pred.p50, pred.upper,
            {}, (), time.perf_counter() - began,
        )  # fmt: skip
    except Exception as exc:
        return SeriesForecast(
            spec.series_id, spec.metric, "failed", None, f"{type(exc).__name__}: {exc}", None,
            spec.step, empty, empty, empty, {}, (), time.perf_counter() - began,
        )  # fmt: skip


def naive_at(t: Trace, cut: int) -> Arrays:
    ctx = Context(t.start, HOUR, 0.8)
    p = clip(SeasonalNaive(season_of(cut, HOUR)).forecast(t.values[:cut], WEEK_H, ctx), t.metric)
    return p.lower, p.p50, p.upper


def score(t: Trace, cuts: list[int], preds: dict[str, list[Arrays]]) -> dict[str, Any]:
    """Pooled metrics of each model over `cuts`, and each one's MASE ratio to naive."""
    actual = np.concatenate([t.values[c : c + WEEK_H] for c in cuts])
    hist = t.values[: cuts[0]]
    period = WEEK_H if len(hist) > WEEK_H else 24
    scale = float(np.mean(np.abs(hist[period:] - hist[:-period])))
    out: dict[str, Any] = {"points": len(actual), "scale": scale, "scale_period": period}
    for name, arrs in preds.items():
        lo, mid, hi = (np.concatenate([a[k] for a in arrs]) for k in range(3))
        out[name] = {
            "mase": mase(actual, mid, hist, period),
            "smape": smape(actual, mid),
            "coverage": coverage(actual, lo, hi),
            "abs_err_sum": float(np.sum(np.abs(actual - mid))),
        }
    base = out["seasonal-naive"]["mase"]
    for name in preds:
        m = out[name]["mase"]
        out[name]["ratio"] = None if m is None or not base else m / base
    return out


def summary(rows: list[dict[str, Any]], model: str) -> dict[str, Any]:
    ratios = [r[model]["ratio"] for r in rows if r[model]["ratio"] is not None]
    pooled = [
        (r[model]["abs_err_sum"] / r["scale"], r["seasonal-naive"]["abs_err_sum"] / r["scale"])
        for r in rows
        if r["scale"] > 0
    ]
    return {
        "series": len(ratios),
        "better": sum(x < 1 for x in ratios),
        "share_better": sum(x < 1 for x in ratios) / len(ratios) if ratios else None,
        "ties": sum(x == 1 for x in ratios),
        "geomean_ratio": float(np.exp(np.mean(np.log(ratios)))) if ratios else None,
        "pooled_ratio": sum(a for a, _ in pooled) / sum(b for _, b in pooled) if pooled else None,
    }

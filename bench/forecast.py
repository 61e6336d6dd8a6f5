"""Forecasting benchmark (issue #4 §5): accuracy on real traces, and speed at fleet size.

Accuracy (`--part accuracy`): the product either beats seasonal-naive on real series or
it has no business running Prophet. So every real trace (bench/forecast_data.py) is cut
at rolling origins c (every `--origin-step` hours, c >= 7 days, c + 7 days <= n), and at
each origin the PRODUCT's own path runs on y[:c] alone: `forecast_series` with
`Settings(horizon=7 days)`, on the process-pool engine. It picks its model from data
before the origin (its internal backtest, or seasonal-naive by rule under 14 days), and
its p50 over the next 7 days is scored against `SeasonalNaive(season_of(c))` on the same
origin. Per series: MASE pooled over origins (scale: the in-sample seasonal difference
of the history before the first origin, period 168, or 24 when that history is exactly
one week), their ratio, sMAPE, 80% band coverage, the models chosen and the fallback
reasons. "Prophet forced" (the product's Prophet, no selection) is a diagnostic of the
candidate's raw strength. Nothing is tuned here: the product's settings are used as is.
A settings comparison (cheap vs expensive Prophet, one change at a time) runs on the
origins where selection happens (>= 14 days of history).

Speed (`--part speed`): `--series` synthetic 90-day hourly series built from the real
traces. In one run: the baseline alone (in-process), the full job (selection + 30-day
forecast) on the process pool and on a Dask LocalCluster (startup timed apart), and a
single-process sample for seconds per series. Pool and Dask results must be identical.
"""

from __future__ import annotations

import argparse
import importlib
import json
import os
import platform
import re
import subprocess
import sys
import time
from collections import Counter
from dataclasses import asdict, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
if sys.path and Path(sys.path[0] or ".").resolve() == ROOT / "bench":
    sys.path[0] = str(ROOT)  # import `bench.forecast_data` (and pickle its job) by package

from bench.forecast_data import (  # noqa: E402
    WEEK_H,
    Trace,
    forced_prophet,
    load_traces,
    naive_at,
    score,
    summary,
    synthesize,
)
from forecasts.engine import EngineChoice, run_all  # noqa: E402
from forecasts.job import SeriesForecast, Settings  # noqa: E402
from forecasts.save import prior_of  # noqa: E402

TRACES = Path(__file__).resolve().parents[2] / "shared" / "data" / "traces"
HORIZON = timedelta(days=7)
GOAL_SHARE, GOAL_SERIES, GOAL_SECONDS = 0.7, 1000, 120.0


def origins(n: int, step: int, first: int = WEEK_H) -> list[int]:
    return list(range(first, n - WEEK_H + 1, step))


def run(specs: list[Any], settings: Settings, workers: int, job: Any = None) -> list[Any]:
    choice = EngineChoice("local", workers)
    return run_all(specs, settings, choice, job=job) if job else run_all(specs, settings, choice)


def _arr(r: SeriesForecast) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    if r.status == "failed":
        raise RuntimeError(f"{r.series_id} failed: {r.reason}")
    return r.lower, r.p50, r.upper


def accuracy(traces: list[Trace], step: int, workers: int, text: TextIO) -> dict[str, Any]:
    settings = Settings(horizon=HORIZON)
    jobs = [(t, c) for t in traces for c in origins(len(t.values), step)]
    specs = [t.spec(c) for t, c in jobs]
    print(f"accuracy: {len(specs)} (series, origin) pairs, {workers} workers", file=sys.stderr)
    t0 = time.perf_counter()
    product = run(specs, settings, workers)
    forced = run(specs, settings, workers, forced_prophet)
    seconds = time.perf_counter() - t0
    rows: list[dict[str, Any]] = []
    skipped = []
    for t in traces:
        idx = [i for i, (u, _) in enumerate(jobs) if u is t]
        if not idx:
            why = f"{len(t.values) / 24:.1f} days: no origin with 7 days before and after"
            skipped.append({"series": t.series_id, "why": why})
            continue
        cuts = [jobs[i][1] for i in idx]
        preds = {
            "selected": [_arr(product[i]) for i in idx],
            "prophet-forced": [_arr(forced[i]) for i in idx],
            "seasonal-naive": [naive_at(t, c) for c in cuts],
        }
        row = {"series": t.series_id, "metric": t.metric, "days": len(t.values) / 24}
        selecting = sum(product[i].status == "ok" for i in idx)
        row |= {"origins": len(cuts), "selecting_origins": selecting}
        row |= score(t, cuts, preds)
        row["chosen"] = dict(Counter(str(product[i].model) for i in idx))
        reasons = [product[i].reason for i in idx if product[i].status == "fallback"]
        row["fallbacks"] = dict(Counter(re.sub(r"\d+(\.\d+)?", "#", r) for r in reasons))
        rows.append(row)
    head = "| series | metric | days | origins (selecting) | selected MASE | naive MASE | ratio |"
    head += " sMAPE sel/naive | cover sel/naive | forced ratio | chosen |"
    print(head + "\n|" + "---|" * 11, file=text)
    for r in rows:
        s, n, f = r["selected"], r["seasonal-naive"], r["prophet-forced"]
        chosen = ", ".join(f"{k} {v}" for k, v in sorted(r["chosen"].items()))
        print(
            f"| {r['series']} | {r['metric']} | {r['days']:.1f} | {r['origins']} "
            f"({r['selecting_origins']}) | {_f(s['mase'])} | {_f(n['mase'])} | {_f(s['ratio'])} "
            f"| {s['smape']:.1f}/{n['smape']:.1f} | {s['coverage']:.0%}/{n['coverage']:.0%} "
            f"| {_f(f['ratio'])} | {chosen} |",
            file=text,
        )
    for s in skipped:
        print(f"not scored: {s['series']}: {s['why']}", file=text)
    fallbacks: Counter[str] = Counter()
    for r in rows:
        fallbacks.update(r["fallbacks"])
    selecting = [r for r in rows if r["selecting_origins"]]
    out: dict[str, Any] = {
        "origin_step_hours": step,
        "seconds": seconds,
        "rows": rows,
        "not_scored": skipped,
        "fallback_reasons": dict(fallbacks),
        "selected": summary(rows, "selected"),
        "selected_where_selection_runs": summary(selecting, "selected"),
        "prophet_forced": summary(rows, "prophet-forced"),
    }
    for key, label in (
        ("selected", "product (selection) vs seasonal-naive, all scored series"),
        ("selected_where_selection_runs", "product, series where selection ran at an origin"),
        ("prophet_forced", "Prophet forced (diagnostic) vs seasonal-naive"),
    ):
        m = out[key]
        print(
            f"{label}: better on {m['better']}/{m['series']} ({_f(m['share_better'], '.0%')}), "
            f"ties {m['ties']}, geomean ratio {_f(m['geomean_ratio'])}, "
            f"pooled ratio {_f(m['pooled_ratio'])}",
            file=text,
        )
    share = out["selected"]["share_better"]
    met = share is not None and share >= GOAL_SHARE
    verdict = "MET" if met else "MISSED"
    print(f"{verdict}: ratio < 1 on ≥ 70% of series ({_f(share, '.0%')})", file=text)
    print(f"fallback reasons (origins): {dict(fallbacks)}", file=text)
    return out


VARIANTS: dict[str, dict[str, Any]] = {
    "default (window 28 d, 200 samples, 2 origins)": {},
    "fit_window_days=None (whole history)": {"fit_window_days": None},
    "uncertainty_samples=1000": {"uncertainty_samples": 1000},
    "origins=1": {"origins": 1},
}


def compare(
    traces: list[Trace], step: int, workers: int, text: TextIO, limit: int | None
) -> list[dict[str, Any]]:
    """Each variant of the product's settings, one change at a time, on the same origins."""
    # 15 days: the first whole-day origin where the product selects (it needs more than
    # 14 days: a week of history before a week-long backtest origin, plus one step).
    jobs = [(t, c) for t in traces for c in origins(len(t.values), step, 15 * 24)]
    picked = sorted({t.series_id for t, _ in jobs})[:limit]
    jobs = [(t, c) for t, c in jobs if t.series_id in picked]
    print(f"settings: {len(jobs)} origins on {len(picked)} series", file=sys.stderr)
    out = []
    forced_cache: dict[tuple[Any, ...], list[SeriesForecast]] = {}
    for label, change in VARIANTS.items():
        settings = replace(Settings(horizon=HORIZON), **change)
        specs = [t.spec(c) for t, c in jobs]
        product = run(specs, settings, workers)
        key = (settings.fit_window_days, settings.uncertainty_samples)
        if key not in forced_cache:
            forced_cache[key] = run(specs, settings, workers, forced_prophet)
        forced = forced_cache[key]
        rows = []
        for sid in picked:
            idx = [i for i, (t, _) in enumerate(jobs) if t.series_id == sid]
            t, cuts = jobs[idx[0]][0], [jobs[i][1] for i in idx]
            preds = {
                "selected": [_arr(product[i]) for i in idx],
                "prophet-forced": [_arr(forced[i]) for i in idx],
                "seasonal-naive": [naive_at(t, c) for c in cuts],
            }
            rows.append(score(t, cuts, preds))
        sel, frc = summary(rows, "selected"), summary(rows, "prophet-forced")
        out.append(
            {
                "variant": label,
                "settings": change,
                "origins": len(jobs),
                "selected": sel,
                "prophet_forced": frc,
                "coverage_selected": float(np.mean([r["selected"]["coverage"] for r in rows])),
                "coverage_forced": float(np.mean([r["prophet-forced"]["coverage"] for r in rows])),
                "seconds_per_call": float(np.mean([r.seconds for r in product])),
                "prophet_chosen": sum(r.model == "prophet" for r in product) / len(product),
            }
        )
    head = "| variant | selected ratio geomean / pooled | forced ratio geomean / pooled |"
    head += " coverage sel / forced | s per call | prophet chosen |"
    print(head + "\n|" + "---|" * 6, file=text)
    for v in out:
        s, f = v["selected"], v["prophet_forced"]
        print(
            f"| {v['variant']} | {_f(s['geomean_ratio'])} / {_f(s['pooled_ratio'])} "
            f"| {_f(f['geomean_ratio'])} / {_f(f['pooled_ratio'])} "
            f"| {v['coverage_selected']:.0%} / {v['coverage_forced']:.0%} "
            f"| {v['seconds_per_call']:.2f} | {v['prophet_chosen']:.0%} |",
            file=text,
        )
    return out


def _same(a: list[SeriesForecast], b: list[SeriesForecast]) -> tuple[bool, int]:
    def key(r: SeriesForecast) -> tuple[Any, ...]:
        arrays = tuple(x.tobytes() for x in (r.lower, r.p50, r.upper))
        return (r.series_id, r.status, r.model, r.reason, repr(r.metrics), arrays)

    diff = sum(key(x) != key(y) for x, y in zip(a, b, strict=True))
    return diff == 0 and len(a) == len(b), diff


def speed(traces: list[Trace], args: argparse.Namespace, text: TextIO) -> dict[str, Any]:
    distributed: Any = importlib.import_module("distributed")  # untyped library

    specs = synthesize(traces, args.series, 90, args.seed)
    n, cores = len(specs), os.cpu_count() or 1
    timed: dict[str, float] = {}
    print(f"speed: {n} series of 90 days, {cores} cores", file=sys.stderr)
    t = time.perf_counter()
    base = run_all(specs, Settings(candidate="seasonal-naive"), EngineChoice("local", 1))
    timed["baseline in-process"] = time.perf_counter() - t
    sample = specs[: args.sample]
    t = time.perf_counter()
    run_all(sample, Settings(), EngineChoice("local", 1))
    single = (time.perf_counter() - t) / len(sample)
    t = time.perf_counter()
    pool = run_all(specs, Settings(), EngineChoice("local"))
    timed["product, process pool"] = time.perf_counter() - t
    t = time.perf_counter()
    cluster = distributed.LocalCluster(
        n_workers=cores,
        threads_per_worker=1,
        processes=True,
        host="127.0.0.1",
        dashboard_address=None,
    )
    startup = time.perf_counter() - t
    try:
        t = time.perf_counter()
        dask = run_all(specs, Settings(), EngineChoice("dask", scheduler=cluster.scheduler_address))
        timed["product, Dask LocalCluster (run)"] = time.perf_counter() - t
    finally:
        cluster.close()
    timed["product, Dask incl. startup"] = timed["product, Dask LocalCluster (run)"] + startup
    # The nightly run after the first: each series' choice is reused for reselect_days,
    # so only the winner fits (forecasts.job, attach_priors).
    now = datetime.now(UTC)
    warm_specs = [
        replace(spec, prior=prior_of(str(r.model), r.status, r.metrics, now))
        for spec, r in zip(specs, pool, strict=True)
    ]
    t = time.perf_counter()
    warm = run_all(warm_specs, Settings(), EngineChoice("local"))
    timed["product nightly (choices reused), process pool"] = time.perf_counter() - t
    warm_same = all(np.array_equal(a.p50, b.p50) for a, b in zip(pool, warm, strict=True))
    same, diff = _same(pool, dask)
    failed = sum(r.status == "failed" for r in pool) + sum(r.status == "failed" for r in base)
    chosen = Counter(str(r.model) for r in pool)
    print("| run | series | seconds | series/s | s/series |\n|---|---|---|---|---|", file=text)
    for label, secs in timed.items():
        print(f"| {label} | {n} | {secs:.2f} | {n / secs:.1f} | {secs / n:.4f} |", file=text)
    print(f"| product, 1 process ({len(sample)}-series sample) | {len(sample)} | "
          f"{single * len(sample):.1f} | {1 / single:.2f} | {single:.3f} |", file=text)  # fmt: skip
    base_per = timed["baseline in-process"] / n
    pool_s = timed["product, process pool"]
    print(
        f"Dask LocalCluster startup {startup:.1f} s; pool/Dask run time "
        f"{pool_s / timed['product, Dask LocalCluster (run)']:.2f}; product/baseline: "
        f"{pool_s / timed['baseline in-process']:.0f}x wall ({cores} cores vs 1), "
        f"{single / base_per:.0f}x per series on one core; prophet chosen for "
        f"{chosen.get('prophet', 0) / n:.0%} ({dict(chosen)}); failed: {failed}",
        file=text,
    )
    print(f"pool and Dask results bit-identical: {same} ({diff} differ); nightly run with "
          f"reused choices gives the same forecasts: {warm_same}", file=text)  # fmt: skip
    p50, p95 = (float(np.percentile([r.seconds for r in pool], q)) for q in (50, 95))
    print(f"seconds per series inside pool workers: p50 {p50:.2f}, p95 {p95:.2f}", file=text)
    if n == GOAL_SERIES:
        met = pool_s < GOAL_SECONDS
        print(f"{'MET' if met else 'MISSED'}: {n} series with selection in "
              f"{pool_s:.1f} s (goal < {GOAL_SECONDS:.0f} s)", file=text)  # fmt: skip
    else:
        est, est1 = pool_s / n * GOAL_SERIES, single * GOAL_SERIES / cores
        print(f"goal not evaluated ({n} series, not {GOAL_SERIES}). Extrapolations, not "
              f"measurements: pool run x {GOAL_SERIES / n:.0f} = {est:.0f} s (includes pool "
              f"start-up); one-process s/series x {GOAL_SERIES} / {cores} cores = {est1:.0f} s",
              file=text)  # fmt: skip
    return {
        "series": n,
        "days": 90,
        "cores": cores,
        "seconds": timed,
        "dask_startup_seconds": startup,
        "single_process_sample": len(sample),
        "single_process_seconds_per_series": single,
        "pool_job_seconds_p50_p95": [p50, p95],
        "prophet_share": chosen.get("prophet", 0) / n,
        "chosen": dict(chosen),
        "failed": failed,
        "pool_dask_identical": same,
        "warm_same_forecasts": warm_same,
        "goal_met": pool_s < GOAL_SECONDS if n == GOAL_SERIES else None,
    }


def code_state() -> dict[str, Any]:
    """The commit and any uncommitted change under forecasts/: the figures belong to both."""

    def git(*a: str) -> str:
        return subprocess.run(["git", *a], cwd=ROOT, capture_output=True, text=True).stdout

    dirty = [line[3:] for line in git("status", "--porcelain", "forecasts").splitlines()]
    return {"commit": git("rev-parse", "--short", "HEAD").strip(), "dirty_forecasts": dirty}


def _f(v: float | None, fmt: str = ".3f") -> str:
    return "–" if v is None else format(v, fmt)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    ap.add_argument("--part", choices=("accuracy", "speed", "all"), default="all")
    ap.add_argument("--traces", type=Path, default=TRACES)
    ap.add_argument("--origin-step", type=int, default=24, help="hours between origins")
    ap.add_argument("--compare-origin-step", type=int, default=48, help="0 skips the comparison")
    ap.add_argument("--compare-series", type=int, help="at most this many series compared")
    ap.add_argument("--series", type=int, default=GOAL_SERIES, help="speed: synthetic series")
    ap.add_argument("--sample", type=int, default=30, help="speed: single-process sample")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1, help="accuracy pool")
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--json", action="store_true", help="print the result as JSON on stdout")
    ap.add_argument("--out", help="also write the JSON result to this file")
    args = ap.parse_args()
    text = sys.stderr if args.json else sys.stdout
    traces, refused = load_traces(args.traces)
    cmdstanpy: Any = importlib.import_module("cmdstanpy")
    prophet: Any = importlib.import_module("prophet")

    code = code_state()
    if code["dirty_forecasts"]:
        print(f"WARNING: uncommitted changes in {code['dirty_forecasts']}", file=sys.stderr)
    result: dict[str, Any] = {
        "code": code,
        "args": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
        "machine": {
            "cores": os.cpu_count(),
            "python": platform.python_version(),
            "prophet": prophet.__version__,
            "cmdstanpy": cmdstanpy.__version__,
            "load_start": os.getloadavg(),
        },
        "settings_default": {k: str(v) for k, v in asdict(Settings()).items()},
        "refused_by_regularize": refused,
    }
    began = time.perf_counter()
    if args.part in ("accuracy", "all"):
        result["accuracy"] = accuracy(traces, args.origin_step, args.workers, text)
        if args.compare_origin_step:
            result["settings_comparison"] = compare(
                traces, args.compare_origin_step, args.workers, text, args.compare_series
            )
    if args.part in ("speed", "all"):
        result["speed"] = speed(traces, args, text)
    result["machine"]["load_end"] = os.getloadavg()
    result["total_seconds"] = time.perf_counter() - began
    print(f"load average {result['machine']['load_start']} -> {os.getloadavg()}", file=text)
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=2, default=float))
    if args.json:
        json.dump(result, sys.stdout, indent=2, default=float)
        print()


if __name__ == "__main__":
    main()

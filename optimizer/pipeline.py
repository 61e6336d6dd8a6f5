"""The nightly chain, as data: collect → forecast → plan → apply → report.

Each stage reads the store and writes the store, and is recorded in a `run` row with
its status and timing. Stages that are not built yet say so; they are never faked.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Engine

from collectors.focus.ingest import ingest_file
from optimizer.apply.stage import apply_stage
from optimizer.config import Config, FocusSource
from optimizer.report.stage import report_stage
from optimizer.stages import STAGES
from store.errors import OptimizerError


@dataclass
class StageResult:
    name: str
    status: str  # ok | partial | failed | not_built | skipped (resumed) | aborted
    seconds: float = 0.0
    detail: str = ""
    data: dict[str, Any] = field(default_factory=dict)
    exit_code: int = 0  # of the error class behind a failure (design.md §9)


ProgressFactory = Callable[[str, int], AbstractContextManager[Callable[[int], None]]]


@dataclass(frozen=True)
class Hooks:
    """What the caller lends the stages: a progress bar for long work (none by default)."""

    progress: ProgressFactory | None = None

    def bar(self, label: str, total: int) -> AbstractContextManager[Callable[[int], None]]:
        return self.progress(label, total) if self.progress else nullcontext(lambda _n: None)


def collect_stage(engine: Engine, config: Config, hooks: Hooks) -> StageResult:
    """Every configured source; one failing source never stops the others. Each source
    run (a cloud source, a FOCUS file) is one audit event."""
    from optimizer.audit_events import cloud_run, file_run
    from optimizer.sources_check import NotBuilt, collector_for

    files, rows, failures, unbuilt = 0, 0, [], []
    written = 0  # rows actually written: an unchanged file's rows are not written again
    clouds_ok = 0
    calls: dict[str, int] = {}
    reference = _reference_if_missing(engine, config)
    for source in config.sources:
        if not isinstance(source, FocusSource):
            try:
                collector = collector_for(source)
            except NotBuilt as exc:
                unbuilt.append(f"{source.name} ({source.type}: {exc})")
                continue
            summary = collector.collect(engine)
            cloud_run(engine, source.type, summary.as_dict())
            rows += sum(summary.rows.values())
            written += sum(summary.rows.values())
            for op, n in summary.api_calls.items():
                calls[op] = calls.get(op, 0) + n
            if summary.status in ("ok", "no_data"):
                clouds_ok += 1
            else:
                failures.append(f"{source.name}: {summary.status}: {summary.detail} {summary.hint}")
            continue
        paths = config.focus_files(source)
        if not paths:
            failures.append(f"{source.name}: no file matches {source.paths}")
        for path in paths:
            key = f"{source.name}:{path.name}"
            try:
                summary_ = ingest_file(engine, path, source_key=key)
            except OptimizerError as exc:
                file_run(engine, "focus", path, error=exc, source_key=key)
                failures.append(f"{source.name}: {exc.message}")
                continue
            file_run(engine, "focus", path, summary_)
            files, rows = files + 1, rows + summary_.rows
            written += 0 if getattr(summary_, "unchanged", False) else summary_.rows
    detail = f"{len(config.sources)} source(s), {files} file(s), {rows:,} rows"
    if calls:
        detail += f", {sum(calls.values())} cloud API call(s)"
    if reference:
        detail += f", reference facts loaded ({reference['region']} regions)"
    if not config.sources:
        detail = "no sources configured (add [[sources]] to optimizer.toml)"
    status = (
        "failed" if failures and not (files or clouds_ok) else ("partial" if failures else "ok")
    )
    return StageResult(
        "collect",
        status,
        detail=detail,
        exit_code=3 if failures else 0,
        data={
            "failures": failures,
            "not_built": unbuilt,
            "rows": rows,
            "rows_written": written,
            "api_calls": calls,
            "reference_loaded": reference,
        },
    )


def _reference_if_missing(engine: Engine, config: Config) -> dict[str, int]:
    """No source brings region, latency or egress facts: a store without them gets the
    shipped snapshot's (`optimizer collect reference`) before the first collect."""
    from optimizer.reference import has_reference, load_reference

    if not config.sources or has_reference(engine):
        return {}
    return load_reference(engine)


def forecast_stage(engine: Engine, config: Config, hooks: Hooks) -> StageResult:
    """Every series ([forecast] series narrows it) on the configured engine; the audit
    event follows the runner's own write transaction."""
    from forecasts.runner import forecast_store
    from optimizer.audit_events import forecast_run

    fc = config.forecast
    outcome = forecast_store(
        engine, fc.settings(), fc.engine_choice(), fc.series, fc.history_days, bar=hooks.bar
    )
    forecast_run(engine, outcome.results, outcome.problems, outcome.counts, fc.series)
    total = len(outcome.results) + len(outcome.problems)
    models = ", ".join(f"{m} {n}" for m, n in sorted(outcome.models().items()))
    detail = (
        f"{total} series ({models or 'none'}), {outcome.counts.get('fallback', 0)} fallback, "
        f"{outcome.failed} failed, {outcome.anomalies()} spend anomalies"
    )
    status = "ok" if not outcome.failed else ("failed" if outcome.failed == total else "partial")
    return StageResult(
        "forecast",
        status,
        detail=detail,
        exit_code=3 if outcome.failed else 0,
        data={"series": total, "failed": outcome.failed, "models": outcome.models()},
    )


def plan_stage(engine: Engine, config: Config, hooks: Hooks) -> StageResult:
    """Plan with the configured policy file; recommendations go to the store."""
    from optimizer.planning import run_plan
    from policies import load_policies, policies_sha256

    path = config.policies_path()
    if path is None:
        return StageResult(
            "plan",
            "failed",
            exit_code=2,
            detail="no policy file: set [policies] path in optimizer.toml",
        )
    plan_id, solution, recs = run_plan(
        engine, load_policies(path), policies_sha256(path), sizing=config.sizing.settings()
    )
    gap = "-" if solution.gap is None else f"{solution.gap:.2%}"
    savings = sum((Decimal(r["monthly_savings"]) for r in recs), Decimal(0))
    return StageResult(
        "plan",
        "ok",
        detail=f"plan {plan_id}: {len(recs)} recommendation(s), "
        f"${savings:,.2f}/month, gap {gap} to the LP bound",
        data={
            "plan_id": plan_id,
            "recommendations": len(recs),
            "gap": solution.gap,
            "monthly_savings_usd": str(savings),
        },
    )


StageFn = Callable[[Engine, Config, Hooks], StageResult]
BUILT: dict[str, StageFn] = {
    "collect": collect_stage,
    "forecast": forecast_stage,
    "plan": plan_stage,
    "apply": apply_stage,
    "report": report_stage,
}


def run_pipeline(
    engine: Engine,
    config: Config,
    stages: tuple[str, ...] = STAGES,
    on_stage: Callable[[StageResult], None] | None = None,
    hooks: Hooks | None = None,
) -> tuple[int, list[StageResult]]:
    """Run the stages in order and record the run; returns (run id, results).
    The whole story (lock, resume, stop, stale guard): optimizer/nightly.py."""
    from optimizer.nightly import run_nightly

    outcome = run_nightly(engine, config, stages, on_stage=on_stage, hooks=hooks)
    return outcome.run_id, outcome.results

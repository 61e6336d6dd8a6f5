"""Make one weekly report (gather → write → deliver → audit), for the CLI and the
nightly pipeline's `report` stage.

The stage writes under `[report] out_dir` (default `reports/` beside optimizer.toml),
one folder per ISO week (`2026-W47/`): re-running it in the same week rewrites that
week's folder, so it is idempotent. Each report written is one `report` audit event
(what was written where and to whom it was sent); the store is otherwise only read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Engine

from optimizer.report.data import gather
from optimizer.report.deliver import DeliveryError, post_webhook, send_email, summary_payload
from optimizer.report.model import ReportData, as_json, usd
from optimizer.report.output import write_report
from optimizer.report.settings import ReportSettings
from store.errors import OptimizerError

if TYPE_CHECKING:
    from optimizer.config import Config
    from optimizer.pipeline import Hooks, StageResult


@dataclass(frozen=True)
class Outcome:
    data: ReportData
    out_dir: Path
    files: dict[str, Path]
    delivered: tuple[str, ...] = ()
    failures: tuple[str, ...] = field(default_factory=tuple)


def headline(data: ReportData) -> str:
    t = data.totals
    return (
        f"week {data.week.label}: usage spend {usd(t.week)} (week before "
        f"{usd(t.previous_week)}), open savings {usd(t.open_savings)}/month in "
        f"{t.open_recommendations} recommendation(s), {t.anomalies_in_week} anomal"
        f"{'y' if t.anomalies_in_week == 1 else 'ies'} this week, "
        f"{t.applied_in_week} applied, {t.rolled_back_in_week} rolled back"
    )


def make_report(
    engine: Engine,
    settings: ReportSettings,
    out_dir: Path,
    week_of: date | None = None,
    stale_after_hours: float = 48.0,
    now: datetime | None = None,
    per_week: bool = False,
) -> Outcome:
    """Gather, write and deliver (webhook, e-mail as configured); a delivery failure is
    kept in `failures`, never lost files. `per_week` puts the files in `out_dir/<week>`."""
    from optimizer.audit_events import record

    data = gather(engine, settings, week_of, stale_after_hours, now)
    folder = out_dir / data.week.label if per_week else out_dir
    files = write_report(data, folder)
    delivered: list[str] = []
    failures: list[str] = []
    report = as_json(data)
    if settings.webhook_url:
        try:
            status = post_webhook(
                settings.webhook_url,
                summary_payload(report, files["report.html"].resolve()),
                settings.webhook_timeout_seconds,
            )
            delivered.append(f"webhook {settings.webhook_url} (HTTP {status})")
        except DeliveryError as exc:
            failures.append(exc.message)
    if settings.email:
        try:
            send_email(
                settings.email,
                f"FinOps report {data.week.label}",
                headline(data) + "\n\nThe full report is attached (report.html).",
                files["report.html"],
            )
            delivered.append("e-mail to " + ", ".join(settings.email.to))
        except DeliveryError as exc:
            failures.append(exc.message)
    details: dict[str, Any] = {
        "week": data.week.label,
        "out_dir": str(folder.resolve()),
        "files": sorted(files),
        "usage_spend": report["totals"]["week"],
        "open_savings": report["totals"]["open_savings"],
        "delivered": delivered,
        "failures": failures,
    }
    record(engine, "report", data.week.label, details)
    return Outcome(data, folder, files, tuple(delivered), tuple(failures))


def report_stage(engine: Engine, config: Config, hooks: Hooks) -> StageResult:
    """The nightly `report` stage: this config's `[report]`, one folder per week."""
    from optimizer.pipeline import StageResult

    settings = config.report
    try:
        outcome = make_report(
            engine,
            settings,
            settings.out_path(config.base_dir),
            stale_after_hours=config.run.stale_after_hours,
            per_week=True,
        )
    except OptimizerError as exc:
        return StageResult("report", "failed", detail=exc.message, exit_code=exc.exit_code)
    detail = f"{outcome.out_dir}: {headline(outcome.data)}"
    if outcome.delivered:
        detail += "; sent: " + ", ".join(outcome.delivered)
    return StageResult(
        "report",
        "partial" if outcome.failures else "ok",
        detail=detail,
        exit_code=DeliveryError.exit_code if outcome.failures else 0,
        data={
            "out_dir": str(outcome.out_dir),
            "week": outcome.data.week.label,
            "delivered": list(outcome.delivered),
            "failures": list(outcome.failures),
        },
    )

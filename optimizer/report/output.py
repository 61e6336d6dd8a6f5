"""Write one report folder: report.html, report.json and a CSV per table.

Files are written to a temporary name and renamed, so a reader (a web server, a mail
job) never sees half a report.
"""

from __future__ import annotations

import csv
import io
import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from optimizer.report.html import render
from optimizer.report.model import ReportData, as_json
from store.errors import ConfigError
from store.money import money_str


def _cell(value: Any) -> Any:
    if value is None:
        return ""
    if hasattr(value, "as_tuple"):  # Decimal
        return money_str(value)
    if hasattr(value, "isoformat"):
        return value.isoformat()
    if isinstance(value, tuple | list):
        return " | ".join(str(v) for v in value)
    return value


def _csv(head: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(head)
    for row in rows:
        writer.writerow([_cell(v) for v in row])
    return buf.getvalue()


def csv_files(data: ReportData) -> dict[str, str]:
    """File name -> CSV text; the same values as report.json (exact money)."""
    spend = [
        (dim, s.key, d, v)
        for dim, group in (("cloud", data.by_cloud), ("service", data.by_service),
                           ("owner", data.by_owner))
        for s in group
        for d, v in zip(data.days, s.daily, strict=True)
        if v is not None
    ]  # fmt: skip
    forecast = [
        (b.key, d, b.p10[i], b.p50[i], b.p90[i], b.series)
        for b in data.bands
        for i, d in enumerate(data.days)
        if b.p50[i] is not None
    ]
    recs = [(r.id, r.kind, r.subject, r.status, r.status_by, r.status_reason, r.status_at,
             r.monthly_savings, r.monthly_savings_p10, r.monthly_savings_p90, r.one_off_cost,
             r.payback_days, r.current, r.proposed, r.reasons, r.alternatives)
            for r in data.recommendations]  # fmt: skip
    return {
        "spend.csv": _csv(("dimension", "key", "day", "usage_effective_cost"), spend),
        "forecast.csv": _csv(("cloud", "day", "p10", "p50", "p90", "series"), forecast),
        "anomalies.csv": _csv(
            (
                "day",
                "series",
                "provider",
                "service",
                "actual",
                "lower",
                "upper",
                "excess",
                "check",
                "in_week",
            ),
            [
                (
                    a.day,
                    a.series,
                    a.provider,
                    a.service,
                    a.actual,
                    a.lower,
                    a.upper,
                    a.excess,
                    a.check,
                    a.in_week,
                )
                for a in data.anomalies
            ],
        ),
        "savings.csv": _csv(
            ("kind", "status", "count", "monthly_savings"),
            [(s.kind, s.status, s.count, s.monthly_savings) for s in data.savings],
        ),
        "recommendations.csv": _csv(
            (
                "id",
                "kind",
                "subject",
                "status",
                "status_by",
                "status_reason",
                "status_at",
                "monthly_savings",
                "monthly_savings_p10",
                "monthly_savings_p90",
                "one_off_cost",
                "payback_days",
                "current",
                "proposed",
                "reasons",
                "alternatives",
            ),
            recs,
        ),
        "applied.csv": _csv(
            (
                "id",
                "recommendation_id",
                "subject",
                "provider",
                "target",
                "action",
                "status",
                "actor",
                "bytes",
                "objects",
                "created_at",
                "rolled_back_at",
                "error",
            ),
            [
                (
                    a.id,
                    a.recommendation_id,
                    a.subject,
                    a.provider,
                    a.target,
                    a.action,
                    a.status,
                    a.actor,
                    a.bytes,
                    a.objects,
                    a.created_at,
                    a.rolled_back_at,
                    a.error,
                )
                for a in data.applied
            ],
        ),
        "freshness.csv": _csv(
            (
                "source",
                "kind",
                "status",
                "last_success_at",
                "data_end",
                "rows",
                "age_hours",
                "stale",
                "detail",
            ),
            [
                (
                    f.source,
                    f.kind,
                    f.status,
                    f.last_success_at,
                    f.data_end,
                    f.rows,
                    f.age_hours,
                    f.stale,
                    f.detail,
                )
                for f in data.freshness
            ],
        ),
    }


def _write(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_report(data: ReportData, out_dir: Path) -> dict[str, Path]:
    """Write every file of the report into `out_dir` (created); name -> path."""
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(
            f"cannot create the report folder {out_dir}: {exc.strerror}",
            where=str(out_dir),
            fix="pass a writable --out DIR, or set [report] out_dir in optimizer.toml",
        ) from exc
    files = {
        "report.html": render(data),
        "report.json": json.dumps(as_json(data), indent=2) + "\n",
        **csv_files(data),
    }
    written = {}
    for name, text in files.items():
        _write(out_dir / name, text)
        written[name] = out_dir / name
    return written

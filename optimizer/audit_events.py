"""The audit events of the pipeline's state changes (the log itself: store/audit.py).

Who: `OPTIMIZER_ACTOR` when set, else the OS user (`--by` arrives with approvals).
What: one `collect` event per source run (a file, a cloud source, the reference
snapshot), one `plan` event per plan, one `forecast` event per forecast run. Each is
written in the transaction of the change when the caller has it open, else right after
the change committed (the collectors and the forecast stage own their transactions).
"""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterable, Mapping
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import Connection, Engine

from store.audit import Event, append
from store.errors import OptimizerError

ACTOR_ENV = "OPTIMIZER_ACTOR"


def actor() -> str:
    """Who is acting: `OPTIMIZER_ACTOR`, else the login name, else the uid."""
    named = os.environ.get(ACTOR_ENV, "").strip()
    if named:
        return named
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no login name and no passwd entry (some containers)
        return f"uid:{os.getuid()}" if hasattr(os, "getuid") else "unknown"


def record(
    target: Engine | Connection,
    action: str,
    subject: str | None,
    details: Mapping[str, Any] | None = None,
) -> Event:
    """Append one event: in `target`'s open transaction, or in a new one on an engine."""
    if isinstance(target, Connection):
        return append(target, actor(), action, subject, details)
    with target.begin() as conn:
        return append(conn, actor(), action, subject, details)


def _window(start: datetime | None, end: datetime | None) -> list[datetime] | None:
    return [start, end] if start is not None and end is not None else None


def collected(
    target: Engine | Connection,
    kind: str,
    source: str,
    status: str,
    rows: int | Mapping[str, int],
    window: list[Any] | None,
    **extra: Any,
) -> Event:
    """The one event of a source run."""
    details = {"type": kind, "source": source, "status": status, "rows": rows, "window": window}
    return record(target, "collect", source, {**details, **extra})


def file_run(
    engine: Engine,
    kind: str,
    path: Path,
    summary: Any = None,
    error: OptimizerError | None = None,
    source_key: str | None = None,
) -> Event | None:
    """A file collector's run (kind: focus, usage, export:<format>): its summary, or the
    error that kept the file out. A dry run changed nothing and records nothing."""
    if summary is None:
        source = source_key or f"{kind}:{path.expanduser().resolve()}"
        message = error.message if error is not None else "unknown error"
        return collected(engine, kind, source, "failed", 0, None, path=str(path), error=message)
    if getattr(summary, "dry_run", False):
        return None
    extra: dict[str, Any] = {"path": summary.path}
    if hasattr(summary, "rows_written"):  # usage samples
        rows, window = summary.rows_written, _window(summary.first, summary.last)
        extra["quarantined"] = sum(summary.quarantined.values())
        status = "ok"
    else:  # cost records (FOCUS or a native export mapped to FOCUS)
        rows, window = summary.rows, _window(summary.period_start, summary.period_end)
        extra["rows_replaced"] = summary.rows_replaced
        extra["billed_cost_total"] = summary.billed_cost_total
        status = "unchanged" if summary.unchanged else "ok"
    return collected(engine, kind, summary.source_key, status, rows, window, **extra)


def cloud_run(engine: Engine, kind: str, result: Mapping[str, Any]) -> Event:
    """A cloud collector's run, from its summary's `as_dict()`."""
    extra = {"api_calls": result["api_calls"], "quarantined": result["quarantined"]}
    if result["status"] not in ("ok", "no_data"):
        extra["detail"] = result["detail"]
    return collected(
        engine, kind, result["source"], result["status"], result["rows"], result["window"], **extra
    )


def forecast_run(
    target: Engine | Connection,
    results: Iterable[Any],
    problems: Iterable[Any],
    counts: Mapping[str, int],
    pattern: str | None,
) -> Event:
    """A forecast run that stored its results: series, statuses and chosen models."""
    models: dict[str, int] = {}
    listed = list(results)
    for r in listed:
        if r.model:
            models[r.model] = models.get(r.model, 0) + 1
    details = {
        "series": len(listed) + len(list(problems)),
        "counts": dict(counts),
        "models": models,
        "pattern": pattern,
    }
    return record(target, "forecast", pattern or "*", details)

"""Bookkeeping of sources and ingested files: what came from where, and when."""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from store.costs import CostTotals
from store.models import IngestedFile, SourceState
from store.types import utcnow


def record_file(conn: Connection, source_key: str, path: str, sha256: str, t: CostTotals) -> None:
    conn.execute(
        sa.insert(IngestedFile).values(
            source_key=source_key,
            path=path,
            sha256=sha256,
            rows=t.rows,
            billed_cost_total=t.billed_cost,
            effective_cost_total=t.effective_cost,
            period_start=t.period_start,
            period_end=t.period_end,
            ingested_at=utcnow(),
        )
    )


def record_source_success(
    conn: Connection, source_key: str, source_type: str, t: CostTotals, detail: str | None = None
) -> None:
    now = utcnow()
    table = SourceState.__table__  # type: ignore[attr-defined]
    conn.execute(sa.delete(table).where(table.c.source_key == source_key))
    conn.execute(
        sa.insert(table).values(
            source_key=source_key,
            source_type=source_type,
            last_attempt_at=now,
            last_success_at=now,
            last_status="ok",
            detail=detail,
            rows=t.rows,
            period_start=t.period_start,
            period_end=t.period_end,
            watermark=t.period_end,
        )
    )


def record_source_failure(conn: Connection, source_key: str, source_type: str, detail: str) -> None:
    """Mark the last attempt failed; what the source last brought in stays as it was."""
    table = SourceState.__table__  # type: ignore[attr-defined]
    now = utcnow()
    updated = conn.execute(
        sa.update(table)
        .where(table.c.source_key == source_key)
        .values(last_attempt_at=now, last_status="failed", detail=detail)
    ).rowcount
    if not updated:
        conn.execute(
            sa.insert(table).values(
                source_key=source_key,
                source_type=source_type,
                last_attempt_at=now,
                last_status="failed",
                detail=detail,
                rows=0,
            )
        )


def unchanged_file(conn: Connection, source_key: str, sha256: str) -> bool:
    """True when the source's last ingest was this exact file and its rows are all there."""
    files = IngestedFile.__table__  # type: ignore[attr-defined]
    last = conn.execute(
        sa.select(files.c.sha256, files.c.rows)
        .where(files.c.source_key == source_key)
        .order_by(files.c.id.desc())
        .limit(1)
    ).first()
    if last is None or last.sha256 != sha256:
        return False
    from store.models import CostRecord

    records = CostRecord.__table__  # type: ignore[attr-defined]
    present = conn.execute(
        sa.select(sa.func.count()).select_from(records).where(records.c.source_key == source_key)
    ).scalar_one()
    return int(present) == int(last.rows)

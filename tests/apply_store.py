"""Stores holding approved tiering recommendations, for the apply tests of every cloud.

The rows have the shape `optimizer plan` writes (see placement/tiering.py), so the
apply engine reads them exactly as it reads a planned store's.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal
from typing import Any

from sqlalchemy.engine import Engine
from sqlmodel import Session

from store.models import Plan, Recommendation, StorageGroup
from store.types import utcnow


def approved_tiering(
    engine: Engine,
    *,
    provider: str,
    bucket: str,
    action: str = "lifecycle",
    current: str = "STANDARD",
    tier: str = "STANDARD_IA",
    after_days: int | None = 30,
    prefix: str = "",
    bytes_: int = 10**12,
    objects: int = 1000,
    rules: list[dict[str, Any]] | None = None,
    account: str | None = "123456789012",
    region: str = "us-east-1",
    saving: str = "100.00",
    status: str = "approved",
) -> int:
    """One storage group and one recommendation for it; returns the recommendation id.
    `rules`: the lifecycle rules the plan saw (None: never collected, as with FOCUS)."""
    name = f"{provider}:{bucket}" + (f"/{prefix.rstrip('/')}" if prefix else "")
    now = utcnow()
    where = {
        "provider": provider,
        "bucket": bucket,
        "prefix": prefix,
        "region": region,
        "bytes": bytes_,
        "objects": objects,
    }
    with Session(engine) as session:
        session.add(
            StorageGroup(
                name=name,
                provider=provider,
                account_id=account,
                region=region,
                bucket=bucket,
                prefix=prefix,
                tier=current,
                bytes=bytes_,
                objects=objects,
                lifecycle_rules=rules,
                updated_at=now,
            )
        )
        plan = Plan(created_at=now, kind="placement")
        session.add(plan)
        session.flush()
        rec = Recommendation(
            plan_id=plan.id,
            fingerprint=hashlib.sha256(f"{name}:{action}:{tier}".encode()).hexdigest(),
            kind="tiering",
            subject=name,
            current={**where, "action": "stay", "tier": current, "after_days": None},
            proposed={**where, "action": action, "tier": tier, "after_days": after_days},
            monthly_savings=Decimal(saving),
            one_off_cost=Decimal("1.00"),
            payback_days=1.0,
            reasons=["test"],
            status=status,
            status_by="ana" if status == "approved" else None,
            created_at=now,
        )
        session.add(rec)
        session.commit()
        assert rec.id is not None
        return rec.id

"""The recommendation lifecycle's human and policy decisions (issue #6 §1).

proposed → approved or rejected (by whom, when, why) → applied or failed → rolled back;
a plan marks what it no longer supports `superseded` (optimizer/planning.py).

- `decide` approves or rejects recommendations by id, all or none in one transaction: a
  decision is refused for an unknown id or one whose status does not allow it (applied,
  failed, superseded and rolled-back recommendations are history, not decisions).
  Re-deciding is allowed until applied: an approved one may be rejected and a rejected
  one approved, each with who, when and why.
- `auto_approve` applies the policy file's `approval` rules to a plan's proposed
  recommendations: one rule of an approval policy that selects the subject (workload or
  storage group) approves it when every limit it sets holds; the approver is recorded
  as `policy:<name>`. A recommendation lacking a fact a limit needs is not approved.

Every decision is an audit event (store/audit.py) in the decision's own transaction.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from policies import PolicyFile
from policies.change_rules import ApprovalPolicy
from store.audit import append
from store.errors import ConfigError
from store.models import Recommendation, StorageGroup, Workload
from store.types import utcnow

RECS: sa.Table = Recommendation.__table__  # type: ignore[attr-defined]
WORKLOADS: sa.Table = Workload.__table__  # type: ignore[attr-defined]
GROUPS: sa.Table = StorageGroup.__table__  # type: ignore[attr-defined]

# decision -> (statuses it may follow, the status it sets)
DECISIONS = {
    "approve": (("proposed", "rejected", "failed"), "approved"),
    "reject": (("proposed", "approved"), "rejected"),
}


@dataclass(frozen=True)
class Decided:
    id: int
    subject: str
    kind: str
    before: str
    after: str


def decide(
    engine: Engine,
    ids: Sequence[int],
    decision: str,
    by: str,
    reason: str | None = None,
    at: datetime | None = None,
) -> list[Decided]:
    """Approve or reject every id, or none (see module doc)."""
    allowed, status = DECISIONS[decision]
    if not by.strip():
        raise ConfigError("who decides is required", fix="pass --by NAME")
    wanted = sorted(set(ids))
    with engine.begin() as conn:
        rows = {
            r.id: r
            for r in conn.execute(
                sa.select(RECS.c.id, RECS.c.subject, RECS.c.kind, RECS.c.status).where(
                    RECS.c.id.in_(wanted)
                )
            )
        }
        missing = [i for i in wanted if i not in rows]
        if missing:
            raise ConfigError(
                f"no recommendation with id {', '.join(map(str, missing))}",
                fix="see `optimizer recommendations list --status all` for the ids",
            )
        refused = [f"#{i} is {rows[i].status}" for i in wanted if rows[i].status not in allowed]
        if refused:
            raise ConfigError(
                f"cannot {decision}: {'; '.join(refused)} (nothing was changed)",
                fix=f"only {' or '.join(allowed)} recommendations can be {status}; "
                "run `optimizer plan` for current ones",
            )
        when = at or utcnow()
        conn.execute(
            sa.update(RECS)
            .where(RECS.c.id.in_(wanted))
            .values(status=status, status_by=by.strip(), status_reason=reason, status_at=when)
        )
        for i in wanted:  # the decisions and their audit events commit together
            append(conn, by.strip(), decision, f"recommendation:{i}",
                   {"kind": rows[i].kind, "subject": rows[i].subject,
                    "from": rows[i].status, "to": status, "reason": reason}, ts=when)  # fmt: skip
    return [Decided(i, rows[i].subject, rows[i].kind, rows[i].status, status) for i in wanted]


@dataclass(frozen=True)
class SubjectFacts:
    """What an approval selector and its limits read of a recommendation's subject."""

    name: str
    provider: str | None
    tags: dict[str, Any]
    data_classification: str | None
    owner: str | None
    bytes_moved: int | None


def _subjects(conn: Connection, names: set[str]) -> dict[str, SubjectFacts]:
    out: dict[str, SubjectFacts] = {}
    if not names:
        return out
    for w in conn.execute(sa.select(WORKLOADS).where(WORKLOADS.c.name.in_(sorted(names)))):
        data = None if w.data_gb is None else int(float(w.data_gb) * 1e9)
        tags = w.tags if isinstance(w.tags, dict) else {}
        out[w.name] = SubjectFacts(w.name, w.provider, tags, w.data_classification, w.owner, data)
    for g in conn.execute(sa.select(GROUPS).where(GROUPS.c.name.in_(sorted(names)))):
        tags = g.tags if isinstance(g.tags, dict) else {}
        out[g.name] = SubjectFacts(g.name, g.provider, tags, None, g.owner, int(g.bytes))
    return out


def _bytes_moved(kind: str, facts: SubjectFacts) -> int | None:
    """Data a recommendation moves: a move carries the workload's data, tiering the
    group's bytes, a resize or purchase-option change none."""
    if kind in ("resize", "purchase-option"):
        return 0
    return facts.bytes_moved


def approving_rule(
    policies: PolicyFile, kind: str, facts: SubjectFacts, saving: Decimal, payback: float | None
) -> str | None:
    """The name of the first approval policy whose rule approves, else None."""
    for p in policies.policies:
        if not (isinstance(p, ApprovalPolicy) and p.enabled):
            continue
        if not p.applies_to(
            facts.name, facts.tags, facts.data_classification, facts.owner, facts.provider
        ):
            continue
        moved = _bytes_moved(kind, facts)
        if any(rule.approves(kind, moved, saving, payback) for rule in p.auto_approve):
            return p.name
    return None


def auto_approve(
    engine: Engine, plan_id: int, policies: PolicyFile, at: datetime | None = None
) -> list[Decided]:
    """Approve the plan's proposed recommendations that an approval rule covers."""
    if not any(isinstance(p, ApprovalPolicy) and p.enabled for p in policies.policies):
        return []
    when = at or utcnow()
    done: list[Decided] = []
    with engine.begin() as conn:
        recs = conn.execute(
            sa.select(
                RECS.c.id, RECS.c.subject, RECS.c.kind, RECS.c.monthly_savings,
                RECS.c.payback_days,
            ).where(RECS.c.plan_id == plan_id, RECS.c.status == "proposed")
        ).all()  # fmt: skip
        facts = _subjects(conn, {r.subject for r in recs})
        for r in recs:
            subject = facts.get(r.subject)
            if subject is None:
                continue
            name = approving_rule(
                policies, r.kind, subject, Decimal(r.monthly_savings), r.payback_days
            )
            if name is None:
                continue
            why = f"auto-approved by policy {name}"
            conn.execute(
                sa.update(RECS).where(RECS.c.id == r.id).values(
                    status="approved", status_by=f"policy:{name}", status_at=when,
                    status_reason=why,
                )
            )  # fmt: skip
            append(conn, f"policy:{name}", "approve", f"recommendation:{r.id}",
                   {"kind": r.kind, "subject": r.subject, "from": "proposed",
                    "to": "approved", "reason": why}, ts=when)  # fmt: skip
            done.append(Decided(r.id, r.subject, r.kind, "proposed", "approved"))
    return done

"""Recommendations in words: the cells of the plan and list tables, and the plain
sentences of `optimizer recommendations show` (placement kinds and tiering)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any


def usd_text(value: Decimal | str | None) -> str:
    return "-" if value is None else f"{Decimal(value):,.2f}"


def offers_text(placement: dict[str, Any] | None) -> str:
    """What a side of a recommendation is: a storage state's summary, or the offers."""
    if placement and placement.get("summary"):
        return str(placement["summary"])
    if not placement or not placement.get("offers"):
        return "unknown"
    return " + ".join(f"{o['replicas']}× {o['offer']}" for o in placement["offers"])


def days_text(value: float | None) -> str:
    return "-" if value is None else f"{value:,.1f}"


def _one_off_parts(state: dict[str, Any]) -> str:
    parts = state.get("one_off_usd") or {}
    names = {"transition": "transition requests", "early_deletion": "early-deletion charges"}
    found = [
        f"{names.get(k, k)} {usd_text(v)} USD" for k, v in parts.items() if Decimal(v or 0) > 0
    ]
    return ", ".join(found) or "requests"


def _explain_tiering(r: dict[str, Any]) -> list[str]:
    cur, new = r["current"] or {}, r["proposed"] or {}
    lines = [
        f"Recommendation {r['id']} ({r['status']}, plan {r['plan_id']}): re-tier the "
        f"storage group {r['subject']}.",
        f"Today it is stored in {offers_text(cur)}, "
        f"about {usd_text(cur.get('monthly_usd'))} USD a month.",
        f"Proposed: {offers_text(new)} ({float(new.get('share_moved', 0)):.0%} of the bytes end up "
        f"in {new.get('tier')}), about {usd_text(new.get('monthly_usd'))} USD a month.",
    ]
    saving = Decimal(r["monthly_savings"])
    lines.append(
        f"This saves about {usd_text(saving)} USD a month "
        f"(range {usd_text(r['monthly_savings_p10'])}–{usd_text(r['monthly_savings_p90'])} USD as "
        "access varies)."
    )
    one_off = Decimal(r["one_off_cost"])
    if one_off > 0:
        payback = r["payback_days"]
        lines.append(
            f"It costs {usd_text(one_off)} USD once ({_one_off_parts(new)})"
            + (f", paid back in about {payback:,.1f} days." if payback else ".")
        )
    else:
        lines.append("It costs nothing up front.")
    lines.append("Why:")
    lines.extend(f"  - {reason}" for reason in r["reasons"])
    if r["alternatives"]:
        lines.append("Next-best alternatives:")
        lines.extend(
            f"  - {a['offer']}: {usd_text(a['monthly_usd'])} USD/month, "
            f"{usd_text(a['one_off_usd'])} USD one-off"
            for a in r["alternatives"]
        )
    return lines


def explain(r: dict[str, Any]) -> list[str]:
    """A recommendation in plain sentences."""
    if r["kind"] == "tiering":
        return _explain_tiering(r)
    verb = {
        "move": "Move",
        "purchase-option": "Change the purchase option of",
        "resize": "Resize",
        "idle": "Confirm with its owner, then stop or delete the idle workload",
    }.get(r["kind"], "Change")
    lines = [
        f"Recommendation {r['id']} ({r['status']}, plan {r['plan_id']}): {verb} {r['subject']}.",
        f"Today it runs on {offers_text(r['current'])}.",
        f"Proposed: {offers_text(r['proposed'])}.",
    ]
    saving = Decimal(r["monthly_savings"])
    if saving > 0:
        lines.append(
            f"This saves about {usd_text(saving)} USD a month "
            f"(range {usd_text(r['monthly_savings_p10'])}–"
            f"{usd_text(r['monthly_savings_p90'])} USD)."
        )
    else:
        lines.append(f"This changes the monthly cost by {usd_text(-saving)} USD (no saving).")
    one_off = Decimal(r["one_off_cost"])
    if one_off > 0:
        payback = r["payback_days"]
        lines.append(
            f"It costs {usd_text(one_off)} USD once (data egress and the move itself)"
            + (f", paid back in about {payback:,.1f} days." if payback is not None else ".")
        )
    else:
        lines.append("It costs nothing up front.")
    lines.append("Why:")
    lines.extend(f"  - {reason}" for reason in r["reasons"])
    if r["alternatives"]:
        lines.append("Next-best alternatives (whole workload on one offer):")
        for a in r["alternatives"]:
            stay = " (stay as today)" if a.get("stays") else ""
            lines.append(
                f"  - {a['replicas']}× {a['offer']}{stay}: {usd_text(a['monthly_usd'])} USD/month, "
                f"{usd_text(a['one_off_usd'])} USD one-off"
            )
    return lines

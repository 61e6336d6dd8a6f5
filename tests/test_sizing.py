"""Sizing from recent utilization (issue #3 §2): by hand on tiny series and stores, and
on the demo estate checked from raw samples. Idle and anti-churn: test_sizing_rules.py,
which reuses the store helpers here."""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine
from sqlmodel import Session

from optimizer.config import load_config
from optimizer.planning import run_plan
from placement.build import build_problem
from placement.sizing import SizingSettings, Usage, idle_reason, percentile, size_workload
from placement.sizing_facts import load_usage, quantiles
from policies import PolicyFile, parse_policies
from store.errors import ConfigError
from store.models import PriceOffer, Region, UsageSample, Workload

END = datetime(2026, 11, 1, tzinfo=UTC)
NO_POLICIES = "version: 1\npolicies: []\n"
EU_ONLY = """version: 1
policies:
  - name: eu-only
    type: residency
    selector: {data_classification: eu-personal}
    allow: {jurisdictions: [EEA]}
"""
# One family in one region: the builder keeps the cheapest fitting offer and today's.
OFFERS = {
    "m.large": (2, 8.0, "0.10"),
    "m.xlarge": (4, 16.0, "0.20"),
    "m.2xlarge": (8, 32.0, "0.40"),
}


def policies(text: str = NO_POLICIES) -> PolicyFile:
    return parse_policies(text)


def budget(min_saving: float | None = None, payback: float | None = None) -> PolicyFile:
    lines = ["version: 1", "policies:", "  - name: anti-churn", "    type: change-budget"]
    if min_saving is not None:
        lines.append(f"    min_monthly_saving_usd: {min_saving}")
    if payback is not None:
        lines.append(f"    max_payback_days: {payback}")
    lines += [
        "  - name: eu-only",
        "    type: residency",
        "    selector: {data_classification: eu-personal}",
        "    allow: {jurisdictions: [EEA]}",
    ]
    return parse_policies("\n".join(lines) + "\n")


def seed_offers(engine: Engine) -> dict[str, int]:
    """Three sizes in aws eu-central-1, one in us-east-1; returns ids by type@region."""
    t0 = END - timedelta(days=90)
    with Session(engine) as s:
        s.add(Region(provider="aws", region="eu-central-1", country_code="DE", jurisdiction="EEA"))
        s.add(Region(provider="aws", region="us-east-1", country_code="US", jurisdiction="US"))
        rows = [
            PriceOffer(provider="aws", region="eu-central-1", instance_type=t, family="m",
                       vcpu=v, memory_gib=m, purchase_option="on_demand",
                       usd_per_hour=Decimal(p), valid_from=t0)
            for t, (v, m, p) in OFFERS.items()
        ] + [
            PriceOffer(provider="aws", region="us-east-1", instance_type="m.xlarge", family="m",
                       vcpu=4, memory_gib=16.0, purchase_option="on_demand",
                       usd_per_hour=Decimal("0.05"), valid_from=t0)
        ]  # fmt: skip
        s.add_all(rows)
        s.commit()
        return {f"{o.instance_type}@{o.region}": int(o.id or 0) for o in rows}


def add_workload(
    engine: Engine,
    name: str,
    instance_type: str,
    replicas: int,
    cpu: Callable[[int], float] | None,
    mem: Callable[[int], float] | None,
    days: int = 14,
    region: str = "eu-central-1",
    classification: str | None = None,
    end: datetime = END,
) -> None:
    """A workload on `instance_type` with `days` of hourly samples (per workload, summed
    over replicas, as the demo writes them) ending at `end`."""
    vcpu, memory = (4, 16.0) if region != "eu-central-1" else OFFERS[instance_type][:2]
    with Session(engine) as s:
        s.add(Workload(name=name, provider="aws", region=region, instance_type=instance_type,
                       replicas=replicas, vcpu=vcpu, memory_gib=memory, series_id=f"s-{name}",
                       data_classification=classification, data_gb=10.0))  # fmt: skip
        s.commit()
    rows = []
    for i in range(days * 24):
        ts = end - timedelta(hours=i + 1)
        if cpu is not None:
            rows.append(
                {"series_id": f"s-{name}", "metric": "cpu_cores", "ts": ts, "value": cpu(i)}
            )
        if mem is not None:
            rows.append(
                {"series_id": f"s-{name}", "metric": "memory_gib", "ts": ts, "value": mem(i)}
            )
    if rows:
        with engine.begin() as conn:
            conn.execute(sa.insert(UsageSample.__table__), rows)  # type: ignore[attr-defined]


def tenths(top: float) -> Callable[[int], float]:
    """A series cycling over top × 0.1, 0.2 … 1.0. Over 14 days (336 h) the p90 sits at
    0-based rank 301.5, inside the 33 copies of 0.9 × top: p90 = 0.9 × top."""
    return lambda i: top * ((i % 10) + 1) / 10


# --- pure arithmetic ---------------------------------------------------------------------


def test_p90_by_hand_on_a_tiny_series() -> None:
    # 10 values: 0-based position (10 − 1) × 0.9 = 8.1 → 9 + 0.1 × (10 − 9) = 9.1
    assert percentile([5, 1, 9, 3, 7, 2, 10, 4, 8, 6], 0.9) == pytest.approx(9.1)
    assert percentile([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], 0.1) == pytest.approx(1.9)
    assert percentile([4.0], 0.9) == 4.0
    values = [float(v) for v in np.random.default_rng(3).gamma(2.0, 1.5, 337)]
    assert percentile(values, 0.9) == pytest.approx(float(np.percentile(values, 90)))


def test_grouped_quantiles_match_numpy() -> None:
    rng = np.random.default_rng(5)
    groups = [rng.gamma(2.0, 1.5, n).round(4) for n in (1, 2, 5, 336, 336, 71)]
    got = quantiles([len(g) for g in groups], [",".join(map(repr, g.tolist())) for g in groups])
    for g, (p10, p90) in zip(groups, got, strict=True):
        assert p10 == pytest.approx(float(np.percentile(g, 10)), abs=1e-12)
        assert p90 == pytest.approx(float(np.percentile(g, 90)), abs=1e-12)
        assert p90 == pytest.approx(percentile(g.tolist(), 0.9), abs=1e-12)


def test_required_size_from_p90_and_targets() -> None:
    usage = Usage(336, 336, cpu_p90=2.4, memory_p10=9.0, memory_p90=9.6)
    s = size_workload(8, 32.0, 2, usage, SizingSettings())
    # per replica: 1.2 cores / 0.7 = 1.71 → 2 vCPU; 4.8 GiB / 0.8 = 6 GiB
    assert (s.vcpu, s.memory_gib, s.sized) == (2, 6.0, True)
    assert s.note.startswith(
        "sized from the p90 of the last 14 days of utilization (no forecast yet): "
        "needs 2 vCPU / 6 GiB per replica, has 8 / 32"
    )
    half = size_workload(8, 32.0, 2, usage, SizingSettings(target_cpu=0.5, target_memory=0.5))
    assert (half.vcpu, half.memory_gib) == (3, 9.6)
    tiny = size_workload(8, 32.0, 1, Usage(336, 336, 0.0, 0.1, 0.1), SizingSettings())
    assert tiny.vcpu == 1  # never below one vCPU


def test_too_few_or_no_samples_keep_the_recorded_size() -> None:
    few = Usage(71, 71, 0.1, 0.1, 0.1)  # 2.96 days of hourly samples < 3
    for usage in (None, few, Usage(0, 0, 0.0, 0.0, 0.0)):
        s = size_workload(8, 32.0, 2, usage, SizingSettings())
        assert (s.vcpu, s.memory_gib, s.sized) == (8, 32.0, False)
        assert "recorded size kept" in s.note
        assert idle_reason(8, 32.0, 2, usage, SizingSettings()) == ""
    off = size_workload(8, 32.0, 2, Usage(336, 336, 0.1, 0.1, 0.1), SizingSettings(enabled=False))
    assert (off.vcpu, off.memory_gib) == (8, 32.0) and "disabled" in off.note


def test_idle_rule() -> None:
    flat = Usage(336, 336, cpu_p90=0.1, memory_p10=2.0, memory_p90=2.5)
    # 2 replicas × 4 vCPU / 16 GiB: p90 0.05 cores per replica < 5 % of 4 = 0.2; memory
    # spread 0.25 GiB per replica ≤ 5 % of 16 = 0.8
    text = idle_reason(4, 16.0, 2, flat, SizingSettings())
    assert "confirm with the owner, then stop or delete" in text and "1.25%" in text
    busy = Usage(336, 336, cpu_p90=0.5, memory_p10=2.0, memory_p90=2.5)  # 0.25 ≥ 0.2
    moving = Usage(336, 336, cpu_p90=0.1, memory_p10=2.0, memory_p90=4.0)  # spread 1 > 0.8
    assert idle_reason(4, 16.0, 2, busy, SizingSettings()) == ""
    assert idle_reason(4, 16.0, 2, moving, SizingSettings()) == ""


def test_sizing_targets_from_config(tmp_path: Path) -> None:
    assert load_config(None).sizing.settings() == SizingSettings()
    toml = tmp_path / "optimizer.toml"
    toml.write_text("[sizing]\nwindow_days = 7\ntarget_cpu = 0.5\ntarget_memory = 0.9\n")
    assert load_config(toml).sizing.settings() == SizingSettings(7, 0.5, 0.9, True)
    toml.write_text("[sizing]\ntarget_cpu = 1.5\n")
    with pytest.raises(ConfigError, match=r"sizing\.target_cpu"):
        load_config(toml)


# --- the store: window, fallback, builder ------------------------------------------------


def test_load_usage_window_and_fallback(engine: Engine) -> None:
    seed_offers(engine)
    # Busy 20–15 days ago, quiet in the last 14 days: only the window counts.
    add_workload(engine, "web", "m.2xlarge", 2, tenths(2.4), lambda i: 9.6, days=14)
    with engine.begin() as conn:
        conn.execute(
            sa.insert(UsageSample.__table__),  # type: ignore[attr-defined]
            [{"series_id": "s-web", "metric": "cpu_cores", "value": 16.0,
              "ts": END - timedelta(days=15, hours=h)} for h in range(120)],
        )  # fmt: skip
    add_workload(engine, "new", "m.xlarge", 1, tenths(1.0), lambda i: 1.0, days=2)
    with engine.connect() as conn:
        usage, newest = load_usage(conn, SizingSettings())
    assert newest is not None and newest.replace(tzinfo=UTC) == END - timedelta(hours=1)
    web = usage["s-web"]
    cycle = [tenths(2.4)(i) for i in range(14 * 24)]
    assert web.cpu_samples == 336 and web.cpu_p90 == pytest.approx(percentile(cycle, 0.9))
    assert usage["s-new"].cpu_samples == 48
    problem = build_problem(engine, policies())
    d = {x.id: x for x in problem.demands}
    assert (d["new"].vcpu, d["new"].memory_gib) == (4, 16.0)  # 2 days < 3: recorded kept
    assert "only 2.0 day(s)" in d["new"].sizing_note
    assert (d["web"].vcpu, d["web"].memory_gib) == (2, 6.0)
    assert (d["web"].recorded_vcpu, d["web"].recorded_memory_gib) == (8, 32.0)


def test_resize_recommendation_on_a_hand_made_store(sqlite_engine: Engine) -> None:
    ids = seed_offers(sqlite_engine)
    add_workload(sqlite_engine, "web", "m.2xlarge", 2, tenths(2.4), lambda i: 9.6,
                 classification="eu-personal")  # fmt: skip
    _, _, recs = run_plan(sqlite_engine, policies(EU_ONLY), None, time_limit_s=5)
    (rec,) = recs
    assert rec["kind"] == "resize" and rec["subject"] == "web"
    assert [o["offer_id"] for o in rec["proposed"]["offers"]] == [ids["m.large@eu-central-1"]]
    # 2 replicas × (0.40 − 0.10) USD/h × 730 h; one move in-region: the fixed 50 USD
    assert Decimal(rec["monthly_savings"]) == Decimal("438")
    assert Decimal(rec["one_off_cost"]) == Decimal("50")
    assert any(
        r.startswith("sized from the p90 of the last 14 days of utilization (no forecast yet): "
                     "needs 2 vCPU / 6 GiB per replica, has 8 / 32")
        for r in rec["reasons"]
    )  # fmt: skip
    # p90 2.16 cores / 2 replicas = 1.08 / 0.7 → 2 vCPU; 9.6 / 2 / 0.8 = 6 GiB above.
    # Stricter targets: 1.08 / 0.5 → 3 vCPU, 4.8 / 0.5 = 9.6 GiB → m.xlarge
    strict = SizingSettings(target_cpu=0.5, target_memory=0.5)
    _, _, recs = run_plan(sqlite_engine, policies(EU_ONLY), None, time_limit_s=5, sizing=strict)
    assert [o["offer_id"] for o in recs[0]["proposed"]["offers"]] == [ids["m.xlarge@eu-central-1"]]


def test_undersized_workload_is_advised_not_forced(sqlite_engine: Engine) -> None:
    ids = seed_offers(sqlite_engine)
    # m.large (2 vCPU) at p90 1.8 cores: needs ceil(1.8 / 0.7) = 3 vCPU, but upsizing is
    # advice: it is planned at its recorded 2 vCPU and may stay; the flag carries the advice.
    add_workload(sqlite_engine, "hot", "m.large", 1, tenths(1.8), lambda i: 4.0)
    (d,) = build_problem(sqlite_engine, budget(min_saving=1000)).demands
    assert d.undersized and not d.must_move and d.vcpu == 2
    assert (
        ids["m.large@eu-central-1"] in d.eligible
        and d.current_offer_id == ids["m.large@eu-central-1"]
    )
    assert ids["m.xlarge@eu-central-1"] not in d.eligible  # costs more: anti-churn refuses it


# --- the demo estate, checked from raw samples -------------------------------------------


def test_demo_resizes_fit_the_p90_size_recomputed_from_raw_samples(demo_store: Engine) -> None:
    rules = parse_policies((Path(__file__).parents[1] / "examples/policies/all.yaml").read_text())
    _, _, recs = run_plan(demo_store, rules, None, time_limit_s=20)
    samples = UsageSample.__table__  # type: ignore[attr-defined]
    with demo_store.connect() as conn:
        newest = conn.execute(sa.text("SELECT MAX(ts) FROM usage_sample WHERE metric='cpu_cores'"))
        end = datetime.fromisoformat(str(newest.scalar())).replace(tzinfo=UTC)
        values: dict[tuple[str, str], list[float]] = defaultdict(list)
        query = sa.select(samples.c.series_id, samples.c.metric, samples.c.value).where(
            samples.c.ts > end - timedelta(days=14)
        )
        for sid, metric, value in conn.execute(query):
            values[sid, metric].append(value)
        workloads = {w.name: w for w in conn.execute(sa.select(Workload.__table__))}  # type: ignore[attr-defined]
        offers = {o.id: o for o in conn.execute(sa.select(PriceOffer.__table__))}  # type: ignore[attr-defined]
    current = [o for o in offers.values() if o.valid_to is None]
    resizes = [r for r in recs if r["kind"] == "resize"]
    assert resizes, "the demo estate has over- and under-sized workloads"
    for r in resizes:
        w = workloads[r["subject"]]
        cpu = float(np.percentile(values[w.series_id, "cpu_cores"], 90)) / w.replicas
        mem = float(np.percentile(values[w.series_id, "memory_gib"], 90)) / w.replicas
        need = (max(1, math.ceil(cpu / 0.7 - 1e-9)), mem / 0.8)
        if not any(o.vcpu >= need[0] and o.memory_gib >= need[1] for o in current):
            need = (w.vcpu, w.memory_gib)  # bigger than any offer: recorded size kept
        (today,) = [o for o in current if (o.provider, o.region, o.instance_type,
                    o.purchase_option) == (w.provider, w.region, w.instance_type,
                    w.purchase_option)][:1]  # fmt: skip
        if today.vcpu < need[0] or today.memory_gib < need[1]:
            need = (w.vcpu, w.memory_gib)  # undersized: planned at its recorded size
        for o in r["proposed"]["offers"]:
            offer = offers[o["offer_id"]]
            assert offer.vcpu >= need[0] and offer.memory_gib >= need[1] - 0.01, (r, need)
        assert any(x.startswith("sized from the p90 of the last 14 days") for x in r["reasons"])


def test_collector_cpu_percent_sizes_like_cores(engine: Engine) -> None:
    """Cloud collectors record `cpu_pct` of one instance: p90 in cores = p90 % × vCPU / 100,
    and a workload with `cpu_cores` samples keeps using those."""
    seed_offers(engine)
    add_workload(engine, "vm", "m.2xlarge", 1, None, None)
    add_workload(engine, "set", "m.large", 3, None, None)  # a scale set: mean % of 3
    add_workload(engine, "both", "m.xlarge", 1, lambda i: 1.0, None)
    pct = [10.0 + (i % 24) for i in range(14 * 24)]
    with engine.begin() as conn:
        conn.execute(
            sa.insert(UsageSample.__table__),  # type: ignore[attr-defined]
            [{"series_id": sid, "metric": "cpu_pct", "value": v,
              "ts": END - timedelta(hours=i + 1)}
             for sid in ("s-vm", "s-set", "s-both") for i, v in enumerate(pct)],
        )  # fmt: skip
    with engine.connect() as conn:
        usage, newest = load_usage(conn, SizingSettings())
    assert newest is not None
    assert usage["s-vm"].cpu_samples == 336
    assert usage["s-vm"].cpu_p90 == pytest.approx(percentile(pct, 0.9) * 8 / 100)
    assert usage["s-set"].cpu_p90 == pytest.approx(percentile(pct, 0.9) * 2 * 3 / 100)
    assert usage["s-both"].cpu_p90 == pytest.approx(1.0)


def test_a_zonal_workload_is_priced_by_its_regions_offer(sqlite_engine: Engine) -> None:
    """Collectors record the instance's zone; catalogs price per region."""
    ids = seed_offers(sqlite_engine)
    add_workload(sqlite_engine, "vm", "m.large", 1, None, None)
    with sqlite_engine.begin() as conn:
        conn.execute(sa.text("update workload set zone = 'eu-central-1a' where name = 'vm'"))
    problem = build_problem(sqlite_engine, policies())
    (demand,) = problem.demands
    assert demand.current_offer_id == ids["m.large@eu-central-1"] and not demand.must_move

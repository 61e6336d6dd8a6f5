"""`optimizer simulate` on the demo estate: EVERY file in examples/scenarios/ (a new file
is picked up by the glob), each checked for outputs that make sense, and the live store
byte-for-byte unchanged (its plans, recommendations, audit log and inputs)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optimizer.cli import main
from optimizer.demo.build import build_demo
from optimizer.planning import run_plan
from optimizer.simulate.load import LoadedScenario, ScenarioError, load_scenario, parse_scenario
from optimizer.simulate.outcome import Outcome
from optimizer.simulate.run import plan_baseline, simulate
from optimizer.simulate.scenario import DemandChange, PriceChange, RegionLoss
from policies import load_policies
from store.engine import make_engine
from store.migrate import upgrade

REPO = Path(__file__).resolve().parents[1]
POLICIES = REPO / "examples" / "policies" / "all.yaml"
SCENARIOS = sorted((REPO / "examples" / "scenarios").glob("*.yaml"))
LIMIT = 20.0  # solver seconds per plan, a ceiling: the 24-workload demo solves in < 1 s
LIVE_TABLES = (
    "plan",
    "recommendation",
    "audit_event",
    "run",
    "price_offer",
    "storage_tier_price",
    "workload",
    "usage_sample",
    "forecast",
    "forecast_point",
)


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, Path]]:
    """A small demo store (24 workloads: every example still changes something) with one
    recorded plan, as a live store looks."""
    root = tmp_path_factory.mktemp("simulate")
    path = root / "live.db"
    engine = make_engine(f"sqlite:///{path}")
    upgrade(engine)
    build_demo(engine, root / "out", workloads=24, storage_groups=4, days=60,
               end=datetime(2026, 11, 1, tzinfo=UTC))  # fmt: skip
    run_plan(engine, load_policies(POLICIES), None, time_limit_s=LIMIT)
    yield engine, path
    engine.dispose()


@pytest.fixture(scope="module")
def baseline(live: tuple[Engine, Path]) -> Outcome:
    """Planned once: every scenario compares against the same live store and policies."""
    return plan_baseline(live[0], POLICIES, time_limit_s=LIMIT)


def fingerprint(engine: Engine) -> dict[str, str]:
    """A hash of every row of the tables simulate must never write."""
    out: dict[str, str] = {}
    with engine.connect() as conn:
        for table in LIVE_TABLES:
            digest = hashlib.sha256()
            for row in conn.execute(sa.text(f"SELECT * FROM {table} ORDER BY id")):
                digest.update(repr(tuple(row)).encode())
            out[table] = digest.hexdigest()
    return out


def money(value: str) -> Decimal:
    return Decimal(value)


def share(outcome: dict[str, Any], cloud: str) -> Decimal:
    total = sum((money(v) for v in outcome["per_cloud"].values()), Decimal(0))
    return money(outcome["per_cloud"].get(cloud, "0")) / total if total else Decimal(0)


def check_makes_sense(loaded: LoadedScenario, report: dict[str, Any]) -> None:
    base, what_if = report["baseline"], report["what_if"]
    assert base["status"] in ("ok", "partial")
    assert report["live_store_written"] is False
    assert len(report["scenario"]["applied"]) == len(loaded.scenario.changes)
    for outcome in (base, what_if):
        if outcome["status"] == "infeasible":
            continue
        clouds = sum((money(v) for v in outcome["per_cloud"].values()), Decimal(0))
        fees = money(outcome["commitment_fees"])
        assert abs(clouds + fees - money(outcome["monthly_cost"])) <= Decimal("0.05")
    d = report["delta"]
    moved = what_if["placed"] != base["placed"]
    assert moved or money(d["monthly_cost"]) or money(d["tiering_savings"]) or d["moves"], (
        "an example scenario should change the plan on the demo estate"
    )
    changes = [c.value for c in loaded.scenario.changes]
    kinds = {c.kind for c in loaded.scenario.changes}
    for c in changes:
        if isinstance(c, RegionLoss):
            assert f"{c.cloud}:{c.region}" not in what_if["placed"]
            there = f"{c.cloud}:{c.region}"  # a zone name starts with its region's
            moved = [i for i in report["placement_changed"] if there in (i["baseline"] or "")]
            assert all(there not in (i["scenario"] or "") for i in moved)
    if "lose_cloud" in kinds:
        for c in loaded.scenario.changes:
            if c.kind == "lose_cloud":
                assert not [k for k in what_if["placed"] if k.startswith(f"{c.value}:")]
                assert money(what_if["per_cloud"].get(c.value, "0")) == 0
    if kinds == {"price"} and all(isinstance(c, PriceChange) and c.multiply for c in changes):
        up = {c.cloud for c in changes if c.multiply and c.multiply > 1}
        down = {c.cloud for c in changes if c.multiply and c.multiply < 1}
        for cloud in up - down - {None}:  # dearer there: its share of the cost does not grow
            assert share(what_if, str(cloud)) <= share(base, str(cloud)) + Decimal("0.001")
        if not up:  # only cheaper: the plan costs no more
            assert money(what_if["monthly_cost"]) <= money(base["monthly_cost"]) + 1
    if kinds == {"demand"} and all(
        isinstance(c, DemandChange) and c.multiplier > 1 for c in changes
    ):
        assert money(what_if["monthly_cost"]) > money(base["monthly_cost"])
    if "add_commitment" in kinds:
        assert money(what_if["commitment_fees"]) > 0
        names = {c["name"].split("[")[0] for c in what_if["commitments"]}
        assert any(n.startswith("scenario-commitment-") for n in names)
    for c in loaded.scenario.changes:
        if c.kind == "remove_policy":
            assert c.value not in {b["policy"] for b in what_if["binding"]}
            assert c.value not in what_if["restricting"]
        if c.kind == "add_policy":
            named = {b["policy"] for b in what_if["binding"]} | set(what_if["restricting"])
            assert c.value.name in named, "the added policy changes what workloads may use"


def test_there_are_example_scenarios() -> None:
    assert len(SCENARIOS) >= 5


@pytest.mark.parametrize("path", SCENARIOS, ids=[p.stem for p in SCENARIOS])
def test_example_scenario(live: tuple[Engine, Path], baseline: Outcome, path: Path) -> None:
    engine, _ = live
    before = fingerprint(engine)
    loaded = load_scenario(path)
    report = simulate(engine, loaded, POLICIES, time_limit_s=LIMIT, baseline=baseline)
    assert fingerprint(engine) == before, "simulate wrote the live store"
    if path.stem == SCENARIOS[0].stem:  # once: a baseline planned here is the shared one
        alone = simulate(engine, loaded, POLICIES, time_limit_s=LIMIT)
        same = {k: v for k, v in alone["baseline"].items() if k != "seconds"}
        assert same == {k: v for k, v in report["baseline"].items() if k != "seconds"}
        assert fingerprint(engine) == before
    json.dumps(report)  # JSON-ready as it is (money as decimal strings)
    check_makes_sense(loaded, report)


def test_unknown_region_names_the_regions_that_exist(live: tuple[Engine, Path]) -> None:
    engine, _ = live
    text = "name: x\nchanges:\n  - lose_region: {cloud: aws, region: eu-west-9}\n"
    loaded = parse_scenario(text, "typo.yaml", REPO)
    with pytest.raises(ScenarioError) as err:
        simulate(engine, loaded, POLICIES, time_limit_s=LIMIT)
    assert "typo.yaml:3" in str(err.value) and "eu-west-9" in str(err.value)
    assert err.value.fix and "eu-west-1" in err.value.fix and "us-east-1" in err.value.fix


def test_unknown_cloud_in_a_price_change_and_an_empty_selector(live: tuple[Engine, Path]) -> None:
    engine, _ = live
    text = "name: x\nchanges:\n  - price: {family: m99, multiply: 2}\n"
    with pytest.raises(ScenarioError, match="no current offer matches") as err:
        simulate(engine, parse_scenario(text, "s.yaml", REPO), POLICIES, time_limit_s=LIMIT)
    assert err.value.fix and "m5" in err.value.fix
    text = "name: x\nchanges:\n  - demand: {select: {owners: [nobody]}, factor: 2}\n"
    with pytest.raises(ScenarioError, match="matches no workload") as err:
        simulate(engine, parse_scenario(text, "s.yaml", REPO), POLICIES, time_limit_s=LIMIT)
    assert err.value.fix and "checkout" in err.value.fix


def test_policy_changes_are_validated_as_a_policy_file(live: tuple[Engine, Path]) -> None:
    engine, _ = live
    text = "name: x\nchanges:\n  - remove_policy: no-such-policy\n"
    with pytest.raises(ScenarioError, match="no policy named") as err:
        simulate(engine, parse_scenario(text, "s.yaml", REPO), POLICIES, time_limit_s=LIMIT)
    assert err.value.fix and "no-spot-in-prod" in err.value.fix
    text = (
        "name: x\nchanges:\n  - change_policy:\n      name: nightly-change-budget\n"
        "      set: {max_moves_per_run: -3}\n"
    )
    with pytest.raises(ScenarioError, match=r"s\.yaml:3.*nightly-change-budget.*max_moves_per_run"):
        simulate(engine, parse_scenario(text, "s.yaml", REPO), POLICIES, time_limit_s=LIMIT)


def cli_main(*args: str) -> int:
    """The console entry point in this process (a subprocess costs seconds of imports)."""
    with pytest.raises(SystemExit) as done:
        main(list(args))
    return int(done.value.code or 0)


def test_cli_json(live: tuple[Engine, Path], capfd: pytest.CaptureFixture[str]) -> None:
    _, path = live
    lose = REPO / "examples" / "scenarios" / "lose-region-eu-west-1.yaml"
    cut = REPO / "examples" / "scenarios" / "gcp-price-cut.yaml"
    args = ("--db", str(path), "--json", "simulate", "--policies", str(POLICIES))
    assert cli_main(*args, "--time-limit", str(LIMIT), str(lose)) == 0
    report = json.loads(capfd.readouterr().out)
    assert report["scenario"]["name"] == "lose-region-eu-west-1"
    assert "aws:eu-west-1" not in report["what_if"]["placed"]
    assert cli_main(*args, str(lose), str(cut)) == 0  # two scenarios, one baseline
    both = json.loads(capfd.readouterr().out)
    assert [r["scenario"]["name"] for r in both] == ["lose-region-eu-west-1", "gcp-price-cut"]
    assert both[0]["baseline"] == both[1]["baseline"]
    assert both[0]["delta"] == report["delta"]


def test_cli_exit_code_on_a_bad_scenario(
    live: tuple[Engine, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    _, path = live
    bad = path.parent / "bad.yaml"
    bad.write_text("name: x\nchanges:\n  - lose_cloud: oracle\n", encoding="utf-8")
    assert cli_main("--db", str(path), "simulate", str(bad), "--policies", str(POLICIES)) == 2
    err = capfd.readouterr().err
    assert "bad.yaml:3" in err and "changes[0].lose_cloud" in err and "To fix" in err


TINY_QUOTAS = """
name: tiny-quotas
description: quotas no plan can meet
changes:
  - add_policy:
      name: tiny
      type: capacity
      quotas:
        - {provider: gcp, region: europe-west1, max_vcpu: 1}
        - {provider: gcp, region: us-east1, max_vcpu: 1}
        - {provider: aws, region: us-west-2, max_vcpu: 1}
        - {provider: aws, region: eu-north-1, max_vcpu: 1}
"""


def test_a_scenario_no_plan_can_meet_is_reported_not_raised(
    live: tuple[Engine, Path], capfd: pytest.CaptureFixture[str]
) -> None:
    _, path = live
    scenario = path.parent / "tiny.yaml"
    scenario.write_text(TINY_QUOTAS, encoding="utf-8")
    args = ("--db", str(path), "simulate", str(scenario), "--policies", str(POLICIES))
    assert cli_main(*args) == 0
    out = capfd.readouterr().out
    assert "infeasible" in out and "scenario plan failed" in out and "tiny" in out
    assert cli_main("--json", *args) == 0
    report = json.loads(capfd.readouterr().out)
    assert report["what_if"]["status"] == "infeasible" and report["what_if"]["error"]
    assert report["delta"]["monthly_cost"] is None and report["placement_changed"] == []

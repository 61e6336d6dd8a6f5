"""The scenario file format: what it accepts, and errors that name file, line, change and
key with a fix (no store needed); plus the PostgreSQL store copy."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optimizer.simulate.copy import PLANNER_TABLES, copy_store
from optimizer.simulate.load import ScenarioError, load_scenario, parse_scenario
from optimizer.simulate.policy_edits import edited_policies
from optimizer.simulate.scenario import DemandChange, describe
from policies import CommitmentsPolicy, ResidencyPolicy

REPO = Path(__file__).resolve().parents[1]
POLICIES = REPO / "examples" / "policies" / "all.yaml"


def parse(text: str) -> object:
    return parse_scenario(text, "s.yaml", REPO)


def error(text: str) -> ScenarioError:
    with pytest.raises(ScenarioError) as err:
        parse(text)
    return err.value


def test_every_kind_of_change_reads() -> None:
    loaded = parse_scenario(
        """
name: all-kinds
description: one of each
changes:
  - price: {cloud: aws, instance_type: "m5.*", purchase_option: commitment, multiply: 1.1}
  - storage_price: {cloud: gcp, tier: ARCHIVE, set_usd_per_gb_month: 0.001}
  - demand: {select: {tags: {env: [prod, staging]}, names: ["*-api-*"]}, growth_pct: -20}
  - lose_region: {cloud: azure, region: westeurope}
  - lose_cloud: gcp
  - add_policy: {name: no-spot-anywhere, type: spot, allow: false}
  - remove_policy: no-spot-in-prod
  - change_policy: {name: nightly-change-budget, set: {max_moves_per_run: 5}}
  - add_policies_from: ../examples/policies/residency.yaml
  - replace_policies: ../examples/policies/all.yaml
  - add_commitment:
      {kind: cud, provider: gcp, region: us-east1, family: n2-standard, vcpu: 16,
       expires: 2030-01-01, discount_pct: 37}
""",
        "s.yaml",
        REPO / "tests",
    )
    kinds = [c.kind for c in loaded.scenario.changes]
    assert kinds == [
        "price", "storage_price", "demand", "lose_region", "lose_cloud", "add_policy",
        "remove_policy", "change_policy", "add_policies_from", "replace_policies",
        "add_commitment",
    ]  # fmt: skip
    demand = loaded.scenario.changes[2].value
    assert isinstance(demand, DemandChange) and demand.multiplier == Decimal("0.8")
    assert loaded.lines[0] == 5 and loaded.lines[-1] == 15
    assert loaded.resolve("../x.yaml") == REPO / "tests" / ".." / "x.yaml"
    assert "price × 1.1" in describe(loaded.scenario.changes[0])


def test_a_typo_names_the_line_the_change_and_a_guess() -> None:
    e = error("name: x\nchanges:\n  - price:\n      cloud: aws\n      multipy: 1.3\n")
    assert str(e).startswith("s.yaml:5: changes[0].price.multipy: unknown key 'multipy'")
    assert e.fix and "did you mean 'multiply'" in e.fix


def test_an_unknown_change_lists_the_kinds() -> None:
    e = error("name: x\nchanges:\n  - lose_zone: {cloud: aws}\n")
    assert "s.yaml:3" in str(e) and "lose_zone" in str(e)
    assert e.fix and "lose_region" in e.fix and "add_commitment" in e.fix


def test_two_keys_in_one_change_and_no_way_to_change_a_price() -> None:
    e = error("name: x\nchanges:\n  - lose_cloud: aws\n    remove_policy: p\n")
    assert "s.yaml:3: changes[0]: a change needs exactly one of" in str(e)
    assert "found lose_cloud, remove_policy" in str(e)
    e = error("name: x\nchanges:\n  - price: {cloud: aws}\n")
    assert "s.yaml:3" in str(e) and "`multiply` or `set_usd_per_hour`" in str(e)


def test_an_unknown_cloud_says_which_exist() -> None:
    e = error("name: x\nchanges:\n  - lose_cloud: oracle\n")
    assert "s.yaml:3: changes[0].lose_cloud:" in str(e) and "'aws', 'azure' or 'gcp'" in str(e)


def test_an_inline_policy_is_checked_with_the_policy_models() -> None:
    e = error(
        "name: x\nchanges:\n  - add_policy:\n      name: p\n      type: residency\n"
        "      allow:\n        jurisdictions: [EEA]\n        colour: blue\n"
    )
    assert str(e).startswith("s.yaml:8: changes[0].add_policy.allow.colour: unknown key")


def test_selector_needs_all_or_a_narrowing() -> None:
    e = error("name: x\nchanges:\n  - demand: {select: {}, factor: 2}\n")
    assert "s.yaml:3" in str(e) and "all: true" in str(e)


def test_syntax_errors_duplicates_and_missing_files() -> None:
    e = error("name: x\nchanges:\n  - price: {cloud: aws\n")
    assert str(e).startswith("s.yaml:") and "YAML syntax error" in str(e)
    e = error("name: x\nname: y\nchanges: []\n")
    assert "s.yaml:2: 'name' is written twice" in str(e)
    e = error("name: x\nchanges: []\n")
    assert "changes" in str(e)
    with pytest.raises(ScenarioError, match="scenario file not found"):
        load_scenario(REPO / "nope.yaml")


def test_policy_changes_make_one_valid_policy_file() -> None:
    loaded = parse_scenario(
        """
name: p
changes:
  - remove_policy: no-spot-in-prod
  - add_policy:
      name: everything-in-the-eea
      type: residency
      allow: {jurisdictions: [EEA]}
  - change_policy: {name: nightly-change-budget, set: {max_moves_per_run: 60}}
  - add_commitment:
      {kind: savings-plan, provider: aws, usd_per_hour: 3, expires: 2030-01-01,
       discount_pct: 30}
""",
        "s.yaml",
        REPO,
    )
    policies, notes = edited_policies(POLICIES, loaded)
    assert policies.get("no-spot-in-prod") is None
    assert isinstance(policies.get("everything-in-the-eea"), ResidencyPolicy)
    assert policies.get("nightly-change-budget").max_moves_per_run == 60  # type: ignore[union-attr]
    bought = policies.get("scenario-commitment-4")
    assert isinstance(bought, CommitmentsPolicy) and bought.items[0].usd_per_hour == 3
    assert len(notes) == 4


def test_a_clashing_policy_name_is_an_error_at_its_change() -> None:
    loaded = parse(
        "name: x\nchanges:\n  - add_policy: {name: no-spot-in-prod, type: spot, allow: false}\n"
    )
    with pytest.raises(ScenarioError, match=r"s\.yaml:3: add_policy: .*already used"):
        edited_policies(POLICIES, loaded)  # type: ignore[arg-type]


def test_postgres_store_is_copied_table_by_table(pg_engine: Engine, tmp_path: Path) -> None:
    from datetime import UTC, datetime

    from optimizer.demo.build import build_demo

    end = datetime(2026, 11, 1, tzinfo=UTC)
    build_demo(pg_engine, tmp_path / "out", workloads=6, storage_groups=2, days=60, end=end)
    copy = copy_store(pg_engine, tmp_path / "copy.db")
    try:
        for table in PLANNER_TABLES:
            count = f"SELECT count(*) FROM {table}"
            with pg_engine.connect() as a, copy.connect() as b:
                assert a.execute(sa.text(count)).scalar() == b.execute(sa.text(count)).scalar()
        with copy.connect() as b:
            assert b.execute(sa.text("SELECT count(*) FROM plan")).scalar() == 0
    finally:
        copy.dispose()

"""Verdicts of policies on workload × offer pairs, and `policy explain` on a demo store."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy.engine import Engine

from policies import parse_policies
from policies.evaluate import (
    OfferFacts,
    RegionFacts,
    WorkloadFacts,
    applicable,
    evaluate,
    side_constraints,
)

REGIONS = {
    ("aws", "eu-central-1"): RegionFacts("DE", "EU", 50.11, 8.68),
    ("aws", "us-east-1"): RegionFacts("US", "US", 38.9, -77.0),
    ("gcp", "europe-west1"): RegionFacts("BE", "EU", 50.45, 3.82),
    ("azure", "norwayeast"): RegionFacts("NO", "EEA", 59.9, 10.7),
    ("aws", "mystery-1"): RegionFacts(None, None, None, None),
}
MEASURED = {("aws", "eu-central-1", "aws", "us-east-1"): 89.0}

POLICIES = parse_policies(
    """
version: 1
policies:
  - name: eu-stays-in-eea
    type: residency
    selector: {data_classification: eu-personal}
    allow: {jurisdictions: [EEA]}
  - name: near-users
    type: latency
    selector: {owners: [web]}
    from: user_regions
    max_rtt_ms: 40
  - name: calm-spot-only
    type: spot
    max_share: 0.5
    max_interruption_bucket: 1
  - name: closed
    type: capacity
    exclude: [{provider: azure}]
  - name: two-regions
    type: spread
    selector: {tags: {env: prod}}
    min_regions: 2
  - name: budget
    type: change-budget
    max_moves_per_run: 5
""",
    "test.yaml",
)


def workload(**kw: object) -> WorkloadFacts:
    base: dict[str, object] = dict(
        name="wl",
        provider="aws",
        region="eu-central-1",
        tags={"env": "prod"},
        data_classification="eu-personal",
        owner="web",
        user_regions=("aws:eu-central-1",),
    )
    base.update(kw)
    return WorkloadFacts(**base)  # type: ignore[arg-type]


def verdict(
    w: WorkloadFacts, provider: str, region: str, option: str = "on_demand", bucket: int | None = 0
):  # type: ignore[no-untyped-def]
    offer = OfferFacts(provider, region, "x.large", option, "x", bucket)
    return evaluate(
        applicable(POLICIES, w),
        w,
        offer,
        lambda p, r: REGIONS.get((p, r)),
        lambda a, b, c, d: MEASURED.get((a, b, c, d)),
    )


def test_residency_admits_eea_and_fails_closed_on_unknown_country() -> None:
    w = workload(owner="batch")
    assert verdict(w, "gcp", "europe-west1").allowed
    out = verdict(w, "aws", "us-east-1")
    assert not out.allowed and "outside EEA" in out.reasons[0].text
    assert out.reasons[0].policy == "eu-stays-in-eea"
    assert "country unknown" in verdict(w, "aws", "mystery-1").reasons[0].text
    assert verdict(
        workload(data_classification="public", owner="batch"), "aws", "us-east-1"
    ).allowed


def test_latency_measured_and_estimated() -> None:
    w = workload(data_classification="public")
    far = verdict(w, "aws", "us-east-1")  # measured in the reverse direction: 89 ms
    assert not far.allowed and "89 ms" in far.reasons[0].text and "measured" in far.reasons[0].text
    near = verdict(w, "gcp", "europe-west1")  # never measured: estimated from distance
    assert near.allowed and "estimated" in near.notes[0].text
    assert verdict(w, "aws", "eu-central-1").allowed  # same region


def test_spot_bucket_and_capacity_exclusion() -> None:
    w = workload(data_classification="public", owner="batch")
    assert verdict(w, "aws", "eu-central-1", "spot", bucket=1).allowed
    risky = verdict(w, "aws", "eu-central-1", "spot", bucket=3)
    assert "15-20%" in risky.reasons[0].text
    assert "unknown" in verdict(w, "aws", "eu-central-1", "spot", bucket=None).reasons[0].text
    assert verdict(w, "azure", "norwayeast").reasons[0].policy == "closed"


def test_side_constraints_and_selection() -> None:
    w = workload()
    names = {p.name for p in applicable(POLICIES, w)}
    assert names == {
        "eu-stays-in-eea",
        "near-users",
        "calm-spot-only",
        "closed",
        "two-regions",
        "budget",
    }
    texts = [r.text for r in side_constraints(applicable(POLICIES, w), w)]
    assert "at most 50% of replicas on spot" in texts
    assert "replicas spread over at least 2 regions" in texts
    dev = workload(tags={"env": "dev"}, owner="batch", data_classification="public")
    assert {p.name for p in applicable(POLICIES, dev)} == {"calm-spot-only", "closed", "budget"}


def test_explain_on_the_demo_is_policy_clean(demo_store: Engine) -> None:
    from optimizer.explain import explain_workload
    from policies import load_policies

    examples = Path(__file__).resolve().parents[1] / "examples" / "policies" / "all.yaml"
    policies = load_policies(examples)
    import sqlalchemy as sa

    with demo_store.connect() as conn:
        eu = conn.execute(
            sa.text("SELECT name FROM workload WHERE data_classification = 'eu-personal' LIMIT 1")
        ).scalar_one()
        jurisdictions = dict(
            conn.execute(
                sa.text("SELECT provider || ':' || region, jurisdiction FROM region")
            ).all()
        )
    result = explain_workload(demo_store, policies, eu, top=50)
    assert result.offers_considered > result.eligible > 0
    assert sum(result.ruled_out_by.values()) >= result.offers_considered - result.eligible
    assert result.ruled_out_by["eu-personal-data-stays-in-eea"] > 0
    for cheap in result.cheapest:  # an independent check of residency on what is left
        where = cheap["offer"].split()[0]
        assert jurisdictions[where] in ("EU", "EEA"), cheap
    assert json.dumps(result.__dict__, default=lambda o: o.__dict__)

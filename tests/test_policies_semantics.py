"""What policies mean: selector matching, units, and the small pure rule helpers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from pydantic import ValidationError

from policies import (
    AutoApproval,
    CapacityPolicy,
    ChangeBudgetPolicy,
    Commitment,
    LatencyPolicy,
    ResidencyAllow,
    Selector,
    SpotPolicy,
    TieringPolicy,
)
from policies.units import format_duration, parse_bytes, parse_duration_ms
from policies.vocab import countries_of

# --- selectors ---------------------------------------------------------------------------


def test_empty_selector_matches_everything() -> None:
    assert Selector().is_everything()
    assert Selector().matches("anything")
    assert Selector().matches("x", {"env": "prod"}, "eu-personal", "payments", "aws")


def test_selector_conditions_are_anded() -> None:
    sel = Selector.model_validate(
        {
            "workloads": ["payments-*"],
            "tags": {"env": ["prod", "staging"]},
            "data_classification": "eu-personal",
            "owners": ["payments"],
            "providers": ["aws", "gcp"],
        }
    )
    facts = {
        "tags": {"env": "prod"},
        "data_classification": "eu-personal",
        "owner": "payments",
        "provider": "aws",
    }
    assert sel.matches("payments-api-prod-001", **facts)  # type: ignore[arg-type]
    assert not sel.matches("checkout-api-prod-001", **facts)  # type: ignore[arg-type]
    assert not sel.matches("payments-api", {"env": "dev"}, "eu-personal", "payments", "aws")
    assert not sel.matches("payments-api", {"env": "prod"}, "us-only", "payments", "aws")
    assert not sel.matches("payments-api", {"env": "prod"}, "eu-personal", "search", "aws")
    assert not sel.matches("payments-api", {"env": "prod"}, "eu-personal", "payments", "azure")


def test_selector_missing_facts_do_not_match() -> None:
    sel = Selector.model_validate({"owners": ["payments"], "tags": {"env": "prod"}})
    assert not sel.matches("w", tags=None, owner="payments")
    assert not sel.matches("w", tags={"env": "prod"}, owner=None)


def test_tag_values_are_globs_and_star_means_present() -> None:
    sel = Selector.model_validate({"tags": {"cost-center": "*", "env": "prod*"}})
    assert sel.matches("w", {"cost-center": "CC-1000", "env": "prod-eu"})
    assert not sel.matches("w", {"env": "prod"})  # no cost-center tag
    numeric = Selector.model_validate({"tags": {"tier": 1, "public": True}})
    assert numeric.matches("w", {"tier": "1", "public": True})
    assert numeric.matches("w", {"tier": 1, "public": "true"})


def test_labels_are_a_synonym_of_tags_but_not_both() -> None:
    sel = Selector.model_validate({"labels": {"app.kubernetes.io/part-of": "shop"}})
    assert sel.matches("w", {"app.kubernetes.io/part-of": "shop"})
    assert not sel.matches("w", {"app.kubernetes.io/part-of": "blog"})
    with pytest.raises(ValidationError, match="both `tags` and `labels`"):
        Selector.model_validate({"tags": {"env": "prod"}, "labels": {"app": "x"}})


def test_empty_condition_lists_are_refused() -> None:
    with pytest.raises(ValidationError):
        Selector.model_validate({"owners": []})
    with pytest.raises(ValidationError):
        Selector.model_validate({"providers": []})


def test_selector_is_frozen() -> None:
    sel = Selector.model_validate({"owners": ["a"]})
    with pytest.raises(ValidationError):
        sel.owners = ("b",)  # type: ignore[misc]


# --- units -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "ms"),
    [
        ("100ms", 100),
        ("5s", 5_000),
        ("5m", 300_000),
        ("12h", 43_200_000),
        ("2d", 172_800_000),
        ("1h30m", 5_400_000),
        ("1.5h", 5_400_000),
        (" 1H ", 3_600_000),
        ("0ms", 0),
    ],
)
def test_parse_duration(text: str, ms: int) -> None:
    assert parse_duration_ms(text) == ms


@pytest.mark.parametrize("text", ["", "5", "ms", "5 minutes", "1w", "0.5ms", "h1", "-5m"])
def test_parse_duration_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration_ms(text)


def test_format_duration_round_trips() -> None:
    for ms in (1, 100, 1_500, 60_000, 5_400_000, 43_200_000, 86_400_000, 0):
        assert parse_duration_ms(format_duration(ms)) == ms
    assert format_duration(300_000) == "5m"


@pytest.mark.parametrize(
    ("text", "size"),
    [("1024", 1024), ("500GiB", 500 * 2**30), ("2TB", 2 * 10**12), ("1.5 kb", 1500)],
)
def test_parse_bytes(text: str, size: int) -> None:
    assert parse_bytes(text) == size


@pytest.mark.parametrize("text", ["", "GiB", "5 XB", "0.5B"])
def test_parse_bytes_refuses(text: str) -> None:
    with pytest.raises(ValueError):
        parse_bytes(text)


# --- rule helpers ------------------------------------------------------------------------


def test_residency_jurisdictions_cover_their_countries() -> None:
    eea = ResidencyAllow.model_validate({"jurisdictions": ["EEA"]})
    eu = ResidencyAllow.model_validate({"jurisdictions": ["EU"]})
    assert countries_of("EEA") - countries_of("EU") == {"IS", "LI", "NO"}
    assert eea.admits("azure", "norwayeast", "NO", "EEA")
    assert not eu.admits("azure", "norwayeast", "NO", "EEA")
    assert eu.admits("aws", "eu-central-1", "DE", "EU")
    assert not eu.admits("aws", "eu-west-2", "GB", "UK")
    uk = ResidencyAllow.model_validate({"jurisdictions": ["UK"]})
    assert uk.admits("aws", "eu-west-2", "GB", "UK")
    # country unknown: the stored jurisdiction decides; neither known: refused
    assert eea.admits("gcp", "new-region1", None, "EU")
    assert not eea.admits("gcp", "new-region1", None, None)
    named = ResidencyAllow.model_validate({"regions": ["gcp:us-east4"]})
    assert named.admits("gcp", "us-east4") and not named.admits("gcp", "us-east1", "US")


def test_latency_from_a_single_region() -> None:
    policy = LatencyPolicy.model_validate(
        {"name": "l", "type": "latency", "from": "aws:eu-west-1", "max_rtt_ms": 20}
    )
    assert not policy.uses_user_regions()
    assert policy.fixed_regions() == (("aws", "eu-west-1"),)
    by_name = LatencyPolicy(name="l", type="latency", from_=["user_regions"], max_rtt_ms=5)
    assert by_name.uses_user_regions()


def test_spot_caps() -> None:
    spot = SpotPolicy.model_validate({"name": "s", "type": "spot", "max_interruption_bucket": 1})
    assert spot.share_cap() == 1.0
    assert spot.admits_bucket(0) and spot.admits_bucket(1)
    assert not spot.admits_bucket(2) and not spot.admits_bucket(None)
    off = SpotPolicy.model_validate({"name": "s", "type": "spot", "allow": False, "max_share": 0})
    assert off.share_cap() == 0.0 and not off.admits_bucket(0)


def test_capacity_quota_for_takes_the_tightest_cap() -> None:
    cap = CapacityPolicy.model_validate(
        {
            "name": "c",
            "type": "capacity",
            "quotas": [
                {"provider": "aws", "region": "eu-central-1", "max_vcpu": 100},
                {"provider": "aws", "region": "eu-central-1", "family": "r6i", "max_vcpu": 40},
            ],
            "exclude": [{"provider": "gcp", "region": "europe-west2"}],
        }
    )
    assert cap.quota_for("aws", "eu-central-1", "r6i") == 40
    assert cap.quota_for("aws", "eu-central-1", "m6i") == 100
    assert cap.quota_for("aws", "eu-west-1", "m6i") is None
    assert cap.excludes("gcp", "europe-west2") and not cap.excludes("gcp", "europe-west1")


def test_change_budget_worth_moving() -> None:
    budget = ChangeBudgetPolicy.model_validate(
        {
            "name": "b",
            "type": "change-budget",
            "min_monthly_saving_usd": "50",
            "max_payback_days": 90,
        }
    )
    assert budget.worth_moving(Decimal("50"), 90)
    assert not budget.worth_moving(Decimal("49.99"), 10)
    assert not budget.worth_moving(Decimal("500"), 91)


def test_tiering_exclusions_and_latency() -> None:
    tiering = TieringPolicy.model_validate(
        {
            "name": "t",
            "type": "tiering",
            "max_retrieval_latency": "5m",
            "exclude": ["legal-hold-*", "lake/hot/", "logs/audit"],
        }
    )
    assert tiering.excludes("legal-hold-2024")
    assert tiering.excludes("legal-hold-2024", "any/prefix/")
    assert tiering.excludes("lake", "hot/") and tiering.excludes("lake", "hot/2024/")
    assert not tiering.excludes("lake", "cold/")
    assert tiering.excludes("logs", "audit/2024/")
    assert not tiering.excludes("logs", "app/")
    assert tiering.admits_tier(None) and tiering.admits_tier(300_000)
    assert not tiering.admits_tier(3_600_000)


def test_commitment_rules() -> None:
    ri = Commitment.model_validate(
        {
            "kind": "reserved-instance",
            "provider": "aws",
            "region": "eu-west-1",
            "vcpu": 8,
            "expires": "2027-03-31",
        }
    )
    assert ri.active_on(date(2027, 3, 31)) and not ri.active_on(date(2027, 4, 1))
    bad: list[tuple[dict[str, object], str]] = [
        ({"kind": "cud", "provider": "gcp", "vcpu": 8}, "bought for one region"),
        ({"kind": "savings-plan", "provider": "aws"}, "has no size"),
        (
            {
                "kind": "reserved-instance",
                "provider": "azure",
                "region": "westeurope",
                "usd_per_hour": 1,
            },
            "commits vCPUs",
        ),
        (
            {"kind": "cud", "provider": "gcp", "region": "us-east1", "vcpu": 8, "usd_per_hour": 1},
            "both `vcpu` and `usd_per_hour`",
        ),
        (
            {
                "kind": "reserved-instance",
                "provider": "aws",
                "region": "us-east-1",
                "vcpu": 8,
                "family": "m6i",
                "instance_type": "m6i.large",
            },
            "both `family` and `instance_type`",
        ),
    ]
    for fields, words in bad:
        with pytest.raises(ValidationError, match=words):
            Commitment.model_validate({**fields, "expires": "2027-01-01"})


def test_auto_approval_needs_every_limited_fact() -> None:
    rule = AutoApproval.model_validate(
        {"kinds": ["tiering"], "max_bytes": "1TiB", "max_payback_days": 30}
    )
    assert rule.approves("tiering", bytes_moved=2**39, payback_days=3)
    assert not rule.approves("tiering", bytes_moved=2**41, payback_days=3)
    assert not rule.approves("tiering", bytes_moved=2**39)  # payback unknown
    assert not rule.approves("move", bytes_moved=1, payback_days=1)
    saving = AutoApproval.model_validate({"kinds": "resize", "max_monthly_saving_usd": "200"})
    assert saving.approves("resize", monthly_saving_usd=Decimal("199.99"))
    assert not saving.approves("resize", monthly_saving_usd=Decimal("200.01"))

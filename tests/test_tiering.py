"""Storage tiering, the pure part: hand-computed costs per provider, early deletion,
minimum billable sizes, the latency SLO, exclusions and minimum age, rule vs one-off.

Money is integer micro-USD; a GB is 2^30 bytes; a month is 365/12 days.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from placement.tiering import DAYS_PER_MONTH, Access, GroupFacts, TierFacts
from placement.tiering_decide import decide, options, rules_for, to_recommendation
from placement.tiering_facts import tier_facts
from placement.tiering_options import Rules
from policies.loader import parse_policies

GIB = 2**30
ACCESS = Access((10.0, 10.0, 10.0), (1000.0, 1000.0, 1000.0), 30)
OPEN = Rules(policies=("p",), restore_allowed=True)  # a policy selects, no limits

S3_STANDARD = TierFacts("STANDARD", 0, 23_000, 0, 400, 5_000)
S3_IA = TierFacts("STANDARD_IA", 2, 12_500, 10_000, 1_000, 10_000, 30, 128)
S3_GIR = TierFacts("GLACIER_IR", 4, 4_000, 30_000, 10_000, 20_000, 90, 128)
S3_GLACIER = TierFacts("GLACIER", 5, 3_600, 10_000, 50_000, 30_000, 90, 0, 8, 32,
                       5 * 3_600_000.0, True)  # fmt: skip
S3_DEEP = TierFacts("DEEP_ARCHIVE", 6, 990, 20_000, 100_000, 50_000, 180, 0, 8, 32,
                    12 * 3_600_000.0, True)  # fmt: skip


def group(**kw: object) -> GroupFacts:
    base: dict[str, object] = dict(
        name="aws:acme-data", provider="aws", region="us-east-1", bucket="acme-data",
        prefix="", tier="STANDARD", bytes=1000 * GIB, objects=1000,
        median_age_days=200.0, oldest_age_days=400.0, tags={"env": "prod"},
    )  # fmt: skip
    base.update(kw)
    return GroupFacts(**base)  # type: ignore[arg-type]


def by(opts: list, action: str, tier: str):  # type: ignore[no-untyped-def, type-arg]
    return next(o for o in opts if o.action == action and o.tier == tier)


def test_aws_standard_to_ia_lifecycle_hand_computed() -> None:
    g = group()
    d = decide(g, {"STANDARD": S3_STANDARD, "STANDARD_IA": S3_IA}, ACCESS, OPEN)
    assert d is not None
    stay = d.current.monthly[1]
    assert (stay.storage, stay.retrieval, stay.requests) == (23_000_000, 0, 400)
    # Rule after 30 days (S3: 30 days in Standard first); ages: newest 0, median 200,
    # oldest 400, so 0.5 × 30/200 = 7.5% of the bytes are younger than 30 days.
    life = by(list(d.ranked), "lifecycle", "STANDARD_IA")
    assert life.after_days == 30 and life.share == pytest.approx(0.925)
    m = life.monthly[1]
    assert m.storage == 1_725_000 + 11_562_500  # 75 GB × 0.023 + 925 GB × 0.0125
    assert m.retrieval == 92_500  # 92.5% of 10 GB × 0.01
    assert m.requests == 30 + 925  # 75 GETs at 0.0004 USD/1k + 925 at 0.001 USD/1k
    # New objects: 1000 objects × 0.5/200 a day × 30.42 days × 0.01 USD / 1k transitions
    assert m.transitions == round(1000 * 0.5 / 200 * DAYS_PER_MONTH * 10)
    assert life.transition_once == 9_250  # 925 objects × 0.01 USD / 1k
    assert life.early_deletion_once == 0
    assert d.chosen == life  # data keeps arriving: the rule beats the one-off move
    rec = to_recommendation(d, {"STANDARD": S3_STANDARD, "STANDARD_IA": S3_IA})
    assert rec.kind == "tiering" and rec.subject == g.name
    assert rec.proposed["summary"].startswith("lifecycle rule: transition objects older than 30")
    saving = 23_000_400 - m.total
    assert rec.monthly_savings * 1_000_000 == saving
    assert rec.payback_days == pytest.approx(round(9_250 / (saving / DAYS_PER_MONTH), 1))


def test_gcp_coldline_option_hand_computed() -> None:
    std = TierFacts("STANDARD", 0, 20_000, 0, 400, 5_000)
    cold = TierFacts("COLDLINE", 2, 4_000, 20_000, 10_000, 20_000, 90)
    g = group(provider="gcp", region="europe-west1", bytes=500 * GIB, objects=5000,
              median_age_days=100.0, oldest_age_days=300.0)  # fmt: skip
    access = Access((5.0, 5.0, 5.0), (2000.0, 2000.0, 2000.0), 30)
    opts, _ = options(g, {"STANDARD": std, "COLDLINE": cold}, access, OPEN)
    life = by(opts, "lifecycle", "COLDLINE")
    assert life.after_days == 1  # GCS has no days-in-Standard rule; a rule needs ≥ 1 day
    share = 1 - 0.5 * 1 / 100
    m = life.monthly[1]
    assert m.storage == round((1 - share) * 500 * 20_000 + share * 500 * 4_000)
    assert m.retrieval == round(share * 5 * 20_000)
    assert m.requests == round((1 - share) * 2000 * 0.4 + share * 2000 * 10)


def test_azure_missing_retrieval_price_is_a_stated_default_not_free() -> None:
    row = SimpleNamespace(
        tier="Cool", usd_per_gb_month="0.01", retrieval_usd_per_gb=None,
        min_storage_days=30, min_billable_kb=0, first_byte_latency_ms=None,
    )  # fmt: skip
    cool = tier_facts("azure", row)
    assert cool is not None and cool.retrieval_per_gb == 10_000
    assert any("not in the price data" in n for n in cool.notes)
    hot = tier_facts("azure", SimpleNamespace(tier="Hot", usd_per_gb_month="0.0184",
                     retrieval_usd_per_gb="0", min_storage_days=0, min_billable_kb=0,
                     first_byte_latency_ms=None))  # fmt: skip
    assert hot is not None
    g = group(provider="azure", tier="Hot", bucket="stdata001/logs", bytes=2000 * GIB,
              objects=2000, median_age_days=1000.0, oldest_age_days=1100.0)  # fmt: skip
    opts, _ = options(g, {"Hot": hot, "Cool": cool}, ACCESS, OPEN)
    one = by(opts, "one-off", "Cool")
    # Newest object is 2×1000−1100 = 900 days old: nothing arrives, the whole group moves.
    assert one.share == 1.0
    m = one.monthly[1]
    assert (m.storage, m.retrieval) == (2000 * 10_000, 10 * 10_000)
    assert one.transition_once == 2000 * 10  # Cool write 0.01 USD / 1k blobs


def test_early_deletion_of_the_current_class_is_charged() -> None:
    # In Standard-IA (30-day minimum), a one-off move of every object (min age 0) to
    # Glacier IR pays the days the young objects still owe: ∫0..30 (30 − a) × 0.5/200 da.
    g = group(tier="STANDARD_IA")
    tiers = {"STANDARD": S3_STANDARD, "STANDARD_IA": S3_IA, "GLACIER_IR": S3_GIR}
    opts, _ = options(g, tiers, ACCESS, OPEN)
    one = by(opts, "one-off", "GLACIER_IR")
    owed = 0.5 / 200 * 30**2 / 2  # 1.125 share-days
    assert one.early_deletion_once == round(1000 * 12_500 * owed / DAYS_PER_MONTH)
    life = by(opts, "lifecycle", "GLACIER_IR")
    assert life.after_days == 30 and life.early_deletion_once == 0  # the rule waits it out


def test_expiring_objects_are_not_sent_to_a_class_they_cannot_stay_in() -> None:
    g = group(expire_after_days=80)
    tiers = {"STANDARD": S3_STANDARD, "STANDARD_IA": S3_IA, "GLACIER": S3_GLACIER}
    opts, _ = options(g, tiers, Access((0, 0, 0), (0, 0, 0)), OPEN)
    assert not any(o.tier == "GLACIER" for o in opts)  # 80 − 1 days < Glacier's 90
    assert any(o.tier == "STANDARD_IA" for o in opts)


def test_minimum_billable_object_size_rules_out_ia_and_glacier_pays_overhead() -> None:
    # 64 KB objects, all old (newest 800 days): a one-off move takes every object.
    small = group(objects=1000 * GIB // (64 * 1024), median_age_days=900.0, oldest_age_days=1000.0)
    tiers = {"STANDARD": S3_STANDARD, "STANDARD_IA": S3_IA, "GLACIER": S3_GLACIER}
    opts, excluded = options(small, tiers, Access((0, 0, 0), (0, 0, 0)), OPEN)
    assert not any(o.tier == "STANDARD_IA" for o in opts)
    assert any("128 KB minimum billable size" in e for e in excluded)
    glacier = by(opts, "one-off", "GLACIER")
    # 40 KB per object: 8 KB at Standard's price and 32 KB at Glacier's.
    overhead = small.objects * (8 * 23_000 + 32 * 3_600) / 2**20
    assert glacier.monthly[1].storage == round(1000 * 3_600 + overhead)


def test_latency_slo_excludes_restore_classes() -> None:
    tiers = {"STANDARD": S3_STANDARD, "GLACIER": S3_GLACIER, "DEEP_ARCHIVE": S3_DEEP}
    quiet = Access((0, 0, 0), (0, 0, 0))
    hour = Rules(policies=("p",), max_latency_ms=3_600_000.0, restore_allowed=True)
    opts, excluded = options(group(), tiers, quiet, hour)
    assert {o.tier for o in opts} == {"STANDARD"}
    assert sum("slower than the 1 h retrieval SLO" in e for e in excluded) == 2
    half_day = Rules(policies=("p",), max_latency_ms=12 * 3_600_000.0, restore_allowed=True)
    assert {o.tier for o in options(group(), tiers, quiet, half_day)[0]} == {
        "STANDARD", "GLACIER", "DEEP_ARCHIVE"}  # fmt: skip
    # No policy states an SLO for the group: restore classes are never proposed.
    opts, excluded = options(group(), tiers, quiet, Rules())
    assert {o.tier for o in opts} == {"STANDARD"}
    assert all("needs a restore" in e for e in excluded)


POLICIES = """
version: 1
policies:
  - name: tier-prod
    type: tiering
    selector: {tags: {env: prod}}
    min_object_age_days: 90
    max_retrieval_latency: 12h
    exclude: ["legal-hold-*", "acme-data/keep/"]
  - name: budget
    type: change-budget
    min_monthly_saving_usd: 5
    max_payback_days: 60
"""


def test_exclusions_min_age_and_change_budget_from_the_policy_file() -> None:
    pf = parse_policies(POLICIES)
    assert rules_for(group(bucket="legal-hold-7"), pf).excluded_by == "tier-prod"
    assert rules_for(group(prefix="keep/2024/"), pf).excluded_by == "tier-prod"
    rules = rules_for(group(), pf)
    assert rules.excluded_by is None and rules.min_age_days == 90
    assert rules.max_latency_ms == 12 * 3_600_000 and rules.restore_allowed
    assert rules.min_monthly_saving == 5_000_000 and rules.max_payback_days == 60
    tiers = {"STANDARD": S3_STANDARD, "STANDARD_IA": S3_IA}
    assert decide(group(bucket="legal-hold-7"), tiers, ACCESS,
                  rules_for(group(bucket="legal-hold-7"), pf)) is None  # fmt: skip
    d = decide(group(), tiers, ACCESS, rules)
    assert d is not None and d.chosen.after_days == 90, d.chosen
    assert d.chosen.share == pytest.approx(1 - 0.5 * 90 / 200)
    unselected = rules_for(group(tags={"env": "dev"}), pf)
    assert unselected.policies == () and not unselected.restore_allowed
    assert unselected.min_age_days == 30  # the documented default when no policy sets one
    tiny = group(bytes=10 * GIB, objects=10)  # saves well under 5 USD a month
    d = decide(tiny, tiers, ACCESS, rules)
    assert d is not None and not d.worth_it and "change budget" in d.budget_note


def test_rule_when_data_keeps_arriving_one_off_when_none_does() -> None:
    tiers = {"STANDARD": S3_STANDARD, "STANDARD_IA": S3_IA}
    quiet = Access((1.0, 1.0, 1.0), (10.0, 10.0, 10.0))
    growing = decide(group(median_age_days=60.0, oldest_age_days=700.0), tiers, quiet, OPEN)
    assert growing is not None and growing.chosen.action == "lifecycle"
    one_off = next(o for o in growing.ranked if o.action == "one-off")
    assert one_off.share < 1.0  # the moved share erodes as new data arrives
    still = decide(group(median_age_days=900.0, oldest_age_days=1000.0), tiers, quiet, OPEN)
    assert still is not None and still.chosen.action == "one-off"
    assert still.chosen.share == 1.0
    rec = to_recommendation(still, tiers)
    assert any("a one-off move rather than a rule" in r for r in rec.reasons)


def test_unpredictable_access_prefers_automatic_tiering_and_waterfall_only_goes_down() -> None:
    tiers = {"STANDARD": S3_STANDARD, "STANDARD_IA": S3_IA, "GLACIER_IR": S3_GIR}
    g = group(objects=100_000, median_age_days=60.0, oldest_age_days=700.0)
    bursty = Access((20.0, 100.0, 900.0), (1e4, 5e4, 5e5), 30, unpredictable=True)
    d = decide(g, tiers, bursty, OPEN)
    assert d is not None and d.level == 2
    assert min(d.ranked, key=lambda o: o.horizon_total(level=2)) == d.chosen
    auto = next(o for o in d.ranked if o.action == "auto")
    assert auto.monthly[1].retrieval == 0 and auto.monthly[1].monitoring == 250_000
    # From Glacier IR, warmer classes are only a one-off rewrite, never a rule.
    opts, _ = options(group(tier="GLACIER_IR"), tiers, ACCESS, OPEN)
    assert {o.action for o in opts if o.tier != "GLACIER_IR"} == {"rewrite"}

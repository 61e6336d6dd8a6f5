"""Policy files: the shipped examples, each policy type valid and invalid, the schema.

Invalid cases assert what a person needs to fix the file: its name and line, the
policy's name, the key, and a "To fix:" hint.
"""

from __future__ import annotations

import json
import textwrap
from decimal import Decimal
from pathlib import Path

import pytest

import policies
from policies import (
    POLICY_TYPES,
    ApprovalPolicy,
    CapacityPolicy,
    ChangeBudgetPolicy,
    CommitmentsPolicy,
    LatencyPolicy,
    PolicyFile,
    PolicyFileError,
    ResidencyPolicy,
    SpotPolicy,
    SpreadPolicy,
    TieringPolicy,
    json_schema,
    load_policies,
    parse_policies,
)
from store.errors import PolicyError

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = REPO / "examples" / "policies"
HEADER = "version: 1\npolicies:\n"


def one_policy(body: str) -> str:
    """A file holding one policy; line 3 of the file is line 1 of `body`."""
    return HEADER + textwrap.indent(textwrap.dedent(body).strip("\n"), "  ") + "\n"


def failure(text: str, source: str = "policies.yaml") -> PolicyFileError:
    with pytest.raises(PolicyFileError) as info:
        parse_policies(text, source)
    return info.value


# --- the shipped examples ----------------------------------------------------------------


@pytest.mark.parametrize("path", sorted(EXAMPLES.glob("*.yaml")), ids=lambda p: p.name)
def test_every_example_file_loads(path: Path) -> None:
    loaded = load_policies(path)
    assert loaded.version == 1 and loaded.policies


def test_there_is_one_example_per_policy_type_and_all_yaml_uses_every_type() -> None:
    names = {p.stem for p in EXAMPLES.glob("*.yaml")}
    assert names == set(POLICY_TYPES) | {"all"}
    for word in POLICY_TYPES:
        assert {p.type for p in load_policies(EXAMPLES / f"{word}.yaml").policies} == {word}
    assert {p.type for p in load_policies(EXAMPLES / "all.yaml").policies} == set(POLICY_TYPES)


def test_examples_round_trip_through_their_own_dump() -> None:
    loaded = load_policies(EXAMPLES / "all.yaml")
    dumped = loaded.model_dump(mode="json", by_alias=True)
    assert PolicyFile.model_validate(dumped) == loaded
    assert json.loads(json.dumps(dumped)) == dumped


def test_all_yaml_reads_as_written() -> None:
    loaded = load_policies(EXAMPLES / "all.yaml")
    residency = loaded.of_type(ResidencyPolicy)
    assert [p.name for p in residency] == [
        "eu-personal-data-stays-in-eea",
        "us-only-data-stays-in-us",
    ]  # the disabled one is left out
    assert loaded.get("payments-prod-audited-regions") is not None
    assert len(loaded.active()) == len(loaded.policies) - 1
    (tiering,) = loaded.of_type(TieringPolicy)
    assert tiering.max_retrieval_latency == 12 * 3_600_000
    (commitments,) = loaded.of_type(CommitmentsPolicy)
    assert commitments.items[0].usd_per_hour == Decimal("12.50")


# --- each policy type: valid -------------------------------------------------------------


def test_residency_valid() -> None:
    loaded = parse_policies(
        one_policy(
            """
            - name: eu-data
              type: residency
              selector: {data_classification: eu-personal}
              allow: {jurisdictions: [eu, EEA], countries: [CH], regions: [aws:us-east-1]}
            """
        )
    )
    (policy,) = loaded.policies
    assert isinstance(policy, ResidencyPolicy)
    assert policy.allow.jurisdictions == ("EU", "EEA")  # upper-cased
    assert policy.selector.data_classification == ("eu-personal",)


def test_latency_valid_with_user_regions_and_fixed_origins() -> None:
    loaded = parse_policies(
        one_policy(
            """
            - name: near-users
              type: latency
              from: [user_regions, gcp:europe-west1]
              max_rtt_ms: 25.5
            """
        )
    )
    (policy,) = loaded.policies
    assert isinstance(policy, LatencyPolicy)
    assert policy.uses_user_regions()
    assert policy.fixed_regions() == (("gcp", "europe-west1"),)
    assert policy.max_rtt_ms == 25.5 and policy.estimate_unmeasured is True
    scalar = parse_policies(
        one_policy("- {name: a, type: latency, from: user_regions, max_rtt_ms: 10}")
    )
    assert scalar.policies[0].from_ == ("user_regions",)  # type: ignore[union-attr]


def test_spot_valid_with_defaults_and_percent() -> None:
    loaded = parse_policies(
        one_policy(
            """
            - {name: dev-spot, type: spot, max_share: 40%}
            - {name: no-spot, type: spot, allow: false}
            """
        )
    )
    dev, none = loaded.of_type(SpotPolicy)
    assert dev.max_share == pytest.approx(0.4) and dev.bucket_cap() == 4
    assert none.share_cap() == 0.0


def test_capacity_valid() -> None:
    (policy,) = parse_policies(
        one_policy(
            """
            - name: quotas
              type: capacity
              quotas: [{provider: aws, region: eu-central-1, family: m6i, max_vcpu: 64}]
              exclude: [{provider: azure}]
            """
        )
    ).policies
    assert isinstance(policy, CapacityPolicy)
    assert policy.quotas[0].family == "m6i"
    assert policy.excludes("azure", "westeurope") and not policy.excludes("aws", "eu-west-1")


def test_spread_valid() -> None:
    (policy,) = parse_policies(one_policy("- {name: ha, type: spread, min_regions: 3}")).policies
    assert isinstance(policy, SpreadPolicy)
    assert (policy.min_regions, policy.min_zones) == (3, None)


def test_change_budget_valid_keeps_money_exact() -> None:
    (policy,) = parse_policies(
        one_policy(
            """
            - name: budget
              type: change-budget
              max_one_off_usd_per_run: 1234.10
              min_monthly_saving_usd: "0.1"
            """
        )
    ).policies
    assert isinstance(policy, ChangeBudgetPolicy)
    assert policy.max_one_off_usd_per_run == Decimal("1234.10")
    assert policy.min_monthly_saving_usd == Decimal("0.1")
    assert policy.max_moves_per_run is None


def test_tiering_valid() -> None:
    (policy,) = parse_policies(
        one_policy("- {name: t, type: tiering, max_retrieval_latency: 1h30m, exclude: [b/p]}")
    ).policies
    assert isinstance(policy, TieringPolicy)
    assert policy.max_retrieval_latency == 90 * 60_000
    assert policy.min_object_age_days == 0


def test_commitments_valid() -> None:
    (policy,) = parse_policies(
        one_policy(
            """
            - name: bought
              type: commitments
              items:
                - {kind: cud, provider: gcp, region: us-central1, usd_per_hour: 3.25,
                   expires: 2027-01-31}
            """
        )
    ).policies
    assert isinstance(policy, CommitmentsPolicy)
    assert policy.from_store is False
    assert policy.items[0].usd_per_hour == Decimal("3.25")


def test_approval_valid() -> None:
    (policy,) = parse_policies(
        one_policy(
            """
            - name: auto
              type: approval
              auto_approve:
                - {kinds: tiering, max_bytes: 1.5GB}
            """
        )
    ).policies
    assert isinstance(policy, ApprovalPolicy)
    assert policy.auto_approve[0].kinds == ("tiering",)
    assert policy.auto_approve[0].max_bytes == 1_500_000_000


# --- each policy type: invalid -----------------------------------------------------------

# (case id, policy body, file line, field, words in the message, words in the fix)
INVALID = [
    (
        "residency-jurisdiction",
        """
        - name: eu-data-stays-in-eu
          type: residency
          allow:
            jurisdictions: [EU, EUU]
        """,
        6,
        "allow.jurisdictions[1]",
        "'EUU' is not a jurisdiction",
        "EEA",
    ),
    (
        "residency-empty-allow",
        "- {name: r, type: residency, allow: {countries: []}}",
        3,
        "allow",
        "lists no jurisdiction",
        "jurisdictions: [EU]",
    ),
    (
        "residency-uk-as-country",
        "- {name: r, type: residency, allow: {countries: [UK]}}",
        3,
        "allow.countries[0]",
        "is a jurisdiction, not a country",
        "jurisdictions",
    ),
    (
        "latency-bare-region",
        """
        - name: fra-20ms
          type: latency
          from: [eu-central-1]
          max_rtt_ms: 20
        """,
        5,
        "from[0]",
        "does not name its provider",
        "did you mean 'aws:eu-central-1'?",
    ),
    (
        "latency-rtt-not-positive",
        """
        - name: fra-20ms
          type: latency
          from: user_regions
          max_rtt_ms: 0
        """,
        6,
        "max_rtt_ms",
        "is not greater than 0",
        "greater than 0",
    ),
    (
        "spot-share-above-one",
        """
        - name: spot-dev
          type: spot
          max_share: 1.5
        """,
        5,
        "max_share",
        "is not at most 1",
        "at most 1",
    ),
    (
        "spot-bucket",
        "- {name: spot-dev, type: spot, max_interruption_bucket: 5}",
        3,
        "max_interruption_bucket",
        "is not at most 4",
        "at most 4",
    ),
    (
        "spot-forbidden-but-shared",
        """
        - name: spot-prod
          type: spot
          allow: false
          max_share: 0.2
        """,
        6,
        "max_share",
        "`allow: false` forbids spot",
        "drop `max_share`",
    ),
    (
        "capacity-provider",
        """
        - name: quotas
          type: capacity
          quotas:
            - {provider: azur, region: westeurope, max_vcpu: 10}
        """,
        6,
        "quotas[0].provider",
        "'azur' is not one of aws, azure or gcp",
        "did you mean 'azure'?",
    ),
    (
        "capacity-provider-in-region",
        """
        - name: quotas
          type: capacity
          exclude:
            - {provider: aws, region: "aws:eu-south-1"}
        """,
        6,
        "exclude[0].region",
        "includes a provider",
        "write only 'eu-south-1'",
    ),
    (
        "capacity-duplicate-quota",
        """
        - name: quotas
          type: capacity
          quotas:
            - {provider: aws, region: eu-west-1, max_vcpu: 10}
            - {provider: aws, region: eu-west-1, max_vcpu: 20}
        """,
        7,
        "quotas[1]",
        "a second quota for aws:eu-west-1",
        "one quota per provider",
    ),
    (
        "capacity-selector",
        """
        - name: quotas
          type: capacity
          selector: {owners: [payments]}
          exclude: [{provider: gcp}]
        """,
        5,
        "selector",
        "unknown key 'selector'",
        "take no selector",
    ),
    (
        "spread-both",
        """
        - name: ha
          type: spread
          min_regions: 2
          min_zones: 3
        """,
        6,
        "min_zones",
        "both given",
        "keep one of them",
    ),
    (
        "spread-one",
        "- {name: ha, type: spread, min_zones: 1}",
        3,
        "min_zones",
        "is not at least 2",
        "at least 2",
    ),
    (
        "change-budget-empty",
        "- {name: budget, type: change-budget, description: nothing}",
        3,
        "",
        "none of `max_moves_per_run`",
        "max_moves_per_run: 20",
    ),
    (
        "change-budget-money",
        """
        - name: budget
          type: change-budget
          max_one_off_usd_per_run: $500
        """,
        5,
        "max_one_off_usd_per_run",
        "'$500' is not an amount",
        "without a currency sign",
    ),
    (
        "tiering-duration-without-unit",
        """
        - name: cold
          type: tiering
          max_retrieval_latency: 100
        """,
        5,
        "max_retrieval_latency",
        "100 has no unit",
        "'100ms'",
    ),
    (
        "tiering-bad-duration",
        "- {name: cold, type: tiering, max_retrieval_latency: 5 minutes}",
        3,
        "max_retrieval_latency",
        "is not a duration",
        "'5m'",
    ),
    (
        "commitments-kind-provider",
        """
        - name: bought
          type: commitments
          items:
            - kind: cud
              provider: aws
              region: us-east-1
              vcpu: 8
              expires: 2027-01-01
        """,
        6,
        "items[0].kind",
        "a cud is not sold by aws",
        "GCP sells cud",
    ),
    (
        "commitments-savings-plan-in-vcpu",
        """
        - name: bought
          type: commitments
          items:
            - {kind: savings-plan, provider: aws, vcpu: 8, expires: 2027-01-01}
        """,
        6,
        "items[0].vcpu",
        "commits US dollars per hour",
        "usd_per_hour",
    ),
    (
        "commitments-bad-date",
        """
        - name: bought
          type: commitments
          items:
            - kind: reserved-instance
              provider: azure
              region: westeurope
              vcpu: 8
              expires: 2027-02-30
        """,
        10,
        "items[0].expires",
        "'2027-02-30' is not a date",
        "YYYY-MM-DD",
    ),
    (
        "commitments-nothing",
        "- {name: bought, type: commitments}",
        3,
        "",
        "no commitment is listed",
        "from_store: true",
    ),
    (
        "approval-unlimited",
        """
        - name: auto
          type: approval
          auto_approve:
            - kinds: [tiering]
        """,
        6,
        "auto_approve[0]",
        "would approve everything",
        "max_bytes",
    ),
    (
        "approval-kind",
        """
        - name: auto
          type: approval
          auto_approve:
            - {kinds: [tierring], max_bytes: 10GiB}
        """,
        6,
        "auto_approve[0].kinds[0]",
        "'tierring' is not one of",
        "did you mean 'tiering'?",
    ),
    (
        "approval-size",
        "- {name: auto, type: approval, auto_approve: [{kinds: [move], max_bytes: 10 GiBs}]}",
        3,
        "auto_approve[0].max_bytes",
        "is not a size",
        "'500GiB'",
    ),
]


@pytest.mark.parametrize(
    ("body", "line", "field", "message", "fix"),
    [case[1:] for case in INVALID],
    ids=[case[0] for case in INVALID],
)
def test_invalid_policy_names_file_line_policy_field_and_fix(
    body: str, line: int, field: str, message: str, fix: str
) -> None:
    err = failure(one_policy(body))
    name = err.problems[0].policy
    assert name is not None and name.startswith("policy '")
    located = f"policies.yaml:{line}: {name}: " + (f"{field}: " if field else "")
    assert err.message.startswith(located), err.message
    assert message in err.message
    assert err.fix is not None and fix in err.fix, err.fix
    assert err.where == f"policies.yaml:{line}"
    assert isinstance(err, PolicyError) and err.exit_code == 2
    assert "To fix: " in err.render()


def test_every_policy_type_has_an_invalid_case() -> None:
    covered = {case[0].split("-")[0] for case in INVALID} | {"change-budget"}
    assert {w.split("-")[0] for w in POLICY_TYPES} <= covered


def test_the_issue_example_message() -> None:
    err = failure(
        one_policy(
            """
            - name: eu-data-stays-in-eu
              type: residency
              selector:
                data_classification: eu-personal
              allow:
                jurisdictions: [EUU]
            """
        )
    )
    assert err.message == (
        "policies.yaml:8: policy 'eu-data-stays-in-eu' (residency): "
        "allow.jurisdictions[0]: 'EUU' is not a jurisdiction"
    )
    assert err.fix is not None and err.fix.startswith("did you mean 'EU'?")


# --- the schema --------------------------------------------------------------------------


def test_json_schema_is_json_and_lists_every_policy_type() -> None:
    schema = json.loads(json.dumps(json_schema()))
    assert schema["$id"] and schema["title"] and schema["description"]
    items = schema["properties"]["policies"]["items"]
    assert set(items["discriminator"]["mapping"]) == set(POLICY_TYPES)
    assert schema["required"] == ["version", "policies"]
    assert schema["additionalProperties"] is False


def test_json_schema_uses_the_yaml_words() -> None:
    defs = json_schema()["$defs"]
    assert "from" in defs["LatencyPolicy"]["properties"]
    assert "from_" not in defs["LatencyPolicy"]["properties"]
    assert defs["ChangeBudgetPolicy"]["properties"]["type"]["const"] == "change-budget"
    duration = defs["TieringPolicy"]["properties"]["max_retrieval_latency"]["anyOf"][0]
    assert duration["type"] == "string" and "pattern" in duration


def test_package_exports() -> None:
    for name in ("PolicyFile", "Selector", "load_policies", "parse_policies", "json_schema"):
        assert hasattr(policies, name)
    for cls in POLICY_TYPES.values():
        assert getattr(policies, cls.__name__) is cls

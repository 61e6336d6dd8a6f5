"""The policy loader: YAML problems, unknown keys, duplicates, versions, files on disk."""

from __future__ import annotations

import hashlib
from decimal import Decimal
from pathlib import Path

import pytest

from policies import (
    PolicyFileError,
    ResidencyPolicy,
    SpotPolicy,
    load_policies,
    parse_policies,
    policies_sha256,
)

HEADER = "version: 1\npolicies:\n"


def failure(text: str, source: str = "policies.yaml") -> PolicyFileError:
    with pytest.raises(PolicyFileError) as info:
        parse_policies(text, source)
    return info.value


def test_unknown_key_suggests_the_closest_word_and_lists_the_keys() -> None:
    err = failure(HEADER + "  - name: spot-dev\n    type: spot\n    max_shares: 0.5\n")
    assert err.message == (
        "policies.yaml:5: policy 'spot-dev' (spot): max_shares: unknown key 'max_shares'"
    )
    assert err.fix is not None
    assert err.fix.startswith("did you mean 'max_share'?")
    assert "max_interruption_bucket" in err.fix  # the keys a spot policy takes


def test_unknown_nested_key_names_its_parent() -> None:
    text = HEADER + "  - name: r\n    type: residency\n    allow:\n      jurisdiction: [EU]\n"
    err = failure(text)
    assert err.message.startswith("policies.yaml:6: policy 'r' (residency): allow.jurisdiction:")
    assert (
        err.fix == "did you mean 'jurisdictions'? `allow` takes: jurisdictions, countries, regions"
    )


def test_key_of_another_policy_type_says_which() -> None:
    err = failure(HEADER + "  - {name: s, type: spread, min_zones: 2, max_share: 0.5}\n")
    assert "unknown key 'max_share'" in err.message
    assert err.fix is not None
    assert err.fix.startswith("`max_share` belongs to spot policies; a spread policy takes:")


def test_wrong_type_suggests_the_closest_type() -> None:
    err = failure(HEADER + "  - name: eu\n    type: residence\n")
    assert err.message == "policies.yaml:4: policy 'eu': type: 'residence' is not a policy type"
    assert err.fix is not None and err.fix.startswith("did you mean 'residency'?")


def test_missing_type_and_missing_name() -> None:
    assert "the policy has no `type`" in failure(HEADER + "  - name: eu\n").message
    err = failure(HEADER + "  - {type: spread, min_zones: 2}\n")
    assert err.message == "policies.yaml:3: policies[0] (spread): name: 'name' is missing"
    assert err.fix is not None and "every policy needs a unique name" in err.fix


def test_invalid_name_suggests_a_slug() -> None:
    err = failure(HEADER + "  - {name: EU data in EU, type: spread, min_zones: 2}\n")
    assert "'EU data in EU' is not a valid policy name" in err.message
    assert err.fix is not None and "'eu-data-in-eu'" in err.fix


def test_duplicate_policy_names() -> None:
    text = HEADER + (
        "  - {name: ha, type: spread, min_zones: 2}\n"
        "  - {name: no-spot, type: spot, allow: false}\n"
        "  - {name: ha, type: spread, min_regions: 2}\n"
    )
    err = failure(text)
    assert err.message == (
        "policies.yaml:5: policy 'ha' (spread): name: the name 'ha' is already used by policies[0]"
    )
    assert err.fix is not None and err.fix.startswith("every policy needs a unique name")


def test_duplicate_yaml_keys_are_refused_not_silently_merged() -> None:
    text = HEADER + "  - name: spot-dev\n    type: spot\n    max_share: 0.5\n    max_share: 1\n"
    err = failure(text)
    assert err.message == (
        "policies.yaml:6: policy 'spot-dev' (spot): max_share: "
        "'max_share' is written twice (first on line 5)"
    )
    assert err.fix is not None and "delete one" in err.fix


def test_duplicate_top_level_key() -> None:
    err = failure("version: 1\npolicies: []\nversion: 1\n")
    assert err.message.startswith("policies.yaml:3: version: 'version' is written twice")


@pytest.mark.parametrize(
    ("text", "line", "words", "fix"),
    [
        (HEADER + "  - name: a\n    type: spread\n   min_zones: 2\n", 5, "column 4", "indentation"),
        (HEADER + "  - name: a: b\n", 3, "mapping values are not allowed", "quote"),
        (HEADER + "  - name: a\n\ttype: spread\n", 4, "'\\t'", "spaces, not tabs"),
        (HEADER + "  - {name: a, type: spread\n", 4, "expected ',' or '}'", "close the mapping"),
        ("version: 1\n---\npolicies: []\n", 2, "another document", "one document"),
        (HEADER + "  - !custom {name: a}\n", 3, "tag '!custom'", "remove the '!' tag"),
    ],
    ids=["indent", "colon", "tab", "flow", "two-documents", "tag"],
)
def test_yaml_syntax_errors_give_line_column_and_fix(
    text: str, line: int, words: str, fix: str
) -> None:
    err = failure(text)
    assert err.message.startswith(f"policies.yaml:{line}: YAML syntax error at column ")
    assert words in err.message
    assert err.fix is not None and fix in err.fix, err.fix


@pytest.mark.parametrize("text", ["", "\n\n", "# nothing here yet\n", "---\n"])
def test_empty_file(text: str) -> None:
    err = failure(text)
    assert err.message == "policies.yaml: the file is empty"
    assert err.fix is not None and "version: 1" in err.fix


@pytest.mark.parametrize("version", ["2", "0", "'1'", "true", "1.0"])
def test_wrong_version(version: str) -> None:
    err = failure(f"version: {version}\npolicies: []\n")
    assert err.message.startswith("policies.yaml:1: version: version ")
    assert "is not supported" in err.message
    assert err.fix is not None and "`version: 1`" in err.fix


def test_missing_version() -> None:
    err = failure("policies: []\n")
    assert err.message == "policies.yaml:1: version: 'version' is missing"
    assert err.fix == "add `version: 1`"


def test_file_that_is_not_a_mapping() -> None:
    err = failure("- name: a\n")
    assert err.message == "policies.yaml:1: the file is not a mapping"


def test_first_error_in_file_order_and_count_of_the_rest() -> None:
    text = HEADER + (
        "  - {name: a, type: spot, max_share: 2}\n"
        "  - {name: b, type: spread}\n"
        "  - {name: c, type: latency, from: user_regions, max_rtt_ms: -1}\n"
    )
    err = failure(text)
    assert err.message.startswith("policies.yaml:3: policy 'a' (spot): max_share:")
    assert err.message.endswith("(and 2 more problems in this file)")
    assert [p.line for p in err.problems] == [3, 4, 5]
    assert [p.render("x.yaml").split(":")[1] for p in err.problems] == ["3", "4", "5"]


def test_yaml_1_2_booleans_keep_norway() -> None:
    text = HEADER + "  - {name: nordics, type: residency, allow: {countries: [NO, SE]}}\n"
    (policy,) = parse_policies(text).policies
    assert isinstance(policy, ResidencyPolicy)
    assert policy.allow.countries == ("NO", "SE")
    enabled = parse_policies(HEADER + "  - {name: s, type: spot, enabled: no}\n")
    assert enabled.policies[0].enabled is False


def test_decimal_text_is_kept_exactly() -> None:
    text = HEADER + "  - {name: b, type: change-budget, max_one_off_usd_per_run: 0.30}\n"
    (policy,) = parse_policies(text).policies
    assert policy.max_one_off_usd_per_run == Decimal("0.30")  # type: ignore[union-attr]


def test_anchors_and_merge_keys() -> None:
    text = HEADER + (
        "  - &prod-spot {name: a, type: spot, allow: true, selector: {tags: {env: prod}}}\n"
        "  - <<: *prod-spot\n"
        "    name: b\n"
        "    max_share: 0.25\n"
    )
    a, b = parse_policies(text).of_type(SpotPolicy)
    assert b.selector == a.selector and b.name == "b" and b.share_cap() == 0.25


def test_scalar_where_a_list_is_expected_is_a_list_of_one() -> None:
    text = HEADER + "  - {name: a, type: spot, selector: {owners: payments, providers: aws}}\n"
    (policy,) = parse_policies(text).policies
    assert isinstance(policy, SpotPolicy)
    assert policy.selector.owners == ("payments",)
    assert policy.selector.providers == ("aws",)


def test_load_policies_from_disk_names_the_path(tmp_path: Path) -> None:
    path = tmp_path / "team-policies.yaml"
    path.write_text(HEADER + "  - {name: a, type: spot, max_share: 3}\n")
    with pytest.raises(PolicyFileError) as info:
        load_policies(path)
    assert info.value.message.startswith(f"{path}:3: policy 'a' (spot): max_share:")
    assert info.value.exit_code == 2


def test_load_policies_missing_file_and_bad_encoding(tmp_path: Path) -> None:
    with pytest.raises(PolicyFileError, match="no such file"):
        load_policies(tmp_path / "absent.yaml")
    with pytest.raises(PolicyFileError, match="is a directory"):
        load_policies(tmp_path)
    latin1 = tmp_path / "latin1.yaml"
    latin1.write_bytes(b"version: 1\n# caf\xe9\npolicies: []\n")
    with pytest.raises(PolicyFileError) as info:
        load_policies(latin1)
    assert info.value.message == f"{latin1}:2: is not UTF-8 text"


def test_policies_sha256_is_the_hash_of_the_bytes(tmp_path: Path) -> None:
    path = tmp_path / "p.yaml"
    path.write_bytes(b"version: 1\npolicies: []\n")
    assert policies_sha256(path) == hashlib.sha256(path.read_bytes()).hexdigest()
    assert load_policies(path).policies == ()


def test_single_values_in_residency_and_tiering_lists() -> None:
    text = HEADER + (
        "  - {name: r, type: residency, allow: {jurisdictions: eu, regions: aws:us-east-1}}\n"
        "  - {name: t, type: tiering, exclude: legal-hold-*}\n"
    )
    residency, tiering = parse_policies(text).policies
    assert residency.allow.jurisdictions == ("EU",)  # type: ignore[union-attr]
    assert residency.allow.regions == ("aws:us-east-1",)  # type: ignore[union-attr]
    assert tiering.exclude == ("legal-hold-*",)  # type: ignore[union-attr]

"""Pure pieces of FOCUS ingest: JSON building, column planning, prefetching, keys."""

from __future__ import annotations

import json
import threading

import pyarrow as pa
import pytest

from collectors.focus.columns import json_objects
from collectors.focus.natural_keys import NaturalKeys
from collectors.focus.prefetch import prefetch
from collectors.focus.schema import MANDATORY, plan_columns


def test_json_objects_skip_nulls_and_keep_all_rows() -> None:
    # pyarrow 26 drops all-null rows when joining with null_handling="skip"; we must not.
    cols = {"A": pa.array(['1,,"2"', None, None]), "B": pa.array(["x\\y", None, "q"])}
    assert [None if v is None else json.loads(v) for v in json_objects(cols, 3)] == [
        {"A": '1,,"2"', "B": "x\\y"},
        None,
        {"B": "q"},
    ]


def test_json_objects_escape_control_characters() -> None:
    out = json_objects({"A": pa.array(["line\nbreak\ttab\x01"])}, 1)
    assert json.loads(out[0]) == {"A": "line\nbreak\ttab\x01"}


def test_plan_columns_matches_case_and_detects_versions() -> None:
    header = [c.lower() for c in MANDATORY] + ["x_Team", "Id"]
    plan = plan_columns(header)
    assert plan.version == "1.0" and not plan.missing_mandatory
    assert plan.custom == ("x_Team", "Id") and plan.unprefixed_custom == ("Id",)
    assert plan_columns([*MANDATORY, "SkuMeter"]).version == "1.1"
    assert plan_columns([*MANDATORY, "SkuMeter", "InvoiceId"]).version == "1.2"
    assert plan_columns(["BilledCost"]).missing_mandatory[0] == "BillingAccountId"


def test_natural_keys_give_ordinals_to_identical_rows() -> None:
    keys = NaturalKeys().keys([b"a", b"b", b"a", b"a"])
    assert len(set(keys)) == 4 and keys[0] != keys[2]
    assert NaturalKeys().keys([b"a", b"a"]) == keys[0:1] + keys[2:3]


def test_prefetch_yields_in_order_and_reraises_producer_errors() -> None:
    assert list(prefetch(iter(range(100)), depth=2)) == list(range(100))

    def broken():  # type: ignore[no-untyped-def]
        yield 1
        raise ValueError("bad batch")

    got = []
    with pytest.raises(ValueError, match="bad batch"):
        for item in prefetch(broken()):
            got.append(item)
    assert got == [1]


def test_prefetch_stops_its_thread_when_the_consumer_stops() -> None:
    before = threading.active_count()
    for item in prefetch(iter(range(10_000)), depth=1):
        if item == 3:
            break
    assert threading.active_count() == before


def test_natural_keys_across_many_batches_match_a_plain_dict() -> None:
    """The compact twin detector gives exactly what a dict of every key would."""
    import hashlib
    import random

    rng = random.Random(7)
    rows = [str(rng.randrange(3_000)).encode() for _ in range(10_000)]
    expected, counts = [], {}
    for m in rows:
        d = hashlib.blake2b(m, digest_size=16).digest()
        c = counts.get(d, 0)
        counts[d] = c + 1
        expected.append(
            d.hex()
            if c == 0
            else hashlib.blake2b(d + c.to_bytes(4, "big"), digest_size=16).hexdigest()
        )
    keys = NaturalKeys()
    got = []
    for start in range(0, len(rows), 333):
        got.extend(keys.keys(rows[start : start + 333]))
    assert got == expected
    assert len(set(got)) == len(rows)

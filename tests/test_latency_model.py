"""The latency estimate: geometry, and its fit against the measured pairs we ship."""

from __future__ import annotations

import csv
import gzip
import statistics
from importlib import resources

import pytest

from policies.latency_model import estimated_rtt_ms, great_circle_km


def test_great_circle_known_distances() -> None:
    frankfurt, new_york = (50.11, 8.68), (40.71, -74.01)
    assert great_circle_km(*frankfurt, *new_york) == pytest.approx(6_200, rel=0.01)
    assert great_circle_km(*frankfurt, *frankfurt) == 0
    assert great_circle_km(0, 0, 0, 180) == pytest.approx(20_015, rel=0.001)


def test_estimate_grows_with_distance_and_conservative_is_higher() -> None:
    near = estimated_rtt_ms(50.1, 8.7, 48.9, 2.4)
    far = estimated_rtt_ms(50.1, 8.7, 1.35, 103.8)
    assert 2 < near < far
    assert estimated_rtt_ms(50.1, 8.7, 1.35, 103.8, conservative=True) > far


def _snapshot(name: str) -> list[dict[str, str]]:
    path = resources.files("optimizer.demo").joinpath("snapshot", name)
    with gzip.open(str(path), "rt", encoding="utf-8") as fh:
        return list(csv.DictReader(fh))


def test_model_matches_the_measured_pairs_it_was_fitted_on() -> None:
    coords = {
        (r["provider"], r["region"]): (float(r["latitude"]), float(r["longitude"]))
        for r in _snapshot("regions.csv.gz")
        if r["latitude"] and r["longitude"]
    }
    errors, below_p90 = [], 0
    pairs = 0
    for r in _snapshot("latency.csv.gz"):
        a, b = (r["src_provider"], r["src_region"]), (r["dst_provider"], r["dst_region"])
        if a not in coords or b not in coords:
            continue
        measured = float(r["rtt_ms"])
        errors.append(abs(measured - estimated_rtt_ms(*coords[a], *coords[b])))
        below_p90 += measured <= estimated_rtt_ms(*coords[a], *coords[b], conservative=True)
        pairs += 1
    assert pairs > 1_000
    assert statistics.median(errors) < 20  # ms: screening quality, as documented
    assert below_p90 / pairs > 0.85  # the conservative estimate covers most real routes

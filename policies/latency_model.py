"""Estimated round-trip time between two points, for region pairs never measured.

Latency policies check the measured inter-region RTT in the store first. Where a pair
was never measured, this model estimates it from great-circle distance, and the
explanation must say "estimated".

Model: light in fibre covers about 100 km of great-circle distance per millisecond of
round trip (2/3 c, there and back); real routes are longer than the great circle, so
the distance is inflated, and switching adds a small constant:

    rtt_ms = BASE_MS + distance_km / 100 * INFLATION

Fitted on the 1,980 measured pairs (Skyplane ping RTT, Apache-2.0) among the 47 regions
of the demo snapshot: the median inflation is 1.72 (p90 2.41). With BASE_MS = 2 the
absolute error is 17 ms at the median (24 ms mean), so estimates are for screening; the
p90 inflation (`conservative=True`) is at or above the measured RTT for 87% of pairs,
for policies that must not admit a region that is probably too far.
(`tests/test_latency_model.py` re-checks these figures against the shipped data.)
"""

from __future__ import annotations

import math

EARTH_RADIUS_KM = 6371.0
KM_PER_MS_RTT = 100.0
BASE_MS = 2.0
INFLATION_MEDIAN = 1.72
INFLATION_P90 = 2.41


def great_circle_km(lat1: float, lon1: float, lat2: float, lon2: float) -> float:
    """Haversine distance on a spherical Earth."""
    p = math.pi / 180
    a = (
        math.sin((lat2 - lat1) * p / 2) ** 2
        + math.cos(lat1 * p) * math.cos(lat2 * p) * math.sin((lon2 - lon1) * p / 2) ** 2
    )
    return 2 * EARTH_RADIUS_KM * math.asin(min(1.0, math.sqrt(a)))


def estimated_rtt_ms(
    lat1: float, lon1: float, lat2: float, lon2: float, *, conservative: bool = False
) -> float:
    inflation = INFLATION_P90 if conservative else INFLATION_MEDIAN
    return BASE_MS + great_circle_km(lat1, lon1, lat2, lon2) / KM_PER_MS_RTT * inflation

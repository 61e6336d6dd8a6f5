"""Acme Corp, the demo's company: its clouds, teams, environments and accounts.

Workloads (estate.py) and storage groups (storage.py) are drawn from the same company,
so the vocabulary and the seeded draws they share live here, below both of them.
"""

from __future__ import annotations

import uuid
from typing import Any

import numpy as np

from optimizer.demo.snapshot_loader import RegionInfo

PROVIDERS = ("aws", "azure", "gcp")
PROVIDER_SHARE = (0.4, 0.3, 0.3)
TEAMS = (
    "payments", "checkout", "search", "catalog", "identity", "messaging", "analytics",
    "ml-platform", "data-eng", "mobile-api", "web", "media", "logistics", "pricing",
    "fraud", "support", "billing", "notifications", "recommendations", "inventory",
    "platform", "observability", "security", "partners", "growth",
)  # fmt: skip
ENVS, ENV_SHARE = ("prod", "staging", "dev"), (0.5, 0.2, 0.3)
EU_JURISDICTIONS = frozenset({"EU", "EEA"})


def pick(rng: np.random.Generator, items: list[Any] | tuple[Any, ...], p: Any = None) -> Any:
    if p is not None:
        p = np.asarray(p, dtype=float) / np.sum(p)
    return items[int(rng.choice(len(items), p=p))]


def accounts(rng: np.random.Generator) -> tuple[dict[str, str], dict[tuple[str, str], str]]:
    """One billing account per cloud and one sub-account per cloud × team, stable per seed."""
    billing = {
        "aws": str(rng.integers(10**11, 10**12)),
        "azure": str(rng.integers(10**7, 10**8)),
        "gcp": "-".join(rng.bytes(3).hex().upper() for _ in range(3)),
    }
    subs = {}
    for team in TEAMS:
        subs["aws", team] = str(rng.integers(10**11, 10**12))
        subs["azure", team] = str(uuid.UUID(bytes=rng.bytes(16), version=4))
        subs["gcp", team] = f"acme-{team}-{rng.integers(10**5, 10**6)}"
    return billing, subs


def region_weight(regions: dict[tuple[str, str], RegionInfo], provider: str, r: str) -> float:
    """Most estates sit in the US and Europe; the rest of the world gets a third as much."""
    info = regions.get((provider, r))
    if info is None:
        return 1.0
    big = info.country_code == "US" or info.jurisdiction in EU_JURISDICTIONS | {"UK", "CH"}
    return 3.0 if big else 1.0


def cost_center(team: str) -> str:
    return f"CC-{1000 + 10 * TEAMS.index(team)}"

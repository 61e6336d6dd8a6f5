"""Storage groups for the demo estate: buckets and prefixes with tiers, ages and lifecycles.

Split from estate.py because the storage draw has its own vocabulary (tier ladders,
purposes, object sizes) and shares nothing with the workloads but the company
(company.py). The shape is the familiar one: most groups sit in the hot tier, full of
old objects, and few have lifecycle rules.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np

from optimizer.demo.company import (
    ENV_SHARE,
    ENVS,
    PROVIDER_SHARE,
    PROVIDERS,
    TEAMS,
    cost_center,
    pick,
    region_weight,
)
from optimizer.demo.snapshot_loader import RegionInfo, Snapshot

TIER_LADDER = {
    "aws": ("STANDARD", "STANDARD_IA", "GLACIER_IR", "DEEP_ARCHIVE"),
    "azure": ("Hot", "Cool", "Cold", "Archive"),
    "gcp": ("STANDARD", "NEARLINE", "COLDLINE", "ARCHIVE"),
}
TIER_SHARE = (0.68, 0.14, 0.08, 0.10)  # hot, warm, cold, archive
PURPOSES = {  # purpose -> median object size in bytes
    "logs": 256e3, "backups": 512e6, "media": 24e6, "datalake": 128e6, "artifacts": 40e6,
    "exports": 8e6, "ml-datasets": 64e6, "uploads": 2e6, "reports": 1e6, "archive": 256e6,
}  # fmt: skip
GB = 10**9


@dataclass(frozen=True)
class StorageSpec:
    name: str
    provider: str
    account_id: str
    region: str
    bucket: str
    prefix: str
    tier: str
    bytes: int
    objects: int
    oldest_object_at: datetime
    median_age_days: float
    owner: str
    tags: dict[str, str]
    lifecycle_rules: tuple[dict[str, Any], ...]
    daily_read_share: float  # of stored bytes read per day (usage.py decays it by age)

    @property
    def series_id(self) -> str:
        return f"sg:{self.name}"


def _lifecycle(
    rng: np.random.Generator, ladder: tuple[str, ...], level: int, provider: str, bucket: str
) -> tuple[dict[str, Any], ...]:
    """Some groups already have a rule moving them one class down, a few also expire
    objects: written in each cloud's own API shape, as the collectors store them."""
    if level >= len(ladder) - 1 or rng.random() > 0.15:
        return ()
    after = int(pick(rng, (30, 60, 90, 180)))
    expire = int(after * 8) if rng.random() < 0.4 else None
    return (_rule(provider, bucket, after, ladder[level + 1], expire),)


def _rule(provider: str, bucket: str, after: int, to: str, expire: int | None) -> dict[str, Any]:
    if provider == "aws":
        rule: dict[str, Any] = {
            "ID": "tier-down",
            "Filter": {"Prefix": ""},
            "Status": "Enabled",
            "Transitions": [{"Days": after, "StorageClass": to}],
        }
        if expire:
            rule["Expiration"] = {"Days": expire}
        return rule
    if provider == "azure":
        key = {"Cool": "tierToCool", "Cold": "tierToCold", "Archive": "tierToArchive"}[to]
        base: dict[str, Any] = {key: {"daysAfterModificationGreaterThan": after}}
        if expire:
            base["delete"] = {"daysAfterModificationGreaterThan": expire}
        container = bucket.split("/", 1)[-1]
        return {
            "name": "tier-down",
            "enabled": True,
            "type": "Lifecycle",
            "definition": {
                "filters": {"blobTypes": ["blockBlob"], "prefixMatch": [f"{container}/"]},
                "actions": {"baseBlob": base},
            },
        }
    return {"action": {"type": "SetStorageClass", "storageClass": to}, "condition": {"age": after}}


def generate_storage(
    rng: np.random.Generator,
    n: int,
    subs: dict[tuple[str, str], str],
    end: datetime,
    regions: dict[tuple[str, str], RegionInfo],
    snap: Snapshot,
) -> list[StorageSpec]:
    region_list = {
        p: sorted(r for (q, r) in regions if q == p)
        or sorted({o.region for o in snap.offers if o.provider == p})
        for p in PROVIDERS
    }
    providers = [p for p in PROVIDERS if region_list[p]]
    shares = [PROVIDER_SHARE[PROVIDERS.index(p)] for p in providers]
    out = []
    for i in range(n):
        provider = pick(rng, providers, shares)
        cands = region_list[provider]
        region = pick(rng, cands, [region_weight(regions, provider, r) for r in cands])
        team, env = pick(rng, TEAMS), pick(rng, ENVS, ENV_SHARE)
        purpose = pick(rng, list(PURPOSES))
        level = int(rng.choice(4, p=TIER_SHARE))
        ladder = TIER_LADDER[provider]
        size = int(np.clip(rng.lognormal(math.log(1.5e12), 2.0), 10 * GB, 500_000 * GB))
        obj = float(np.clip(rng.lognormal(math.log(PURPOSES[purpose]), 1.0), 16e3, 5e9))
        oldest = int(rng.integers(60, 2500)) if level < 3 else int(rng.integers(400, 3000))
        median = round(oldest * float(rng.uniform(0.15, 0.6)), 1)
        slug = f"{team}-{purpose}-{i + 1:03d}"
        if provider == "azure":
            bucket = f"st{team.replace('-', '')[:12]}{i + 1:03d}/{purpose}"
        else:
            bucket = f"acme-{slug}"
        prefix = (
            pick(rng, ("raw/", "processed/", "exports/", "2023/")) if (rng.random() < 0.3) else ""
        )
        out.append(StorageSpec(
            name=f"{provider}:{bucket}/{prefix}".rstrip("/"), provider=provider,
            account_id=subs[provider, team], region=region, bucket=bucket, prefix=prefix,
            tier=ladder[level], bytes=size, objects=max(1, round(size / obj)),
            oldest_object_at=end - timedelta(days=oldest), median_age_days=median, owner=team,
            tags={"app": f"{team}-{purpose}", "env": env, "team": team,
                  "cost-center": cost_center(team)},
            lifecycle_rules=_lifecycle(rng, ladder, level, provider, bucket),
            daily_read_share=float(rng.lognormal(math.log(0.02), 1.2)),
        ))  # fmt: skip
    return out

"""A believable multi-cloud estate for the demo: workloads, commitments, storage groups.

Everything is drawn from `numpy.random.default_rng(seed)` in a fixed order and placed
only on offers and regions the shipped snapshot has, so the same seed always yields the
same estate and every workload can be priced. The shape is what a FinOps team meets in
practice: mostly small fleets, ~15 % idle machines, residency-bound data, hot buckets
full of old objects. Workloads and commitments are drawn here; the company they belong
to is company.py and the storage groups are storage.py.
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal

import numpy as np

from optimizer.demo.company import (
    ENV_SHARE,
    ENVS,
    EU_JURISDICTIONS,
    PROVIDER_SHARE,
    PROVIDERS,
    TEAMS,
    accounts,
    cost_center,
    pick,
    region_weight,
)
from optimizer.demo.snapshot_loader import Offer, RegionInfo, Snapshot
from optimizer.demo.storage import StorageSpec, generate_storage

COMPONENTS = {
    "general": ("api", "web", "gateway", "frontend", "service"),
    "compute": ("worker", "batch", "encoder", "pipeline", "scheduler"),
    "memory": ("cache", "db", "search-index", "analytics", "session-store"),
}
CATEGORY_SHARE = {"general": 0.5, "compute": 0.25, "memory": 0.25}
CLASSES, CLASS_SHARE = ("eu-personal", "us-only", "public", "internal"), (0.25, 0.15, 0.25, 0.35)
VCPU_WEIGHT = {2: 0.28, 4: 0.3, 8: 0.2, 16: 0.11, 32: 0.06, 48: 0.02, 64: 0.03}
REPLICA_P = np.array([0.62**k for k in range(12)]) / sum(0.62**k for k in range(12))
SPOT_SHARE = {"prod": 0.04, "staging": 0.25, "dev": 0.35}
COMMIT_SHARE = 0.08  # of GCP prod on-demand workloads, as committed-use discounts


@dataclass(frozen=True)
class WorkloadSpec:
    name: str
    provider: str
    account_id: str
    region: str
    instance_type: str
    family: str | None
    category: str | None
    purchase_option: str
    replicas: int
    vcpu: int
    memory_gib: float
    data_gb: float
    owner: str
    data_classification: str
    user_regions: tuple[str, ...]
    tags: dict[str, str]
    usd_per_hour: Decimal  # price of its current offer (spot / commitment / on-demand)
    on_demand_usd_per_hour: Decimal
    cpu_util: float  # target mean share of vCPU capacity used (usage.py)
    mem_util: float
    egress_gb_per_day: float  # internet egress billed daily (billing.py), 0 for most

    @property
    def series_id(self) -> str:
        return f"wl:{self.name}"


@dataclass(frozen=True)
class Commitment:
    """A resource-based committed-use discount bought for one workload's replicas."""

    id: str
    name: str
    workload: str
    provider: str
    region: str
    account_id: str
    replicas: int  # committed; more than the workload runs means an Unused share
    usd_per_hour: Decimal  # per replica
    term: str


@dataclass(frozen=True)
class Estate:
    seed: int
    start: datetime
    end: datetime
    workloads: tuple[WorkloadSpec, ...]
    commitments: tuple[Commitment, ...]
    storage: tuple[StorageSpec, ...]
    billing_accounts: dict[str, str]
    regions: dict[tuple[str, str], RegionInfo]

    @property
    def days(self) -> int:
        return (self.end - self.start).days


def _distance_km(a: RegionInfo, b: RegionInfo) -> float:
    """Great-circle distance; regions without coordinates count as far away."""
    if a.latitude is None or a.longitude is None or b.latitude is None or b.longitude is None:
        return 0.0 if (a.provider, a.region) == (b.provider, b.region) else 20_000.0
    p1, p2 = math.radians(a.latitude), math.radians(b.latitude)
    dl = math.radians(b.longitude - a.longitude)
    c = math.sin(p1) * math.sin(p2) + math.cos(p1) * math.cos(p2) * math.cos(dl)
    return 6371.0 * math.acos(max(-1.0, min(1.0, c)))


def _region_pool(
    snap: Snapshot, regions: dict[tuple[str, str], RegionInfo]
) -> dict[tuple[str, str], list[str]]:
    """(provider, residency class) -> regions with on-demand offers that class may use."""
    priced = sorted(
        {(o.provider, o.region) for o in snap.offers if o.purchase_option == "on_demand"}
    )
    pool: dict[tuple[str, str], list[str]] = defaultdict(list)
    for provider, region in priced:
        info = regions.get((provider, region))
        juris = info.jurisdiction if info else None
        country = info.country_code if info else None
        pool[provider, "any"].append(region)
        if juris in EU_JURISDICTIONS:
            pool[provider, "eu-personal"].append(region)
        if country == "US":
            pool[provider, "us-only"].append(region)
    return pool


def _user_regions(
    rng: np.random.Generator, home: RegionInfo, cls: str, regions: dict[tuple[str, str], RegionInfo]
) -> tuple[str, ...]:
    allowed = [
        r for r in regions.values() if cls != "eu-personal" or r.jurisdiction in EU_JURISDICTIONS
    ]
    near = sorted(allowed, key=lambda r: (_distance_km(home, r), r.provider, r.region))[:6]
    others = [r for r in near if (r.provider, r.region) != (home.provider, home.region)]
    k = int(rng.integers(0, min(2, len(others)) + 1))
    chosen = [home] + [others[i] for i in sorted(rng.choice(len(others), k, replace=False))]
    return tuple(f"{r.provider}:{r.region}" for r in chosen)


def _workloads(
    rng: np.random.Generator,
    snap: Snapshot,
    n: int,
    subs: dict[tuple[str, str], str],
    regions: dict[tuple[str, str], RegionInfo],
) -> list[WorkloadSpec]:
    by_key = {(o.provider, o.region, o.instance_type, o.purchase_option): o for o in snap.offers}
    on_demand: dict[tuple[str, str], list[Offer]] = defaultdict(list)
    for o in snap.offers:
        if o.purchase_option == "on_demand":
            on_demand[o.provider, o.region].append(o)
    pool = _region_pool(snap, regions)
    providers = [p for p in PROVIDERS if pool.get((p, "any"))]
    shares = [PROVIDER_SHARE[PROVIDERS.index(p)] for p in providers]
    out = []
    for i in range(n):
        provider = pick(rng, providers, shares)
        cls = pick(rng, CLASSES, CLASS_SHARE)
        bound = cls in ("eu-personal", "us-only")
        candidates = pool.get((provider, cls), []) if bound else pool[provider, "any"]
        if not candidates:  # a draft snapshot without such regions: no residency promise
            cls, candidates = "internal", pool[provider, "any"]
        region = pick(rng, candidates, [region_weight(regions, provider, r) for r in candidates])
        category = pick(rng, list(CATEGORY_SHARE), list(CATEGORY_SHARE.values()))
        offers = [o for o in on_demand[provider, region] if o.category == category] or on_demand[
            provider, region
        ]
        sizes = sorted({o.vcpu for o in offers})
        vcpu = pick(rng, sizes, [VCPU_WEIGHT.get(v, 0.01) for v in sizes])
        od = pick(rng, sorted((o for o in offers if o.vcpu == vcpu), key=lambda o: o.instance_type))
        team, env = pick(rng, TEAMS), pick(rng, ENVS, ENV_SHARE)
        component = pick(rng, COMPONENTS.get(od.category or "general", COMPONENTS["general"]))
        replicas = 1 + int(rng.choice(12, p=REPLICA_P))
        option, price = "on_demand", od.usd_per_hour
        spot = by_key.get((provider, region, od.instance_type, "spot"))
        if spot is not None and rng.random() < SPOT_SHARE[env]:
            option, price = "spot", spot.usd_per_hour
        cpu_util, mem_util = _utilisation(rng)
        has_egress = rng.random() < 0.4
        egress = float(np.clip(rng.lognormal(math.log(12), 1.1), 0.1, 2000)) if has_egress else 0.0
        name = f"{team}-{component}-{env}-{i + 1:03d}"
        app = f"{team}-{component}"
        out.append(WorkloadSpec(
            name=name, provider=provider, account_id=subs[provider, team], region=region,
            instance_type=od.instance_type, family=od.family, category=od.category,
            purchase_option=option, replicas=replicas, vcpu=od.vcpu, memory_gib=od.memory_gib,
            data_gb=round(float(np.clip(rng.lognormal(math.log(80), 1.3), 1, 20000)), 1),
            owner=team, data_classification=cls,
            user_regions=_user_regions(rng, regions.get((provider, region)) or RegionInfo(
                provider, region, None, None, None, None, None, None), cls, regions),
            tags={"app": app, "env": env, "team": team, "cost-center": cost_center(team)},
            usd_per_hour=price, on_demand_usd_per_hour=od.usd_per_hour,
            cpu_util=round(cpu_util, 4), mem_util=round(mem_util, 4),
            egress_gb_per_day=round(egress, 2),
        ))  # fmt: skip
    return out


def _utilisation(rng: np.random.Generator) -> tuple[float, float]:
    """Mean share of (vCPU, memory) used: 15 % idle, 30 % oversized, the rest busy."""
    u = rng.random()
    if u < 0.15:
        return rng.uniform(0.015, 0.08), rng.uniform(0.1, 0.4)
    cpu = rng.uniform(0.1, 0.3) if u < 0.45 else rng.uniform(0.3, 0.7)
    return cpu, rng.uniform(0.3, 0.85)


def _commit(
    rng: np.random.Generator, snap: Snapshot, workloads: list[WorkloadSpec]
) -> tuple[list[WorkloadSpec], list[Commitment]]:
    """Move a few GCP prod workloads onto committed-use discounts (the snapshot's CUD prices)."""
    by_key = {(o.provider, o.region, o.instance_type, o.purchase_option): o for o in snap.offers}
    eligible = [
        i
        for i, w in enumerate(workloads)
        if w.provider == "gcp"
        and w.tags["env"] == "prod"
        and w.purchase_option == "on_demand"
        and (w.provider, w.region, w.instance_type, "commit_1y") in by_key
    ]
    k = min(len(eligible), max(1, round(COMMIT_SHARE * len(eligible))))
    chosen = sorted(rng.choice(len(eligible), k, replace=False)) if k else []
    commitments = []
    for n, j in enumerate(chosen):
        i = eligible[int(j)]
        w = workloads[i]
        has_3y = (w.provider, w.region, w.instance_type, "commit_3y") in by_key
        term = "commit_3y" if rng.random() < 0.3 and has_3y else "commit_1y"
        offer = by_key[w.provider, w.region, w.instance_type, term]
        cid = f"projects/{w.account_id}/regions/{w.region}/commitments/cud-{w.name}"
        extra = 1 if n == 0 else 0  # the first one was bought too big: an Unused share
        commitments.append(Commitment(
            id=cid, name=f"cud-{w.name}", workload=w.name, provider=w.provider, region=w.region,
            account_id=w.account_id, replicas=w.replicas + extra, usd_per_hour=offer.usd_per_hour,
            term=term,
        ))  # fmt: skip
        workloads[i] = replace(w, purchase_option=term, usd_per_hour=offer.usd_per_hour)
    return workloads, commitments


def generate_estate(
    snap: Snapshot,
    *,
    seed: int,
    workloads: int,
    storage_groups: int,
    start: datetime,
    end: datetime,
) -> Estate:
    """The whole estate for one seed; `end` anchors the storage ages (exclusive, UTC)."""
    rng = np.random.default_rng(seed)
    regions = {(r.provider, r.region): r for r in snap.regions}
    billing, subs = accounts(rng)
    wls = _workloads(rng, snap, workloads, subs, regions)
    wls, commitments = _commit(rng, snap, wls)
    groups = generate_storage(rng, storage_groups, subs, end, regions, snap)
    return Estate(seed, start, end, tuple(wls), tuple(commitments), tuple(groups), billing, regions)

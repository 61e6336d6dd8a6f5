"""Daily FOCUS 1.2 cost records for the demo estate, written as a file and ingested.

The demo's spend goes through the real FOCUS ingest, so everything downstream reads it
exactly as it would read a provider's export. Amounts follow the estate: a replica-day
costs its offer's hourly price × 24, a storage group's day costs GiB × tier price /
days in the month, and commitments obey the FOCUS rule that, per CommitmentDiscountId,
Σ EffectiveCost(Usage) = Σ BilledCost(Purchase) exactly. How a row is laid out and
formatted is focus_rows.py's business; this module decides what each resource is charged.
"""

from __future__ import annotations

import gzip
import hashlib
from collections.abc import Callable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from optimizer.demo.estate import Commitment, Estate, WorkloadSpec
from optimizer.demo.focus_rows import (
    CLOUD,
    COLUMNS,
    Amounts,
    Day,
    FocusRows,
    Q,
    charge_amounts,
    charge_days,
    charge_kind,
    charge_months,
)
from optimizer.demo.snapshot_loader import Snapshot
from optimizer.demo.storage import StorageSpec
from optimizer.demo.usage import GIB, storage_access

FILE_NAME = "demo-focus-1.2.csv.gz"
SOURCE_NAME = "demo"  # the [[sources]] name in the demo's optimizer.toml
SOURCE_KEY = f"{SOURCE_NAME}:{FILE_NAME}"  # the key `optimizer run` gives that file
ZERO = Decimal(0)
TAX_RATE = Decimal("0.05")  # illustrative invoice tax on compute and storage, not a real rate
# Internet egress where the snapshot has no price for the region: first-tier list prices.
DEFAULT_EGRESS = {"aws": Decimal("0.09"), "azure": Decimal("0.087"), "gcp": Decimal("0.12")}
# Storage tiers are priced in one reference region per cloud in the snapshot; other regions
# fall back to it, then to these list prices (USD per GB-month, us-east-1/eastus2/us-central1).
REFERENCE_REGION = {"aws": "us-east-1", "azure": "eastus2", "gcp": "us-central1"}
DEFAULT_TIER_PRICE = {
    ("aws", "STANDARD"): Decimal("0.023"), ("aws", "STANDARD_IA"): Decimal("0.0125"),
    ("aws", "GLACIER_IR"): Decimal("0.004"), ("aws", "DEEP_ARCHIVE"): Decimal("0.00099"),
    ("azure", "Hot"): Decimal("0.0184"), ("azure", "Cool"): Decimal("0.01"),
    ("azure", "Cold"): Decimal("0.0036"), ("azure", "Archive"): Decimal("0.002"),
    ("gcp", "STANDARD"): Decimal("0.02"), ("gcp", "NEARLINE"): Decimal("0.01"),
    ("gcp", "COLDLINE"): Decimal("0.004"), ("gcp", "ARCHIVE"): Decimal("0.0012"),
}  # fmt: skip


def _cud(cud: Commitment, status: str | None) -> dict[str, Any]:
    return {"CommitmentDiscountId": cud.id, "CommitmentDiscountName": cud.name,
            "CommitmentDiscountCategory": "Usage", "CommitmentDiscountStatus": status,
            "CommitmentDiscountType": "Committed Use Discount"}  # fmt: skip


def _hash(*parts: object, n: int = 12) -> str:
    """A stable id fragment (Python's hash() changes between runs)."""
    return hashlib.blake2b("/".join(map(str, parts)).encode(), digest_size=16).hexdigest()[:n]


def _sku(*parts: object) -> str:
    return _hash(*parts).upper()


def _instance(w: WorkloadSpec, r: int) -> tuple[str, str]:
    """(ResourceId, AvailabilityZone) of replica r, in each provider's own id format."""
    letter, h = "abc"[r % 3], _hash(w.name, r, n=17)
    if w.provider == "aws":
        return f"arn:aws:ec2:{w.region}:{w.account_id}:instance/i-{h}", f"{w.region}{letter}"
    if w.provider == "azure":
        group = f"rg-{w.tags['team']}-{w.tags['env']}"
        return (
            f"/subscriptions/{w.account_id}/resourceGroups/{group}/providers/"
            f"Microsoft.Compute/virtualMachines/{w.name}-{r}",
            str(r % 3 + 1),
        )
    zone = f"{w.region}-{letter}"
    rid = f"//compute.googleapis.com/projects/{w.account_id}/zones/{zone}/instances/{w.name}-{r}"
    return rid, zone


def _bucket_id(s: StorageSpec) -> str:
    if s.provider == "aws":
        return f"arn:aws:s3:::{s.bucket}/{s.prefix}".rstrip("/")
    if s.provider == "azure":
        account, _, container = s.bucket.partition("/")
        return (
            f"/subscriptions/{s.account_id}/resourceGroups/rg-{s.owner}-storage/providers/"
            f"Microsoft.Storage/storageAccounts/{account}/blobServices/default/containers/"
            f"{container}/{s.prefix}"
        ).rstrip("/")
    return f"//storage.googleapis.com/projects/_/buckets/{s.bucket}/{s.prefix}".rstrip("/")


class DemoCharges(FocusRows):
    """What the demo estate is charged, day by day, as FOCUS rows."""

    def __init__(self, estate: Estate, snap: Snapshot) -> None:
        super().__init__(estate, snap)
        self.tiers = {(t.provider, t.region, t.tier): t for t in snap.storage_tiers}
        self.egress = {(e.src_provider, e.src_region): e.usd_per_gb for e in snap.egress
                       if e.dst_provider == "internet"}  # fmt: skip

    def compute(self, w: WorkloadSpec, days: list[Day], cud: Commitment | None) -> Iterator[str]:
        """One row per replica per day at the price of the workload's current offer."""
        od, price, spot = w.on_demand_usd_per_hour, w.usd_per_hour, w.purchase_option == "spot"
        pricing = "Dynamic" if spot else "Committed" if cud else "Standard"
        amounts = charge_amounts(price * 24, price if spot else od, Decimal(24), list_unit=od)
        kind = charge_kind("Usage", pricing, "Hours", **(_cud(cud, "Used") if cud else {}))
        details = {"CoreCount": w.vcpu, "InstanceType": w.instance_type,
                   "MemorySize": w.memory_gib, "OperatingSystem": "Linux"}  # fmt: skip
        for r in range(w.replicas):
            rid, zone = _instance(w, r)
            t = self.template(
                w.provider, 3, (w.account_id, w.owner), **kind, RegionId=w.region,
                AvailabilityZone=zone, ResourceId=rid, ResourceName=f"{w.name}-{r}",
                ResourceType="Virtual Machine", SkuPriceDetails=details, Tags=w.tags,
                ChargeDescription=f"{w.instance_type} Linux, {w.purchase_option}, per hour",
                SkuId=_sku(w.provider, w.region, w.instance_type),
                SkuPriceId=_sku(w.provider, w.region, w.instance_type, w.purchase_option),
            )  # fmt: skip
            for d in days:
                yield self.emit(t, d, ZERO if cud else price * 24, amounts)

    def commitment(self, cud: Commitment, w: WorkloadSpec, days: list[Day]) -> Iterator[str]:
        """Monthly Purchase rows (EffectiveCost 0) and daily Unused rows: per commitment
        Σ EffectiveCost(Usage) = Σ BilledCost(Purchase), exactly."""
        owner, rate = (cud.account_id, w.owner), cud.usd_per_hour
        ids = {
            "RegionId": cud.region,
            "ResourceId": cud.id,
            "ResourceName": cud.name,
            "ResourceType": "Commitment",
            "SkuId": _sku(cud.provider, cud.region, cud.term),
        }
        unused = cud.replicas - w.replicas
        if unused > 0:
            kind = charge_kind("Usage", "Committed", "Hours", **_cud(cud, "Unused"))
            description = f"Unused {cud.term} commitment"
            t = self.template(cud.provider, 3, owner, **kind, **ids, ChargeDescription=description)
            amounts = charge_amounts(rate * 24 * unused, rate, Decimal(24 * unused), consumed=False)
            for d in days:
                yield self.emit(t, d, ZERO, amounts)
        kind = charge_kind("Purchase", "Standard", "Hours", **_cud(cud, None))
        t = self.template(
            cud.provider, 3, owner, **kind, **ids, ChargeDescription=f"{cud.term} fee"
        )
        for month, n in charge_months(days):
            hours = Decimal(24 * n * cud.replicas)
            yield self.emit(
                t, month, rate * hours, charge_amounts(ZERO, rate, hours, consumed=False)
            )

    def tier_price(self, s: StorageSpec) -> tuple[Decimal, Decimal]:
        """(USD per GB-month, retrieval USD per GB): the region, else the cloud's reference
        region, else DEFAULT_TIER_PRICE; a retrieval fee the snapshot lacks counts as 0."""
        for region in (s.region, REFERENCE_REGION.get(s.provider)):
            t = self.tiers.get((s.provider, region or "", s.tier))
            if t is not None:
                return t.usd_per_gb_month, t.retrieval_usd_per_gb or ZERO
        return DEFAULT_TIER_PRICE.get((s.provider, s.tier), Decimal("0.023")), ZERO

    def storage(self, s: StorageSpec, days: list[Day], gb_read: np.ndarray) -> Iterator[str]:
        """Stored GiB per day at the tier's monthly price, plus retrieval fees on read days."""
        price, retrieval = self.tier_price(s)
        gib = Decimal(s.bytes) / GIB
        ids = {"RegionId": s.region, "ResourceId": _bucket_id(s), "ResourceName": s.name,
               "ResourceType": "Blob Container" if s.provider == "azure" else "Bucket",
               "SkuPriceDetails": {"StorageClass": s.tier}, "Tags": s.tags}  # fmt: skip
        store = self.template(
            s.provider, 4, (s.account_id, s.owner),
            **charge_kind("Usage", "Standard", "GB-Months"), **ids,
            ChargeDescription=f"{s.tier} storage, per GB-month",
            SkuId=_sku(s.provider, s.region, s.tier),
        )  # fmt: skip
        read = self.template(
            s.provider, 4, (s.account_id, s.owner),
            **charge_kind("Usage", "Standard", "GB"), **ids,
            ChargeDescription=f"{s.tier} data retrieval, per GB",
            SkuId=_sku(s.provider, s.region, s.tier, "retrieval"),
        )  # fmt: skip
        per_month: dict[int, tuple[Decimal, Amounts]] = {}
        for i, d in enumerate(days):
            if d.days_in_month not in per_month:
                cost = (gib * price / d.days_in_month).quantize(Q)
                per_month[d.days_in_month] = (
                    cost,
                    charge_amounts(cost, price, gib / d.days_in_month),
                )
            yield self.emit(store, d, *per_month[d.days_in_month])
            gb = Decimal(str(round(float(gb_read[i]), 4)))
            if retrieval > 0 and gb > 0:
                yield self.emit(
                    read, d, gb * retrieval, charge_amounts(gb * retrieval, retrieval, gb)
                )

    def egress_rows(self, w: WorkloadSpec, index: int, days: list[Day]) -> Iterator[str]:
        """Internet egress of the workload's users, billed per GB and day."""
        price = self.egress.get((w.provider, w.region), DEFAULT_EGRESS.get(w.provider, ZERO))
        noise = np.random.default_rng([self.estate.seed, 303, index]).lognormal(0, 0.3, len(days))
        rid, _zone = _instance(w, 0)
        t = self.template(
            w.provider, 5, (w.account_id, w.owner), **charge_kind("Usage", "Standard", "GB"),
            RegionId=w.region, ResourceId=rid, ResourceName=f"{w.name}-0",
            ResourceType="Virtual Machine", Tags=w.tags,
            ChargeDescription="Data transfer out to the internet, per GB",
            SkuId=_sku(w.provider, w.region, "egress-internet"),
        )  # fmt: skip
        for i, d in enumerate(days):
            week = 0.7 if d.start.weekday() >= 5 else 1.0
            gb = Decimal(str(round(w.egress_gb_per_day * week * float(noise[i]), 3)))
            yield self.emit(t, d, gb * price, charge_amounts(gb * price, price, gb))

    def taxes(self, days: list[Day]) -> Iterator[str]:
        """Per cloud and month, tax on compute and on storage (PricingCategory null)."""
        for month, _n in charge_months(days):
            for provider in CLOUD:
                for service in (3, 4):
                    base = self.billed.get((provider, month.month, service), ZERO)
                    tax = (base * TAX_RATE).quantize(Q)
                    if tax > 0:
                        t = self.template(
                            provider, service, None, **charge_kind("Tax", None, None),
                            ChargeDescription=f"Tax on {CLOUD[provider][service][0]}",
                        )  # fmt: skip
                        yield self.emit(t, month, tax, charge_amounts(tax))


def write_focus(
    estate: Estate, snap: Snapshot, out_dir: Path, progress: Callable[[int], None] | None = None
) -> tuple[Path, int]:
    """Write `<out_dir>/demo-focus-1.2.csv.gz` (byte-identical for the same estate)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / FILE_NAME
    rows, days = DemoCharges(estate, snap), charge_days(estate)
    gb_read, _requests = storage_access(estate)
    cuds = {c.workload: c for c in estate.commitments}
    count = 0
    with path.open("wb") as raw, gzip.GzipFile("", "wb", 4, raw, mtime=0) as gz:
        gz.write((",".join(COLUMNS) + "\n").encode())

        def put(lines: Iterator[str], advance: int = 0) -> None:
            nonlocal count
            batch = list(lines)
            gz.write("".join(batch).encode())
            count += len(batch)
            if progress and advance:
                progress(advance)

        for i, w in enumerate(estate.workloads):
            cud = cuds.get(w.name)
            put(rows.commitment(cud, w, days) if cud else iter(()))
            put(rows.egress_rows(w, i, days) if w.egress_gb_per_day > 0 else iter(()))
            put(rows.compute(w, days, cud), advance=1)
        for i, s in enumerate(estate.storage):
            put(rows.storage(s, days, gb_read[i]), advance=1)
        put(rows.taxes(days))
    return path, count

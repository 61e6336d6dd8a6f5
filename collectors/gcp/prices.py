"""Cloud Billing Catalog SKUs + machine types -> per-machine-type price offers. Pure.

Compute Engine prices predefined machine types per resource: an "Instance Core" SKU
(per vCPU hour) and an "Instance Ram" SKU (per GiB hour) per family, region and usage
type (OnDemand, Preemptible = spot, Commit1Yr, Commit3Yr). A machine type's offer is
vCPUs × core price + memory GiB × RAM price. The price is the tier starting at 0 of the
SKU's first pricing info (units + nanos·1e-9, exact). Custom, sole-tenant, premium and
other SKUs are skipped and counted, as are shared-core types (billed as fractions) and
types whose family has no core or RAM price in a region.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from store.prices import Offer

SOURCE = "gcp-catalog"
OPTION = {"OnDemand": "on_demand", "Preemptible": "spot", "Commit1Yr": "commit_1y",
          "Commit3Yr": "commit_3y"}  # fmt: skip
RESOURCE = re.compile(
    r"^(?:Spot Preemptible |Preemptible )?(?P<family>[A-Z][A-Z0-9]*)(?: AMD| Intel| Arm)?"
    r" (?:Predefined )?Instance (?P<kind>Core|Ram) running in "
)
COMMIT = re.compile(
    r"^Commitment(?: v1)?: (?P<family>[A-Z][A-Z0-9]*)(?: AMD| Intel| Arm)? (?P<kind>Cpu|Ram)"
    r" in .+ for [13] [Yy]ears?$"
)
SKIPPED = (("Custom", "custom machine SKU"), ("Sole Tenan", "sole-tenant SKU"),
           ("Premium", "premium SKU"), ("Extended", "extended memory SKU"))  # fmt: skip
UNITS = {"core": ("h",), "ram": ("GiBy.h",)}


@dataclass
class Rates:
    """(region, family, option) -> {"core": usd, "ram": usd}, plus skip counts."""

    rates: dict[tuple[str, str, str], dict[str, Decimal]] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)

    def skip(self, reason: str) -> None:
        self.skipped[reason] = self.skipped.get(reason, 0) + 1


def unit_price(sku: Mapping[str, Any]) -> tuple[Decimal, str] | None:
    """(price of the tier starting at 0, usage unit) of the SKU's first pricing info."""
    infos = sku.get("pricing_info") or []
    if not infos:
        return None
    expression = infos[0].get("pricing_expression") or {}
    tiers = expression.get("tiered_rates") or []
    if not tiers:
        return None
    first = min(tiers, key=lambda t: float(t.get("start_usage_amount") or 0))
    price = first.get("unit_price") or {}
    value = Decimal(str(price.get("units") or 0)) + Decimal(int(price.get("nanos") or 0)) / (
        Decimal(10) ** 9
    )
    return value, str(expression.get("usage_unit") or "")


def sku_rates(skus: Iterable[Mapping[str, Any]], regions: list[str]) -> Rates:
    """Core and RAM rates per (region, family, purchase option)."""
    out = Rates()
    for sku in skus:
        category = sku.get("category") or {}
        if category.get("resource_family") != "Compute":
            continue
        description = str(sku.get("description") or "")
        option = OPTION.get(str(category.get("usage_type") or ""))
        match = (COMMIT if option and option.startswith("commit") else RESOURCE).match(description)
        if option is None or match is None:
            reason = next((r for word, r in SKIPPED if word in description), None)
            if reason or category.get("resource_group") in ("CPU", "RAM", "N1Standard"):
                out.skip(reason or "instance SKU not understood")
            continue
        kind = "core" if match["kind"] in ("Core", "Cpu") else "ram"
        priced = unit_price(sku)
        if priced is None or priced[1] not in UNITS[kind]:
            out.skip("no usable price or unit")
            continue
        for region in sku.get("service_regions") or []:
            if regions and region not in regions:
                continue
            out.rates.setdefault((region, match["family"].lower(), option), {})[kind] = priced[0]
    return out


def machine_offers(
    types: Iterable[Mapping[str, Any]], rates: Rates, regions: list[str]
) -> tuple[list[Offer], dict[str, int]]:
    """One offer per (region, machine type, purchase option) that has both rates."""
    offers: dict[tuple[str, str, str], Offer] = {}
    skipped: dict[str, int] = dict(rates.skipped)
    seen: set[tuple[str, str]] = set()
    for mt in types:
        name = str(mt.get("name") or "")
        region = str(mt.get("zone") or "").rsplit("/", 1)[-1].rsplit("-", 1)[0]
        if not name or (regions and region not in regions) or (region, name) in seen:
            continue
        seen.add((region, name))
        if mt.get("is_shared_cpu"):
            skipped["shared-core machine type"] = skipped.get("shared-core machine type", 0) + 1
            continue
        family = name.split("-")[0]
        vcpu = int(mt.get("guest_cpus") or 0)
        memory = Decimal(int(mt.get("memory_mb") or 0)) / 1024
        priced = False
        for option in OPTION.values():
            rate = rates.rates.get((region, family, option), {})
            if "core" not in rate or "ram" not in rate or not vcpu:
                continue
            usd = (vcpu * rate["core"] + memory * rate["ram"]).quantize(Decimal("1e-9"))
            offers[(region, name, option)] = Offer(
                "gcp", region, name, vcpu, float(memory), option, usd, SOURCE, family=family
            )
            priced = True
        if not priced:
            skipped["machine type without core and RAM prices"] = (
                skipped.get("machine type without core and RAM prices", 0) + 1
            )
    return list(offers.values()), skipped


# -- Cloud Storage ----------------------------------------------------------------------
STORAGE_SOURCE = "gcp-catalog"
STORAGE_CLASS = re.compile(r"^(?P<cls>Standard|Nearline|Coldline|Archive) Storage\b")
RETRIEVAL = re.compile(r"^(?P<cls>Nearline|Coldline|Archive) (?:Storage )?Data Retrieval\b")


def storage_tier_prices(
    skus: Iterable[Mapping[str, Any]], regions: list[str]
) -> dict[tuple[str, str], dict[str, Decimal]]:
    """Cloud Storage SKUs -> {(region, class): {"gb_month": usd, "retrieval": usd}}: the
    at-rest price per GiB-month (unit GiBy.mo) and the retrieval price per GiB (GiBy) of
    each storage class, by the SKU's service regions (multi-regions like "us" included,
    as bucket locations name them). Standard has no retrieval fee."""
    out: dict[tuple[str, str], dict[str, Decimal]] = {}
    for sku in skus:
        description = str(sku.get("description") or "")
        if "Dual-region" in description or "Early Delete" in description:
            continue
        at_rest, retrieval = STORAGE_CLASS.match(description), RETRIEVAL.match(description)
        match, field_, unit = (
            (at_rest, "gb_month", "GiBy.mo") if at_rest else (retrieval, "retrieval", "GiBy")
        )
        priced = unit_price(sku) if match else None
        if match is None or priced is None or priced[1] != unit:
            continue
        cls = match["cls"].upper()
        for region in sku.get("service_regions") or []:
            region = str(region).lower()
            if regions and region not in regions and "-" in region:
                continue
            entry = out.setdefault((region, cls), {})
            entry[field_] = priced[0]
            if cls == "STANDARD":
                entry.setdefault("retrieval", Decimal(0))
    return out

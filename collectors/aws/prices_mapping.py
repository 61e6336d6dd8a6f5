"""EC2 prices -> `store.prices.Offer`s. Pure functions: no SDK, no store, no clock.

- Spot: DescribeSpotPriceHistory records -> the latest price per (type, AZ), one offer
  per AZ, plus a region offer (zone "") at the lowest AZ's latest price: placement
  compares regions, and the cheapest AZ is where a spot fleet would land.
- On-demand: Price List Query API GetProducts `PriceList` items (each a JSON string) ->
  one offer per instance type at its hourly USD OnDemand price. Several SKUs can match
  the filters for one type (e.g. capacity reservations' variants); the lowest positive
  price wins. A malformed item is quarantined with a reason.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from collectors.cloud import Quarantine
from store.prices import Offer

Sizes = Mapping[str, tuple[int, float]]  # type -> (vCPUs, GiB), from DescribeInstanceTypes
PRICE_FILTERS = {  # GetProducts TERM_MATCH filters besides regionCode
    "operatingSystem": "Linux",
    "tenancy": "Shared",
    "preInstalledSw": "NA",
    "capacitystatus": "Used",
}


@dataclass
class Offers(Quarantine):
    offers: list[Offer] = field(default_factory=list)


def _family(instance_type: str) -> str:
    return instance_type.split(".")[0]


def latest_spot(history: Iterable[Mapping[str, Any]]) -> dict[tuple[str, str], Decimal]:
    """{(type, AZ): price} at each pair's latest Timestamp."""
    latest: dict[tuple[str, str], tuple[datetime, Decimal]] = {}
    for rec in history:
        try:
            key = (str(rec["InstanceType"]), str(rec["AvailabilityZone"]))
            price = Decimal(str(rec["SpotPrice"]))
            ts = rec["Timestamp"]
        except (KeyError, InvalidOperation):
            continue
        if not price.is_finite() or price < 0 or not isinstance(ts, datetime):
            continue
        ts = ts.astimezone(UTC) if ts.tzinfo else ts.replace(tzinfo=UTC)
        if key not in latest or ts > latest[key][0]:
            latest[key] = (ts, price)
    return {k: v[1] for k, v in latest.items()}


def spot_offers(latest: Mapping[tuple[str, str], Decimal], region: str, sizes: Sizes) -> Offers:
    out = Offers()
    cheapest: dict[str, Decimal] = {}
    for (itype, az), price in sorted(latest.items()):
        if itype not in sizes:
            out.quarantine(f"spot price for {itype}: unknown vCPU/memory")
            continue
        vcpu, mem = sizes[itype]
        out.offers.append(Offer("aws", region, itype, vcpu, mem, "spot", price, "aws-spot",
                                zone=az, family=_family(itype)))  # fmt: skip
        cheapest[itype] = min(price, cheapest.get(itype, price))
    for itype, price in sorted(cheapest.items()):
        vcpu, mem = sizes[itype]
        out.offers.append(Offer("aws", region, itype, vcpu, mem, "spot", price, "aws-spot",
                                family=_family(itype)))  # fmt: skip
    return out


_GIB = re.compile(r"^\s*([\d.,]+)\s*GiB\s*$")


def _size(attrs: Mapping[str, Any], itype: str, sizes: Sizes) -> tuple[int, float]:
    if itype in sizes:
        return sizes[itype]
    m = _GIB.match(str(attrs.get("memory", "")))
    try:
        vcpu = int(str(attrs["vcpu"]))
    except (KeyError, ValueError):
        raise ValueError("no vcpu attribute") from None
    if not m:
        raise ValueError(f"memory {attrs.get('memory')!r} is not '<n> GiB'")
    return vcpu, float(m.group(1).replace(",", ""))


def _hourly_usd(terms: Mapping[str, Any]) -> Decimal:
    prices = []
    for term in (terms.get("OnDemand") or {}).values():
        for dim in (term.get("priceDimensions") or {}).values():
            if str(dim.get("unit", "")).lower() not in ("hrs", "hours"):
                continue
            try:
                prices.append(Decimal(str(dim["pricePerUnit"]["USD"])))
            except (KeyError, TypeError, InvalidOperation):
                raise ValueError("OnDemand pricePerUnit.USD is not a decimal") from None
    if not prices:
        raise ValueError("no hourly OnDemand price")
    return min(prices)


def on_demand_offers(items: Iterable[str], region: str, sizes: Sizes) -> Offers:
    """GetProducts PriceList items (JSON strings) -> one on-demand offer per type."""
    out = Offers()
    best: dict[str, Offer] = {}
    for item in items:
        try:
            doc = json.loads(item)
            attrs = doc["product"]["attributes"]
            itype = str(attrs["instanceType"])
            if str(attrs.get("regionCode", region)) != region:
                raise ValueError(f"regionCode {attrs.get('regionCode')!r} is not {region}")
            price = _hourly_usd(doc.get("terms") or {})
            vcpu, mem = _size(attrs, itype, sizes)
        except (json.JSONDecodeError, TypeError, KeyError):
            out.quarantine("price list item without product.attributes.instanceType")
            continue
        except ValueError as exc:
            out.quarantine(f"price list item: {exc}")
            continue
        if price <= 0:  # a reserved-capacity or placeholder SKU, not a price to run at
            continue
        offer = Offer("aws", region, itype, vcpu, mem, "on_demand", price, "aws-price-list",
                      family=_family(itype), category=attrs.get("instanceFamily"))  # fmt: skip
        if itype not in best or price < best[itype].usd_per_hour:
            best[itype] = offer
    out.offers.extend(best[t] for t in sorted(best))
    return out

"""Retail Prices API items -> price offers (on demand and spot, Linux, per hour). Pure.

The public API (https://prices.azure.com/api/retail/prices) answers
`{"Items": [...], "NextPageLink": ...}`; each item has `armRegionName`, `armSkuName`
(the VM size), `skuName` ("D2s v3", "D2s v3 Spot", "D2s v3 Low Priority"), `productName`
("Virtual Machines DSv3 Series" or "… Windows"), `type`, `unitOfMeasure`, `retailPrice`,
`unitPrice`, `currencyCode` and `effectiveStartDate`. Windows products, Low Priority and
DevTest meters and reservations are not offers here; a malformed item is quarantined
with a reason. vCPUs and memory come from the compute resource SKUs of the region.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from store.prices import Offer

SOURCE = "azure-retail-prices"


def price_filter(region: str) -> str:
    """The OData $filter for one region's VM consumption meters."""
    return (
        "serviceName eq 'Virtual Machines' and priceType eq 'Consumption' "
        f"and armRegionName eq '{region}'"
    )


def _wanted(item: Mapping[str, Any]) -> bool:
    product, sku = str(item.get("productName", "")), str(item.get("skuName", ""))
    return (
        str(item.get("serviceName", "")) == "Virtual Machines"
        and str(item.get("type", "")) == "Consumption"
        and "Windows" not in product
        and "Low Priority" not in sku
        and "DevTest" not in product
        and not item.get("reservationTerm")
    )


def _price(item: Mapping[str, Any]) -> Decimal:
    value = item.get("unitPrice", item.get("retailPrice"))
    if value is None or isinstance(value, bool):
        raise ValueError("price without a unit price")
    try:
        price = Decimal(str(value))
    except InvalidOperation:
        raise ValueError("price without a unit price") from None
    if not price.is_finite() or price < 0:
        raise ValueError("price without a unit price")
    return price


def offer(item: Mapping[str, Any], sizes: Mapping[str, tuple[int, float]]) -> Offer | None:
    """One item -> an Offer; None for items that are not VM offers here (see module doc);
    ValueError for a malformed one."""
    if not _wanted(item):
        return None
    size, region = item.get("armSkuName"), item.get("armRegionName")
    if not size or not region:
        raise ValueError("price without armSkuName or armRegionName")
    if str(item.get("unitOfMeasure", "")) != "1 Hour":
        raise ValueError("price not per hour")
    if str(item.get("currencyCode", "USD")) != "USD":
        raise ValueError("price not in USD")
    if float(item.get("tierMinimumUnits") or 0) > 0:
        return None  # a higher tier of a tiered meter: the first tier is the offer
    price = _price(item)
    if str(size) not in sizes:
        raise ValueError("price for a size not offered to the subscription (resource_skus)")
    vcpu, mem = sizes[str(size)]
    spot = str(item.get("skuName", "")).endswith(" Spot")
    family = str(item.get("productName", "")).removeprefix("Virtual Machines ").strip() or None
    return Offer(
        provider="azure", region=str(region), instance_type=str(size), vcpu=vcpu,
        memory_gib=mem, purchase_option="spot" if spot else "on_demand", usd_per_hour=price,
        source=SOURCE, family=family,
    )  # fmt: skip


def offers(
    items: Iterable[Mapping[str, Any]], sizes: Mapping[str, tuple[int, float]],
    quarantined: dict[str, int],
) -> list[Offer]:  # fmt: skip
    """Items -> offers, the latest effectiveStartDate winning per offer key."""
    best: dict[tuple[str, ...], tuple[str, Offer]] = {}
    for item in items:
        try:
            found = offer(item, sizes)
        except ValueError as exc:
            quarantined[str(exc)] = quarantined.get(str(exc), 0) + 1
            continue
        if found is None:
            continue
        since = str(item.get("effectiveStartDate", ""))
        if found.key not in best or since >= best[found.key][0]:
            best[found.key] = (since, found)
    return [o for _, o in best.values()]

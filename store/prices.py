"""Price offers from live catalogs (AWS spot history, Azure Retail Prices, GCP Cloud
Billing Catalog) into `price_offer`, kept as a slowly changing dimension.

For each (provider, region, zone, instance type, purchase option): an unchanged price
leaves the open version alone, a changed one closes it at `at` and opens a new version,
and a new offer opens its first version. Offers the catalog no longer lists are left
open: catalogs page and filter, so absence is not proof of withdrawal. Runs inside the
caller's transaction, so a failed collection changes no price.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from store.models import PriceOffer

OFFERS: sa.Table = PriceOffer.__table__  # type: ignore[attr-defined]
PURCHASE_OPTIONS = ("on_demand", "spot", "commit_1y", "commit_3y")


@dataclass(frozen=True)
class Offer:
    """One price, as a collector read it; `source` names the catalog (e.g. "aws-spot")."""

    provider: str
    region: str
    instance_type: str
    vcpu: int
    memory_gib: float
    purchase_option: str
    usd_per_hour: Decimal
    source: str
    zone: str = ""
    family: str | None = None
    category: str | None = None
    interruption_bucket: int | None = None

    def __post_init__(self) -> None:
        if self.purchase_option not in PURCHASE_OPTIONS:
            raise ValueError(f"unknown purchase option {self.purchase_option!r}")
        if self.usd_per_hour < 0:
            raise ValueError(f"negative price for {self.instance_type} in {self.region}")

    @property
    def key(self) -> tuple[str, str, str, str, str]:
        return (self.provider, self.region, self.zone, self.instance_type, self.purchase_option)


@dataclass(frozen=True)
class OfferCounts:
    new: int = 0
    changed: int = 0
    unchanged: int = 0

    @property
    def written(self) -> int:
        return self.new + self.changed


OpenVersion = tuple[int, Decimal, datetime]  # id, price, valid_from


def _open_prices(conn: Connection, providers: set[str]) -> dict[tuple[str, ...], OpenVersion]:
    rows = conn.execute(
        sa.select(
            OFFERS.c.id, OFFERS.c.provider, OFFERS.c.region, OFFERS.c.zone,
            OFFERS.c.instance_type, OFFERS.c.purchase_option, OFFERS.c.usd_per_hour,
            OFFERS.c.valid_from,
        ).where(OFFERS.c.valid_to.is_(None), OFFERS.c.provider.in_(sorted(providers)))
    )  # fmt: skip
    return {(r[1], r[2], r[3], r[4], r[5]): (r[0], Decimal(r[6]), r[7]) for r in rows}


def write_offers(
    conn: Connection, offers: Iterable[Offer], at: datetime, fill_only: bool = False
) -> OfferCounts:
    """Record `offers` as of `at` (see module doc). The last of duplicate keys wins.
    `fill_only` writes only offers with no open version (a dated reference snapshot must
    never replace a live price), counting the others unchanged."""
    latest = {o.key: o for o in offers}
    if not latest:
        return OfferCounts()
    current = _open_prices(conn, {k[0] for k in latest})
    new = changed = unchanged = 0
    inserts: list[dict[str, Any]] = []
    for key, offer in latest.items():
        found = current.get(key)
        if found is not None and (fill_only or found[1] == offer.usd_per_hour):
            unchanged += 1
            continue
        values = {
            "provider": offer.provider, "region": offer.region, "zone": offer.zone,
            "instance_type": offer.instance_type, "family": offer.family,
            "category": offer.category, "vcpu": offer.vcpu, "memory_gib": offer.memory_gib,
            "purchase_option": offer.purchase_option, "usd_per_hour": offer.usd_per_hour,
            "interruption_bucket": offer.interruption_bucket, "source": offer.source,
            "valid_from": at, "valid_to": None,
        }  # fmt: skip
        if found is None:
            new += 1
            inserts.append(values)
            continue
        changed += 1
        row_id, _, since = found
        if _same_instant(since, at):  # re-priced twice at one instant: correct in place
            conn.execute(sa.update(OFFERS).where(OFFERS.c.id == row_id).values(**values))
            continue
        conn.execute(sa.update(OFFERS).where(OFFERS.c.id == row_id).values(valid_to=at))
        inserts.append(values)
    if inserts:
        conn.execute(sa.insert(OFFERS), inserts)
    return OfferCounts(new, changed, unchanged)


def _same_instant(a: datetime, b: datetime) -> bool:
    return a.replace(tzinfo=None) == b.replace(tzinfo=None)

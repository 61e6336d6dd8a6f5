"""store.prices: live catalog prices kept as a slowly changing dimension."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from store.prices import OFFERS, Offer, OfferCounts, write_offers

T1 = datetime(2026, 11, 1, tzinfo=UTC)
T2 = datetime(2026, 11, 2, tzinfo=UTC)


def offer(price: str, option: str = "on_demand", itype: str = "m5.large") -> Offer:
    return Offer("aws", "us-east-1", itype, 2, 8.0, option, Decimal(price), "test")


def versions(engine: Engine) -> list[tuple[str, str, Decimal, bool]]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(
                OFFERS.c.instance_type, OFFERS.c.purchase_option, OFFERS.c.usd_per_hour,
                OFFERS.c.valid_to,
            ).order_by(OFFERS.c.id)
        )  # fmt: skip
        return [(r[0], r[1], r[2], r[3] is None) for r in rows]


def test_unchanged_prices_write_nothing_and_changes_open_a_version(engine: Engine) -> None:
    with engine.begin() as conn:
        assert write_offers(conn, [offer("0.096"), offer("0.035", "spot")], T1) == OfferCounts(2)
    with engine.begin() as conn:
        counts = write_offers(conn, [offer("0.0960"), offer("0.031", "spot")], T2)
    assert counts == OfferCounts(new=0, changed=1, unchanged=1)
    assert versions(engine) == [
        ("m5.large", "on_demand", Decimal("0.096"), True),
        ("m5.large", "spot", Decimal("0.035"), False),
        ("m5.large", "spot", Decimal("0.031"), True),
    ]


def test_a_second_price_at_the_same_instant_corrects_in_place(engine: Engine) -> None:
    with engine.begin() as conn:
        write_offers(conn, [offer("0.1")], T1)
        write_offers(conn, [offer("0.2")], T1)
    assert versions(engine) == [("m5.large", "on_demand", Decimal("0.2"), True)]


def test_a_failed_transaction_changes_no_price(engine: Engine) -> None:
    with pytest.raises(RuntimeError), engine.begin() as conn:
        write_offers(conn, [offer("0.1")], T1)
        raise RuntimeError("collector failed after pricing")
    assert versions(engine) == []


def test_bad_offers_are_refused() -> None:
    with pytest.raises(ValueError, match="purchase option"):
        offer("0.1", "reserved")
    with pytest.raises(ValueError, match="negative"):
        offer("-1")


def test_fill_only_never_replaces_a_live_price(engine: Engine) -> None:
    with engine.begin() as conn:
        write_offers(conn, [offer("0.096")], T1)
    with engine.begin() as conn:
        counts = write_offers(conn, [offer("0.5"), offer("0.04", "spot")], T2, fill_only=True)
    assert counts == OfferCounts(new=1, changed=0, unchanged=1)
    assert versions(engine) == [
        ("m5.large", "on_demand", Decimal("0.096"), True),
        ("m5.large", "spot", Decimal("0.04"), True),
    ]

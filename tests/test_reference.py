"""`optimizer collect reference`: the shipped facts for a store the collectors fill."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from optimizer.reference import has_reference, load_reference
from store.prices import OFFERS, Offer, write_offers
from tests.conftest import run_cli

LIVE = Offer("aws", "us-east-1", "m5.large", 2, 8.0, "on_demand", Decimal("0.123"), "aws-pricing")


def open_price(engine: Engine, offer: Offer) -> Decimal:
    with engine.connect() as conn:
        return conn.execute(
            sa.select(OFFERS.c.usd_per_hour).where(
                OFFERS.c.provider == offer.provider, OFFERS.c.region == offer.region,
                OFFERS.c.instance_type == offer.instance_type,
                OFFERS.c.purchase_option == offer.purchase_option, OFFERS.c.valid_to.is_(None),
            )
        ).scalar_one()  # fmt: skip


def test_reference_fills_facts_and_never_replaces_a_live_price(engine: Engine) -> None:
    with engine.begin() as conn:
        write_offers(conn, [LIVE], datetime(2026, 11, 1, tzinfo=UTC))
    assert not has_reference(engine)
    first = load_reference(engine)
    assert first["region"] > 40 and first["latency"] > 1000 and first["price_offer"] > 1000
    assert has_reference(engine)
    assert open_price(engine, LIVE) == Decimal("0.123")  # the snapshot lists m5.large too
    again = load_reference(engine)
    assert again["price_offer"] == 0
    assert again["price_offer_already_priced"] == first["price_offer"] + 1


def test_cli_and_nightly_collect_load_reference_when_missing(tmp_path: Path) -> None:
    db, fresh = tmp_path / "s.db", tmp_path / "fresh.db"
    for store in (db, fresh):
        assert run_cli("--db", str(store), "init").returncode == 0
    done = run_cli("--db", str(db), "--json", "collect", "reference")
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["region"] > 40
    # A store without facts gets them from the nightly collect stage.
    focus = tmp_path / "none.csv"
    config = tmp_path / "optimizer.toml"
    config.write_text(f'[[sources]]\ntype = "focus"\nname = "f"\npaths = ["{focus.name}"]\n')
    done = run_cli("--db", str(fresh), "--config", str(config), "--json", "collect", "all")
    assert json.loads(done.stdout)["reference_loaded"]["region"] > 40, done.stderr

"""Compute Engine price offers: the real CloudCatalogClient (REST) and MachineTypesClient
against tests/gcp_fake.py, written through store.prices.write_offers."""

from __future__ import annotations

from datetime import date
from decimal import Decimal
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from collectors.gcp.collector import GcpCollector
from collectors.gcp.settings import GcpSource
from store.models import PriceOffer, StorageTierPrice
from tests.gcp_data import ACCOUNT, PROJECT, machine_type, price, sku
from tests.gcp_fake import FakeGcp, denied, gcp_fixture, throttled  # noqa: F401
from tests.gcp_storage import gcs_fixture  # noqa: F401

TODAY = date(2024, 3, 10)
US = ("us-central1", "us-east1")


def source(gcp: FakeGcp, **kw: Any) -> GcpSource:
    base: dict[str, Any] = {
        "type": "gcp", "name": "corp", "billing_account": ACCOUNT, "projects": [PROJECT],
        "regions": ["us-central1"], "endpoints": gcp.endpoints(), "spend": False,
        "inventory": False, "metrics": False, "storage": False, "max_attempts": 2,
        "retry_seconds": 0,
    }  # fmt: skip
    return GcpSource(**{**base, **kw})


def catalog(n2_core_nanos: int = 31_611_000) -> list[dict[str, Any]]:
    """Real list prices of us-central1 (March 2024), in the catalog's shapes."""
    return [
        sku("N2 Instance Core running in Americas", "OnDemand", "h",
            [price(0, n2_core_nanos)], US),
        sku("N2 Instance Ram running in Americas", "OnDemand", "GiBy.h",
            [price(0, 4_237_000)], US, "RAM"),
        sku("Spot Preemptible N2 Instance Core running in Americas", "Preemptible", "h",
            [price(0, 7_650_000)], US),
        sku("Spot Preemptible N2 Instance Ram running in Americas", "Preemptible", "GiBy.h",
            [price(0, 1_025_000)], US, "RAM"),
        sku("Commitment v1: N2 Cpu in Americas for 1 Year", "Commit1Yr", "h",
            [price(0, 19_915_000)], US),
        sku("Commitment v1: N2 Ram in Americas for 1 Year", "Commit1Yr", "GiBy.h",
            [price(0, 2_669_000)], US, "RAM"),
        # tiered: the tier starting at 0 is the price (tiers listed out of order)
        sku("E2 Instance Core running in Americas", "OnDemand", "h",
            [price(0, 20_000_000, 100), price(0, 21_811_000)], US),
        sku("E2 Instance Ram running in Americas", "OnDemand", "GiBy.h",
            [price(0, 2_923_000)], US, "RAM"),
        sku("N2 Custom Instance Core running in Americas", "OnDemand", "h",
            [price(0, 33_174_000)], US),
        sku("N2 Sole Tenancy Instance Core running in Americas", "OnDemand", "h",
            [price(0, 34_773_000)], US),
        sku("N2 Instance Core running in Belgium", "OnDemand", "h",
            [price(0, 34_802_000)], ("europe-west1",)),
    ]  # fmt: skip


def offers(engine: Engine) -> dict[tuple[str, str], Decimal]:
    t = PriceOffer.__table__  # type: ignore[attr-defined]
    query = sa.select(t.c.instance_type, t.c.purchase_option, t.c.usd_per_hour).where(
        t.c.valid_to.is_(None)
    )
    with engine.connect() as conn:
        return {(r[0], r[1]): Decimal(r[2]) for r in conn.execute(query)}


def test_offers_are_core_plus_ram_per_machine_type(gcp: FakeGcp, engine: Engine) -> None:
    gcp.page_size = 3  # catalog and aggregated lists page
    gcp.skus = catalog()
    gcp.machine_types = {
        "us-central1-a": [machine_type("n2-standard-4", 4, 16384),
                          machine_type("e2-standard-2", 2, 8192),
                          machine_type("e2-micro", 2, 1024, shared=True),
                          machine_type("c3-standard-4", 4, 16384)],
        "us-central1-b": [machine_type("n2-standard-4", 4, 16384, "us-central1-b")],
        "europe-west1-b": [machine_type("n2-standard-4", 4, 16384, "europe-west1-b")],
    }  # fmt: skip
    s = GcpCollector(source(gcp)).collect(engine, TODAY)
    assert s.status == "ok", s
    assert s.rows == {"price_offers": 4, "price_offers_changed": 4}
    assert s.api_calls == {"cloudbilling.services.skus.list": 4,
                           "compute.machineTypes.aggregatedList": 2}  # fmt: skip
    assert s.quarantined == {
        "price skipped: custom machine SKU": 1,
        "price skipped: sole-tenant SKU": 1,
        "price skipped: shared-core machine type": 1,
        "price skipped: machine type without core and RAM prices": 1,
    }
    assert offers(engine) == {
        ("n2-standard-4", "on_demand"): Decimal("0.194236"),  # 4 × 0.031611 + 16 × 0.004237
        ("n2-standard-4", "spot"): Decimal("0.047"),
        ("n2-standard-4", "commit_1y"): Decimal("0.122364"),
        ("e2-standard-2", "on_demand"): Decimal("0.067006"),
    }
    t = PriceOffer.__table__  # type: ignore[attr-defined]
    with engine.connect() as conn:
        row = conn.execute(sa.select(t).where(t.c.instance_type == "n2-standard-4")).first()
    assert row is not None
    assert (row.provider, row.region, row.vcpu, row.memory_gib, row.family, row.source) == (
        "gcp", "us-central1", 4, 16.0, "n2", "gcp-catalog")  # fmt: skip
    # unchanged catalog: nothing new; a price change closes and reopens one version
    again = GcpCollector(source(gcp)).collect(engine, TODAY)
    assert again.rows["price_offers_changed"] == 0
    gcp.skus = catalog(n2_core_nanos=32_000_000)
    changed = GcpCollector(source(gcp)).collect(engine, TODAY)
    assert changed.rows["price_offers_changed"] == 1
    assert offers(engine)[("n2-standard-4", "on_demand")] == Decimal("0.195792")
    with engine.connect() as conn:
        versions = conn.execute(sa.select(sa.func.count()).select_from(t)).scalar_one()
    assert versions == 5  # 4 offers, one of them closed and re-opened


def test_catalog_throttled_then_ok_and_denied(gcp: FakeGcp, engine: Engine) -> None:
    gcp.skus = catalog()
    gcp.machine_types = {"us-central1-a": [machine_type("n2-standard-4", 4, 16384)]}
    gcp.queued["catalog"] = [throttled()]
    s = GcpCollector(source(gcp)).collect(engine, TODAY)
    assert s.status == "ok" and s.api_calls["cloudbilling.services.skus.list"] == 2
    gcp.always["compute"] = denied("compute.machineTypes.list")
    failed = GcpCollector(source(gcp)).collect(engine, TODAY)
    assert failed.status == "permission_denied"
    assert "compute.machineTypes.list" in failed.hint


def test_prices_without_a_project_is_invalid_config(gcp: FakeGcp, engine: Engine) -> None:
    s = GcpCollector(source(gcp, projects=[])).collect(engine, TODAY)
    assert s.status == "invalid_config" and "projects" in s.hint


def test_cloud_storage_class_prices(gcp: FakeGcp, gcs: str, engine: Engine) -> None:
    """At-rest GiB-month and retrieval GiB prices per (location, class) into
    storage_tier_price; the class facts the catalog lacks are left alone."""
    gcp.skus = catalog()
    gcp.machine_types = {"us-central1-a": [machine_type("n2-standard-4", 4, 16384)]}
    gcp.storage_skus = [
        sku("Standard Storage US Regional", "OnDemand", "GiBy.mo", [price(0, 20_000_000)],
            ("us-central1",), "RegionalStorage"),
        sku("Nearline Storage Iowa", "OnDemand", "GiBy.mo", [price(0, 10_000_000)],
            ("us-central1",), "NearlineStorage"),
        sku("Nearline Data Retrieval Iowa", "OnDemand", "GiBy", [price(0, 10_000_000)],
            ("us-central1",), "NearlineStorage"),
        sku("Archive Storage Iowa", "OnDemand", "GiBy.mo", [price(0, 1_200_000)],
            ("us-central1",), "ArchiveStorage"),
        sku("Standard Storage US Multi-region", "OnDemand", "GiBy.mo", [price(0, 26_000_000)],
            ("us",), "MultiRegionalStorage"),
        sku("Standard Storage Belgium", "OnDemand", "GiBy.mo", [price(0, 20_000_000)],
            ("europe-west1",), "RegionalStorage"),
        sku("Regional Standard Class A Operations", "OnDemand", "count/10000",
            [price(0, 50_000_000)], ("us-central1",), "RegionalOps"),
    ]  # fmt: skip
    t = StorageTierPrice.__table__  # type: ignore[attr-defined]
    with engine.begin() as conn:  # a reference fact the catalog does not give
        conn.execute(sa.insert(t).values(provider="gcp", region="us-central1", tier="ARCHIVE",
                                         usd_per_gb_month=Decimal("0.0025"),
                                         min_storage_days=365, source="snapshot"))  # fmt: skip
    src = source(gcp, storage=True, endpoints=gcp.endpoints(gcs))
    s = GcpCollector(src).collect(engine, TODAY)
    assert s.status == "ok" and s.rows["storage_tier_prices"] == 4, (
        s
    )  # europe-west1 is not a configured region
    with engine.connect() as conn:
        got = {(r.region, r.tier): (r.usd_per_gb_month, r.retrieval_usd_per_gb,
                                    r.min_storage_days, r.source)
               for r in conn.execute(sa.select(t))}  # fmt: skip
    assert got == {
        ("us-central1", "STANDARD"): (Decimal("0.02"), Decimal(0), None, "gcp-catalog"),
        ("us-central1", "NEARLINE"): (Decimal("0.01"), Decimal("0.01"), None, "gcp-catalog"),
        ("us-central1", "ARCHIVE"): (Decimal("0.0012"), None, 365, "gcp-catalog"),
        ("us", "STANDARD"): (Decimal("0.026"), Decimal(0), None, "gcp-catalog"),
    }
    assert s.api_calls["cloudbilling.services.skus.list"] == 2

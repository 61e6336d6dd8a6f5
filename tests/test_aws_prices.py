"""AWS price offers: the real boto3 pricing client against a local Price List Query API
(tests/aws_pricing_fake.py), spot history through moto, mappings on real-shaped payloads."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from collectors.aws import prices_mapping as pm
from collectors.aws.collector import AwsCollector, totals
from collectors.aws.settings import AwsSource
from store.prices import OFFERS
from tests.aws_fake import FakeAws, aws_fixture, moto_server  # noqa: F401
from tests.aws_pricing_fake import FakePricing, product
from tests.test_aws_collector import TODAY, d, group, page, seed_estate

SIZES = {"m5.large": (2, 8.0), "c5.xlarge": (4, 8.0), "r5.large": (2, 16.0)}


@pytest.fixture
def pricing() -> Iterator[FakePricing]:
    fake = FakePricing(
        [
            product("m5.large", "us-east-1", "0.0960000000"),
            product("m5.large", "us-east-1", "0", capacitystatus="UnusedCapacityReservation"),
            product("c5.xlarge", "us-east-1", "0.1700000000", vcpu=4),
            product("r5.large", "us-east-1", "0.1260000000", memory="16 GiB"),
            product("m5.large", "eu-west-1", "0.1070000000", location="EU (Ireland)"),
            *[product(f"x{i}.large", "us-east-1", f"0.{i + 1:03d}") for i in range(120)],
        ]
    )  # fmt: skip
    yield fake
    fake.close()


def source(aws: FakeAws, pricing: FakePricing, **kw: Any) -> AwsSource:
    base: dict[str, Any] = {
        "type": "aws", "name": "prod", "endpoint_url": aws.url, "first_days": 3,
        "max_attempts": 2, "pricing_endpoint_url": pricing.url, "cost_explorer": False,
        "metrics": False, "s3": False, "price_instance_types": ["r5.large"],
    }  # fmt: skip
    return AwsSource(**{**base, **kw})


def offers(engine: Engine, **where: str) -> list[Any]:
    with engine.connect() as conn:
        q = sa.select(OFFERS).where(*(OFFERS.c[k] == v for k, v in where.items()))
        return list(conn.execute(q.order_by(OFFERS.c.id)))


def test_on_demand_and_spot_offers(aws: FakeAws, pricing: FakePricing, engine: Engine) -> None:
    seed_estate(aws)  # m5.large and c5.xlarge running in us-east-1
    s = AwsCollector(source(aws, pricing)).collect(engine, TODAY)
    assert s.status == "ok", s
    assert s.api_calls["pricing:GetProducts"] == 2  # 123 products, pages of 100
    assert s.api_calls["ec2:DescribeSpotPriceHistory"] == 1
    sent = {f["Field"]: f["Value"] for f in pricing.requests[0]["Filters"]}
    assert sent == {"regionCode": "us-east-1", "operatingSystem": "Linux", "tenancy": "Shared",
                    "preInstalledSw": "NA", "capacitystatus": "Used"}  # fmt: skip
    assert pricing.requests[0]["ServiceCode"] == "AmazonEC2"
    (m5,) = offers(engine, purchase_option="on_demand", instance_type="m5.large")
    assert (m5.region, m5.zone, m5.usd_per_hour, m5.vcpu, m5.memory_gib) == (
        "us-east-1", "", Decimal("0.096"), 2, 8.0)  # fmt: skip
    assert m5.source == "aws-price-list" and m5.category == "General purpose"
    assert len(offers(engine, purchase_option="on_demand")) == 123
    spot = offers(engine, purchase_option="spot")
    # moto prices every AZ alike: per type, one offer per AZ and the region's (zone "")
    assert {o.instance_type for o in spot} == {"m5.large", "c5.xlarge", "r5.large"}
    region_level = [o for o in spot if o.zone == ""]
    assert len(region_level) == 3 and all(o.source == "aws-spot" for o in spot)
    assert {o.zone[:9] for o in spot if o.zone} == {"us-east-1"}
    assert s.rows["price_offers"] == 123 + len(spot)
    # re-run: nothing changed, nothing written; then a price change closes the old version
    assert (
        AwsCollector(source(aws, pricing)).collect(engine, TODAY).rows["price_offers_changed"] == 0
    )
    pricing.products[0] = product("m5.large", "us-east-1", "0.0990000000")
    again = AwsCollector(source(aws, pricing)).collect(engine, TODAY)
    assert again.rows["price_offers_changed"] == 1
    versions = offers(engine, purchase_option="on_demand", instance_type="m5.large")
    assert [v.usd_per_hour for v in versions] == [Decimal("0.096"), Decimal("0.099")]
    assert versions[0].valid_to is not None and versions[1].valid_to is None


def test_spot_mapping_latest_per_az_region_is_lowest() -> None:
    def t(h: int) -> datetime:
        return datetime(2024, 9, 1, h, tzinfo=UTC)

    history = [  # DescribeSpotPriceHistory records as boto3 returns them
        {"AvailabilityZone": "us-east-1a", "InstanceType": "m5.large",
         "ProductDescription": "Linux/UNIX", "SpotPrice": "0.041000", "Timestamp": t(1)},
        {"AvailabilityZone": "us-east-1a", "InstanceType": "m5.large",
         "ProductDescription": "Linux/UNIX", "SpotPrice": "0.039000", "Timestamp": t(3)},
        {"AvailabilityZone": "us-east-1b", "InstanceType": "m5.large",
         "ProductDescription": "Linux/UNIX", "SpotPrice": "0.035000", "Timestamp": t(2)},
        {"AvailabilityZone": "us-east-1b", "InstanceType": "m5.large",
         "ProductDescription": "Linux/UNIX", "SpotPrice": "n/a", "Timestamp": t(4)},
        {"AvailabilityZone": "us-east-1c", "InstanceType": "z9.huge",
         "ProductDescription": "Linux/UNIX", "SpotPrice": "1.0", "Timestamp": t(4)},
    ]  # fmt: skip
    latest = pm.latest_spot(history)
    assert latest[("m5.large", "us-east-1a")] == Decimal("0.039")
    assert latest[("m5.large", "us-east-1b")] == Decimal("0.035")
    out = pm.spot_offers(latest, "us-east-1", SIZES)
    by_zone = {o.zone: o.usd_per_hour for o in out.offers}
    assert by_zone == {"us-east-1a": Decimal("0.039"), "us-east-1b": Decimal("0.035"),
                       "": Decimal("0.035")}  # fmt: skip
    assert out.quarantined == {"spot price for z9.huge: unknown vCPU/memory": 1}


def test_price_list_mapping_quarantines_malformed_items() -> None:
    good = json.dumps(product("m5.large", "us-east-1", "0.096"))
    cheaper_twin = json.dumps(product("m5.large", "us-east-1", "0.095", licenseModel="x"))
    no_price = product("c5.xlarge", "us-east-1", "0.17")
    no_price["terms"]["OnDemand"] = {}
    bad_memory = product("r5.large", "us-east-1", "0.126", memory="lots")
    out = pm.on_demand_offers(
        [good, cheaper_twin, "{not json", json.dumps(no_price), json.dumps(bad_memory)],
        "us-east-1", {},
    )  # fmt: skip
    assert [(o.instance_type, o.usd_per_hour, o.memory_gib) for o in out.offers] == [
        ("m5.large", Decimal("0.095"), 8.0)
    ]
    assert out.quarantined == {
        "price list item without product.attributes.instanceType": 1,
        "price list item: no hourly OnDemand price": 1,
        "price list item: memory 'lots' is not '<n> GiB'": 1,
    }


@pytest.mark.parametrize(("throttle", "status"), [(1, "ok"), (5, "throttled")])
def test_pricing_throttled_retried_then_mapped_other_kinds_kept(
    aws: FakeAws, pricing: FakePricing, sqlite_engine: Engine, throttle: int, status: str
) -> None:
    aws.queue_ce(page({d(1): [group("1", "Amazon EC2", "7.77")]}))
    pricing.throttle = throttle
    s = AwsCollector(source(aws, pricing, cost_explorer=True)).collect(sqlite_engine, TODAY)
    assert s.status == status, s
    assert s.api_calls["pricing:GetProducts"] == (2 if status == "ok" else 1)
    if status == "throttled":
        assert "pricing:GetProducts: ThrottlingException" in s.detail and "max_attempts" in s.hint
        assert len(pricing.requests) == 2  # max_attempts = 2: the SDK retried once
        assert offers(sqlite_engine) == []  # nothing half-written
    assert totals(sqlite_engine, "prod") == (1, Decimal("7.77"))  # spend stored either way


def test_pricing_denied_and_expired(
    aws: FakeAws, pricing: FakePricing, sqlite_engine: Engine
) -> None:
    pricing.deny = True
    s = AwsCollector(source(aws, pricing)).collect(sqlite_engine, TODAY)
    assert s.status == "permission_denied" and "grant pricing:GetProducts" in s.hint
    pricing.deny, pricing.expired = False, True
    s = AwsCollector(source(aws, pricing)).collect(sqlite_engine, TODAY)
    assert s.status == "auth_failed" and "ExpiredTokenException" in s.detail

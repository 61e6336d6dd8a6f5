"""Read the shipped public price snapshot, and load it into the store's reference tables.

The snapshot (optimizer/demo/snapshot/*.csv.gz, see its NOTICE.md) is written by another
script and may be a draft: every cell is parsed defensively, and a row without the
fields that identify it is skipped rather than guessed.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from importlib import resources

from sqlalchemy.engine import Connection

from store.bulk import upsert_rows
from store.errors import ConfigError
from store.types import SQLITE_DATETIME_FORMAT

PACKAGE = "optimizer.demo"
FOLDER = "snapshot"
SOURCE_KEY = "demo-snapshot"


@dataclass(frozen=True)
class Offer:
    provider: str
    region: str
    instance_type: str
    family: str | None
    category: str | None
    vcpu: int
    memory_gib: float
    purchase_option: str
    usd_per_hour: Decimal
    interruption_bucket: int | None
    source: str | None


@dataclass(frozen=True)
class RegionInfo:
    provider: str
    region: str
    display_name: str | None
    country_code: str | None
    jurisdiction: str | None
    latitude: float | None
    longitude: float | None
    source: str | None


@dataclass(frozen=True)
class LatencyPair:
    src_provider: str
    src_region: str
    dst_provider: str
    dst_region: str
    rtt_ms: float


@dataclass(frozen=True)
class EgressPair:
    src_provider: str
    src_region: str
    dst_provider: str
    dst_region: str
    usd_per_gb: Decimal


@dataclass(frozen=True)
class TierPrice:
    provider: str
    region: str
    tier: str
    usd_per_gb_month: Decimal
    retrieval_usd_per_gb: Decimal | None
    min_storage_days: int | None
    min_billable_kb: int | None
    first_byte_latency_ms: float | None
    source: str | None


@dataclass(frozen=True)
class Snapshot:
    offers: tuple[Offer, ...]
    regions: tuple[RegionInfo, ...]
    latency: tuple[LatencyPair, ...]
    egress: tuple[EgressPair, ...]
    storage_tiers: tuple[TierPrice, ...]


# -- defensive cell parsing ----------------------------------------------------------
def _s(value: str | None) -> str | None:
    value = (value or "").strip()
    return value or None


def _dec(value: str | None) -> Decimal | None:
    text = _s(value)
    try:
        return None if text is None else Decimal(text)
    except InvalidOperation:
        return None


def _float(value: str | None) -> float | None:
    text = _s(value)
    try:
        return None if text is None else float(text)
    except ValueError:
        return None


def _int(value: str | None) -> int | None:
    number = _float(value)
    return None if number is None else int(number)


def read_rows(name: str) -> Iterator[dict[str, str]]:
    """Rows of one snapshot file as dicts; a missing file means a broken install."""
    resource = resources.files(PACKAGE).joinpath(FOLDER, name)
    if not resource.is_file():
        raise ConfigError(
            f"the demo snapshot file {name} is missing from the installed package",
            where=f"optimizer/demo/snapshot/{name}",
            fix="reinstall optimizer, or regenerate it with scripts/build_demo_snapshot.py",
        )
    with resource.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8", newline="") as fh:
        yield from csv.DictReader(io.StringIO(fh.read()))


def _offers() -> Iterator[Offer]:
    for r in read_rows("offers.csv.gz"):
        provider, region, itype = (
            _s(r.get("provider")),
            _s(r.get("region")),
            _s(r.get("instance_type")),
        )
        option, price = _s(r.get("purchase_option")), _dec(r.get("usd_per_hour"))
        vcpu, mem = _int(r.get("vcpu")), _float(r.get("memory_gib"))
        if not (provider and region and itype and option) or price is None or price < 0:
            continue
        if not vcpu or mem is None:
            continue
        yield Offer(
            provider,
            region,
            itype,
            _s(r.get("family")),
            _s(r.get("category")),
            vcpu,
            mem,
            option,
            price,
            _int(r.get("interruption_bucket")),
            _s(r.get("source")),
        )


def _regions() -> Iterator[RegionInfo]:
    for r in read_rows("regions.csv.gz"):
        provider, region = _s(r.get("provider")), _s(r.get("region"))
        if provider and region:
            yield RegionInfo(
                provider,
                region,
                _s(r.get("display_name")),
                _s(r.get("country_code")),
                _s(r.get("jurisdiction")),
                _float(r.get("latitude")),
                _float(r.get("longitude")),
                _s(r.get("source")),
            )


def _pairs(name: str) -> Iterator[tuple[str, str, str, str, dict[str, str]]]:
    for r in read_rows(name):
        sp, sr, dp, dr = (_s(r.get(c)) for c in ("src_provider", "src_region", "dst_provider",
                                                  "dst_region"))  # fmt: skip
        if sp and sr and dp and dr:
            yield sp, sr, dp, dr, r


def _tiers() -> Iterator[TierPrice]:
    for r in read_rows("storage_tiers.csv.gz"):
        provider, region, tier = _s(r.get("provider")), _s(r.get("region")), _s(r.get("tier"))
        price = _dec(r.get("usd_per_gb_month"))
        if provider and region and tier and price is not None:
            yield TierPrice(
                provider,
                region,
                tier,
                price,
                _dec(r.get("retrieval_usd_per_gb")),
                _int(r.get("min_storage_days")),
                _int(r.get("min_billable_kb")),
                _float(r.get("first_byte_latency_ms")),
                _s(r.get("source")),
            )


def load_snapshot() -> Snapshot:
    """The whole snapshot, deduplicated on each table's natural key (first row wins)."""
    offers = {
        (o.provider, o.region, o.instance_type, o.purchase_option): o
        for o in reversed(list(_offers()))
    }
    regions = {(r.provider, r.region): r for r in reversed(list(_regions()))}
    latency: dict[tuple[str, ...], LatencyPair] = {}
    for sp, sr, dp, dr, row in _pairs("latency.csv.gz"):
        rtt = _float(row.get("rtt_ms"))
        if rtt is not None and rtt >= 0:
            latency.setdefault((sp, sr, dp, dr), LatencyPair(sp, sr, dp, dr, rtt))
    egress: dict[tuple[str, ...], EgressPair] = {}
    for sp, sr, dp, dr, row in _pairs("egress.csv.gz"):
        price = _dec(row.get("usd_per_gb"))
        if price is not None and price >= 0:
            egress.setdefault((sp, sr, dp, dr), EgressPair(sp, sr, dp, dr, price))
    tiers = {(t.provider, t.region, t.tier): t for t in reversed(list(_tiers()))}
    return Snapshot(
        tuple(offers[k] for k in sorted(offers)),
        tuple(regions[k] for k in sorted(regions)),
        tuple(latency[k] for k in sorted(latency)),
        tuple(egress[k] for k in sorted(egress)),
        tuple(tiers[k] for k in sorted(tiers)),
    )


# -- into the store --------------------------------------------------------------------
def _db_ts(value: datetime) -> str:
    return value.replace(tzinfo=None).strftime(SQLITE_DATETIME_FORMAT)


def _money(value: Decimal | None) -> str | None:
    return None if value is None else format(value, "f")


def close_open_offers(conn: Connection, snap: Snapshot, at: datetime) -> None:
    """Price history is a slowly changing dimension: end the open versions we replace."""
    mark = "?" if conn.dialect.paramstyle == "qmark" else "%s"
    sql = (
        f"UPDATE price_offer SET valid_to = {mark} WHERE valid_to IS NULL AND provider = {mark} "
        f"AND region = {mark} AND zone = '' AND instance_type = {mark} "
        f"AND purchase_option = {mark}"
    )
    params = [
        (_db_ts(at), o.provider, o.region, o.instance_type, o.purchase_option) for o in snap.offers
    ]
    if params:
        conn.exec_driver_sql(sql, params)


def write_reference(conn: Connection, snap: Snapshot, valid_from: datetime) -> dict[str, int]:
    """Upsert the snapshot into price_offer, region, latency, egress_price and
    storage_tier_price; returns rows written per table."""
    close_open_offers(conn, snap, valid_from)
    since = _db_ts(valid_from)
    counts = {
        "price_offer": upsert_rows(
            conn, "price_offer",
            ("provider", "region", "zone", "instance_type", "family", "category", "vcpu",
             "memory_gib", "purchase_option", "usd_per_hour", "interruption_bucket", "source",
             "valid_from"),
            [(o.provider, o.region, "", o.instance_type, o.family, o.category, o.vcpu,
              o.memory_gib, o.purchase_option, _money(o.usd_per_hour), o.interruption_bucket,
              o.source, since) for o in snap.offers],
            conflict=("provider", "region", "zone", "instance_type", "purchase_option",
                      "valid_from"),
        ),
    }  # fmt: skip
    counts.update(write_facts(conn, snap))
    return counts


def write_facts(conn: Connection, snap: Snapshot) -> dict[str, int]:
    """Upsert the snapshot's regions, latency, egress and storage tier prices (facts that
    no collector reads live); returns rows written per table."""
    return {
        "region": upsert_rows(
            conn, "region",
            ("provider", "region", "display_name", "country_code", "jurisdiction", "latitude",
             "longitude", "source"),
            [(r.provider, r.region, r.display_name, r.country_code, r.jurisdiction, r.latitude,
              r.longitude, r.source) for r in snap.regions],
            conflict=("provider", "region"),
        ),
        "latency": upsert_rows(
            conn, "latency",
            ("src_provider", "src_region", "dst_provider", "dst_region", "rtt_ms", "measured",
             "source"),
            [(p.src_provider, p.src_region, p.dst_provider, p.dst_region, p.rtt_ms, True,
              SOURCE_KEY) for p in snap.latency],
            conflict=("src_provider", "src_region", "dst_provider", "dst_region"),
        ),
        "egress_price": upsert_rows(
            conn, "egress_price",
            ("src_provider", "src_region", "dst_provider", "dst_region", "usd_per_gb", "source"),
            [(p.src_provider, p.src_region, p.dst_provider, p.dst_region, _money(p.usd_per_gb),
              SOURCE_KEY) for p in snap.egress],
            conflict=("src_provider", "src_region", "dst_provider", "dst_region"),
        ),
        "storage_tier_price": upsert_rows(
            conn, "storage_tier_price",
            ("provider", "region", "tier", "usd_per_gb_month", "retrieval_usd_per_gb",
             "min_storage_days", "min_billable_kb", "first_byte_latency_ms", "source"),
            [(t.provider, t.region, t.tier, _money(t.usd_per_gb_month),
              _money(t.retrieval_usd_per_gb), t.min_storage_days, t.min_billable_kb,
              t.first_byte_latency_ms, t.source) for t in snap.storage_tiers],
            conflict=("provider", "region", "tier"),
        ),
    }  # fmt: skip

"""The demo estate: deterministic, internally consistent, and loaded through the real ingest."""

from __future__ import annotations

import gzip
import json
from collections import defaultdict
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy.engine import Engine

from collectors.focus.schema import MANDATORY
from optimizer.cli import cli
from optimizer.commands.demo import default_out
from optimizer.context import AppContext
from optimizer.demo.build import DemoSummary, build_demo
from store.engine import make_engine
from store.errors import ConfigError
from store.migrate import upgrade

END = datetime(2025, 3, 1, tzinfo=UTC)  # the window crosses a 28-day February
DAYS, WORKLOADS, GROUPS = 62, 40, 12


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Engine, DemoSummary]]:
    """One small demo shared by the read-only checks (building is the slow part)."""
    root = tmp_path_factory.mktemp("demo")
    engine = make_engine(f"sqlite:///{root / 'store.db'}")
    upgrade(engine)
    summary = build_demo(
        engine, root / "out", workloads=WORKLOADS, storage_groups=GROUPS, days=DAYS, end=END
    )
    yield engine, summary
    engine.dispose()


def rows(engine: Engine, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    with engine.connect() as conn:
        return [tuple(r) for r in conn.execute(sa.text(sql), params)]


def dec(value: Any) -> Decimal:
    return Decimal(str(value))


def test_counts_and_period(built: tuple[Engine, DemoSummary]) -> None:
    engine, s = built
    assert (s.workloads, s.storage_groups) == (WORKLOADS, GROUPS)
    assert rows(engine, "SELECT count(*) FROM workload")[0][0] == WORKLOADS
    assert rows(engine, "SELECT count(*) FROM storage_group")[0][0] == GROUPS
    assert rows(engine, "SELECT count(*) FROM cost_record")[0][0] == s.cost_records > 0
    assert s.usage_samples == WORKLOADS * DAYS * 24 * 2 + GROUPS * DAYS * 2
    assert (s.period_start, s.period_end) == (END - timedelta(days=DAYS), END)
    assert {p for p, v in s.by_provider.items() if v["workloads"]} == {"aws", "azure", "gcp"}
    assert all(n > 0 for n in s.reference_rows.values())
    assert s.billed_total == s.effective_total  # whole months of commitments amortised
    assert sum(v["billed"] for v in s.by_provider.values()) == s.billed_total


def test_hourly_history_per_workload(built: tuple[Engine, DemoSummary]) -> None:
    engine, _ = built
    per_series = rows(
        engine,
        """
        SELECT w.name, u.metric, count(*), min(u.ts), max(u.ts) FROM workload w
        JOIN usage_sample u ON u.series_id = w.series_id GROUP BY w.name, u.metric""",
    )
    assert len(per_series) == 2 * WORKLOADS
    first, last = END - timedelta(days=DAYS), END - timedelta(hours=1)
    for _name, metric, count, lo, hi in per_series:
        assert metric in ("cpu_cores", "memory_gib")
        assert count == DAYS * 24 >= 60 * 24
        assert datetime.fromisoformat(lo) == first.replace(tzinfo=None)
        assert datetime.fromisoformat(hi) == last.replace(tzinfo=None)
    daily = rows(
        engine,
        """SELECT metric, count(*) FROM usage_sample WHERE series_id LIKE 'sg:%'
                            GROUP BY metric""",
    )
    assert dict(daily) == {"gb_retrieved": GROUPS * DAYS, "get_requests": GROUPS * DAYS}


def test_usage_stays_within_capacity_and_shows_waste(built: tuple[Engine, DemoSummary]) -> None:
    engine, _ = built
    stats = rows(
        engine,
        """
        SELECT w.name, w.vcpu * w.replicas, w.memory_gib * w.replicas,
               min(CASE WHEN u.metric = 'cpu_cores' THEN u.value END),
               max(CASE WHEN u.metric = 'cpu_cores' THEN u.value END),
               avg(CASE WHEN u.metric = 'cpu_cores' THEN u.value END),
               max(CASE WHEN u.metric = 'memory_gib' THEN u.value END)
        FROM workload w JOIN usage_sample u ON u.series_id = w.series_id GROUP BY w.name""",
    )
    for _name, cores, mem, lo, hi, _mean, mem_hi in stats:
        assert 0 <= lo <= hi <= cores
        assert mem_hi <= mem
    idle = sum(mean / cores < 0.10 for _n, cores, _m, _lo, _hi, mean, _mh in stats)
    assert 1 <= idle <= WORKLOADS // 3


def test_residency_is_respected(built: tuple[Engine, DemoSummary]) -> None:
    engine, _ = built
    regions = {
        (p, r): (j, c)
        for p, r, j, c in rows(
            engine, "SELECT provider, region, jurisdiction, country_code FROM region"
        )
    }
    placed = rows(
        engine, "SELECT provider, region, data_classification, user_regions FROM workload"
    )
    classes = {c for _p, _r, c, _u in placed}
    assert {"eu-personal", "us-only"} <= classes
    for provider, region, cls, users in placed:
        jurisdiction, country = regions[provider, region]
        if cls == "eu-personal":
            assert jurisdiction in ("EU", "EEA")
            for user in json.loads(users):
                assert regions[tuple(user.split(":", 1))][0] in ("EU", "EEA")
        if cls == "us-only":
            assert country == "US"
        assert 1 <= len(json.loads(users)) <= 3


def test_every_workload_has_its_offer(built: tuple[Engine, DemoSummary]) -> None:
    engine, _ = built
    missing = rows(
        engine,
        """
        SELECT w.name FROM workload w LEFT JOIN price_offer o
          ON o.provider = w.provider AND o.region = w.region
         AND o.instance_type = w.instance_type AND o.purchase_option = w.purchase_option
         AND o.valid_to IS NULL AND o.vcpu = w.vcpu AND o.memory_gib = w.memory_gib
        WHERE o.id IS NULL""",
    )
    assert missing == []
    options = {o for (o,) in rows(engine, "SELECT DISTINCT purchase_option FROM workload")}
    assert {"on_demand", "spot"} <= options and options & {"commit_1y", "commit_3y"}


def test_compute_cost_is_offer_price_times_hours_times_replicas(
    built: tuple[Engine, DemoSummary],
) -> None:
    engine, _ = built
    expected: dict[str, Decimal] = defaultdict(Decimal)
    category = {
        "on_demand": "Standard",
        "spot": "Dynamic",
        "commit_1y": "Committed",
        "commit_3y": "Committed",
    }
    for option, price, replicas in rows(
        engine,
        """
            SELECT w.purchase_option, o.usd_per_hour, w.replicas FROM workload w
            JOIN price_offer o ON o.provider = w.provider AND o.region = w.region
             AND o.instance_type = w.instance_type AND o.purchase_option = w.purchase_option""",
    ):
        expected[category[option]] += dec(price) * 24 * DAYS * replicas
    actual: dict[str, Decimal] = defaultdict(Decimal)
    billed: dict[str, Decimal] = defaultdict(Decimal)
    for cat, eff, bill in rows(
        engine,
        """
            SELECT pricing_category, effective_cost, billed_cost FROM cost_record
            WHERE service_category = 'Compute' AND charge_category = 'Usage'
              AND (commitment_discount_status IS NULL OR commitment_discount_status = 'Used')""",
    ):
        actual[cat] += dec(eff)
        billed[cat] += dec(bill)
    assert actual == expected
    assert billed["Committed"] == 0
    assert billed["Standard"] == expected["Standard"]


def test_commitment_invariant_per_commitment(built: tuple[Engine, DemoSummary]) -> None:
    engine, s = built
    assert s.commitments >= 1
    usage: dict[str, Decimal] = defaultdict(Decimal)
    purchases: dict[str, Decimal] = defaultdict(Decimal)
    statuses = set()
    for cid, category, pricing, status, bill, eff in rows(
        engine,
        """
            SELECT commitment_discount_id, charge_category, pricing_category,
                   commitment_discount_status, billed_cost, effective_cost
            FROM cost_record WHERE commitment_discount_id IS NOT NULL""",
    ):
        if category == "Purchase":
            assert dec(eff) == 0 and pricing == "Standard"
            purchases[cid] += dec(bill)
        else:
            assert category == "Usage" and pricing == "Committed" and dec(bill) == 0
            usage[cid] += dec(eff)
            statuses.add(status)
    assert usage == purchases and len(usage) == s.commitments
    assert statuses == {"Used", "Unused"}


def test_tax_storage_and_networking_rows(built: tuple[Engine, DemoSummary]) -> None:
    engine, _ = built
    tax = rows(
        engine,
        """SELECT provider_name, pricing_category, pricing_quantity, billed_cost
                          FROM cost_record WHERE charge_category = 'Tax'""",
    )
    assert {p for p, *_ in tax} == {"AWS", "Microsoft", "Google Cloud"}
    assert all(pc is None and pq is None and dec(b) > 0 for _p, pc, pq, b in tax)
    services = {
        (p, n, c)
        for p, n, c in rows(
            engine, "SELECT DISTINCT provider_name, service_name, service_category FROM cost_record"
        )
    }
    assert ("AWS", "Amazon Simple Storage Service", "Storage") in services
    assert ("Google Cloud", "Compute Engine", "Compute") in services
    assert any(c == "Networking" for _p, _n, c in services)
    tiers = {(p, t) for p, t in rows(engine, "SELECT provider, tier FROM storage_tier_price")}
    for provider, tier in rows(engine, "SELECT provider, tier FROM storage_group"):
        assert (provider, tier) in tiers


def test_focus_file_has_every_mandatory_column(built: tuple[Engine, DemoSummary]) -> None:
    _, s = built
    assert s.focus_file.name == "demo-focus-1.2.csv.gz"
    with gzip.open(s.focus_file, "rt") as fh:
        header = fh.readline().strip().split(",")
    assert set(MANDATORY) <= set(header)
    assert {"InvoiceId", "SubAccountId", "RegionId", "ResourceId", "SkuId", "Tags"} <= set(header)


def test_same_seed_same_estate_other_seed_other_and_force(
    sqlite_engine: Engine,
    tmp_path: Path,
) -> None:
    def first_workload() -> tuple[Any, ...]:
        columns = ("name, provider, account_id, region, instance_type, purchase_option, "
                   "replicas, vcpu, memory_gib, data_gb, owner, data_classification, "
                   "user_regions, tags, series_id")  # fmt: skip
        return rows(sqlite_engine, f"SELECT {columns} FROM workload ORDER BY id LIMIT 1")[0]

    def build(seed: int, force: bool = False) -> DemoSummary:
        return build_demo(
            sqlite_engine,
            tmp_path,
            seed=seed,
            workloads=20,
            storage_groups=6,
            days=60,
            end=END,
            force=force,
        )

    a = build(7)
    wl_a = first_workload()
    with pytest.raises(ConfigError) as refused:
        build(7)
    assert refused.value.fix and "--force" in refused.value.fix
    b = build(7, force=True)
    assert (b.billed_total, b.effective_total, b.cost_records, b.usage_samples) == (
        a.billed_total,
        a.effective_total,
        a.cost_records,
        a.usage_samples,
    )
    assert first_workload() == wl_a
    assert rows(sqlite_engine, "SELECT count(*) FROM workload")[0][0] == 20
    c = build(8, force=True)
    assert c.billed_total != a.billed_total and first_workload() != wl_a


def test_too_few_days_is_a_config_error(sqlite_engine: Engine, tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        build_demo(sqlite_engine, tmp_path, days=30)
    assert err.value.fix


@pytest.mark.postgres
def test_postgres_gives_the_same_totals(pg_engine: Engine, tmp_path: Path) -> None:
    def build(engine: Engine, out: str) -> DemoSummary:
        return build_demo(engine, tmp_path / out, workloads=12, storage_groups=0, days=60, end=END)

    pg = build(pg_engine, "pg")
    lite_engine = make_engine(f"sqlite:///{tmp_path / 'lite.db'}")
    upgrade(lite_engine)
    lite = build(lite_engine, "lite")
    lite_engine.dispose()
    assert (pg.billed_total, pg.last_30_days_billed, pg.cost_records, pg.usage_samples) == (
        lite.billed_total,
        lite.last_30_days_billed,
        lite.cost_records,
        lite.usage_samples,
    )
    assert (
        build_demo(
            pg_engine, tmp_path / "pg", workloads=12, storage_groups=0, days=60, end=END, force=True
        ).billed_total
        == pg.billed_total
    )


@pytest.mark.postgres
def test_postgres_stores_terabyte_buckets(pg_engine: Engine, tmp_path: Path) -> None:
    build_demo(pg_engine, tmp_path, workloads=1, storage_groups=1, days=60, end=END)
    assert rows(pg_engine, "SELECT bytes FROM storage_group")[0][0] >= 10 * 10**9


def test_cli_demo_json(tmp_path: Path) -> None:
    db = str(tmp_path / "d.db")
    args = [
        "--db",
        db,
        "--json",
        "demo",
        "--workloads",
        "30",
        "--storage-groups",
        "10",
        "--days",
        "61",
        "--out",
        str(tmp_path),
    ]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    payload = json.loads(result.stdout)
    assert (payload["workloads"], payload["storage_groups"]) == (30, 10)
    assert Path(payload["focus_file"]) == tmp_path / "demo-focus-1.2.csv.gz"
    assert Decimal(payload["last_30_days"]["billed"]) > 0
    assert sum(v["workloads"] for v in payload["by_provider"].values()) == 30
    config = tmp_path / "optimizer.toml"
    assert Path(payload["config_file"]) == config
    nightly = CliRunner().invoke(
        cli, ["--db", db, "--config", str(config), "--json", "run", "--skip-unbuilt"]
    )
    assert nightly.exit_code == 0, nightly.output
    collect = json.loads(nightly.stdout)["stages"][0]
    assert collect["name"] == "collect" and collect["status"] == "ok"
    engine = make_engine(f"sqlite:///{db}")
    assert rows(engine, "SELECT count(*) FROM cost_record")[0][0] == payload["cost_records"]
    engine.dispose()
    again = CliRunner().invoke(cli, args)
    assert isinstance(again.exception, ConfigError) and "--force" in (again.exception.fix or "")


def test_default_out_dir_sits_next_to_a_sqlite_store(tmp_path: Path) -> None:
    assert default_out(AppContext(db_url=str(tmp_path / "x.db"))) == tmp_path / ".demo"
    assert default_out(AppContext(db_url="postgresql+psycopg://u@h/db")) == Path.cwd() / ".demo"


def test_demo_ships_every_policy_type_and_the_makefile_workload_exists(tmp_path: Path) -> None:
    """`make demo` validates the demo policy file and explains DEMO_WORKLOAD (seed 7)."""
    from importlib import resources

    from policies import POLICY_TYPES, parse_policies

    repo = Path(__file__).resolve().parents[1]
    shipped = resources.files("optimizer.demo").joinpath("policies.yaml").read_text()
    assert shipped == (repo / "examples" / "policies" / "all.yaml").read_text()
    assert {p.type for p in parse_policies(shipped, "policies.yaml").policies} == set(POLICY_TYPES)
    makefile = (repo / "Makefile").read_text()
    name = next(
        line.split("?=")[1].strip()
        for line in makefile.splitlines()
        if line.startswith("DEMO_WORKLOAD")
    )
    from optimizer.demo.build import load_snapshot
    from optimizer.demo.estate import generate_estate

    start = datetime(2026, 8, 24, tzinfo=UTC)
    estate = generate_estate(
        load_snapshot(),
        seed=7,
        workloads=500,
        storage_groups=0,
        start=start,
        end=start + timedelta(days=90),
    )
    assert name in {w.name for w in estate.workloads}

"""Build the whole demo store: reference prices, estate, usage history and FOCUS billing.

One call gives a store every later stage (forecast, plan, recommend, report) can run on
without a cloud account. The same seed and end date always give the same estate and
the same totals; the only thing that differs between builds is when they ran.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from collectors.focus.ingest import ingest_file
from optimizer.demo import billing, usage
from optimizer.demo.company import PROVIDERS
from optimizer.demo.estate import Estate, generate_estate
from optimizer.demo.snapshot_loader import load_snapshot, write_reference
from store.errors import ConfigError
from store.models import CostRecord, StorageGroup, Workload
from store.money import canonical, money_str
from store.types import money_sum, utcnow

Advance = Callable[[int], None]
Stage = Callable[[str, int | None], AbstractContextManager[Advance]]
MIN_DAYS = 60
# Every table the demo writes; emptied (one transaction each) before a forced rebuild.
TABLES = ("cost_record", "ingested_file", "source_state", "usage_sample", "workload",
          "storage_group", "price_offer", "region", "latency", "egress_price",
          "storage_tier_price")  # fmt: skip
PROVIDER_OF = {"AWS": "aws", "Microsoft": "azure", "Google Cloud": "gcp"}


@dataclass
class DemoSummary:
    seed: int
    workloads: int
    storage_groups: int
    commitments: int
    usage_samples: int
    cost_records: int
    billed_total: Decimal
    effective_total: Decimal
    last_30_days_billed: Decimal
    last_30_days_effective: Decimal
    period_start: datetime
    period_end: datetime
    focus_file: Path
    config_file: Path
    by_provider: dict[str, dict[str, Any]]
    reference_rows: dict[str, int]
    seconds: dict[str, float] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        return {
            "seed": self.seed, "workloads": self.workloads,
            "storage_groups": self.storage_groups, "commitments": self.commitments,
            "usage_samples": self.usage_samples, "cost_records": self.cost_records,
            "billed_total": money_str(self.billed_total),
            "effective_total": money_str(self.effective_total),
            "last_30_days": {"billed": money_str(self.last_30_days_billed),
                             "effective": money_str(self.last_30_days_effective)},
            "period_start": self.period_start.isoformat(),
            "period_end": self.period_end.isoformat(), "focus_file": str(self.focus_file),
            "config_file": str(self.config_file),
            "by_provider": {p: {**v, "billed": money_str(v["billed"])}
                            for p, v in self.by_provider.items()},
            "reference_rows": self.reference_rows,
            "seconds": {k: round(v, 2) for k, v in self.seconds.items()},
        }  # fmt: skip


@contextmanager
def _timed(seconds: dict[str, float], name: str) -> Iterator[None]:
    started = time.perf_counter()
    yield
    seconds[name] = time.perf_counter() - started


@contextmanager
def _silent(_label: str, _total: int | None) -> Iterator[Advance]:
    yield lambda _n: None


def _count(conn: Connection, table: str) -> int:
    return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())


def check_empty(engine: Engine, force: bool) -> None:
    """A demo never mixes with real data: refuse a store that has some, unless forced."""
    with engine.connect() as conn:
        workloads, costs = _count(conn, "workload"), _count(conn, "cost_record")
    if (workloads or costs) and not force:
        raise ConfigError(
            f"the store already holds {workloads:,} workload(s) and {costs:,} cost record(s)",
            where=str(engine.url.render_as_string(hide_password=True)),
            fix="use --force to replace them with the demo, or another --db for the demo",
        )
    if force:
        for table in TABLES:
            with engine.begin() as conn:
                conn.execute(sa.text(f"DELETE FROM {table}"))


def _write_estate(conn: Connection, estate: Estate, now: datetime) -> None:
    conn.execute(sa.insert(Workload.__table__), [  # type: ignore[attr-defined]
        {"name": w.name, "provider": w.provider, "account_id": w.account_id,
         "region": w.region, "zone": None, "instance_type": w.instance_type,
         "purchase_option": w.purchase_option, "replicas": w.replicas, "vcpu": w.vcpu,
         "memory_gib": w.memory_gib, "data_gb": w.data_gb, "owner": w.owner,
         "data_classification": w.data_classification, "user_regions": list(w.user_regions),
         "tags": w.tags, "series_id": w.series_id, "source_key": usage.SOURCE_KEY,
         "updated_at": now}
        for w in estate.workloads
    ])  # fmt: skip
    if estate.storage:
        conn.execute(sa.insert(StorageGroup.__table__), [  # type: ignore[attr-defined]
            {"name": s.name, "provider": s.provider, "account_id": s.account_id,
             "region": s.region, "bucket": s.bucket, "prefix": s.prefix, "tier": s.tier,
             "bytes": s.bytes, "objects": s.objects, "oldest_object_at": s.oldest_object_at,
             "median_age_days": s.median_age_days, "owner": s.owner, "tags": s.tags,
             "lifecycle_rules": list(s.lifecycle_rules) or None, "series_id": s.series_id,
             "source_key": usage.SOURCE_KEY, "updated_at": now}
            for s in estate.storage
        ])  # fmt: skip


def _spend(engine: Engine, since: datetime) -> tuple[Decimal, Decimal, dict[str, Decimal]]:
    """(billed, effective) for charges starting at or after `since`, and billed per cloud."""
    t = CostRecord.__table__  # type: ignore[attr-defined]
    demo = t.c.source_key == billing.SOURCE_KEY
    with engine.connect() as conn:
        billed, effective = conn.execute(
            sa.select(money_sum(t.c.billed_cost), money_sum(t.c.effective_cost)).where(
                demo, t.c.charge_period_start >= since
            )
        ).one()
        per = conn.execute(
            sa.select(t.c.provider_name, money_sum(t.c.billed_cost))
            .where(demo)
            .group_by(t.c.provider_name)
        ).all()
    by_cloud = {PROVIDER_OF.get(p, p): canonical(v or Decimal(0)) for p, v in per}
    return canonical(billed or Decimal(0)), canonical(effective or Decimal(0)), by_cloud


CONFIG_MARK = "# Written by `optimizer demo`"


def write_config(out_dir: Path) -> Path:
    """`<out>/optimizer.toml` naming the demo's FOCUS file as a source, so `optimizer run
    --config` collects it (and finds it unchanged). A config written by hand is kept."""
    path = out_dir / "optimizer.toml"
    if path.exists() and not path.read_text().startswith(CONFIG_MARK):
        return path
    policies = resources.files("optimizer.demo").joinpath("policies.yaml").read_text()
    (out_dir / "policies.yaml").write_text(policies)  # every policy type, for this estate
    path.write_text(
        f"{CONFIG_MARK}; rebuilt on every demo build.\n\n"
        '[policies]\npath = "policies.yaml"\n\n'
        f'[[sources]]\ntype = "focus"\nname = "{billing.SOURCE_NAME}"\n'
        f'paths = ["{billing.FILE_NAME}"]\n'
    )
    return path


def validate(workloads: int, storage_groups: int, days: int) -> None:
    if days < MIN_DAYS:
        raise ConfigError(
            f"--days {days} is too short",
            fix=f"use at least {MIN_DAYS} days: forecasts need two months of history",
        )
    if workloads < 1 or storage_groups < 0:
        raise ConfigError(
            "the demo needs at least one workload and no negative counts",
            fix="pass --workloads 1 or more and --storage-groups 0 or more",
        )


def build_demo(
    engine: Engine,
    out_dir: Path,
    *,
    seed: int = 7,
    workloads: int = 500,
    storage_groups: int = 120,
    days: int = 90,
    progress: Stage | None = None,
    force: bool = False,
    end: datetime | None = None,
) -> DemoSummary:
    """Fill an (upgraded) store with the demo; `end` (exclusive, UTC midnight) defaults to
    today, so the history ends where forecasts start."""
    validate(workloads, storage_groups, days)
    stage = progress or _silent
    seconds: dict[str, float] = {}
    with _timed(seconds, "clear"):
        check_empty(engine, force)
    snap = load_snapshot()
    if not snap.offers:
        raise ConfigError(
            "the demo price snapshot has no offers",
            where="optimizer/demo/snapshot/offers.csv.gz",
            fix="reinstall optimizer, or run scripts/build_demo_snapshot.py",
        )
    now = utcnow()
    end = (end or now).astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    start = end - timedelta(days=days)
    estate = generate_estate(
        snap, seed=seed, workloads=workloads, storage_groups=storage_groups, start=start, end=end
    )
    items = len(estate.workloads) + len(estate.storage)
    with _timed(seconds, "prices_and_estate"), stage("prices and estate", None) as advance:
        with engine.begin() as conn:
            # Prices hold from the window's start, so the history can be priced as of its dates.
            reference = write_reference(conn, snap, start)
            _write_estate(conn, estate, now)
        advance(1)
    with _timed(seconds, "usage"), stage("usage history", items) as advance:
        samples = usage.write_usage(engine, estate, advance)
    with _timed(seconds, "focus_file"), stage("FOCUS billing file", items) as advance:
        path, rows = billing.write_focus(estate, snap, out_dir, advance)
    with _timed(seconds, "ingest"), stage("ingesting billing", rows) as advance:
        key = billing.SOURCE_KEY
        ingested = ingest_file(engine, path, source_key=key, progress=advance, force=True)
    billed30, effective30, by_cloud = _spend(engine, end - timedelta(days=30))
    by_provider = {
        p: {"workloads": sum(w.provider == p for w in estate.workloads),
            "storage_groups": sum(s.provider == p for s in estate.storage),
            "billed": by_cloud.get(p, Decimal(0))}
        for p in PROVIDERS
    }  # fmt: skip
    return DemoSummary(
        seed=seed,
        workloads=len(estate.workloads),
        storage_groups=len(estate.storage),
        commitments=len(estate.commitments),
        usage_samples=samples,
        cost_records=ingested.rows,
        billed_total=ingested.billed_cost_total,
        effective_total=ingested.effective_cost_total,
        last_30_days_billed=billed30,
        last_30_days_effective=effective30,
        period_start=start,
        period_end=end,
        focus_file=Path(ingested.path),
        config_file=write_config(out_dir),
        by_provider=by_provider,
        reference_rows=reference,
        seconds=seconds,
    )

"""Hourly utilization for every demo workload and daily access for every storage group.

Each workload follows one real trace shape (profiles.csv.gz, see PROFILES_NOTICE.md),
shifted to its region's local time and given its own scale, amplitude, growth, noise,
spikes and outages, so forecasts and right-sizing have something real to chew on.
Each series is drawn from its own `default_rng([seed, stream, index])`, so a series does
not depend on how many others are generated or how they are chunked.
"""

from __future__ import annotations

import csv
import gzip
import io
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import timedelta
from importlib import resources

import numpy as np
from sqlalchemy.engine import Engine

from optimizer.demo.estate import Estate, WorkloadSpec
from optimizer.demo.storage import TIER_LADDER, StorageSpec
from store.bulk import upsert_rows
from store.types import SQLITE_DATETIME_FORMAT

SOURCE_KEY = "demo"
COLUMNS = ("series_id", "metric", "ts", "value", "source_key")
CONFLICT = ("series_id", "metric", "ts")
GIB = 2**30  # cloud bills count a "GB" of storage or transfer as 2^30 bytes
WORKLOADS_PER_BATCH = 25  # ~108k rows per executemany at 90 days: bounded memory
TIER_ACCESS = (1.0, 0.2, 0.05, 0.002)  # read activity by tier level: hot, warm, cold, archive
_CPU_STREAM, _STORAGE_STREAM = 101, 202
Row = tuple[str, str, str, float, str]


@dataclass(frozen=True)
class Profiles:
    names: tuple[str, ...]
    kinds: tuple[str, ...]  # cpu | load | mem
    factors: np.ndarray  # (profiles, 168), mean 1
    noise: np.ndarray
    growth: np.ndarray  # per day, 0 where the source showed none

    def indices(self, *kinds: str) -> np.ndarray:
        found = [i for i, k in enumerate(self.kinds) if k in kinds]
        return np.array(found or [0], dtype=np.int64)


def load_profiles() -> Profiles:
    """The shipped shapes; a flat profile if the file is missing or empty (draft builds)."""
    rows: dict[str, dict[int, float]] = {}
    meta: dict[str, tuple[float, float]] = {}
    resource = resources.files("optimizer.demo").joinpath("snapshot", "profiles.csv.gz")
    if resource.is_file():
        with resource.open("rb") as raw, gzip.open(raw, "rt", encoding="utf-8") as fh:
            for r in csv.DictReader(io.StringIO(fh.read())):
                try:
                    name, how, factor = (
                        r["profile"].strip(),
                        int(r["hour_of_week"]),
                        float(r["factor"]),
                    )
                except (KeyError, ValueError, AttributeError):
                    continue
                if name and 0 <= how < 168:
                    rows.setdefault(name, {})[how] = max(factor, 0.0)
                    meta[name] = (_num(r.get("noise"), 0.1), _num(r.get("growth_per_day"), 0.0))
    names = tuple(sorted(n for n in rows if len(rows[n]) == 168))
    if not names:
        return Profiles(("cpu:flat",), ("cpu",), np.ones((1, 168)), np.array([0.1]), np.zeros(1))
    factors = np.array([[rows[n][h] for h in range(168)] for n in names])
    factors /= np.maximum(factors.mean(axis=1, keepdims=True), 1e-9)
    return Profiles(
        names,
        tuple(n.split(":", 1)[0] for n in names),
        factors,
        np.array([meta[n][0] for n in names]),
        np.array([meta[n][1] for n in names]),
    )


def _num(value: str | None, default: float) -> float:
    try:
        return float(value) if value else default
    except ValueError:
        return default


def _events(
    rng: np.random.Generator, hours: int, rate: float, low: float, high: float, longest: int
) -> np.ndarray:
    """Multipliers for a few bursts (spikes > 1, outages < 1) at random hours."""
    out = np.ones(hours)
    for _ in range(int(rng.poisson(rate))):
        start, length = int(rng.integers(0, hours)), int(rng.integers(1, longest + 1))
        out[start : start + length] *= rng.uniform(low, high)
    return out


def workload_series(
    w: WorkloadSpec, index: int, estate: Estate, prof: Profiles, tz_hours: int
) -> tuple[np.ndarray, np.ndarray]:
    """(cpu_cores, memory_gib) per hour of the window, within the workload's capacity."""
    rng = np.random.default_rng([estate.seed, _CPU_STREAM, index])
    hours = estate.days * 24
    t = np.arange(hours)
    how = (estate.start.weekday() * 24 + t) % 168
    cpu_idx, mem_idx = prof.indices("cpu", "load"), prof.indices("mem")
    p = int(rng.choice(cpu_idx))
    shift = tz_hours + int(rng.integers(-2, 3))  # the trace's day follows local time
    shape = 1 + rng.uniform(0.6, 1.4) * (prof.factors[p, (how + shift) % 168] - 1)
    if prof.growth[p]:  # the trace's own trend, tamed: 14 days of it would explode over 90
        g = float(np.clip(prof.growth[p], -0.003, 0.004) * rng.uniform(0.3, 1.0))
    else:
        g = float(np.clip(rng.normal(0.0005, 0.001), -0.002, 0.004))
    trend = np.clip(1 + g * (t / 24 - estate.days / 2), 0.2, None)
    sigma = float(np.clip(prof.noise[p], 0.03, 0.5) * rng.uniform(0.7, 1.3))
    noise = np.clip(1 + sigma * rng.standard_normal(hours), 0.05, None)
    spikes = _events(rng, hours, estate.days / 14, 1.5, 3.0, 6)
    outages = _events(rng, hours, estate.days / 120, 0.0, 0.05, 8)
    cap = w.vcpu * w.replicas
    rel = np.clip(shape, 0.02, None) * trend * noise * spikes * outages
    cpu = np.clip(cap * w.cpu_util * rel, 0.0, cap)
    m = int(rng.choice(mem_idx))
    mem_shape = 1 + rng.uniform(0.5, 1.5) * (prof.factors[m, (how + shift) % 168] - 1)
    mem_trend = 1 + rng.uniform(0.0, 0.001) * (t / 24 - estate.days / 2)
    mem_cap = w.memory_gib * w.replicas
    coupling = 1 + 0.15 * (np.clip(rel, 0, 3) - 1)
    jitter = 1 + 0.02 * rng.standard_normal(hours)
    mem = mem_cap * w.mem_util * mem_shape * mem_trend * coupling * jitter
    mem = np.where(outages < 1, mem * 0.1, mem)
    return np.round(cpu, 4), np.round(np.clip(mem, 0.0, mem_cap), 4)


def _tz_hours(estate: Estate, w: WorkloadSpec) -> int:
    info = estate.regions.get((w.provider, w.region))
    return round(info.longitude / 15) if info and info.longitude is not None else 0


def storage_access(estate: Estate) -> tuple[np.ndarray, np.ndarray]:
    """Daily (gb_retrieved, get_requests), shape (groups, days): old and cold data is
    rarely read, weekends are quieter, and a rare day brings a bulk restore."""
    days = estate.days
    gb = np.zeros((len(estate.storage), days))
    req = np.zeros((len(estate.storage), days))
    weekday = (estate.start.weekday() + np.arange(days)) % 7
    week = np.where(weekday >= 5, 0.6, 1.0)
    for i, s in enumerate(estate.storage):
        rng = np.random.default_rng([estate.seed, _STORAGE_STREAM, i])
        level = _tier_level(s)
        base = s.bytes / GIB * s.daily_read_share * np.exp(-s.median_age_days / 180)
        daily = base * TIER_ACCESS[level] * week * rng.lognormal(0.0, 0.5, days)
        bursts = rng.random(days) < 0.01
        daily = np.where(bursts, daily * rng.uniform(10, 50, days), daily)
        gb[i] = np.round(np.minimum(daily, s.bytes / GIB), 4)
        per_object = max(s.bytes / max(s.objects, 1), 1.0)
        listing = rng.poisson(40 * TIER_ACCESS[level], days)
        req[i] = np.round(gb[i] * GIB / per_object * rng.uniform(1.0, 1.5, days)) + listing
    return gb, req


def _tier_level(s: StorageSpec) -> int:
    ladder = TIER_LADDER.get(s.provider, ())
    return ladder.index(s.tier) if s.tier in ladder else 0


def _hour_stamps(estate: Estate, count: int, step: timedelta) -> list[str]:
    return [(estate.start + i * step).strftime(SQLITE_DATETIME_FORMAT) for i in range(count)]


def _workload_rows(estate: Estate, prof: Profiles, stamps: list[str]) -> Iterator[list[Row]]:
    """Row batches in (series_id, metric, ts) order, which keeps index inserts cheap."""
    order = sorted(range(len(estate.workloads)), key=lambda i: estate.workloads[i].series_id)
    batch: list[Row] = []
    for n, i in enumerate(order, 1):
        w = estate.workloads[i]
        cpu, mem = workload_series(w, i, estate, prof, _tz_hours(estate, w))
        sid = w.series_id
        batch.extend(
            (sid, "cpu_cores", ts, v, SOURCE_KEY)
            for ts, v in zip(stamps, cpu.tolist(), strict=True)
        )
        batch.extend(
            (sid, "memory_gib", ts, v, SOURCE_KEY)
            for ts, v in zip(stamps, mem.tolist(), strict=True)
        )
        if n % WORKLOADS_PER_BATCH == 0 or n == len(order):
            yield batch
            batch = []


def write_usage(
    engine: Engine, estate: Estate, progress: Callable[[int], None] | None = None
) -> int:
    """Write every series into usage_sample (one transaction); returns rows written.

    `progress` is advanced by one per workload or storage group written.
    """
    prof = load_profiles()
    hours = _hour_stamps(estate, estate.days * 24, timedelta(hours=1))
    days = _hour_stamps(estate, estate.days, timedelta(days=1))
    total = 0
    with engine.begin() as conn:
        for batch in _workload_rows(estate, prof, hours):
            total += upsert_rows(conn, "usage_sample", COLUMNS, batch, CONFLICT)
            if progress:
                progress(len(batch) // (2 * len(hours)))
        gb, req = storage_access(estate)
        rows: list[Row] = []
        for i in sorted(range(len(estate.storage)), key=lambda i: estate.storage[i].series_id):
            sid = estate.storage[i].series_id
            rows.extend(
                (sid, "gb_retrieved", ts, v, SOURCE_KEY)
                for ts, v in zip(days, gb[i].tolist(), strict=True)
            )
            rows.extend(
                (sid, "get_requests", ts, v, SOURCE_KEY)
                for ts, v in zip(days, req[i].tolist(), strict=True)
            )
        total += upsert_rows(conn, "usage_sample", COLUMNS, rows, CONFLICT)
        if progress:
            progress(len(estate.storage))
    return total

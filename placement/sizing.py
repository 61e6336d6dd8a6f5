"""Sizing from recent utilization, and the idle rule: pure functions, no store.

Forecasts do not exist yet (issue #4 replaces this stage): a workload is sized from the
p90 of its hourly samples over the last `window_days` (default 14) before the newest
sample in the store.

Samples are PER WORKLOAD, not per replica: the demo (`optimizer/demo/usage.py`) writes
one `cpu_cores` and one `memory_gib` series per workload, the sum over its replicas
(capped at vCPU × replicas). Replicas are identical and share load, so one replica needs
p90 / replicas; percentiles scale linearly, so p90(total) / replicas = p90(total /
replicas) exactly.

- required vCPU per replica = max(1, ceil(p90_cpu / target_cpu)), target_cpu 0.7;
- required memory per replica = p90_mem / target_memory, target_memory 0.8, rounded up to
  the next 0.01 GiB (so float noise never rules out an offer that fits);
- fewer than `min_days` (3) days of hourly samples of either metric in the window, or no
  samples at all: the recorded size is kept and the note says so;
- a need bigger than every offer in the price list: the recorded size is kept too
  (`beyond_largest`; the builder and `policy explain` apply it), so sizing never makes a
  workload that is placed today unplaceable.

Percentiles interpolate linearly between the two closest ranks (numpy's default,
PostgreSQL's `percentile_cont`): p_q of n sorted values is at 0-based position
(n − 1) × q.

Idle: a workload is idle when, over the same window, the p90 of its CPU per replica is
below 2 % of its recorded vCPU AND its memory is flat: p90 − p10 of memory per replica is
at most 5 % of its recorded memory. CPU alone is not enough: a cache or an in-memory
store can serve reads with little CPU while its working set moves; memory that does not
move at all is a machine sitting at its boot footprint. Both are measured against what
the workload RECORDS (what it pays for), not against the sized need.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

IDLE_CPU_SHARE = 0.05  # p90 CPU below this share of recorded vCPU …
IDLE_MEMORY_SPREAD = 0.05  # … and p90 − p10 of memory at most this share of recorded memory
SAMPLES_PER_DAY = 24  # usage samples are half-open hourly buckets


@dataclass(frozen=True)
class SizingSettings:
    """`[sizing]` of optimizer.toml (see docs/configuration.md). `enabled = false` keeps
    every recorded size and reads no samples (so no idle recommendations either)."""

    window_days: int = 14
    target_cpu: float = 0.7
    target_memory: float = 0.8
    enabled: bool = True
    min_days: int = 3
    use_forecasts: bool = True  # size from the latest fresh forecast when there is one

    def __post_init__(self) -> None:
        if self.window_days < 1 or self.min_days < 0:
            raise ValueError("window_days must be at least 1 and min_days at least 0")
        if not (0 < self.target_cpu <= 1 and 0 < self.target_memory <= 1):
            raise ValueError("target_cpu and target_memory must be in (0, 1]")


@dataclass(frozen=True)
class Usage:
    """One workload's samples in the window (per workload, summed over replicas):
    counts and the percentiles the rules read."""

    cpu_samples: int
    memory_samples: int
    cpu_p90: float
    memory_p10: float
    memory_p90: float
    basis: str = ""  # where the percentiles come from; "" = the recent window

    def source(self, settings: SizingSettings) -> str:
        return self.basis or (
            f"the p90 of the last {settings.window_days} days of utilization (no forecast yet)"
        )


@dataclass(frozen=True)
class Sizing:
    """What one replica needs (`vcpu`, `memory_gib`), what it records, and why."""

    vcpu: int
    memory_gib: float
    recorded_vcpu: int
    recorded_memory_gib: float
    sized: bool  # False: the recorded size is kept
    note: str
    cpu_p90: float | None = None  # per replica
    memory_p90: float | None = None  # per replica


def percentile(values: Sequence[float], q: float) -> float:
    """The q-quantile (0..1) with linear interpolation between the closest ranks."""
    if not values:
        raise ValueError("no values")
    ordered = sorted(values)
    lo, frac = interpolation_point(len(ordered), q)
    if frac == 0 or lo + 1 >= len(ordered):
        return ordered[lo]
    return ordered[lo] + (ordered[lo + 1] - ordered[lo]) * frac


def interpolation_point(n: int, q: float) -> tuple[int, float]:
    """(0-based lower rank, weight of the next rank) of the q-quantile of n values.
    q is taken in tenths so the store's integer arithmetic gives the same rank."""
    tenths = round(q * 10)
    lo, rest = divmod((n - 1) * tenths, 10)
    return lo, rest / 10


def _round_up(value: float) -> float:
    """Up to the next 0.01 (exact in decimal: divide, never multiply, by the step)."""
    return math.ceil(value * 100 - 1e-9) / 100


def size_workload(
    recorded_vcpu: int,
    recorded_memory_gib: float,
    replicas: int,
    usage: Usage | None,
    settings: SizingSettings,
) -> Sizing:
    """The size one replica needs; the recorded size when sizing is off or samples are
    too few."""
    keep = Sizing(recorded_vcpu, recorded_memory_gib, recorded_vcpu, recorded_memory_gib, False, "")
    if not settings.enabled:
        return _with_note(keep, "sizing disabled in [sizing]: recorded size kept")
    need = settings.min_days * SAMPLES_PER_DAY
    if usage is None or min(usage.cpu_samples, usage.memory_samples) == 0:
        return _with_note(
            keep,
            f"no utilization samples in the last {settings.window_days} days: recorded size kept",
        )
    if min(usage.cpu_samples, usage.memory_samples) < need:
        days = min(usage.cpu_samples, usage.memory_samples) / SAMPLES_PER_DAY
        return _with_note(
            keep,
            f"only {days:.1f} day(s) of utilization samples (fewer than {settings.min_days}): "
            "recorded size kept",
        )
    n = max(replicas, 1)
    cpu, mem = usage.cpu_p90 / n, usage.memory_p90 / n
    vcpu = max(1, math.ceil(cpu / settings.target_cpu - 1e-9))
    memory = _round_up(mem / settings.target_memory)
    note = (
        f"sized from {usage.source(settings)}: needs {vcpu} vCPU / {memory:g} GiB per replica, has "
        f"{recorded_vcpu} / {recorded_memory_gib:g} (p90 {cpu:.3g} cores and {mem:.3g} GiB "
        f"per replica at targets {settings.target_cpu:.0%} CPU, "
        f"{settings.target_memory:.0%} memory)"
    )
    return Sizing(vcpu, memory, recorded_vcpu, recorded_memory_gib, True, note, cpu, mem)


def beyond_largest(s: Sizing) -> Sizing:
    """The recorded size, when the sized need exceeds every offer in the price list:
    sizing must never make a placed workload unplaceable (more replicas are the fix)."""
    return Sizing(
        s.recorded_vcpu,
        s.recorded_memory_gib,
        s.recorded_vcpu,
        s.recorded_memory_gib,
        False,
        f"the p90 demand asks for {s.vcpu} vCPU / {s.memory_gib:g} "
        "GiB per replica, more than any offer has: recorded size kept (add replicas)",
        s.cpu_p90,
        s.memory_p90,
    )


def _with_note(s: Sizing, note: str) -> Sizing:
    return Sizing(
        s.vcpu, s.memory_gib, s.recorded_vcpu, s.recorded_memory_gib, s.sized, note, None, None
    )


def idle_reason(
    recorded_vcpu: int,
    recorded_memory_gib: float,
    replicas: int,
    usage: Usage | None,
    settings: SizingSettings,
) -> str:
    """The idle verdict in words, or "" when the workload is not idle (or the samples
    are too few to say: the same `min_days` rule as sizing)."""
    if usage is None or not settings.enabled:
        return ""
    if min(usage.cpu_samples, usage.memory_samples) < settings.min_days * SAMPLES_PER_DAY:
        return ""
    n = max(replicas, 1)
    cpu = usage.cpu_p90 / n
    spread = (usage.memory_p90 - usage.memory_p10) / n
    if cpu >= IDLE_CPU_SHARE * recorded_vcpu:
        return ""
    if spread > IDLE_MEMORY_SPREAD * recorded_memory_gib:
        return ""
    return (
        f"idle by {usage.source(settings)}: p90 CPU "
        f"{cpu:.3g} cores per replica is {cpu / recorded_vcpu:.2%} of its {recorded_vcpu} vCPU "
        f"(idle below {IDLE_CPU_SHARE:.0%}), and memory is flat: p10–p90 "
        f"{usage.memory_p10 / n:.3g}–{usage.memory_p90 / n:.3g} GiB per replica, a spread of "
        f"{spread / recorded_memory_gib:.2%} of its {recorded_memory_gib:g} GiB (flat up to "
        f"{IDLE_MEMORY_SPREAD:.0%}); confirm with the owner, then stop or delete"
    )

"""Derive hour-of-week utilization SHAPES from public traces for the demo estate.

The demo's usage series (optimizer/demo/usage.py) follow real traces rather than sine
waves: each demo workload picks one of these profiles and adds its own scale, phase,
growth and noise. Per source series this writes 168 factors (mean 1.0), the noise level
(std of the residual / mean) and, where a trend is visible, the daily growth rate.

Inputs (see shared/data/SOURCES.md): traces/datacenter_aggregates (CC BY 4.0) and
traces/nab_aws_cloudwatch (MIT). spot_traces_skypilot has no license and is NOT read.
Output: optimizer/demo/snapshot/profiles.csv.gz and PROFILES_NOTICE.md, deterministic.

    .venv/bin/python scripts/build_demo_profiles.py [--shared DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = REPO_ROOT.parent / "shared" / "data"
DEFAULT_OUT = REPO_ROOT / "optimizer" / "demo" / "snapshot"
HEADER = ("profile", "source", "hour_of_week", "factor", "noise", "growth_per_day")
HOURS_PER_WEEK = 168
MIN_DAYS_FOR_WEEKLY = 14  # fewer days: only the daily shape is trusted (weekday = 1.0)
MIN_DAYS_FOR_GROWTH = 14
GROWTH_MIN_R2 = 0.3  # a trend must explain this much of the daily means to be "visible"

DC = "traces/datacenter_aggregates"
NAB = "traces/nab_aws_cloudwatch"
# profile id -> (file, column, source label). Ids are "<kind>:<name>"; kind is cpu, load
# (request/network shapes, used like CPU) or mem.
DATACENTER = {
    "cpu:azure2019-vms": ("azure2019_v2_vm_cpu_mem_month_300s.csv", "cpu_usage", "azure2019"),
    "mem:azure2019-vms": ("azure2019_v2_vm_cpu_mem_month_300s.csv", "assigned_mem", "azure2019"),
    "cpu:google2019-cells": ("google2019_instance_usage_month_300s.csv", "avg_cpu", "google2019"),
    "mem:google2019-cells": ("google2019_instance_usage_month_300s.csv", "avg_mem", "google2019"),
    "cpu:alibaba2018-machines": (
        "alibaba2018_machine_usage_8days_300s.csv", "cpu_util_percent", "alibaba2018"),
    "mem:alibaba2018-machines": (
        "alibaba2018_machine_usage_8days_300s.csv", "mem_util_percent", "alibaba2018"),
}  # fmt: skip
NAB_SERIES = {
    "cpu:nab-ec2-53ea38": "ec2_cpu_utilization_53ea38.csv",
    "cpu:nab-ec2-77c1ca": "ec2_cpu_utilization_77c1ca.csv",
    "cpu:nab-ec2-ac20cd": "ec2_cpu_utilization_ac20cd.csv",
    "cpu:nab-ec2-fe7f93": "ec2_cpu_utilization_fe7f93.csv",
    "cpu:nab-rds-e47b3b": "rds_cpu_utilization_e47b3b.csv",
    "cpu:nab-asg-misconfiguration": "cpu_utilization_asg_misconfiguration.csv",
    "load:nab-elb-requests-8c0756": "elb_request_count_8c0756.csv",
    "load:nab-ec2-network-in-5abac7": "ec2_network_in_5abac7.csv",
    "load:nab-ec2-network-in-a2eb1cd9": "iio_us-east-1_i-a2eb1cd9_NetworkIn.csv",
}
# ec2_disk_write_bytes_c0d644 is left out: 81 % of its points are zero (no usable shape).


@dataclass(frozen=True)
class Profile:
    name: str
    source: str
    factors: np.ndarray  # 168, mean 1.0
    noise: float
    growth_per_day: float | None


def hourly(hours: np.ndarray, values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Mean per whole hour; returns (hour index from the first hour, mean) for hours seen."""
    idx = (hours - hours.min()).astype(np.int64)
    sums = np.bincount(idx, weights=values)
    counts = np.bincount(idx)
    seen = counts > 0
    return np.nonzero(seen)[0], sums[seen] / counts[seen]


def derive(name: str, source: str, hour_abs: np.ndarray, values: np.ndarray) -> Profile:
    """Shape = mean by hour of week of the detrended hourly series, scaled to mean 1.

    `hour_abs` is hours since Monday 00:00 UTC of some week (so % 168 is the hour of week).
    """
    order = np.argsort(hour_abs, kind="stable")
    hour_abs, values = hour_abs[order], values[order]
    hidx, hval = hourly(hour_abs, values)
    how = (hour_abs.min() + hidx) % HOURS_PER_WEEK
    level = float(hval.mean())
    days = (hidx[-1] + 1) / 24.0
    growth: float | None = None
    trend = np.ones_like(hval)
    if days >= MIN_DAYS_FOR_GROWTH:
        day = hidx // 24
        daily = np.bincount(day, weights=hval) / np.maximum(np.bincount(day), 1)
        x = np.arange(daily.size, dtype=float)
        slope, intercept = np.polyfit(x, daily, 1)
        fitted = slope * x + intercept
        ss_res = float(((daily - fitted) ** 2).sum())
        ss_tot = float(((daily - daily.mean()) ** 2).sum()) or 1e-12
        if 1 - ss_res / ss_tot >= GROWTH_MIN_R2:
            growth = float(slope / level)
            trend = np.clip((slope * (hidx / 24.0) + intercept) / level, 0.05, None)
    detrended = hval / trend
    if days >= MIN_DAYS_FOR_WEEKLY:
        sums = np.bincount(how, weights=detrended, minlength=HOURS_PER_WEEK)
        counts = np.bincount(how, minlength=HOURS_PER_WEEK)
        factors = sums / np.maximum(counts, 1)
        missing = counts == 0
        if missing.any():  # fill unseen hours from the same hour of day
            factors[missing] = detrended.mean()
    else:
        hod = how % 24
        daily_shape = np.bincount(hod, weights=detrended, minlength=24) / np.maximum(
            np.bincount(hod, minlength=24), 1
        )
        factors = np.tile(daily_shape, 7)
    factors = np.clip(factors, 0.0, None)
    factors = factors / factors.mean()
    expected = detrended.mean() * factors[how]
    noise = float(np.std(detrended - expected) / detrended.mean())
    return Profile(name, source, factors, noise, growth)


def read_columns(path: Path) -> dict[str, np.ndarray]:
    with path.open(newline="") as fh:
        rows = list(csv.DictReader(fh))
    return {k: np.array([float(r[k]) for r in rows]) for k in rows[0]}


def datacenter_profiles(shared: Path) -> list[Profile]:
    """No real dates: row 0 is taken as Monday 00:00 UTC (the phase is nominal)."""
    out = []
    for name, (file, column, label) in DATACENTER.items():
        cols = read_columns(shared / DC / file)
        seconds = cols.get("timestamp", np.arange(cols[column].size) * 300.0)
        hour_abs = (seconds // 3600).astype(np.int64)
        out.append(derive(name, f"{label}:{column}", hour_abs, cols[column]))
    return out


def nab_profiles(shared: Path) -> list[Profile]:
    """NAB timestamps are real (UTC), so the hour of week is the true one."""
    out = []
    for name, file in NAB_SERIES.items():
        with (shared / NAB / file).open(newline="") as fh:
            rows = list(csv.DictReader(fh))
        stamps = [datetime.fromisoformat(r["timestamp"]) for r in rows]
        hour_abs = np.array(
            [(s.weekday() * 24 + s.hour) + 168 * ((s.toordinal() - 1) // 7) for s in stamps],
            dtype=np.int64,
        )
        values = np.array([float(r["value"]) for r in rows])
        out.append(derive(name, f"nab:{file}", hour_abs, values))
    return out


def write_csv_gz(path: Path, profiles: list[Profile]) -> None:
    buf = io.StringIO()
    writer = csv.writer(buf, lineterminator="\n")
    writer.writerow(HEADER)
    for p in sorted(profiles, key=lambda p: p.name):
        growth = "" if p.growth_per_day is None else f"{p.growth_per_day:.6f}"
        for h in range(HOURS_PER_WEEK):
            writer.writerow((p.name, p.source, h, f"{p.factors[h]:.6f}", f"{p.noise:.6f}", growth))
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(buf.getvalue().encode())


NOTICE = """# Demo utilization profiles: sources and attribution

`profiles.csv.gz` is generated by `scripts/build_demo_profiles.py`. It holds no trace
values, only derived shapes: per source series, 168 hour-of-week factors (hour 0 = Monday
00:00 UTC, mean 1.0), the noise level (std of the residual after the shape / mean) and the
relative daily growth where a linear trend explains at least 30 % of the daily means over
at least 14 days (empty otherwise). Series shorter than 14 days contribute a daily shape
repeated over the week. The demo generator (`optimizer/demo/usage.py`) rescales, shifts
and perturbs these shapes per synthetic workload.

## Sources

### DataCenter-Traces-Datasets (CC BY 4.0)

- Repository `alejandrofdez-us/DataCenter-Traces-Datasets`, commit
  `003bb8e7ce9aaf4ed16ddf1652bc1a279c8ac2e6`; Zenodo doi:10.5281/zenodo.14564847.
- License: Creative Commons Attribution 4.0 International
  (https://creativecommons.org/licenses/by/4.0/). Aggregates of the public Alibaba 2018,
  Google 2019 (cluster-usage v3) and Azure 2019 (Azure Public Dataset V2) traces.
- Files: `alibaba2018/machine_usage_days_1_to_8_grouped_300_seconds.csv`
  (cpu_util_percent, mem_util_percent), `google2019/instance_usage_grouped_300_seconds_month.csv`
  (avg_cpu, avg_mem), `azure_v2/vm_cpu_readings_month_aggregated_cpu_mem.csv`
  (cpu_usage, assigned_mem).
- Changes: averaged per hour, detrended, averaged per hour of week and normalised to mean
  1; noise and growth computed as described above. These files carry no calendar dates:
  their first row is taken as Monday 00:00 UTC, so their weekly phase is nominal.

### Numenta Anomaly Benchmark (MIT)

- Repository `numenta/NAB`, commit `ea702d75cc2258d9d7dd35ca8e5e2539d71f3140`,
  `data/realAWSCloudwatch/*.csv` and `data/realKnownCause/cpu_utilization_asg_misconfiguration.csv`.
- License: MIT, Copyright (c) Numenta, Inc. 2014-2024. Permission is hereby granted, free
  of charge, to any person obtaining a copy of this software and associated documentation
  files, to deal in the Software without restriction, subject to the condition that the
  copyright notice and this permission notice are included in all copies or substantial
  portions. THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND.
- Series used: ec2_cpu_utilization_{53ea38,77c1ca,ac20cd,fe7f93}, rds_cpu_utilization_e47b3b,
  cpu_utilization_asg_misconfiguration, elb_request_count_8c0756, ec2_network_in_5abac7,
  iio_us-east-1_i-a2eb1cd9_NetworkIn (real AWS CloudWatch metrics, 2013-2014, timestamps
  read as UTC). ec2_disk_write_bytes_c0d644 was left out (mostly zeros).
- Changes: as above.

## Not used

`spot_traces_skypilot` (no license file) is not read by the script.

## Profiles

| profile | source | noise | growth/day |
|---|---|---|---|
"""


def write_notice(path: Path, profiles: list[Profile]) -> None:
    lines = [NOTICE.rstrip("\n")]
    for p in sorted(profiles, key=lambda p: p.name):
        growth = "-" if p.growth_per_day is None else f"{p.growth_per_day:+.4%}"
        lines.append(f"| {p.name} | {p.source} | {p.noise:.3f} | {growth} |")
    path.write_text("\n".join(lines) + "\n")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    profiles = datacenter_profiles(args.shared) + nab_profiles(args.shared)
    args.out.mkdir(parents=True, exist_ok=True)
    write_csv_gz(args.out / "profiles.csv.gz", profiles)
    write_notice(args.out / "PROFILES_NOTICE.md", profiles)
    for p in profiles:
        print(f"{p.name:36s} noise {p.noise:.3f} growth {p.growth_per_day}")


if __name__ == "__main__":
    main()

"""Readers for the public data files under shared/data used by build_demo_snapshot.py.

One small function per source file. Each reader returns plain Python values
(prices as ``Decimal`` built from the source text, so no float round-trip changes
a digit) and knows nothing about which regions the snapshot keeps. ``SOURCES``
records the provenance that ``render_notice`` writes into NOTICE.md.
"""

from __future__ import annotations

import csv
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any

import yaml

Location = tuple[str, str]  # (provider, region)


@dataclass(frozen=True)
class Source:
    """Provenance of one shared/data file (as given in shared/data/SOURCES.md)."""

    file: str  # relative to shared/data
    repo: str
    path: str
    commit: str
    license: str


# fmt: off
SOURCES: dict[str, Source] = {
    "gcp_pricing": Source(
        "prices/gcp_pricing_cyclenerd_2026-07-30.yml",
        "Cyclenerd/google-cloud-pricing-cost-calculator", "pricing.yml",
        "fd66b26ff84fee5cdd94f341ea89206e76c06b99",
        "Apache-2.0 (Copyright 2022-2025 Nils Knieling)"),
    "karpenter": Source(
        "prices/aws_ondemand_linux_us-east-1_karpenter_2026-07-20.csv",
        "aws/karpenter-provider-aws", "pkg/providers/pricing/zz_generated.pricing_aws.go",
        "6fc13b5236fd04fd16ff3f9dc7490d0813994099", "Apache-2.0"),
    "spot_advisor": Source(
        "prices/aws_spot_advisor_data.json",
        "alexei-led/spotinfo", "internal/spot/data/spot-advisor-data.json",
        "5eedf20a99614443af215f4aaf09bd10805cac72",
        "Apache-2.0 (repository); the content is AWS's public Spot Instance Advisor feed"),
    "aws_m5": Source(
        "prices/aws_vms_skypilot_v8_m5_subset.csv",
        "skypilot-org/skypilot-catalog", "catalogs/v8/aws/vms.csv",
        "00148f2af3672e2229b4f7bf8157d5a3f36e3c35",
        "no LICENSE file in the repository; the values are AWS public list prices"),
    "azure_vms": Source(
        "prices/azure_vms_anycloud_skypilot_format.csv",
        "anycloud-sh/catalog", "azure/vms.csv",
        "62ff0a987e0c257a89235415d2877812fb1aaf29",
        "none (no license file: all rights reserved)"),
    "egress": Source(
        "prices/skyplane_interregion_egress_cost.csv",
        "skyplane-project/skyplane", "skyplane/broadcast/profiles/cost.csv",
        "123e799d1825c4bf31c7369b9dae73040caf651b", "Apache-2.0"),
    "aws_transfer": Source(
        "prices/skyplane_aws_transfer_costs.csv",
        "skyplane-project/skyplane", "skyplane/data/aws_transfer_costs.csv",
        "4602d9cec2083142831f7f208b413ca2bf091bd8", "Apache-2.0"),
    "latency": Source(
        "regions/skyplane_interregion_latency.csv",
        "skyplane-project/skyplane", "profiles/latency.csv",
        "2e3b2c01735054a8053d6a939d69fe43a652d2d0", "Apache-2.0"),
    "gcp_regions": Source(
        "regions/gcp_regions_latlon_cyclenerd.json",
        "Cyclenerd/google-cloud-compute-machine-types", "regions/regions.json",
        "6df0dc708acd757a325024ea0508e1b32850533d", "Apache-2.0"),
    "azure_names": Source(
        "regions/azure_region_name_map_finops_toolkit.csv",
        "microsoft/finops-toolkit", "src/open-data/Regions.csv",
        "04d370f322f6052b02893ba567c3b75195a19f99",
        "MIT (Copyright (c) Microsoft Corporation)"),
    "cloudregioncodes": Source(
        "regions/cloud_regions_aws_azure_gcp_cloudregioncodes.csv",
        "agonza05/cloudregioncodes", "data/data/regions.cue",
        "fc98afb9d3f139b9e9cc69965f06fb1302cf9bbd",
        "none (no license file: all rights reserved)"),
    "storage_tiers": Source(
        "storage/storage_tiers.csv",
        "shared/data (hand-written)", "storage/storage_tiers.csv",
        "n/a (the cited pages are listed in storage/storage_tiers_SOURCES.md)",
        "facts written by hand from cited public pages; no text copied"),
}
# fmt: on

_GCP_ZONE = re.compile(r"^(?P<region>[a-z]+-[a-z]+\d+)-[a-z]$")


def source_path(shared: Path, key: str) -> Path:
    """Absolute path of a source file."""
    return shared / SOURCES[key].file


def _dict_rows(shared: Path, key: str) -> Iterator[dict[str, str]]:
    with source_path(shared, key).open(newline="", encoding="utf-8") as fh:
        yield from csv.DictReader(fh)


def split_location(value: str) -> Location:
    """'gcp:us-east1-b' -> ('gcp', 'us-east1'): GCP zones collapse to their region."""
    provider, _, region = value.partition(":")
    match = _GCP_ZONE.match(region) if provider == "gcp" else None
    return provider, match["region"] if match else region


def read_karpenter(shared: Path) -> dict[str, Decimal]:
    """us-east-1 Linux on-demand price per AWS type: the only AWS list with every family."""
    rows = _dict_rows(shared, "karpenter")
    return {r["instance_type"]: Decimal(r["ondemand_usd_per_hour"]) for r in rows}


def read_spot_advisor(
    shared: Path,
) -> tuple[dict[str, tuple[int, Decimal]], dict[tuple[str, str], tuple[int, int]]]:
    """AWS shapes {type: (vCPU, RAM GiB)} and Linux {(region, type): (savings %, bucket)}."""
    data = json.loads(source_path(shared, "spot_advisor").read_text(encoding="utf-8"))
    shapes = {
        t: (int(v["cores"]), Decimal(str(v["ram_gb"]))) for t, v in data["instance_types"].items()
    }
    advice = {
        (region, itype): (int(v["s"]), int(v["r"]))
        for region, by_os in data["spot_advisor"].items()
        for itype, v in by_os.get("Linux", {}).items()
    }
    return shapes, advice


def read_aws_m5(shared: Path) -> dict[tuple[str, str], Decimal]:
    """m5 on-demand price per (region, type): the only per-region AWS list prices at hand.

    The file has one row per availability zone; the on-demand price is the same in every
    AZ of a region, which is checked here. Spot prices (per AZ) are not read.
    """
    prices: dict[tuple[str, str], Decimal] = {}
    for row in _dict_rows(shared, "aws_m5"):
        key, price = (row["Region"], row["InstanceType"]), Decimal(row["Price"])
        if prices.setdefault(key, price) != price:
            raise ValueError(f"m5 subset: on-demand price differs between AZs for {key}")
    return prices


def read_azure_vms(
    shared: Path, regions: set[str], type_ok: re.Pattern[str]
) -> list[dict[str, str]]:
    """Only the Azure rows (size, region) the snapshot needs: the file is unlicensed.

    The Generation column is sometimes an unquoted 'V1,V2', so rows are cut to the
    first nine columns instead of being read with DictReader.
    """
    with source_path(shared, "azure_vms").open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)[:9]
        rows = [dict(zip(header, r[:9], strict=True)) for r in reader]
    return [r for r in rows if r["Region"] in regions and type_ok.match(r["InstanceType"])]


class _DecimalLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """Safe YAML loader that keeps every float as the exact Decimal of its text."""


_DecimalLoader.add_constructor(
    "tag:yaml.org,2002:float", lambda loader, node: Decimal(loader.construct_scalar(node))
)


@lru_cache(maxsize=2)
def read_gcp_pricing(shared: Path) -> dict[str, Any]:
    """The Cyclenerd pricing.yml (3.9 MB, parsed once per run)."""
    with source_path(shared, "gcp_pricing").open(encoding="utf-8") as fh:
        data: dict[str, Any] = yaml.load(fh, Loader=_DecimalLoader)
    return data


def read_latency(shared: Path) -> list[tuple[Location, Location, Decimal]]:
    """Measured avg ping RTT per directed pair, PREMIUM network tier at both ends only.

    STANDARD rows are GCP's cheaper network tier; mixing them in would skew GCP pairs.
    """
    return [
        (split_location(r["src_region"]), split_location(r["dst_region"]), Decimal(r["avg_rtt"]))
        for r in _dict_rows(shared, "latency")
        if r["src_tier"] == "PREMIUM" and r["dst_tier"] == "PREMIUM"
    ]


def read_egress(shared: Path) -> list[tuple[Location, Location, Decimal]]:
    """Inter-region and inter-cloud egress USD per GB (skyplane cost model)."""
    return [
        (split_location(r["src"]), split_location(r["dest"]), Decimal(r["cost"]))
        for r in _dict_rows(shared, "egress")
    ]


def read_aws_internet_egress(shared: Path) -> dict[str, Decimal]:
    """AWS region -> internet egress USD per GB (skyplane's AWS transfer table)."""
    rows = _dict_rows(shared, "aws_transfer")
    return {r["src"]: Decimal(r["cost"]) for r in rows if r["dst"] == "internet"}


def read_gcp_regions(shared: Path) -> dict[str, dict[str, Any]]:
    """GCP region -> {name, latitude, longitude, ...} (Cyclenerd regions.json)."""
    text = source_path(shared, "gcp_regions").read_text(encoding="utf-8")
    data: dict[str, dict[str, Any]] = json.loads(text, parse_float=Decimal)
    return data


def read_azure_region_names(shared: Path) -> dict[str, str]:
    """Azure RegionId -> display name (finops-toolkit)."""
    return {r["RegionId"]: r["RegionName"] for r in _dict_rows(shared, "azure_names")}


def read_cloudregioncodes(shared: Path, wanted: set[Location]) -> dict[Location, dict[str, str]]:
    """Name, country and coordinates of the wanted (cloud, region) pairs only: unlicensed file.

    Some regions are listed under two metros; the first row wins, for determinism.
    """
    found: dict[Location, dict[str, str]] = {}
    for row in _dict_rows(shared, "cloudregioncodes"):
        key = (row["cloud"], row["region"])
        if key in wanted and key not in found:
            found[key] = {k: row[k] for k in ("region_name", "country", "latitude", "longitude")}
    return found


def read_storage_tiers(shared: Path) -> list[dict[str, str]]:
    """Hand-written storage class facts (one reference region per cloud)."""
    return list(_dict_rows(shared, "storage_tiers"))


# --- NOTICE.md ----------------------------------------------------------------------------

_TAKEN = {  # source key -> (what was taken, how it was derived)
    "gcp_pricing": (
        "Hourly on-demand (`hour`) and spot (`hour_spot`) prices and monthly 1-year and 3-year "
        "committed-use prices (`month_1y`, `month_3y`) of n2-standard, e2-standard, n2-highcpu, "
        "c2d-standard and n2-highmem types with 2-64 vCPU in the snapshot GCP regions; GCS "
        "standard, nearline, coldline and archive storage and retrieval prices per snapshot "
        "region; internet egress, first volume tier (0-1 TiB), per snapshot region.",
        "On-demand and spot copied as written. commit_1y / commit_3y per hour = `month_1y` / "
        "`month_3y` divided by 730 h, rounded to 9 decimals (source "
        "`derived:cyclenerd-pricing-month_*/730`). GCS Standard retrieval is written as 0 "
        "(no retrieval fee; the file has no retrieval key for it).",
    ),
    "karpenter": (
        "us-east-1 Linux on-demand price of m5, m6i, c5, c6i, r5 and r6i sizes with 2-64 vCPU.",
        "Copied as written for us-east-1 (source `karpenter:us-east-1`); base of the derived "
        "regional prices described under the m5 subset.",
    ),
    "spot_advisor": (
        "vCPU and RAM per AWS type; Linux savings % against on-demand (`s`) and interruption "
        "frequency bucket (`r`: 0 <5%, 1 5-10%, 2 10-15%, 3 15-20%, 4 >20%) per snapshot region "
        "and type.",
        "Spot price = on-demand price x (1 - s/100), rounded to 6 decimals (source "
        "`derived:spot-advisor-savings`); `r` copied into interruption_bucket.",
    ),
    "aws_m5": (
        "Only individual public AWS list-price facts: the m5 on-demand price per snapshot region "
        "and size ({m5} values). No per-AZ rows, spot prices or other columns were taken.",
        "Copied for m5 (source `skypilot-catalog-v8:aws-m5`). Other families outside us-east-1: "
        "karpenter us-east-1 price x (sum of the region's m5 prices / sum of the same m5 sizes "
        "in us-east-1), rounded to 6 decimals (source "
        "`derived:karpenter-us-east-1*m5-regional-ratio`). This is an approximation: real "
        "regional ratios differ a little between families (m5.12xlarge is not in the subset "
        "and is derived the same way).",
    ),
    "azure_vms": (
        "Only individual public Azure Retail Prices facts: the on-demand and spot hourly price "
        "of Dsv5, Dasv5, Fsv2 and Esv5 sizes with 2-64 vCPU (with their vCPU and memory) in the "
        "{azure_regions} snapshot Azure regions: {azure} prices. No other rows or columns.",
        "Copied as written (source `anycloud-catalog:azure-vms`).",
    ),
    "egress": (
        "USD per GB between pairs of snapshot regions, inside one cloud and across clouds.",
        "GCP zones (e.g. `gcp:us-east1-b`) mapped to their region; copied otherwise.",
    ),
    "aws_transfer": (
        "AWS internet egress price (USD per GB) of the snapshot AWS regions.",
        "Written as dst_provider=internet, dst_region=any.",
    ),
    "latency": (
        "Measured (about 2022) average ping RTT (`avg_rtt`) between snapshot regions, PREMIUM "
        "network tier at both ends.",
        "GCP zones collapsed to their region by averaging; rounded to 0.001 ms. Directed pairs "
        "stay as measured.",
    ),
    "gcp_regions": (
        "Name, latitude and longitude of the snapshot GCP regions.",
        "country_code mapped by hand from the country in the name; jurisdiction = EU for EU "
        "member states, EEA for NO/IS/LI, UK for GB, else the country code (all clouds).",
    ),
    "azure_names": ("Display names of the snapshot Azure regions.", "Copied."),
    "cloudregioncodes": (
        "Only individual geographic facts: display name (AWS only), country, latitude and "
        "longitude of these {crc} AWS and Azure regions: {crc_list}. No other rows or columns.",
        "First row wins where a region is listed under two metros. The source lists us-west-1 "
        "and us-west-2 swapped (us-west-2 is Oregon); the Oregon row was used for us-west-2.",
    ),
    "storage_tiers": (
        "S3 tiers (us-east-1) and Azure Blob LRS tiers (eastus2): storage and retrieval price, "
        "minimum storage days, minimum billable size; GCS minimum storage days per class.",
        "Rows marked UNVERIFIED (S3 Intelligent-Tiering) are left out and blank cells stay "
        "empty. min_billable_kb: 'none' -> 0, 'N KB' -> N, other text (the S3 Glacier 40 KB "
        "metadata overhead) -> empty. first_byte_latency_ms only where the source states hours: "
        "the upper bound of standard retrieval / rehydration in ms; 'milliseconds' -> empty.",
    ),
}

_HEADER = """\
# Demo snapshot: sources and attribution

Generated by `scripts/build_demo_snapshot.py` from the copies in `shared/data` (see its
SOURCES.md). All prices are public list prices in USD as of the source dates (2022-2026): a
dated fixture for the demo estate, not current prices. Regions per cloud:

{regions}

## Sources without a license

`anycloud-sh/catalog` (azure/vms.csv), `agonza05/cloudregioncodes` and the SkyPilot m5 subset
carry no license file. Nothing was copied from them in bulk: only the individual public price
facts (Azure Retail Prices, AWS list prices) and geographic facts (region location, country)
listed below were taken, for the snapshot regions and instance sizes only. The files themselves
are not redistributed.

Apache-2.0 sources (https://www.apache.org/licenses/LICENSE-2.0): the snapshot holds selected
values from them, changed as described under each source.

## Sources
"""

_FOOTER = """
## Looked at but not used

- `prices/gcp_vms_anycloud_skypilot_format.csv` (no license): GCP prices come from the
  Apache-2.0 Cyclenerd pricing.yml instead.
- `regions/dgl_cloud_regions_*.csv` (ODbL 1.0, share-alike): avoided entirely.
- `traces/spot_traces_skypilot/` (no license), `regions/skyplane_interregion_throughput_reduced.csv`
  and `regions/gcp_regions_carbon_cyclenerd.csv`: not needed for this snapshot.

## MIT license (microsoft/finops-toolkit)

Copyright (c) Microsoft Corporation.

Permission is hereby granted, free of charge, to any person obtaining a copy of this software
and associated documentation files (the "Software"), to deal in the Software without
restriction, including without limitation the rights to use, copy, modify, merge, publish,
distribute, sublicense, and/or sell copies of the Software, and to permit persons to whom the
Software is furnished to do so, subject to the following conditions:

The above copyright notice and this permission notice shall be included in all copies or
substantial portions of the Software.

THE SOFTWARE IS PROVIDED "AS IS", WITHOUT WARRANTY OF ANY KIND, EXPRESS OR IMPLIED, INCLUDING
BUT NOT LIMITED TO THE WARRANTIES OF MERCHANTABILITY, FITNESS FOR A PARTICULAR PURPOSE AND
NONINFRINGEMENT. IN NO EVENT SHALL THE AUTHORS OR COPYRIGHT HOLDERS BE LIABLE FOR ANY CLAIM,
DAMAGES OR OTHER LIABILITY, WHETHER IN AN ACTION OF CONTRACT, TORT OR OTHERWISE, ARISING FROM,
OUT OF OR IN CONNECTION WITH THE SOFTWARE OR THE USE OR OTHER DEALINGS IN THE SOFTWARE.
"""


def render_notice(offers: list[tuple[Any, ...]], regions: dict[str, tuple[str, ...]]) -> str:
    """NOTICE.md text: provenance, license and derivation for every source used."""
    crc = sorted(f"{p}:{r}" for p in ("aws", "azure") for r in regions[p])
    counts = {
        "m5": sum(o[-1] == "skypilot-catalog-v8:aws-m5" for o in offers),
        "azure": sum(o[-1] == "anycloud-catalog:azure-vms" for o in offers),
        "azure_regions": len(regions["azure"]),
        "crc": len(crc),
        "crc_list": ", ".join(crc),
    }
    listing = "\n".join(f"- {p}: {', '.join(regions[p])}" for p in ("aws", "azure", "gcp"))
    parts = [_HEADER.format(regions=listing)]
    for key, source in SOURCES.items():
        taken, derived = _TAKEN[key]
        parts.append(
            f"\n### {source.repo}: `{source.path}`\n\n"
            f"- Local copy: `shared/data/{source.file}`\n"
            f"- Commit: `{source.commit}`\n"
            f"- License: {source.license}\n"
            f"- Taken: {taken.format(**counts)}\n"
            f"- Derived: {derived}\n"
        )
    parts.append(_FOOTER)
    return "".join(parts)

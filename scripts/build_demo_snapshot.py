"""Build the compact public-data snapshot shipped in optimizer/demo/snapshot/.

Reads the public data files in shared/data (see shared/data/SOURCES.md) and writes
gzip-compressed CSVs (offers, regions, latency, egress, storage tiers) plus NOTICE.md.
The output is deterministic: rows are sorted and the gzip header has no timestamp.

    .venv/bin/python scripts/build_demo_snapshot.py [--shared DIR] [--out DIR]
"""

from __future__ import annotations

import argparse
import csv
import gzip
import io
import re
import sys
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

# The helper module sits next to this file; make it importable however this file is loaded
# (as a script, by path with importlib, or as scripts.build_demo_snapshot).
sys.path.insert(0, str(Path(__file__).resolve().parent))
import snapshot_sources as src

Row = tuple[Any, ...]

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = REPO_ROOT.parent / "shared" / "data"
DEFAULT_OUT = REPO_ROOT / "optimizer" / "demo" / "snapshot"

# fmt: off
# Several EU regions, UK/CH/NO, several US, a few APAC/other per cloud. All but two appear
# in the skyplane latency file: aws eu-west-3 (Paris) and azure eastus2 (the reference
# region of the Azure storage tier prices). aws sa-east-1 is absent: no m5 regional price.
AWS_REGIONS = (
    "eu-central-1", "eu-west-1", "eu-west-3", "eu-north-1", "eu-south-1", "eu-west-2",
    "us-east-1", "us-east-2", "us-west-2", "ca-central-1",
    "ap-northeast-1", "ap-southeast-1", "ap-southeast-2", "ap-south-1",
)
AZURE_REGIONS = (
    "germanywestcentral", "westeurope", "northeurope", "francecentral", "swedencentral",
    "norwayeast", "switzerlandnorth", "uksouth", "eastus", "eastus2", "westus3",
    "canadacentral", "japaneast", "australiaeast", "centralindia", "brazilsouth",
)
GCP_REGIONS = (
    "europe-west1", "europe-west3", "europe-west4", "europe-north1", "europe-central2",
    "europe-west2", "europe-west6", "us-central1", "us-east1", "us-east4", "us-west1",
    "northamerica-northeast1", "asia-northeast1", "asia-southeast1", "australia-southeast1",
    "asia-south1", "southamerica-east1",
)
REGIONS = {"aws": AWS_REGIONS, "azure": AZURE_REGIONS, "gcp": GCP_REGIONS}
SNAPSHOT_REGIONS = {(p, r) for p, regions in REGIONS.items() for r in regions}

MIN_VCPU, MAX_VCPU = 2, 64
AWS_FAMILIES = {"m5": "general", "m6i": "general", "c5": "compute", "c6i": "compute",
                "r5": "memory", "r6i": "memory"}
AZURE_FAMILIES = {  # size-name regex -> (family, category)
    r"^Standard_D\d+s_v5$": ("Dsv5", "general"),
    r"^Standard_D\d+as_v5$": ("Dasv5", "general"),
    r"^Standard_F\d+s_v2$": ("Fsv2", "compute"),
    r"^Standard_E\d+s_v5$": ("Esv5", "memory"),
}
GCP_FAMILIES = {"n2-standard": "general", "e2-standard": "general", "n2-highcpu": "compute",
                "c2d-standard": "compute", "n2-highmem": "memory"}
GCP_HOURS_PER_MONTH = Decimal(730)  # Cyclenerd's month = hour x 730 (e2, which has no SUD)
PURCHASE_ORDER = ("on_demand", "spot", "commit_1y", "commit_3y")
MICRO, NANO = Decimal("0.000001"), Decimal("0.000000001")

EU_MEMBERS = {"AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
              "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE"}
EEA_ONLY = {"NO", "IS", "LI"}
COUNTRY_ISO2 = {  # country as spelled in the region sources -> ISO 3166-1 alpha-2
    "Australia": "AU", "Belgium": "BE", "Brazil": "BR", "Canada": "CA", "Finland": "FI",
    "France": "FR", "Germany": "DE", "India": "IN", "Ireland": "IE", "Italy": "IT",
    "Japan": "JP", "Netherlands": "NL", "Norway": "NO", "Poland": "PL", "Singapore": "SG",
    "Sweden": "SE", "Switzerland": "CH", "UK": "GB", "United Kingdom": "GB",
    "United States": "US", "USA": "US",
}
# cloudregioncodes has us-west-1 and us-west-2 swapped (us-west-2 is Oregon): read the other row.
CLOUDREGIONCODES_SWAP = {("aws", "us-west-2"): ("aws", "us-west-1"),
                         ("aws", "us-west-1"): ("aws", "us-west-2")}

HEADERS = {
    "offers.csv.gz": ("provider", "region", "instance_type", "family", "category", "vcpu",
                      "memory_gib", "purchase_option", "usd_per_hour", "interruption_bucket",
                      "source"),
    "regions.csv.gz": ("provider", "region", "display_name", "country_code", "jurisdiction",
                       "latitude", "longitude", "source"),
    "latency.csv.gz": ("src_provider", "src_region", "dst_provider", "dst_region", "rtt_ms"),
    "egress.csv.gz": ("src_provider", "src_region", "dst_provider", "dst_region", "usd_per_gb"),
    "storage_tiers.csv.gz": ("provider", "region", "tier", "usd_per_gb_month",
                             "retrieval_usd_per_gb", "min_storage_days", "min_billable_kb",
                             "first_byte_latency_ms", "source"),
}
# fmt: on


def fmt(value: Decimal | int | str) -> str:
    """Plain decimal text, no exponent, no trailing zeros ('0.0960' -> '0.096')."""
    if not isinstance(value, Decimal):
        return str(value)
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def offer(base: Row, option: str, price: Decimal, bucket: int | str, source: str) -> Row:
    """offers.csv row; base = (provider, region, type, family, category, vcpu, memory)."""
    return (*base[:6], fmt(base[6]), option, fmt(price), bucket, source)


def build_aws_offers(shared: Path) -> list[Row]:
    """AWS on-demand and spot. Only us-east-1 (karpenter) and m5 per region are real list
    prices, so other families elsewhere are us-east-1 price x the region's m5 price ratio."""
    karpenter = src.read_karpenter(shared)
    shapes, advice = src.read_spot_advisor(shared)
    m5 = src.read_aws_m5(shared)
    types = sorted(
        t for t in karpenter
        if t.split(".")[0] in AWS_FAMILIES and not t.endswith(".metal")
        and t in shapes and MIN_VCPU <= shapes[t][0] <= MAX_VCPU
    )  # fmt: skip
    rows = []
    for region in AWS_REGIONS:
        common = [t for (r, t) in m5 if r == region and t in karpenter]
        regional = sum((m5[region, t] for t in common), Decimal(0))
        ratio = regional / sum((karpenter[t] for t in common), Decimal(0))
        for t in types:
            if region == "us-east-1":
                price, source = karpenter[t], "karpenter:us-east-1"
            elif (region, t) in m5:
                price, source = m5[region, t], "skypilot-catalog-v8:aws-m5"
            else:
                price = (karpenter[t] * ratio).quantize(MICRO)
                source = "derived:karpenter-us-east-1*m5-regional-ratio"
            family = t.split(".")[0]
            base = ("aws", region, t, family, AWS_FAMILIES[family], *shapes[t])
            rows.append(offer(base, "on_demand", price, "", source))
            if (region, t) in advice:
                savings, bucket = advice[region, t]
                spot = (price * (100 - savings) / 100).quantize(MICRO)
                rows.append(offer(base, "spot", spot, bucket, "derived:spot-advisor-savings"))
    return rows


def build_azure_offers(shared: Path) -> list[Row]:
    """Azure on-demand and spot: individual public Azure Retail Prices facts, needed rows only."""
    source = "anycloud-catalog:azure-vms"
    rows = []
    type_re = re.compile("|".join(AZURE_FAMILIES))
    for r in src.read_azure_vms(shared, set(AZURE_REGIONS), type_re):
        vcpu = int(Decimal(r["vCPUs"]))
        if not MIN_VCPU <= vcpu <= MAX_VCPU:
            continue
        name = r["InstanceType"]
        family, category = next(v for k, v in AZURE_FAMILIES.items() if re.match(k, name))
        mem = Decimal(r["MemoryGiB"])
        base = ("azure", r["Region"], name, family, category, vcpu, mem)
        rows.append(offer(base, "on_demand", Decimal(r["Price"]), "", source))
        if r["SpotPrice"]:
            rows.append(offer(base, "spot", Decimal(r["SpotPrice"]), "", source))
    return rows


def build_gcp_offers(shared: Path) -> list[Row]:
    """GCP on-demand, spot and 1y/3y CUD (monthly CUD / 730 h) from the Cyclenerd pricing.yml."""
    options = {  # purchase option -> (pricing.yml key, source tag)
        "on_demand": ("hour", "cyclenerd-pricing:hour"),
        "spot": ("hour_spot", "cyclenerd-pricing:hour_spot"),
        "commit_1y": ("month_1y", "derived:cyclenerd-pricing-month_1y/730"),
        "commit_3y": ("month_3y", "derived:cyclenerd-pricing-month_3y/730"),
    }
    rows = []
    for itype, spec in src.read_gcp_pricing(shared)["compute"]["instance"].items():
        family, _, size = itype.rpartition("-")
        vcpu = int(spec["cpu"])
        if family not in GCP_FAMILIES or not size.isdigit() or not MIN_VCPU <= vcpu <= MAX_VCPU:
            continue
        for region in GCP_REGIONS:
            cost = spec["cost"].get(region) or {}
            base = ("gcp", region, itype, family, GCP_FAMILIES[family], vcpu, Decimal(spec["ram"]))
            for option, (key, source) in options.items():
                if key not in cost:
                    continue
                price = Decimal(cost[key])
                if key.startswith("month"):
                    price = (price / GCP_HOURS_PER_MONTH).quantize(NANO)
                rows.append(offer(base, option, price, "", source))
    return rows


def build_offers(shared: Path) -> list[Row]:
    """All offers, sorted by provider, region, family, vCPU, type, purchase option."""
    rows = build_aws_offers(shared) + build_azure_offers(shared) + build_gcp_offers(shared)
    return sorted(rows, key=lambda r: (*r[:2], r[3], r[5], r[2], PURCHASE_ORDER.index(r[7])))


def jurisdiction(iso2: str) -> str:
    """EU for EU member states, EEA for EEA-only states, UK for GB, else the country code."""
    if iso2 in EU_MEMBERS:
        return "EU"
    return "EEA" if iso2 in EEA_ONLY else "UK" if iso2 == "GB" else iso2


def build_regions(shared: Path) -> list[Row]:
    """Region names, country and coordinates. AWS and Azure coordinates are individual
    geographic facts from the unlicensed cloudregioncodes file (no licensed source has them)."""
    aws_azure = {k for k in SNAPSHOT_REGIONS if k[0] != "gcp"}
    facts = src.read_cloudregioncodes(shared, {CLOUDREGIONCODES_SWAP.get(k, k) for k in aws_azure})
    azure_names = src.read_azure_region_names(shared)
    gcp = src.read_gcp_regions(shared)
    rows: list[Row] = []
    for provider, region in sorted(SNAPSHOT_REGIONS):
        if provider == "gcp":
            info = gcp[region]
            iso2 = COUNTRY_ISO2[info["name"].rsplit(", ", 1)[-1]]
            coords = (fmt(info["latitude"]), fmt(info["longitude"]))
            rows.append(("gcp", region, info["name"], iso2, jurisdiction(iso2), *coords,
                         "cyclenerd-regions.json"))  # fmt: skip
            continue
        fact = facts[CLOUDREGIONCODES_SWAP.get((provider, region), (provider, region))]
        iso2 = COUNTRY_ISO2[fact["country"]]
        if provider == "azure":
            name = azure_names[region]
            source = "finops-toolkit:Regions.csv(name);cloudregioncodes(lat/lon)"
        else:
            name, source = fact["region_name"], "cloudregioncodes(name,lat/lon)"
        if (provider, region) in CLOUDREGIONCODES_SWAP:
            source += ";us-west-1/2 swap corrected"
        coords = (fact["latitude"], fact["longitude"])
        rows.append((provider, region, name, iso2, jurisdiction(iso2), *coords, source))
    return rows


def build_latency(shared: Path) -> list[Row]:
    """Measured avg RTT among snapshot regions; zones of one GCP region are averaged."""
    samples: dict[Row, list[Decimal]] = defaultdict(list)
    for s, d, rtt in src.read_latency(shared):
        if s in SNAPSHOT_REGIONS and d in SNAPSHOT_REGIONS and s != d:
            samples[s + d].append(rtt)
    ms = Decimal("0.001")
    mean = {k: (sum(v, Decimal(0)) / len(v)).quantize(ms) for k, v in samples.items()}
    return [(*k, fmt(v)) for k, v in sorted(mean.items())]


def build_egress(shared: Path) -> list[Row]:
    """Egress USD/GB among snapshot regions, plus internet egress where a source has it:
    AWS from skyplane's AWS transfer table, GCP from pricing.yml (first tier, 0-1 TiB).
    If GCP zones of one region ever disagree, the highest price is kept (conservative)."""
    prices: dict[Row, list[Decimal]] = defaultdict(list)
    for s, d, cost in src.read_egress(shared):
        if s in SNAPSHOT_REGIONS and d in SNAPSHOT_REGIONS and s != d:
            prices[s + d].append(cost)
    for region, cost in src.read_aws_internet_egress(shared).items():
        if region in AWS_REGIONS:
            prices["aws", region, "internet", "any"].append(cost)
    network = src.read_gcp_pricing(shared)["compute"]["network"]
    first_tier = network["traffic"]["egress"]["internet"]["cost"]["0-1"]
    for region in GCP_REGIONS:
        if region in first_tier:
            prices["gcp", region, "internet", "any"].append(first_tier[region]["month"])
    return [(*key, fmt(max(v))) for key, v in sorted(prices.items())]


def _number(text: str, pattern: str, scale: int = 1) -> str:
    """The first captured number of pattern in text, times scale; '' if it does not match."""
    match = re.search(pattern, text)
    return fmt(Decimal(match[1]) * scale) if match else ""


def build_storage_tiers(shared: Path) -> list[Row]:
    """S3 and Azure Blob tiers from the hand-written storage_tiers.csv (its reference regions);
    GCS classes for every snapshot GCP region from pricing.yml. Rows marked UNVERIFIED are
    skipped. first_byte_latency_ms is filled only where the source states hours (upper bound
    of standard retrieval / rehydration); 'milliseconds' gives no number and stays empty."""
    facts = src.read_storage_tiers(shared)
    hours = r"(?:standard (?:within )?(?:\d+-)?|up to )(\d+) h"
    rows: list[Row] = []
    for f in facts:
        if f["cloud"] == "gcp" or f["value_confidence"].startswith("UNVERIFIED"):
            continue
        size = f["min_billable_object_size"]
        rows.append((
            f["cloud"], f["reference_region"].split(" ")[0], f["api_name"],
            f["storage_usd_per_gb_month"], f["retrieval_usd_per_gb"], f["min_storage_days"],
            "0" if size == "none" else _number(size, r"^(\d+) KB$"),
            _number(f["first_byte_latency"], hours, 3_600_000),
            f"storage_tiers.csv:{f['source_refs']}",
        ))  # fmt: skip
    min_days = {f["api_name"]: f["min_storage_days"] for f in facts if f["cloud"] == "gcp"}
    storage = src.read_gcp_pricing(shared)["storage"]
    classes = {"standard": "STANDARD", "nearline": "NEARLINE", "coldline": "COLDLINE",
               "archiv": "ARCHIVE"}  # fmt: skip
    for key, tier in classes.items():
        for region in GCP_REGIONS:
            price = storage["bucket"][key]["cost"].get(region)
            if price is None:
                continue
            retrieval = Decimal(0)  # GCS Standard has no retrieval fee
            if key != "standard":
                retrieval = storage["retrieval"][key]["cost"][region]["month"]
            rows.append(("gcp", region, tier, fmt(price["month"]), fmt(retrieval),
                         min_days[tier], "0", "",
                         "cyclenerd-pricing:storage;storage_tiers.csv:G2(min days)"))  # fmt: skip
    return sorted(rows)


def write_csv_gz(path: Path, header: tuple[str, ...], rows: list[Row]) -> int:
    """Write a gzip CSV reproducibly (mtime 0, no file name in the header); return its size."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(buffer.getvalue().encode("utf-8"))
    return path.stat().st_size


def check_shared(shared: Path) -> None:
    """Exit with a clear message if --shared is not the shared/data folder."""
    if not shared.is_dir():
        sys.exit(f"error: shared data directory {shared} not found; pass --shared DIR")
    missing = [s.file for s in src.SOURCES.values() if not (shared / s.file).is_file()]
    if missing:
        sys.exit(f"error: {shared} lacks {', '.join(missing)}; pass --shared DIR (shared/data)")


def main(argv: list[str] | None = None) -> int:
    """Build every snapshot file and print one summary line per file."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="shared/data folder")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder")
    args = parser.parse_args(argv)
    shared = args.shared.resolve()
    check_shared(shared)
    args.out.mkdir(parents=True, exist_ok=True)

    offers = build_offers(shared)
    tables = {
        "offers.csv.gz": offers,
        "regions.csv.gz": build_regions(shared),
        "latency.csv.gz": build_latency(shared),
        "egress.csv.gz": build_egress(shared),
        "storage_tiers.csv.gz": build_storage_tiers(shared),
    }
    for name, rows in tables.items():
        size = write_csv_gz(args.out / name, HEADERS[name], rows)
        print(f"{name}: {len(rows)} rows, {size} bytes")
    notice = src.render_notice(offers, REGIONS)
    (args.out / "NOTICE.md").write_text(notice, encoding="utf-8")
    print(f"NOTICE.md: {len(notice.splitlines())} lines, {len(notice.encode())} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

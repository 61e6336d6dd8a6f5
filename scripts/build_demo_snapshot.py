"""Build the compact public-data snapshot shipped in optimizer/demo/snapshot/.

Reads the public data files in shared/data (see shared/data/SOURCES.md) and writes
gzip-compressed CSVs (offers, regions, latency, egress, storage tiers) plus NOTICE.md.
The output is deterministic: rows are sorted and gzip headers carry no timestamp.

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

try:  # run as a script (scripts/ is on sys.path) or imported as scripts.build_demo_snapshot
    import snapshot_sources as src
except ImportError:  # pragma: no cover
    from scripts import snapshot_sources as src

REPO_ROOT = Path(__file__).resolve().parents[1]
DEFAULT_SHARED = REPO_ROOT.parent / "shared" / "data"
DEFAULT_OUT = REPO_ROOT / "optimizer" / "demo" / "snapshot"

# Regions: several EU, UK/CH/NO, several US, and a few APAC/other per cloud. Nearly all
# appear in the skyplane latency file (exceptions: aws eu-west-3, azure eastus2, which
# is kept because it is the reference region of the Azure storage tier prices).
AWS_REGIONS = (
    "eu-central-1", "eu-west-1", "eu-west-3", "eu-north-1", "eu-south-1", "eu-west-2",
    "us-east-1", "us-east-2", "us-west-2", "ca-central-1",
    "ap-northeast-1", "ap-southeast-1", "ap-southeast-2", "ap-south-1",
)  # sa-east-1 is absent: no m5 regional price to derive AWS prices from.
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
SNAPSHOT_REGIONS = {("aws", r) for r in AWS_REGIONS} | {("azure", r) for r in AZURE_REGIONS} | {
    ("gcp", r) for r in GCP_REGIONS}

MIN_VCPU, MAX_VCPU = 2, 64
AWS_FAMILIES = {"m5": "general", "m6i": "general", "c5": "compute", "c6i": "compute",
                "r5": "memory", "r6i": "memory"}
AZURE_FAMILIES = {  # regex on the size name -> (family, category)
    r"^Standard_D\d+s_v5$": ("Dsv5", "general"),
    r"^Standard_D\d+as_v5$": ("Dasv5", "general"),
    r"^Standard_F\d+s_v2$": ("Fsv2", "compute"),
    r"^Standard_E\d+s_v5$": ("Esv5", "memory"),
}
AZURE_TYPE_RE = re.compile("|".join(AZURE_FAMILIES))
GCP_FAMILIES = {"n2-standard": "general", "e2-standard": "general", "n2-highcpu": "compute",
                "c2d-standard": "compute", "n2-highmem": "memory"}
GCP_HOURS_PER_MONTH = Decimal(730)  # Cyclenerd's month = hour * 730 (see e2: no SUD)
PURCHASE_ORDER = ("on_demand", "spot", "commit_1y", "commit_3y")
MICRO = Decimal("0.000001")
NANO = Decimal("0.000000001")

EU_MEMBERS = set("AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE".split())
EEA_ONLY = {"NO", "IS", "LI"}
COUNTRY_ISO2 = {  # country names as spelled in the region sources -> ISO 3166-1 alpha-2
    "Australia": "AU", "Belgium": "BE", "Brazil": "BR", "Canada": "CA", "Finland": "FI",
    "France": "FR", "Germany": "DE", "India": "IN", "Ireland": "IE", "Italy": "IT", "Japan": "JP",
    "Netherlands": "NL", "Norway": "NO", "Poland": "PL", "Singapore": "SG", "Sweden": "SE",
    "Switzerland": "CH", "UK": "GB", "United Kingdom": "GB", "United States": "US", "USA": "US",
}
# cloudregioncodes lists us-west-1 and us-west-2 swapped (us-west-2 is Oregon): read the other row.
CLOUDREGIONCODES_FIXES = {("aws", "us-west-2"): ("aws", "us-west-1"), ("aws", "us-west-1"): ("aws", "us-west-2")}

OFFER_HEADER = ("provider", "region", "instance_type", "family", "category", "vcpu", "memory_gib",
                "purchase_option", "usd_per_hour", "interruption_bucket", "source")


def fmt(value: Decimal | int | str) -> str:
    """Plain decimal text without exponent or trailing zeros ('0.0960' -> '0.096')."""
    if not isinstance(value, Decimal):
        return str(value)
    text = format(value, "f")
    return text.rstrip("0").rstrip(".") if "." in text else text


def offer(provider: str, region: str, itype: str, family: str, category: str, vcpu: int,
          mem: Decimal, option: str, price: Decimal, bucket: int | str, source: str) -> tuple:
    """One offers.csv row (field order = OFFER_HEADER)."""
    return (provider, region, itype, family, category, vcpu, fmt(mem), option, fmt(price), bucket, source)


def build_aws_offers(shared: Path) -> list[tuple]:
    """AWS on-demand + spot. Only us-east-1 (karpenter) and m5 per region are real list prices,
    so other families elsewhere are us-east-1 price x the region's m5 price ratio."""
    karpenter = src.read_karpenter(shared)
    shapes, advice = src.read_spot_advisor(shared)
    m5 = src.read_aws_m5(shared)
    types = sorted(t for t in karpenter if t.split(".")[0] in AWS_FAMILIES and not t.endswith(".metal")
                   and t in shapes and MIN_VCPU <= shapes[t][0] <= MAX_VCPU)
    rows = []
    for region in AWS_REGIONS:
        common = [t for (r, t) in m5 if r == region and t in karpenter]
        ratio = sum(m5[region, t] for t in common) / sum(karpenter[t] for t in common)
        for t in types:
            family = t.split(".")[0]
            vcpu, mem = shapes[t]
            if region == "us-east-1":
                price, source = karpenter[t], "karpenter:us-east-1"
            elif (region, t) in m5:
                price, source = m5[region, t], "skypilot-catalog-v8:aws-m5"
            else:
                price = (karpenter[t] * ratio).quantize(MICRO)
                source = "derived:karpenter-us-east-1*m5-regional-ratio"
            base = (region, t, family, AWS_FAMILIES[family], vcpu, mem)
            rows.append(offer("aws", *base, "on_demand", price, "", source))
            if (region, t) in advice:
                savings, bucket = advice[region, t]
                spot = (price * (100 - savings) / 100).quantize(MICRO)
                rows.append(offer("aws", *base, "spot", spot, bucket, "derived:spot-advisor-savings"))
    return rows


def build_azure_offers(shared: Path) -> list[tuple]:
    """Azure on-demand + spot: individual public Azure Retail Prices facts, only the rows needed."""
    rows = []
    for r in src.read_azure_vms(shared, set(AZURE_REGIONS), AZURE_TYPE_RE):
        vcpu = int(Decimal(r["vCPUs"]))
        if not MIN_VCPU <= vcpu <= MAX_VCPU:
            continue
        family, category = next(v for k, v in AZURE_FAMILIES.items() if re.match(k, r["InstanceType"]))
        base = (r["Region"], r["InstanceType"], family, category, vcpu, Decimal(r["MemoryGiB"]))
        rows.append(offer("azure", *base, "on_demand", Decimal(r["Price"]), "", "anycloud-catalog:azure-vms"))
        if r["SpotPrice"]:
            rows.append(offer("azure", *base, "spot", Decimal(r["SpotPrice"]), "", "anycloud-catalog:azure-vms"))
    return rows


def build_gcp_offers(shared: Path) -> list[tuple]:
    """GCP on-demand, spot and 1y/3y CUD (monthly CUD / 730 h) from the Cyclenerd pricing.yml."""
    instances = src.read_gcp_pricing(shared)["compute"]["instance"]
    rows = []
    for itype, spec in instances.items():
        family, _, size = itype.rpartition("-")
        if family not in GCP_FAMILIES or not size.isdigit() or not MIN_VCPU <= int(spec["cpu"]) <= MAX_VCPU:
            continue
        for region in GCP_REGIONS:
            cost = spec["cost"].get(region)
            if not cost:
                continue
            base = (region, itype, family, GCP_FAMILIES[family], int(spec["cpu"]), Decimal(str(spec["ram"])))
            prices = {
                "on_demand": (cost.get("hour"), "cyclenerd-pricing:hour"),
                "spot": (cost.get("hour_spot"), "cyclenerd-pricing:hour_spot"),
                "commit_1y": (cost.get("month_1y"), "derived:cyclenerd-pricing-month_1y/730"),
                "commit_3y": (cost.get("month_3y"), "derived:cyclenerd-pricing-month_3y/730"),
            }
            for option, (value, source) in prices.items():
                if value is None:
                    continue
                price = Decimal(value)
                if option.startswith("commit"):
                    price = (price / GCP_HOURS_PER_MONTH).quantize(NANO)
                rows.append(offer("gcp", *base, option, price, "", source))
    return rows


def offer_sort_key(row: tuple) -> tuple:
    return row[0], row[1], row[3], row[5], row[2], PURCHASE_ORDER.index(row[7])


def jurisdiction(iso2: str) -> str:
    """EU for EU member states, EEA for EEA-only states, UK for GB, else the country code."""
    return "EU" if iso2 in EU_MEMBERS else "EEA" if iso2 in EEA_ONLY else "UK" if iso2 == "GB" else iso2


def build_regions(shared: Path) -> list[tuple]:
    """Region names, country and coordinates. AWS/Azure coordinates are individual geographic
    facts from the unlicensed cloudregioncodes file (no licensed source has them)."""
    wanted = {CLOUDREGIONCODES_FIXES.get(k, k) for k in SNAPSHOT_REGIONS if k[0] != "gcp"}
    facts = src.read_cloudregioncodes(shared, wanted)
    azure_names = src.read_azure_region_names(shared)
    gcp = src.read_gcp_regions(shared)
    rows = []
    for provider, region in sorted(SNAPSHOT_REGIONS):
        if provider == "gcp":
            info = gcp[region]
            iso2 = COUNTRY_ISO2[info["name"].rsplit(", ", 1)[-1]]
            rows.append(("gcp", region, info["name"], iso2, jurisdiction(iso2), fmt(info["latitude"]),
                         fmt(info["longitude"]), "cyclenerd-regions.json"))
            continue
        fact = facts[CLOUDREGIONCODES_FIXES.get((provider, region), (provider, region))]
        iso2 = COUNTRY_ISO2[fact["country"]]
        if provider == "azure":
            name, source = azure_names[region], "finops-toolkit:Regions.csv(name);cloudregioncodes(lat/lon)"
        else:
            name, source = fact["region_name"], "cloudregioncodes(name,lat/lon)"
        if (provider, region) in CLOUDREGIONCODES_FIXES:
            source += ";us-west-1/2 swap corrected"
        rows.append((provider, region, name, iso2, jurisdiction(iso2), fact["latitude"], fact["longitude"], source))
    return rows


def build_latency(shared: Path) -> list[tuple]:
    """Measured avg RTT among snapshot regions; GCP zones of one region are averaged."""
    samples: dict[tuple, list[Decimal]] = defaultdict(list)
    for s, d, rtt in src.read_latency(shared):
        if s in SNAPSHOT_REGIONS and d in SNAPSHOT_REGIONS and s != d:
            samples[s + d].append(rtt)
    return [(*key, fmt((sum(v) / len(v)).quantize(Decimal("0.001")))) for key, v in sorted(samples.items())]


def build_egress(shared: Path) -> list[tuple]:
    """Egress USD/GB among snapshot regions, plus internet egress (first volume tier) where a
    source has it: AWS from skyplane's AWS transfer table, GCP from pricing.yml (0-1 TiB tier)."""
    prices: dict[tuple, list[Decimal]] = defaultdict(list)
    for s, d, cost in src.read_egress(shared):
        if s in SNAPSHOT_REGIONS and d in SNAPSHOT_REGIONS and s != d:
            prices[s + d].append(cost)
    for region, cost in src.read_aws_internet_egress(shared).items():
        if region in AWS_REGIONS:
            prices["aws", region, "internet", "any"].append(cost)
    gcp_internet = src.read_gcp_pricing(shared)["compute"]["network"]["traffic"]["egress"]["internet"]
    for region in GCP_REGIONS:
        if region in gcp_internet["cost"]["0-1"]:
            prices["gcp", region, "internet", "any"].append(gcp_internet["cost"]["0-1"][region]["month"])
    return [(*key, fmt(max(v))) for key, v in sorted(prices.items())]


def _number_or_empty(text: str, pattern: str, scale: Decimal = Decimal(1)) -> str:
    match = re.search(pattern, text)
    return fmt(Decimal(match[1]) * scale) if match else ""


def _storage_row(provider: str, region: str, tier: str, price, retrieval, days, min_kb, latency_ms, source):
    return (provider, region, tier, fmt(price), fmt(retrieval), fmt(days), fmt(min_kb), fmt(latency_ms), source)


def build_storage_tiers(shared: Path) -> list[tuple]:
    """S3 and Azure Blob tiers from the hand-written storage_tiers.csv (its reference regions);
    GCS classes for every snapshot GCP region from pricing.yml. UNVERIFIED rows are skipped;
    first_byte_latency_ms is only filled where the source states hours (upper bound, standard
    retrieval/rehydration); 'milliseconds' gives no number and stays empty."""
    facts = src.read_storage_tiers(shared)
    rows = []
    for f in facts:
        if f["cloud"] == "gcp" or f["value_confidence"].startswith("UNVERIFIED"):
            continue
        size = f["min_billable_object_size"]
        min_kb = "0" if size == "none" else _number_or_empty(size, r"^(\d+) KB$")
        latency = _number_or_empty(f["first_byte_latency"], r"(?:standard (?:within )?(?:\d+-)?|up to )(\d+) h",
                                   Decimal(3_600_000))
        rows.append(_storage_row(f["cloud"], f["reference_region"].split(" ")[0], f["api_name"],
                                 f["storage_usd_per_gb_month"], f["retrieval_usd_per_gb"], f["min_storage_days"],
                                 min_kb, latency, f"storage_tiers.csv:{f['source_refs']}"))
    min_days = {f["api_name"]: f["min_storage_days"] for f in facts if f["cloud"] == "gcp"}
    storage = src.read_gcp_pricing(shared)["storage"]
    for key, tier in (("standard", "STANDARD"), ("nearline", "NEARLINE"), ("coldline", "COLDLINE"),
                      ("archiv", "ARCHIVE")):
        for region in GCP_REGIONS:
            price = storage["bucket"][key]["cost"].get(region)
            if price is None:
                continue
            retrieval = storage["retrieval"][key]["cost"][region]["month"] if key != "standard" else Decimal(0)
            rows.append(_storage_row("gcp", region, tier, price["month"], retrieval, min_days[tier], "0", "",
                                     "cyclenerd-pricing:storage;storage_tiers.csv:G2(min days)"))
    return sorted(rows)


def write_csv_gz(path: Path, header: tuple, rows: list[tuple]) -> int:
    """Write a gzip CSV reproducibly (mtime 0, no file name in the header); return its size."""
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    writer.writerows(rows)
    with path.open("wb") as raw, gzip.GzipFile(filename="", mode="wb", fileobj=raw, mtime=0) as gz:
        gz.write(buffer.getvalue().encode("utf-8"))
    return path.stat().st_size


def check_shared(shared: Path) -> None:
    """Fail early, with the list of missing files, if --shared is not the shared/data folder."""
    missing = [s.file for s in src.SOURCES.values() if not (shared / s.file).is_file()]
    if not shared.is_dir() or missing:
        sys.exit(f"error: shared data not found under {shared} (missing: {', '.join(missing) or 'directory'}); "
                 "pass --shared DIR pointing at shared/data")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shared", type=Path, default=DEFAULT_SHARED, help="shared/data directory")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="snapshot output directory")
    args = parser.parse_args(argv)
    shared = args.shared.resolve()
    check_shared(shared)
    args.out.mkdir(parents=True, exist_ok=True)

    offers = sorted(build_aws_offers(shared) + build_azure_offers(shared) + build_gcp_offers(shared),
                    key=offer_sort_key)
    tables = {
        "offers.csv.gz": (OFFER_HEADER, offers),
        "regions.csv.gz": (("provider", "region", "display_name", "country_code", "jurisdiction",
                            "latitude", "longitude", "source"), build_regions(shared)),
        "latency.csv.gz": (("src_provider", "src_region", "dst_provider", "dst_region", "rtt_ms"),
                           build_latency(shared)),
        "egress.csv.gz": (("src_provider", "src_region", "dst_provider", "dst_region", "usd_per_gb"),
                          build_egress(shared)),
        "storage_tiers.csv.gz": (("provider", "region", "tier", "usd_per_gb_month", "retrieval_usd_per_gb",
                                  "min_storage_days", "min_billable_kb", "first_byte_latency_ms", "source"),
                                 build_storage_tiers(shared)),
    }
    for name, (header, rows) in tables.items():
        size = write_csv_gz(args.out / name, header, rows)
        print(f"{name}: {len(rows)} rows, {size} bytes")
    notice = src.render_notice(offers, {"aws": AWS_REGIONS, "azure": AZURE_REGIONS, "gcp": GCP_REGIONS})
    (args.out / "NOTICE.md").write_text(notice, encoding="utf-8")
    print(f"NOTICE.md: {len(notice.splitlines())} lines, {len(notice.encode())} bytes")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

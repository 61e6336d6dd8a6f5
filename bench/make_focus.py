"""Make large FOCUS files by replicating the real official sample with fresh ids and dates.

Each copy of the 1,000-row sample gets its own ResourceId/Id suffix and is shifted by
whole days, so rows stay realistic (real services, prices, tags, quirks) yet distinct.
"""

from __future__ import annotations

import argparse
import csv
import gzip
from datetime import datetime, timedelta
from decimal import Decimal
from pathlib import Path

SAMPLE = (
    Path(__file__).resolve().parents[2]
    / "shared"
    / "data"
    / "focus"
    / ("official-sample-1.0/focus_sample.csv")
)
TIME_COLUMNS = ("ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart", "BillingPeriodEnd")
FMT = "%Y-%m-%d %H:%M:%S"


def _shift(value: str, days: int) -> str:
    if value in ("", "NULL"):
        return value
    return (datetime.strptime(value, FMT) + timedelta(days=days)).strftime(FMT)


def make_focus(out: Path, rows: int, sample: Path = SAMPLE) -> Decimal:
    """Write `rows` rows to `out` (.csv or .csv.gz); returns the exact BilledCost total."""
    with sample.open(newline="", encoding="utf-8") as fh:
        reader = csv.reader(fh)
        header = next(reader)
        base = list(reader)
    idx = {name: i for i, name in enumerate(header)}
    billed = idx["BilledCost"]
    total = Decimal(0)
    opener = gzip.open if out.name.endswith(".gz") else open
    out.parent.mkdir(parents=True, exist_ok=True)
    with opener(out, "wt", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, quoting=csv.QUOTE_MINIMAL)
        writer.writerow(header)
        copy = 0
        written = 0
        while written < rows:
            days = copy % 365
            for row in base:
                if written >= rows:
                    break
                new = list(row)
                for col in TIME_COLUMNS:
                    new[idx[col]] = _shift(row[idx[col]], days)
                if row[idx["ResourceId"]] not in ("", "NULL"):
                    new[idx["ResourceId"]] = f"{row[idx['ResourceId']]}-c{copy}"
                new[idx["Id"]] = f"{row[idx['Id']]}-c{copy}"
                new[idx["ChargeDescription"]] = f"{row[idx['ChargeDescription']]} #{copy}"
                writer.writerow(new)
                total += Decimal(row[billed])
                written += 1
            copy += 1
    return total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("out", type=Path)
    parser.add_argument("--rows", type=int, default=100_000)
    args = parser.parse_args()
    total = make_focus(args.out, args.rows)
    print(f"{args.out}: {args.rows:,} rows, BilledCost total {total}")


if __name__ == "__main__":
    main()

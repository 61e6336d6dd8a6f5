"""Defaults for what the shipped price data lacks: request, transition, monitoring and
restore prices per storage class, the class order (warm → cold), and the fallbacks for
a missing retrieval price or first-byte latency.

These are PUBLIC LIST PRICES for the first volume tier in the providers' reference
region (AWS us-east-1, Azure East US 2 LRS, GCP us-central1), written from memory of the
providers' pricing pages, NOT read from a stored page: every row says so in `source`
("unverified"). They are defaults: the store's `storage_tier_price` wins for storage,
retrieval, minimum days, minimum billable size and latency whenever it has a value.
Money is integer micro-USD (1 USD = 1_000_000), per 1,000 requests or per GB.
See docs/tiering.md for the table in words and its confidence.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class ClassDefaults:
    """List-price defaults of one storage class (micro-USD)."""

    rank: int  # 0 = the provider's hot class; larger = colder (lifecycle waterfall order)
    get_per_1k: int  # read (GET / Class B / read operation); restore request on archives
    put_per_1k: int  # write or lifecycle transition INTO this class (PUT / Class A)
    retrieval_per_gb: int  # only used when the store has no retrieval price
    restore: bool  # objects must be restored (hours) before they can be read
    latency_ms: float | None  # first byte, used when the store has none (None = ms)
    overhead_kb_hot: int = 0  # per-object metadata billed at the hot class's rate
    overhead_kb_self: int = 0  # per-object metadata billed at this class's rate
    source: str = "unverified list price"
    proposable: bool = True  # False: never proposed as a target (said in the reasons)


U = "unverified list price (pricing page, from memory)"
HOUR_MS = 3_600_000.0

CLASSES: dict[tuple[str, str], ClassDefaults] = {
    # AWS S3, us-east-1 (aws.amazon.com/s3/pricing). Transition requests are billed at
    # the destination class's PUT/lifecycle-transition price.
    ("aws", "STANDARD"): ClassDefaults(0, 400, 5_000, 0, False, None, source=U),
    ("aws", "INTELLIGENT_TIERING"): ClassDefaults(1, 400, 10_000, 0, False, None, source=U),
    ("aws", "STANDARD_IA"): ClassDefaults(2, 1_000, 10_000, 10_000, False, None, source=U),
    # One Zone-IA keeps one copy in one zone: a cheaper class that loses data with the zone
    # is a resilience decision, not a cost one, so it is never proposed.
    ("aws", "ONEZONE_IA"): ClassDefaults(
        3, 1_000, 10_000, 10_000, False, None, source=U, proposable=False
    ),
    ("aws", "GLACIER_IR"): ClassDefaults(4, 10_000, 20_000, 30_000, False, None, source=U),
    # Glacier Flexible: restore (standard) requests 0.05/1k; 8 KB at Standard + 32 KB at
    # Glacier rates per object (AWS storage-class doc, S3 in storage_tiers_SOURCES.md).
    ("aws", "GLACIER"): ClassDefaults(
        5, 50_000, 30_000, 10_000, True, 5 * HOUR_MS, 8, 32, source=U
    ),
    ("aws", "DEEP_ARCHIVE"): ClassDefaults(
        6, 100_000, 50_000, 20_000, True, 12 * HOUR_MS, 8, 32, source=U
    ),
    # Azure Blob, East US 2 LRS: prices are per 10,000 operations on the page (÷ 10 here).
    # Cool/Cold retrieval is missing from the shipped data: 0.01 and 0.03 USD/GB here.
    ("azure", "Hot"): ClassDefaults(0, 400, 5_000, 0, False, None, source=U),
    ("azure", "Cool"): ClassDefaults(1, 1_000, 10_000, 10_000, False, None, source=U),
    ("azure", "Cold"): ClassDefaults(2, 10_000, 18_000, 30_000, False, None, source=U),
    ("azure", "Archive"): ClassDefaults(3, 500_000, 10_000, 22_000, True, 15 * HOUR_MS, source=U),
    # Google Cloud Storage, us-central1: Class A (write/rewrite) and Class B (read) per
    # 10,000 on the page (÷ 10 here). A class change is a rewrite: Class A of the target.
    ("gcp", "STANDARD"): ClassDefaults(0, 400, 5_000, 0, False, None, source=U),
    ("gcp", "NEARLINE"): ClassDefaults(1, 1_000, 10_000, 10_000, False, None, source=U),
    ("gcp", "COLDLINE"): ClassDefaults(2, 10_000, 20_000, 20_000, False, None, source=U),
    ("gcp", "ARCHIVE"): ClassDefaults(3, 50_000, 50_000, 50_000, False, None, source=U),
}

# Retrieval when neither the store nor CLASSES knows the class: never free.
UNKNOWN_RETRIEVAL_PER_GB = 30_000
# Classes a lifecycle rule cannot move INTO from a given class (S3 waterfall exceptions,
# storage-tiering.md §1): IT → Standard-IA, One Zone-IA → IA/IT/GIR, Glacier → not GIR.
LIFECYCLE_FORBIDDEN: dict[tuple[str, str], frozenset[str]] = {
    ("aws", "INTELLIGENT_TIERING"): frozenset({"STANDARD_IA"}),
    ("aws", "ONEZONE_IA"): frozenset({"STANDARD_IA", "INTELLIGENT_TIERING", "GLACIER_IR"}),
    ("aws", "GLACIER"): frozenset({"GLACIER_IR"}),
}
# Days an object must sit in a class before S3 lifecycle may move it to IA/One Zone-IA.
S3_DAYS_BEFORE_IA = 30


@dataclass(frozen=True)
class AutoTiering:
    """A provider's automatic tiering, modelled as: objects read in the last 30 days stay
    in the hot class, the rest sit in `cold_tier` (its store price), for a per-object fee.
    """

    name: str
    cold_tier: str  # the class whose storage price the untouched bytes pay
    monitor_per_1k_objects_month: int
    retrieval: bool  # whether reads of cold bytes pay the cold class's retrieval fee
    min_object_kb: int  # smaller objects are never moved (stay hot, pay no fee)
    transition_per_1k: int  # one-off, per 1,000 objects moved (all or only the cold share)
    cold_share_only: bool  # whether the one-off transition applies to the cold share only
    how: str
    source: str = U


AUTO: dict[str, AutoTiering] = {
    "aws": AutoTiering(
        "S3 Intelligent-Tiering",
        "STANDARD_IA",  # the Infrequent Access tier is priced as Standard-IA (0.0125)
        2_500,
        False,
        128,
        10_000,  # lifecycle transition into Intelligent-Tiering
        False,
        "a lifecycle rule transitioning objects to INTELLIGENT_TIERING",
    ),
    "gcp": AutoTiering(
        "GCS Autoclass",
        "NEARLINE",  # terminal class Nearline by default
        2_500,
        False,
        128,
        0,  # Autoclass transitions carry no operation charge (storage-tiering.md §3)
        False,
        "enable Autoclass on the bucket (terminal class Nearline)",
    ),
    "azure": AutoTiering(
        "Azure last-access tiering",
        "Cool",
        0,
        True,
        0,
        10_000,  # Set Blob Tier to Cool: a Cool write operation per blob moved
        True,
        "a lifecycle rule tierToCool daysAfterLastAccessTimeGreaterThan 30 with "
        "enableAutoTierToHotFromCool (needs last-access tracking on the account)",
    ),
}

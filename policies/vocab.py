"""The fixed words policy files may use: providers, jurisdictions, countries, region names.

Kept apart from the pydantic models so the evaluator (and `policy explain`) can use the
same tables without importing pydantic validators, and so one list feeds both the
validation and the "To fix:" suggestions.

Jurisdictions follow the `region.jurisdiction` column of the store (see the demo
snapshot's NOTICE.md): a region in an EU member state has jurisdiction `EU`, one in
Iceland, Liechtenstein or Norway `EEA`, one in the United Kingdom `UK`, any other the
ISO 3166-1 alpha-2 code of its country. In a policy, `EEA` means the whole European
Economic Area (EU member states + IS, LI, NO), so `jurisdictions: [EEA]` admits
`aws:eu-central-1` (DE) as well as `azure:norwayeast` (NO); `EU` means the 27 member
states only. `UK` and `GB` are the same jurisdiction.
"""

from __future__ import annotations

import difflib
import re
from collections.abc import Iterable

PROVIDERS = ("aws", "azure", "gcp")


def _codes(text: str) -> frozenset[str]:
    return frozenset(text.split())


EU_MEMBERS = _codes(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK"
)
EEA_MEMBERS = EU_MEMBERS | {"IS", "LI", "NO"}

# ISO 3166-1 alpha-2, officially assigned codes (249).
ISO_COUNTRIES = _codes(
    """
    AD AE AF AG AI AL AM AO AQ AR AS AT AU AW AX AZ BA BB BD BE BF BG BH BI BJ BL BM BN BO
    BQ BR BS BT BV BW BY BZ CA CC CD CF CG CH CI CK CL CM CN CO CR CU CV CW CX CY CZ DE DJ
    DK DM DO DZ EC EE EG EH ER ES ET FI FJ FK FM FO FR GA GB GD GE GF GG GH GI GL GM GN GP
    GQ GR GS GT GU GW GY HK HM HN HR HT HU ID IE IL IM IN IO IQ IR IS IT JE JM JO JP KE KG
    KH KI KM KN KP KR KW KY KZ LA LB LC LI LK LR LS LT LU LV LY MA MC MD ME MF MG MH MK ML
    MM MN MO MP MQ MR MS MT MU MV MW MX MY MZ NA NC NE NF NG NI NL NO NP NR NU NZ OM PA PE
    PF PG PH PK PL PM PN PR PS PT PW PY QA RE RO RS RU RW SA SB SC SD SE SG SH SI SJ SK SL
    SM SN SO SR SS ST SV SX SY SZ TC TD TF TG TH TJ TK TL TM TN TO TR TT TV TW TZ UA UG UM
    US UY UZ VA VC VE VG VI VN VU WF WS YE YT ZA ZM ZW
    """
)

# Group jurisdictions; every ISO country code is also a jurisdiction of its own.
GROUP_JURISDICTIONS: dict[str, frozenset[str]] = {
    "EU": EU_MEMBERS,
    "EEA": EEA_MEMBERS,
    "UK": frozenset({"GB"}),
}
JURISDICTIONS = frozenset(GROUP_JURISDICTIONS) | ISO_COUNTRIES

REGION_NAME = re.compile(r"^[a-z][a-z0-9-]*[a-z0-9]$")
SLUG = re.compile(r"^[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?$")
USER_REGIONS = "user_regions"

# Naming conventions of each cloud, only to suggest the provider a bare region lacks.
_REGION_STYLE = (
    ("aws", re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")),
    ("gcp", re.compile(r"^[a-z]+-[a-z]+\d+$")),
    ("azure", re.compile(r"^[a-z]+\d?$")),
)


def countries_of(jurisdiction: str) -> frozenset[str]:
    """The ISO country codes a jurisdiction code covers (`EEA` → EU + IS, LI, NO)."""
    code = jurisdiction.upper()
    return GROUP_JURISDICTIONS.get(code, frozenset({code}))


def store_jurisdictions_of(jurisdiction: str) -> frozenset[str]:
    """The `region.jurisdiction` values a policy jurisdiction admits, for regions whose
    country is unknown (`EEA` admits regions recorded as `EU` or `EEA`)."""
    code = jurisdiction.upper()
    if code == "EEA":
        return frozenset({"EU", "EEA"})
    if code in ("UK", "GB"):
        return frozenset({"UK", "GB"})
    return frozenset({code})


def suggest(word: str, choices: Iterable[str]) -> str | None:
    """The closest choice to a misspelt word, or None when nothing is close."""
    options = list(choices)
    exact = {c.lower(): c for c in options}
    if word.lower() in exact:
        return exact[word.lower()]
    hits = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    if not hits:
        hits = difflib.get_close_matches(word.lower(), options, n=1, cutoff=0.6)
    return hits[0] if hits else None


def guess_provider(region: str) -> str | None:
    """Which cloud a bare region name looks like (`eu-west-1` → aws), or None."""
    for provider, pattern in _REGION_STYLE:
        if pattern.match(region):
            return provider
    return None


def slugify(text: str) -> str:
    """A valid policy name made from free text, for "To fix:" suggestions."""
    slug = re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")[:63].strip("-")
    return slug or "my-policy"


def one_of(choices: Iterable[str]) -> str:
    """`a, b or c` for messages."""
    items = list(choices)
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " or " + items[-1]

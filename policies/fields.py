"""Field types shared by the policy models, each with its own "To fix:" text.

Validators raise `PydanticCustomError` whose context carries `fix` (what to write
instead) and, for checks made on a whole model, `at` (the key the problem is about);
`policies.diagnostics` turns those into file:line messages. Keeping the fix next to the
rule means a new rule cannot forget to say how to satisfy it.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Annotated, Any, Literal

from annotated_types import Ge, Gt, Le, MinLen
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    PlainSerializer,
    Strict,
    WithJsonSchema,
)
from pydantic_core import PydanticCustomError

from policies import units, vocab

Provider = Literal["aws", "azure", "gcp"]


class FrozenModel(BaseModel):
    """Immutable, closed to unknown keys, readable by the YAML word or the Python name."""

    model_config = ConfigDict(
        frozen=True, extra="forbid", populate_by_name=True, str_strip_whitespace=True
    )


def problem(kind: str, message: str, fix: str, at: str | None = None) -> PydanticCustomError:
    """A validation error that knows how to be fixed (and, optionally, which key it is)."""
    ctx: dict[str, Any] = {"fix": fix}
    if at is not None:
        ctx["at"] = at
    return PydanticCustomError(kind, message, ctx)


def _text(value: Any, what: str, example: str) -> str:
    if not isinstance(value, str):
        raise problem("text_type", f"expected {what}, got {value!r}", f"write e.g. {example}")
    return value.strip()


def _slug(value: Any) -> str:
    text = _text(value, "a name", "'eu-data-stays-in-eu'")
    if not vocab.SLUG.match(text):
        raise problem(
            "slug",
            f"'{text}' is not a valid policy name",
            "use lower-case letters, digits and hyphens (at most 63), "
            f"e.g. '{vocab.slugify(text)}'",
        )
    return text


def _jurisdiction(value: Any) -> str:
    code = _text(value, "a jurisdiction", "EU").upper()
    if code not in vocab.JURISDICTIONS:
        near = vocab.suggest(code, [*sorted(vocab.GROUP_JURISDICTIONS), "US", "CH", "JP"])
        hint = f"did you mean '{near}'? " if near else ""
        raise problem(
            "jurisdiction",
            f"'{value}' is not a jurisdiction",
            f"{hint}write EU, EEA (EU + IS, LI, NO), UK or an ISO 3166-1 alpha-2 country "
            "code such as US, CH, JP",
        )
    return code


def _country(value: Any) -> str:
    code = _text(value, "a country code", "DE").upper()
    if code in vocab.GROUP_JURISDICTIONS:
        iso = " (the ISO code of the United Kingdom is GB)" if code == "UK" else ""
        raise problem(
            "country",
            f"'{value}' is a jurisdiction, not a country{iso}",
            f"move '{code}' to `jurisdictions:`, or list ISO country codes here",
        )
    if code not in vocab.ISO_COUNTRIES:
        raise problem(
            "country",
            f"'{value}' is not an ISO 3166-1 alpha-2 country code",
            "write two letters such as DE, FR, IE, NL, US",
        )
    return code


def _region_ref(value: Any) -> str:
    text = _text(value, "a provider:region", "'aws:eu-central-1'")
    provider, sep, region = text.partition(":")
    if not sep:
        guess = vocab.guess_provider(text)
        hint = f"did you mean '{guess}:{text}'? " if guess else ""
        raise problem(
            "region_ref",
            f"'{text}' does not name its provider",
            f"{hint}write provider:region, e.g. 'aws:eu-central-1', 'azure:westeurope', "
            "'gcp:europe-west1'",
        )
    if provider not in vocab.PROVIDERS:
        near = vocab.suggest(provider, vocab.PROVIDERS)
        hint = f"did you mean '{near}:{region}'? " if near else ""
        raise problem(
            "region_ref",
            f"'{provider}' in '{text}' is not a provider",
            f"{hint}the provider is one of {vocab.one_of(vocab.PROVIDERS)}",
        )
    _check_region(region, text)
    return text


def _check_region(region: str, text: str) -> None:
    if not vocab.REGION_NAME.match(region):
        lower = region.lower()
        hint = f"write '{text.replace(region, lower)}'" if vocab.REGION_NAME.match(lower) else ""
        raise problem(
            "region",
            f"'{region}' is not a region name",
            hint or "region names are lower-case letters, digits and hyphens, e.g. eu-central-1",
        )


def _bare_region(value: Any) -> str:
    text = _text(value, "a region", "eu-central-1")
    if ":" in text:
        raise problem(
            "region",
            f"'{text}' includes a provider",
            f"put the provider under `provider:` and write only '{text.partition(':')[2]}' here",
        )
    _check_region(text, text)
    return text


def _from_item(value: Any) -> str:
    if value == vocab.USER_REGIONS:
        return vocab.USER_REGIONS
    if isinstance(value, str) and ":" not in value and vocab.suggest(value, ["user_regions"]):
        raise problem(
            "region_ref",
            f"'{value}' is neither user_regions nor a provider:region",
            "write user_regions (each workload's own user regions) or e.g. 'aws:eu-central-1'",
        )
    return _region_ref(value)


def as_list(value: Any) -> Any:
    """A single scalar where a list is expected means a list of one."""
    return [value] if isinstance(value, str | int | Decimal) else value


def _tag_text(value: Any) -> Any:
    """Tag values are text in every cloud; YAML may have read `tier: 1` as a number."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | Decimal):
        return str(value)
    return value


def _no_bool(value: Any) -> Any:
    if isinstance(value, bool):
        raise problem("number_type", f"expected a number, got {value}", "write a number, e.g. 40")
    return value


def _money(value: Any) -> Any:
    if isinstance(value, bool):
        raise problem("money", f"expected US dollars, got {value}", "write an amount, e.g. 250")
    if isinstance(value, float):
        return Decimal(repr(value))
    if isinstance(value, str):
        try:
            return Decimal(value.strip().replace(",", ""))
        except InvalidOperation:
            raise problem(
                "money",
                f"'{value}' is not an amount of US dollars",
                "write a plain number without a currency sign, e.g. 250 or 99.50",
            ) from None
    return value


def _share(value: Any) -> Any:
    if isinstance(value, str) and value.strip().endswith("%"):
        try:
            return Decimal(value.strip()[:-1]) / 100
        except InvalidOperation:
            pass
    return _no_bool(value)


def _duration(value: Any) -> int:
    if isinstance(value, int | Decimal) and not isinstance(value, bool):
        raise problem(
            "duration",
            f"{value} has no unit",
            f"write a duration with its unit, e.g. '{value}ms', '{value}s', '{value}m' or "
            f"'{value}h'",
        )
    text = _text(value, "a duration", "'100ms', '5m' or '12h'")
    try:
        return units.parse_duration_ms(text)
    except ValueError as exc:
        raise problem(
            "duration", str(exc), "write a number and a unit (ms, s, m, h, d), e.g. '5m', '12h'"
        ) from None


def _byte_size(value: Any) -> Any:
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    text = _text(value, "a size", "'500GiB'")
    try:
        return units.parse_bytes(text)
    except ValueError as exc:
        raise problem(
            "byte_size",
            str(exc),
            "write bytes, or a number and a unit (KB, MB, GB, TB or KiB, MiB, GiB, TiB), "
            "e.g. '500GiB'",
        ) from None


_TEXT_OR_LIST = WithJsonSchema(
    {
        "anyOf": [
            {"type": "string"},
            {"type": "array", "items": {"type": "string"}, "minItems": 1},
        ]
    }
)

Slug = Annotated[
    str,
    BeforeValidator(_slug),
    WithJsonSchema({"type": "string", "pattern": vocab.SLUG.pattern, "maxLength": 63}),
]
Jurisdiction = Annotated[
    str,
    BeforeValidator(_jurisdiction),
    WithJsonSchema({"type": "string", "enum": sorted(vocab.JURISDICTIONS)}),
]
Country = Annotated[
    str,
    BeforeValidator(_country),
    WithJsonSchema({"type": "string", "enum": sorted(vocab.ISO_COUNTRIES)}),
]
_REF_PATTERN = f"^({'|'.join(vocab.PROVIDERS)}):{vocab.REGION_NAME.pattern[1:]}"
RegionRef = Annotated[
    str,
    BeforeValidator(_region_ref),
    WithJsonSchema({"type": "string", "pattern": _REF_PATTERN, "examples": ["aws:eu-central-1"]}),
]
RegionName = Annotated[
    str,
    BeforeValidator(_bare_region),
    WithJsonSchema({"type": "string", "pattern": vocab.REGION_NAME.pattern}),
]
FromItem = Annotated[
    str,
    BeforeValidator(_from_item),
    WithJsonSchema(
        {"anyOf": [{"const": vocab.USER_REGIONS}, {"type": "string", "pattern": _REF_PATTERN}]}
    ),
]
Text = Annotated[str, MinLen(1)]
TagValue = Annotated[str, MinLen(1), BeforeValidator(_tag_text)]
TextList = Annotated[tuple[TagValue, ...], MinLen(1), BeforeValidator(as_list), _TEXT_OR_LIST]
Providers = Annotated[
    tuple[Provider, ...],
    MinLen(1),
    BeforeValidator(as_list),
    WithJsonSchema(
        {
            "anyOf": [
                {"enum": list(vocab.PROVIDERS)},
                {"type": "array", "items": {"enum": list(vocab.PROVIDERS)}, "minItems": 1},
            ]
        }
    ),
]
Count = Annotated[int, Strict(), Ge(0)]
PositiveCount = Annotated[int, Strict(), Gt(0)]
Number = Annotated[float, Ge(0), BeforeValidator(_no_bool)]
PositiveNumber = Annotated[float, Gt(0), BeforeValidator(_no_bool)]
Share = Annotated[float, Ge(0), Le(1), BeforeValidator(_share)]
_MONEY_SCHEMA = {
    "anyOf": [
        {"type": "number", "minimum": 0},
        {"type": "string", "pattern": r"^\d+(\.\d+)?$"},
    ],
    "description": "US dollars, written as a plain number (kept exact as a decimal).",
}
Money = Annotated[Decimal, Ge(0), BeforeValidator(_money), WithJsonSchema(_MONEY_SCHEMA)]
PositiveMoney = Annotated[Decimal, Gt(0), BeforeValidator(_money), WithJsonSchema(_MONEY_SCHEMA)]
DurationMs = Annotated[
    int,
    BeforeValidator(_duration),
    PlainSerializer(units.format_duration, return_type=str),
    WithJsonSchema(
        {
            "type": "string",
            "pattern": units.DURATION_PATTERN,
            "examples": ["100ms", "5m", "12h"],
            "description": "A duration: number + unit (ms, s, m, h, d), e.g. '5m'.",
        }
    ),
]
ByteSize = Annotated[
    int,
    Gt(0),
    BeforeValidator(_byte_size),
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "integer", "exclusiveMinimum": 0},
                {"type": "string", "pattern": units.BYTES_PATTERN, "examples": ["500GiB"]},
            ]
        }
    ),
]

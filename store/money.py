"""Money helpers without database imports, so the CLI starts fast."""

from __future__ import annotations

from decimal import Decimal


def canonical(value: Decimal) -> Decimal:
    """The same number without trailing fractional zeros (20.5200 -> 20.52), never 1E+2."""
    if value == value.to_integral_value():
        return value.quantize(Decimal(1))
    return value.normalize()


def money_str(value: Decimal) -> str:
    """Plain decimal text for output: never scientific notation, no trailing zeros."""
    return format(canonical(value), "f")

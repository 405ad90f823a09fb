"""Exact numbers: strict parsing from text and exact or rounded decimal formatting."""

import re
from decimal import ROUND_HALF_EVEN, ROUND_HALF_UP, Decimal
from fractions import Fraction
from functools import lru_cache

from openidds.units.errors import UnitsError

_NUMBER = re.compile(r"[+-]?(\d+(\.\d+)?|\d+/[1-9]\d*)")
MAX_DIGITS = 30
"""Digits allowed before and after the decimal point: far past any quantity of a pump, and small enough that no
arithmetic on a number (``1e100000000``) can hang or exhaust memory before its field's own range refuses it."""
_TOO_LARGE = 10**(2 * MAX_DIGITS)
_TOO_LONG = f"a number of at most {MAX_DIGITS} digits before and {MAX_DIGITS} after the decimal point"


def exact(value: object, field: str = "value") -> Fraction:
    """An exact Fraction from an int, Fraction, Decimal or decimal string; floats are refused."""
    if type(value) is Fraction and max(abs(value.numerator), value.denominator) < _TOO_LARGE:
        return value
    if isinstance(value, bool | float):
        raise UnitsError(field, value, "an exact number (int, Fraction, Decimal or a decimal string), not a float")
    if isinstance(value, Fraction | int):
        if max(abs(value.numerator), value.denominator) >= _TOO_LARGE:
            raise UnitsError(field, _short(value), _TOO_LONG)
        return value if type(value) is Fraction else Fraction(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise UnitsError(field, value, "a finite number")
        exponent = value.as_tuple().exponent
        assert isinstance(exponent, int)  # a finite Decimal's exponent is an int
        if value and (value.adjusted() >= MAX_DIGITS or exponent < -MAX_DIGITS):
            raise UnitsError(field, value, _TOO_LONG)
        return Fraction(value)
    if isinstance(value, str):
        return _parsed(value, field)
    raise UnitsError(field, value, "a number")


@lru_cache(maxsize=4096)
def _parsed_text(value: str) -> Fraction | None:
    """The exact value of a plain decimal text, None if it is not one (kept for the texts last asked: a
    programmer reads the same doses and concentrations session after session)."""
    text = value.strip()
    if len(text) > 2 * MAX_DIGITS + 2 or not _NUMBER.fullmatch(text):
        return None
    return Fraction(text)


def _parsed(value: str, field: str) -> Fraction:
    parsed = _parsed_text(value)
    if parsed is not None:
        return parsed
    text = value.strip()
    if text.lstrip("+-").startswith("."):
        raise UnitsError(field, value, "a leading zero before the decimal point, e.g. 0.5")
    if "," in text:
        raise UnitsError(field, value, "no commas: write 1500 or 1.5 (a comma is ambiguous)")
    if len(text) > 2 * MAX_DIGITS + 2:
        raise UnitsError(field, _short(text), _TOO_LONG)
    raise UnitsError(field, _short(text), "a plain decimal number such as 40 or 0.25")


def _short(value: object) -> str:
    """A value as it is shown in a refusal: at most 40 characters of it."""
    text = str(value)
    return text if len(text) <= 40 else f"{text[:20]}...{text[-10:]} ({len(text)} characters)"


@lru_cache(maxsize=4096, typed=True)
def format_exact(value: Fraction) -> str:
    """The exact decimal ('2.4') when the fraction terminates, else 'numerator/denominator' (kept for the values
    last asked)."""
    denominator = value.denominator
    twos = fives = 0
    while denominator % 2 == 0:
        denominator //= 2
        twos += 1
    while denominator % 5 == 0:
        denominator //= 5
        fives += 1
    if denominator != 1:
        return f"{value.numerator}/{value.denominator}"
    places = max(twos, fives)
    if places == 0:
        return str(value.numerator)
    digits = str(abs(value.numerator) * 10**places // value.denominator).rjust(places + 1, "0")
    return ("-" if value < 0 else "") + digits[:-places] + "." + digits[-places:]


def rounded_decimal(value: Fraction, places: int, rounding: str = ROUND_HALF_UP) -> Decimal:
    """``value`` rounded to ``places`` (≥ 0) decimals, half up or half even (``rounding``), exactly: in integers,
    because a Decimal division first would round twice (185.4950… to 185.50, then to 186)."""
    if rounding not in (ROUND_HALF_UP, ROUND_HALF_EVEN) or places < 0:
        raise ValueError(f"rounding {rounding!r} to {places} places: expected ROUND_HALF_UP or ROUND_HALF_EVEN "
                         "to 0 or more places")
    scaled = value * 10**places
    whole, rest = divmod(abs(scaled.numerator), scaled.denominator)
    twice_rest = 2 * rest
    if twice_rest > scaled.denominator or (twice_rest == scaled.denominator
                                           and (rounding == ROUND_HALF_UP or whole % 2 == 1)):
        whole += 1
    return Decimal(f"{'-' if scaled < 0 else ''}{whole}E-{places}")  # from text: exact at any length


def format_rounded(value: Fraction, places: int) -> str:
    """Rounded half-up to `places` decimals without trailing zeros, prefixed '≈' when inexact."""
    rounded = rounded_decimal(value, places)
    exact_rounded = Fraction(rounded) == value
    text = format_exact(Fraction(rounded))
    return text if exact_rounded else "≈" + text

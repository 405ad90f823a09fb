"""Units: one symbol per axis (mass, volume, time), exact scale factors, strict parsing."""

from dataclasses import dataclass
from fractions import Fraction
from functools import cached_property

from openidds.units.dimension import (
    CONCENTRATION,
    MASS,
    MASS_RATE,
    TIME,
    VOLUME,
    VOLUME_RATE,
    Dimension,
)
from openidds.units.errors import UnitsError

# Exact factors to the base unit of each axis: mcg, mL, min.
_AXES: tuple[dict[str, Fraction], ...] = (
    {"g": Fraction(10**6), "mg": Fraction(1000), "mcg": Fraction(1)},
    {"L": Fraction(1000), "mL": Fraction(1)},
    {"min": Fraction(1), "h": Fraction(60), "day": Fraction(1440), "week": Fraction(10080)},
)
_ALIASES = {"ml": "mL", "hr": "h", "hour": "h", "d": "day", "24h": "day", "24 h": "day"}
_REFUSED = {
    "ug": "mcg (ug is an error-prone abbreviation)",
    "µg": "mcg (µg is easily misread as mg)",
    "μg": "mcg (μg is easily misread as mg)",
    "microgram": "mcg",
    "milligram": "mg",
    "cc": "mL (cc is an error-prone abbreviation)",
    "%": "mg/mL (a percentage is ambiguous; 0.5 % w/v = 5 mg/mL)",
    "kg": "an absolute dose (weight-based doses are not supported)",
    "IU": "a mass (unit-dosed drugs are not supported)",
    "units": "a mass (unit-dosed drugs are not supported)",
    "µL": "mL (µL is easily misread as mL; 2.5 µL = 0.0025 mL)",
    "μL": "mL (μL is easily misread as mL; 2.5 μL = 0.0025 mL)",
    "uL": "mL (uL is an error-prone abbreviation; 2.5 uL = 0.0025 mL)",
}
_AXIS_OF = {symbol: axis for axis, table in enumerate(_AXES) for symbol in table}
_KNOWN = ", ".join(s for table in _AXES for s in table)


@dataclass(frozen=True)
class Unit:
    """A unit such as mg, mg/mL or mL/day: one symbol per axis with a non-zero exponent."""

    symbols: tuple[str | None, str | None, str | None]
    dimension: Dimension

    @cached_property
    def factor(self) -> Fraction:
        """Exact factor from this unit to the base unit of its dimension (mcg, mL, min)."""
        exponents = (self.dimension.mass, self.dimension.volume, self.dimension.time)
        result = Fraction(1)
        for table, symbol, exponent in zip(_AXES, self.symbols, exponents, strict=True):
            if symbol is not None:
                result *= table[symbol] ** exponent
        return result

    def __str__(self) -> str:
        return self._text

    @cached_property
    def _text(self) -> str:
        exponents = (self.dimension.mass, self.dimension.volume, self.dimension.time)
        top = [s for s, e in zip(self.symbols, exponents, strict=True) if s and e > 0]
        bottom = [s for s, e in zip(self.symbols, exponents, strict=True) if s and e < 0]
        return "".join(top) + "".join("/" + s for s in bottom)


def _symbol(token: str, field: str, text: str) -> str:
    token = _ALIASES.get(token, token)
    if token in _AXIS_OF:
        return token
    if token in _REFUSED:
        raise UnitsError(field, text, f"a unit written as {_REFUSED[token]}")
    for known in _AXIS_OF:
        if token.lower() == known.lower():
            raise UnitsError(field, text, f"{known!r}, not {token!r} (units are case-sensitive)")
    raise UnitsError(field, text, f"a known unit ({_KNOWN}, optionally /mL, /h, /day)")


_PARSED: dict[str, Unit] = {}
"""Units parsed so far, by their text (a few dozen texts are used over and over)."""
_PARSED_MAX = 1024


def parse_unit(text: str, field: str = "unit") -> Unit:
    """Parse 'mg', 'mcg/mL', 'mg/day', 'mL/h' or 'mg per day'; refuse anything ambiguous."""
    unit = _PARSED.get(text) if type(text) is str else None
    if unit is None:
        unit = _parse_unit(text, field)
        if type(text) is str and len(_PARSED) < _PARSED_MAX:
            _PARSED[text] = unit
    return unit


def _parse_unit(text: str, field: str) -> Unit:
    normal = " ".join(text.replace(" per ", "/").split())
    parts = [p.strip() for p in normal.split("/")]
    if not normal or any(not p for p in parts):
        raise UnitsError(field, text, "a unit such as mg, mcg/mL or mg/day")
    if len(parts) > 2:
        hint = " (weight-based doses are not supported)" if "kg" in parts else ""
        raise UnitsError(field, text, f"at most one '/' in a unit, e.g. mg/day{hint}")
    top = _symbol(parts[0], field, text)
    exponents = [0, 0, 0]
    symbols: list[str | None] = [None, None, None]
    exponents[_AXIS_OF[top]] = 1
    symbols[_AXIS_OF[top]] = top
    if len(parts) == 2:
        bottom = _symbol(parts[1], field, text)
        axis = _AXIS_OF[bottom]
        if symbols[axis] is not None:
            raise UnitsError(field, text, "a ratio of different kinds, e.g. mg/mL or mL/day")
        exponents[axis] = -1
        symbols[axis] = bottom
    dimension = Dimension(*exponents)
    if dimension not in (MASS, VOLUME, TIME, CONCENTRATION, MASS_RATE, VOLUME_RATE):
        raise UnitsError(field, text, "mass, volume, duration, mass/volume, mass/time or volume/time")
    return Unit((symbols[0], symbols[1], symbols[2]), dimension)


def combine(left: Unit, right: Unit, sign: int) -> tuple[Unit, Fraction]:
    """The unit of left·right (sign=1) or left/right (sign=-1), and the exact factor that converts
    the right operand's value into the left operand's symbols where both use the same axis."""
    left_exp = (left.dimension.mass, left.dimension.volume, left.dimension.time)
    right_exp = (right.dimension.mass, right.dimension.volume, right.dimension.time)
    factor = Fraction(1)
    symbols: list[str | None] = []
    for axis in range(3):
        ls, rs = left.symbols[axis], right.symbols[axis]
        le, re = left_exp[axis], right_exp[axis]
        if ls and rs and ls != rs:
            factor *= (_AXES[axis][rs] / _AXES[axis][ls]) ** re
            rs = ls
        symbols.append((ls or rs) if le + sign * re else None)
    dimension = left.dimension.times(right.dimension, sign)
    return Unit((symbols[0], symbols[1], symbols[2]), dimension), factor

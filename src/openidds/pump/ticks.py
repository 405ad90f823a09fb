"""The pump's exact fixed-point units.

Time is an integer number of seconds on the pump's own clock (``t_s``). Volumes are integer *volume
ticks*: 1 tick = 1/86,400 nL, so a rate of R nL/day is exactly R ticks per second and every delivery
is an integer. Concentrations are integer ng/mL. A drug amount is volume ticks x ng/mL, an integer
*mass tick* (1 mg = 86,400 x 10^12 mass ticks). No float ever enters the accounting.
"""

from decimal import ROUND_HALF_EVEN, Decimal
from fractions import Fraction
from functools import lru_cache

from openidds.errors import OpenIDDSError
from openidds.units import exact as units_exact
from openidds.units._number import format_exact, rounded_decimal

SECONDS_PER_DAY = 86_400
SECONDS_PER_WEEK = 7 * SECONDS_PER_DAY
TICKS_PER_NL = SECONDS_PER_DAY
TICKS_PER_ML = 1_000_000 * TICKS_PER_NL
NG_PER_MG = 1_000_000
MASS_TICKS_PER_MG = NG_PER_MG * TICKS_PER_ML

Number = int | str | Decimal | Fraction
"""A user-given number; text follows the rule of :func:`openidds.units.exact`."""


def exact(field: str, value: Number) -> Fraction:
    """The exact value of a user-given number, by the rule of :mod:`openidds.units`: an int, Fraction,
    Decimal or plain decimal string (``"0.5"``, never ``".5"``, ``"1e-1"`` or a float)."""
    return units_exact(value, field)


def number_text(value: Number) -> str:
    """A user-given number as the pump logs and shows it: its exact decimal, whatever form it came in."""
    return format_exact(units_exact(value, "value"))


_SCALED: dict[tuple, int] = {}
"""Values already scaled, by (type, value, scale, bounds): a pump reads its spec's few volumes and rates over and
over. Only values that passed are kept (a refusal names the field, so it is made every time)."""
_SCALED_MAX = 4096


def _scaled(field: str, value: Number, scale: int, resolution: str, lo: Number, hi: Number | None) -> int:
    try:
        key = (type(value), value, scale, type(lo), lo, type(hi), hi)
        known = _SCALED.get(key)
    except TypeError:  # an unhashable value: refused below
        key, known = None, None
    if known is None:
        known = _checked_scaled(field, value, scale, resolution, exact(field, lo),
                                None if hi is None else exact(field, hi))
        if key is not None and len(_SCALED) < _SCALED_MAX:
            _SCALED[key] = known
    return known


def _checked_scaled(field: str, value: Number, scale: int, resolution: str, lo: Fraction, hi: Fraction | None) -> int:
    amount = exact(field, value)
    if amount < lo or (hi is not None and amount > hi):
        bound = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise OpenIDDSError(field, value, f"a value {bound}")
    scaled = amount * scale
    if scaled.denominator != 1:
        raise OpenIDDSError(field, value, f"a multiple of {resolution}")
    return int(scaled)


def volume_ticks(field: str, ml: Number, *, lo: Number = 0, hi: Number | None = None) -> int:
    """Volume in mL -> volume ticks; the value must be a whole number of nL (0.000001 mL)."""
    ticks = _scaled(field, ml, 1_000_000, "0.000001 mL (1 nL)", lo, hi)
    return ticks * TICKS_PER_NL


def rate_ticks_per_s(field: str, ml_per_day: Number, *, lo: Number = 0, hi: Number | None = None) -> int:
    """Rate in mL/day -> volume ticks per second (= nL/day); a whole number of nL/day."""
    return _scaled(field, ml_per_day, 1_000_000, "0.000001 mL/day", lo, hi)


def ng_per_ml(field: str, mg_per_ml: Number) -> int:
    """Concentration in mg/mL -> ng/mL; positive and a whole number of ng/mL."""
    value = _scaled(field, mg_per_ml, NG_PER_MG, "0.000001 mg/mL (1 ng/mL)", 0, None)
    if value == 0:
        raise OpenIDDSError(field, mg_per_ml, "a concentration above 0 mg/mL")
    return value


def mass_ticks(field: str, mg: Number) -> int:
    """Drug amount in mg -> mass ticks; a whole number of ng."""
    return _scaled(field, mg, NG_PER_MG, "0.000001 mg (1 ng)", 0, None) * TICKS_PER_ML


def ticks_to_ml(ticks: int) -> Fraction:
    """Volume ticks -> exact mL."""
    return Fraction(ticks, TICKS_PER_ML)


def mass_to_mg(mass: int) -> Fraction:
    """Mass ticks -> exact mg."""
    return Fraction(mass, MASS_TICKS_PER_MG)


@lru_cache(maxsize=65536)
def decimal_text(value: Fraction, places: int) -> str:
    """A fixed-point string of an exact value, rounded half-even to ``places`` decimals (kept for the values
    last asked: a programmer writes the same doses and volumes session after session)."""
    return str(rounded_decimal(value, places, ROUND_HALF_EVEN))

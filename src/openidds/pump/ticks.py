"""The pump's exact fixed-point units.

Time is an integer number of seconds on the pump's own clock (``t_s``). Volumes are integer *volume
ticks*: 1 tick = 1/86,400 nL, so a rate of R nL/day is exactly R ticks per second and every delivery
is an integer. Concentrations are integer ng/mL. A drug amount is volume ticks x ng/mL, an integer
*mass tick* (1 mg = 86,400 x 10^12 mass ticks). No float ever enters the accounting.
"""

from decimal import Decimal
from fractions import Fraction

from openidds.errors import OpenIDDSError

SECONDS_PER_DAY = 86_400
SECONDS_PER_WEEK = 7 * SECONDS_PER_DAY
TICKS_PER_NL = SECONDS_PER_DAY
TICKS_PER_ML = 1_000_000 * TICKS_PER_NL
NG_PER_MG = 1_000_000
MASS_TICKS_PER_MG = NG_PER_MG * TICKS_PER_ML

Number = int | str | Decimal | Fraction | float


def exact(field: str, value: Number) -> Fraction:
    """The exact rational value of a user-given number (a float is read as the decimal it prints as)."""
    if isinstance(value, bool):
        raise OpenIDDSError(field, value, "a number")
    try:
        if isinstance(value, float):
            if value != value or value in (float("inf"), float("-inf")):
                raise ValueError
            return Fraction(Decimal(repr(value)))
        if isinstance(value, (int, Fraction)):
            return Fraction(value)
        if isinstance(value, (str, Decimal)):
            result = Fraction(Decimal(value.strip()) if isinstance(value, str) else value)
            return result
    except (ValueError, ArithmeticError):
        pass
    raise OpenIDDSError(field, value, "a finite decimal number")


def _scaled(field: str, value: Number, scale: int, resolution: str, lo: Fraction, hi: Fraction | None) -> int:
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
    ticks = _scaled(field, ml, 1_000_000, "0.000001 mL (1 nL)", exact(field, lo),
                    None if hi is None else exact(field, hi))
    return ticks * TICKS_PER_NL


def rate_ticks_per_s(field: str, ml_per_day: Number, *, lo: Number = 0, hi: Number | None = None) -> int:
    """Rate in mL/day -> volume ticks per second (= nL/day); a whole number of nL/day."""
    return _scaled(field, ml_per_day, 1_000_000, "0.000001 mL/day", exact(field, lo),
                   None if hi is None else exact(field, hi))


def ng_per_ml(field: str, mg_per_ml: Number) -> int:
    """Concentration in mg/mL -> ng/mL; positive and a whole number of ng/mL."""
    value = _scaled(field, mg_per_ml, NG_PER_MG, "0.000001 mg/mL (1 ng/mL)", Fraction(0), None)
    if value == 0:
        raise OpenIDDSError(field, mg_per_ml, "a concentration above 0 mg/mL")
    return value


def mass_ticks(field: str, mg: Number) -> int:
    """Drug amount in mg -> mass ticks; a whole number of ng."""
    return _scaled(field, mg, NG_PER_MG, "0.000001 mg (1 ng)", Fraction(0), None) * TICKS_PER_ML


def ticks_to_ml(ticks: int) -> Fraction:
    """Volume ticks -> exact mL."""
    return Fraction(ticks, TICKS_PER_ML)


def mass_to_mg(mass: int) -> Fraction:
    """Mass ticks -> exact mg."""
    return Fraction(mass, MASS_TICKS_PER_MG)


def decimal_text(value: Fraction, places: int) -> str:
    """A fixed-point string of an exact value, rounded half-even to ``places`` decimals."""
    quantum = Decimal(1).scaleb(-places)
    return str((Decimal(value.numerator) / Decimal(value.denominator)).quantize(quantum))

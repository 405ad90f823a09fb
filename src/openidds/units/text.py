"""Reading quantities from text and writing them back, refusing anything ambiguous."""

import re

from openidds.units._number import exact, format_exact, format_rounded
from openidds.units.dimension import CONCENTRATION, MASS, MASS_RATE, VOLUME, VOLUME_RATE, Dimension
from openidds.units.errors import UnitsError
from openidds.units.quantity import Quantity
from openidds.units.unit import Unit, parse_unit

_SPLIT = re.compile(r"\s*(?P<number>[+-]?[\d.,/]*\d[\d.,]*)\s*(?P<unit>.*?)\s*")
_HINTS = {
    (MASS_RATE, MASS): "; a dose needs its time base, e.g. '40 mg/day' (20 mg twice a day = 40 mg/day)",
    (VOLUME_RATE, VOLUME): "; a rate needs its time base, e.g. '0.5 mL/day'",
    (CONCENTRATION, MASS): "; a concentration needs its volume, e.g. '25 mg/mL'",
}


def parse_quantity(
    text: str, expect: Dimension | tuple[Dimension, ...] | None = None, field: str = "quantity"
) -> Quantity:
    """Parse '40 mg/day', '25 mcg/h', '0.5 mg/mL' or '1/3 mg'.

    Refuses a missing or unknown unit, error-prone abbreviations (µg, ug, cc, %), decimal commas,
    naked decimal points, and (when `expect` is given) a quantity of another dimension; every
    refusal names the field, the text and what was expected.
    """
    if not isinstance(text, str):
        raise UnitsError(field, text, "text such as '40 mg/day'")
    match = _SPLIT.fullmatch(text)
    if match is None or not match["unit"]:
        raise UnitsError(field, text, "a number followed by a unit, e.g. '40 mg/day' or '0.5 mg/mL'")
    try:
        value = exact(match["number"], field)
        unit = parse_unit(match["unit"], field)
    except UnitsError as error:
        raise UnitsError(field, text, error.expected) from None
    if expect is not None:
        allowed = expect if isinstance(expect, tuple) else (expect,)
        if unit.dimension not in allowed:
            names = " or ".join(d.name for d in allowed)
            hint = "".join(_HINTS.get((d, unit.dimension), "") for d in allowed)
            raise UnitsError(field, text, f"a {names}, not a {unit.dimension.name}{hint}")
    return Quantity(value, unit)


def format_quantity(quantity: Quantity, places: int | None = None, unit: Unit | str | None = None) -> str:
    """'2.4 mg/day'. Exact by default (a non-terminating value is written as a fraction, '1/3 mg');
    with `places`, rounded half-up and prefixed '≈' when rounding changed the value."""
    shown = quantity if unit is None else quantity.to(unit)
    number = format_exact(shown.value) if places is None else format_rounded(shown.value, places)
    return f"{number} {shown.unit}"


"""Exact, explicit quantities: mass, volume, duration, concentration and rates.

Values are Fractions, units are explicit, + and - never cross dimensions, and text input that could be
read two ways (mg vs mcg, per hour vs per day, µg, %, decimal commas) is refused with a message that
says what was expected.
"""

from openidds.units._number import exact
from openidds.units.dimension import (
    CONCENTRATION,
    DIMENSIONLESS,
    MASS,
    MASS_RATE,
    TIME,
    VOLUME,
    VOLUME_RATE,
    Dimension,
)
from openidds.units.errors import UnitsError
from openidds.units.quantity import Quantity
from openidds.units.text import format_quantity, parse_quantity
from openidds.units.unit import Unit, parse_unit

__all__ = [
    "CONCENTRATION",
    "DIMENSIONLESS",
    "MASS",
    "MASS_RATE",
    "TIME",
    "VOLUME",
    "VOLUME_RATE",
    "Dimension",
    "Quantity",
    "Unit",
    "UnitsError",
    "exact",
    "format_quantity",
    "parse_quantity",
    "parse_unit",
]

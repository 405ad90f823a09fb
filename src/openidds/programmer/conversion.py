"""Doses in drug units to the pump's volumes, exactly, with the rounding to its 1 nL step reported.

A rate is ``dose per day / concentration`` mL/day and a bolus volume ``dose / concentration`` mL. The
pump counts whole nL (rates in whole nL/day), so an exact quotient that is not a whole number of nL is
rounded **down** (the pump never gets more drug than entered) and the conversion says so.
"""

import math
from dataclasses import dataclass
from fractions import Fraction

from openidds.programmer.errors import ProgrammerError
from openidds.pump.ticks import decimal_text
from openidds.units import Quantity, format_quantity

NL_PER_ML = 1_000_000


@dataclass(frozen=True, slots=True)
class Conversion:
    """One dose converted to a pump volume or rate.

    ``exact_ml`` is the exact quotient, ``pump_ml`` what is programmed (a whole number of nL), and
    ``delivered`` the dose the pump really gives at ``pump_ml``.
    """

    field: str
    drug: str
    entered: Quantity
    concentration: Quantity
    exact_ml: Fraction
    pump_ml: Fraction
    per_day: bool

    @property
    def rounded(self) -> bool:
        return self.exact_ml != self.pump_ml

    @property
    def delivered(self) -> Quantity:
        mass_unit = str(self.concentration.unit).split("/")[0]
        amount = self.pump_ml * self.concentration.value
        return Quantity(amount, f"{mass_unit}/day" if self.per_day else mass_unit)

    @property
    def pump_text(self) -> str:
        """The programmed value as a decimal string (at most 6 decimals)."""
        return plain_decimal(self.pump_ml)

    def describe(self) -> str:
        unit = "mL/day" if self.per_day else "mL"
        exact = plain_decimal(self.exact_ml) if (self.exact_ml * NL_PER_ML).denominator == 1 else (
            f"{decimal_text(self.exact_ml, 9)}...")
        text = f"{self.field}: {self.entered} / {self.concentration} = {exact} {unit}"
        if not self.rounded:
            return f"{text} (exact)"
        short = self.entered - self.delivered
        return (f"{text}, rounded down to {self.pump_text} {unit} (the pump's 1 nL{'/day' if self.per_day else ''} "
                f"step): delivers {format_quantity(self.delivered, places=6)}, "
                f"{format_quantity(short, places=9)} less than entered")


def convert(field: str, drug: str, dose: Quantity, concentration: Quantity, *, per_day: bool) -> Conversion:
    """``dose`` (mass per day, or mass) at ``concentration`` (same mass unit per mL) to mL/day (or mL)."""
    mass_unit = str(concentration.unit).split("/")[0]
    amount = dose.magnitude(f"{mass_unit}/day" if per_day else mass_unit)
    if amount < 0:
        raise ProgrammerError(field, str(dose), "a dose of 0 or more")
    exact = amount / concentration.value
    pump = Fraction(math.floor(exact * NL_PER_ML), NL_PER_ML)
    if exact > 0 and pump == 0:
        smallest = Quantity(concentration.value / NL_PER_ML, mass_unit)
        raise ProgrammerError(field, str(dose), f"a dose of at least {smallest}{'/day' if per_day else ''}: below "
                              f"the pump's 1 nL step at {concentration}")
    return Conversion(field, drug, dose, concentration, exact, pump, per_day)


def plain_decimal(value: Fraction) -> str:
    """An exact value with at most 6 decimals as a plain decimal string ('0.3', '12')."""
    text = decimal_text(value, 6)
    return text.rstrip("0").rstrip(".") if "." in text else text

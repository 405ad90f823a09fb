"""Exact quantities: a Fraction and a Unit, with dimension-checked arithmetic."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from fractions import Fraction
from functools import cached_property
from typing import overload

from openidds.units._number import exact, format_exact
from openidds.units.dimension import DIMENSIONLESS, Dimension
from openidds.units.errors import UnitsError
from openidds.units.unit import Unit, combine, parse_unit

Number = int | Fraction | Decimal | str


@dataclass(frozen=True, eq=False)
class Quantity:
    """An exact amount with an explicit unit, e.g. Quantity(15, "mg/day") or Quantity("0.5", "mg/mL").

    Equality and ordering compare amounts (15 mg == 15000 mcg); mixing dimensions raises UnitsError,
    and + and - never convert between dimensions.
    """

    value: Fraction
    unit: Unit

    def __init__(self, value: Number, unit: Unit | str) -> None:
        object.__setattr__(self, "value", exact(value))
        object.__setattr__(self, "unit", parse_unit(unit) if isinstance(unit, str) else unit)

    @property
    def dimension(self) -> Dimension:
        return self.unit.dimension

    @cached_property
    def base_value(self) -> Fraction:
        """The amount in the base unit of its dimension (mcg, mL, min and their ratios); computed once, as a
        library's limits are compared with session after session."""
        return self.value * self.unit.factor

    def to(self, unit: Unit | str) -> Quantity:
        """The same amount in another unit of the same dimension; exact."""
        target = parse_unit(unit) if isinstance(unit, str) else unit
        if target == self.unit:
            return self
        self._require_same(target.dimension, "to", target)
        return Quantity(self.base_value / target.factor, target)

    def magnitude(self, unit: Unit | str) -> Fraction:
        """The number of `unit` in this quantity, e.g. Quantity(1, "mg").magnitude("mcg") == 1000."""
        return self.to(unit).value

    def _require_same(self, dimension: Dimension, operation: str, other: object) -> None:
        if dimension != self.dimension:
            raise UnitsError(
                operation, f"{self} and {other}", f"quantities of the same dimension ({self.dimension.name})"
            )

    def __add__(self, other: Quantity) -> Quantity:
        if not isinstance(other, Quantity):
            raise UnitsError("+", f"{self} + {other!r}", "a Quantity of the same dimension")
        self._require_same(other.dimension, "+", other)
        return Quantity(self.value + other.to(self.unit).value, self.unit)

    def __sub__(self, other: Quantity) -> Quantity:
        if not isinstance(other, Quantity):
            raise UnitsError("-", f"{self} - {other!r}", "a Quantity of the same dimension")
        self._require_same(other.dimension, "-", other)
        return Quantity(self.value - other.to(self.unit).value, self.unit)

    def __neg__(self) -> Quantity:
        return Quantity(-self.value, self.unit)

    def _product(self, other: object, sign: int) -> Quantity | Fraction:
        if isinstance(other, Quantity):
            unit, factor = combine(self.unit, other.unit, sign)
            value = self.value * (other.value * factor) ** sign
            if unit.dimension == DIMENSIONLESS:
                return value
            if not unit.dimension.supported:
                raise UnitsError("*" if sign > 0 else "/", f"{self} and {other}", "a result of a supported dimension")
            return Quantity(value, unit)
        scalar = exact(other, "scalar")
        return Quantity(self.value * scalar**sign, self.unit)

    # A scalar keeps the unit; a Quantity may cancel it to a plain Fraction (mg / mg).
    @overload
    def __mul__(self, other: Quantity) -> Quantity | Fraction: ...
    @overload
    def __mul__(self, other: Number) -> Quantity: ...
    def __mul__(self, other: object) -> Quantity | Fraction:
        return self._product(other, 1)

    @overload
    def __rmul__(self, other: Quantity) -> Quantity | Fraction: ...
    @overload
    def __rmul__(self, other: Number) -> Quantity: ...
    def __rmul__(self, other: object) -> Quantity | Fraction:
        return self._product(other, 1)

    @overload
    def __truediv__(self, other: Quantity) -> Quantity | Fraction: ...
    @overload
    def __truediv__(self, other: Number) -> Quantity: ...
    def __truediv__(self, other: object) -> Quantity | Fraction:
        zero = other.value == 0 if isinstance(other, Quantity) else exact(other, "divisor") == 0
        if zero:
            raise UnitsError("divisor", other, "a non-zero divisor")
        return self._product(other, -1)

    def _compare_key(self, other: object) -> tuple[Fraction, Fraction]:
        if not isinstance(other, Quantity):
            raise UnitsError("comparison", f"{self} and {other!r}", "two Quantities of the same dimension")
        self._require_same(other.dimension, "comparison", other)
        return self.base_value, other.base_value

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Quantity):
            return NotImplemented
        return self.dimension == other.dimension and self.base_value == other.base_value

    def __hash__(self) -> int:
        return hash((self.dimension, self.base_value))

    def __lt__(self, other: Quantity) -> bool:
        a, b = self._compare_key(other)
        return a < b

    def __le__(self, other: Quantity) -> bool:
        a, b = self._compare_key(other)
        return a <= b

    def __gt__(self, other: Quantity) -> bool:
        a, b = self._compare_key(other)
        return a > b

    def __ge__(self, other: Quantity) -> bool:
        a, b = self._compare_key(other)
        return a >= b

    def __str__(self) -> str:
        return f"{format_exact(self.value)} {self.unit}"

    def __repr__(self) -> str:
        return f"Quantity({str(self)!r})"

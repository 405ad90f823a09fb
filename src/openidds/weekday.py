"""The days of the week as the pump's flex steps, the on-call rota and the clinic's forms name them."""

from __future__ import annotations

from enum import Enum


class Weekday(str, Enum):
    """A day of the week, Monday first."""

    MON = "mon"
    TUE = "tue"
    WED = "wed"
    THU = "thu"
    FRI = "fri"
    SAT = "sat"
    SUN = "sun"

    @property
    def number(self) -> int:
        """0 for Monday ... 6 for Sunday (as ``datetime.weekday``)."""
        return list(Weekday).index(self)

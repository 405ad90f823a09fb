"""A flex step and a periodic dose as a clinician enters them, in the web form, the JSON API or on the command
line, and their turn into the programmer's :class:`~openidds.programmer.FlexDoseStep` and
:class:`~openidds.programmer.PeriodicDose`. One schema for both edges: the web fills it from a form's fields, the
command line from one option's text (:func:`parse_flex_step`, :func:`parse_periodic`).
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from fractions import Fraction
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from openidds.errors import OpenIDDSError
from openidds.programmer.errors import ProgrammerError
from openidds.programmer.orders import FlexDoseStep, PeriodicDose, dose
from openidds.pump.programs import clock_seconds
from openidds.units import MASS
from openidds.weekday import Weekday

M = TypeVar("M", bound=BaseModel)


class InputModel(BaseModel):
    """What a form, a JSON write or a command-line option enters: closed (an unknown field is refused), text
    stripped."""

    model_config = ConfigDict(extra="forbid", frozen=True, str_strip_whitespace=True)


def parse_input(model: type[M], data: dict[str, Any]) -> M:
    """``data`` as ``model``; the first problem refused naming its field."""
    try:
        return model.model_validate(data)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or model.__name__
        if first["type"] == "missing":
            raise ProgrammerError(where, None, "a value: this field is required") from None
        raise ProgrammerError(where, first.get("input"), first["msg"]) from None


class FlexStepInput(InputModel):
    """One flex step as entered: from ``start`` (HH:MM) on ``days`` (every day when none) the daily dose ``dose``
    until the next step."""

    start: str = Field(description="When the step starts on its days, HH:MM.")
    dose: str = Field(description="Daily dose from then on, in the drug's dose unit, e.g. '2 mg/day'.")
    days: tuple[Weekday, ...] = Field((), max_length=7, description="The weekdays the step starts on (none: "
                                      "every day).")


class PeriodicInput(InputModel):
    """A periodic dose as entered: ``dose`` over ``duration_min`` every ``every_h`` hours, the first of the week
    ``offset_h`` hours after Monday 00:00 on the pump clock; no flow in between."""

    dose: str = Field(description="Each dose, a mass in the drug's dose unit, e.g. '0.5 mg'.")
    duration_min: int = Field(ge=1, le=10080, description="Each dose delivered over this many minutes.")
    every_h: int = Field(ge=1, le=168, description="A dose every this many hours (1 to 168).")
    offset_h: Decimal = Field(Decimal(0), ge=0, lt=168, description="The week's first dose this many hours after "
                              "Monday 00:00 on the pump clock, in whole minutes (e.g. 6.5).")


def flex_dose_step(i: int, step: FlexStepInput) -> FlexDoseStep:
    """The programmer's flex step for the ``i``-th step entered (refusals name it ``flex[i]``)."""
    if len(set(step.days)) != len(step.days):
        raise ProgrammerError(f"flex[{i}].days", [d.value for d in step.days], "each weekday at most once")
    return FlexDoseStep(step.start, dose(step.dose, f"flex[{i}].dose"), tuple(d.value for d in step.days))


def periodic_dose(entry: PeriodicInput) -> PeriodicDose:
    """The programmer's periodic dose in seconds: each dose shorter than the interval, the week's first within
    the first interval, on a whole minute."""
    every_s, duration_s, offset_s = entry.every_h * 3600, entry.duration_min * 60, entry.offset_h * 3600
    if duration_s >= every_s:
        raise ProgrammerError("periodic.duration_min", entry.duration_min, f"fewer minutes than the interval, "
                              f"{entry.every_h} h ({entry.every_h * 60} min)")
    if offset_s >= every_s:
        raise ProgrammerError("periodic.offset_h", str(entry.offset_h), f"fewer hours than the interval, "
                              f"{entry.every_h} h: the week's first dose comes within the first interval")
    if offset_s % 60:
        raise ProgrammerError("periodic.offset_h", str(entry.offset_h), "hours in whole minutes, e.g. 6.5 or "
                              "6.25")
    return PeriodicDose(dose(entry.dose, "periodic.dose", MASS), duration_s, every_s, int(offset_s))


# ---------------------------------------------------------------------- one option's text

FLEX_STEP_TEXT = "'HH:MM=3 mg/day' or, on some weekdays only, 'HH:MM=3 mg/day@sat/sun'"
PERIODIC_TEXT = ("'0.5 mg over 30 min every 6 h', the week's first dose at Monday 00:00 on the pump clock, or "
                 "with 'from 02:00' (Monday) or 'from wed 02:00' added")
_PERIODIC = re.compile(r"^(?P<dose>.+?)\s+over\s+(?P<duration>\d+)\s*min\s+every\s+(?P<every>\d+)\s*h"
                       r"(?:\s+from\s+(?:(?P<day>[a-z]+)\s+)?(?P<clock>\S+))?$", re.IGNORECASE)


def flex_step_from_text(i: int, text: str, field: str) -> FlexDoseStep:
    """The ``i``-th flex step from one option's text, ``HH:MM=3 mg/day`` or ``HH:MM=3 mg/day@sat/sun``."""
    start, equals, rest = text.partition("=")
    if not equals:
        raise ProgrammerError(field, text, FLEX_STEP_TEXT)
    amount, _, days = rest.partition("@")
    data = {"start": start, "dose": amount, "days": [d.strip().lower() for d in days.split("/") if d.strip()]}
    with _named(field, text):
        return flex_dose_step(i, parse_input(FlexStepInput, data))


def periodic_from_text(text: str, field: str) -> PeriodicDose:
    """A periodic dose from one option's text, e.g. ``0.5 mg over 30 min every 6 h from wed 02:00``: the week's
    first dose that long after Monday 00:00 on the pump clock (``from 02:00`` is Monday's; none: Monday 00:00)."""
    match = _PERIODIC.match(text.strip())
    if match is None:
        raise ProgrammerError(field, text, PERIODIC_TEXT)
    offset_min = 0
    if match["clock"] is not None:
        day = (match["day"] or Weekday.MON.value).lower()
        if day not in {d.value for d in Weekday}:
            raise ProgrammerError(field, text, f"a weekday after 'from': {', '.join(d.value for d in Weekday)}")
        with _named(field, text):
            offset_min = Weekday(day).number * 1440 + clock_seconds("from", match["clock"]) // 60
    offset_h = Fraction(offset_min, 60)
    if offset_h.denominator % 3 == 0:
        raise ProgrammerError(field, text, "a first dose on a minute divisible by 3 (the order holds hours as a "
                              "decimal, as the web form does), e.g. 02:18 or 02:21 rather than 02:20")
    data = {"dose": match["dose"], "duration_min": match["duration"], "every_h": match["every"],
            "offset_h": Decimal(offset_h.numerator) / Decimal(offset_h.denominator)}
    with _named(field, text):
        return periodic_dose(parse_input(PeriodicInput, data))


@contextmanager
def _named(field: str, text: str) -> Iterator[None]:
    """A refusal inside named by the option (``field``) and its whole text, with the part refused."""
    try:
        yield
    except OpenIDDSError as error:
        raise ProgrammerError(field, text, f"{error.expected} (for {error.field}={error.value!r})") from None

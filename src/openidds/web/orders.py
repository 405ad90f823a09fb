"""A therapy as a clinician enters it in a form: the lead drug, its daily dose (continuous), flex steps (start
time and dose) or stop, and the patient bolus; turned into the programmer's
:class:`~openidds.programmer.TherapyOrder` for a solution. The programming review and a refill with a new solution
take the same entry.

A refusal about a flex step names the step by its place in the form (``flex[1].dose``), so the page shows it
beside that step: the programmer names a step by its start time, the pump by its place among the program's steps.
"""

from __future__ import annotations

import re
from enum import Enum

from pydantic import Field

from openidds.drugs import DrugLibrary
from openidds.errors import OpenIDDSError
from openidds.programmer import (
    BolusOrder,
    ContinuousDose,
    FlexDose,
    FlexDoseStep,
    ProgrammerError,
    StoppedDose,
    TherapyOrder,
    concentration,
    dose_unit,
    present_bolus_order,
)
from openidds.programmer.orders import DoseProgram, dose
from openidds.pump import Pump, Solution
from openidds.units import CONCENTRATION, MASS, parse_quantity
from openidds.web.forms import InputModel
from openidds.web.pump_view import FormError, form_error

ORDER_FIELDS = ("drug", "dose", "stop", "flex", "bolus", "bolus_dose", "bolus_duration_min", "lockout_min",
                "max_boluses")
"""The form fields of an order (a flex step's own fields are ``flex[i].start`` and ``flex[i].dose``)."""


class BolusChoice(str, Enum):
    """The patient bolus of the new therapy: the present one kept, a new one, or none."""

    KEEP = "keep"
    SET = "set"
    NONE = "none"


class FlexStepInput(InputModel):
    """One flex step as entered: from ``start`` (HH:MM, every day) the daily dose ``dose`` until the next step."""

    start: str = Field(description="When the step starts each day, HH:MM.")
    dose: str = Field(description="Daily dose from then on, in the drug's dose unit, e.g. '2 mg/day'.")


class OrderInput(InputModel):
    """A therapy as entered: the lead drug's daily dose, its flex steps, or stop; and the patient bolus."""

    drug: str | None = Field(None, description="The drug whose dose sets the rate (default: the only drug).")
    dose: str = Field("", description="Daily dose in the drug's dose unit, e.g. '3 mg/day' (empty with stop or "
                                      "flex steps).")
    stop: bool = False
    flex: list[FlexStepInput] = Field(default_factory=list, max_length=24,
                                      description="Flex steps (day parts), each from its start until the next.")
    bolus: BolusChoice = BolusChoice.KEEP
    bolus_dose: str = Field("", description="Patient bolus dose, e.g. '0.3 mg' (with bolus=set).")
    bolus_duration_min: int = Field(10, ge=1, le=1440)
    lockout_min: int = Field(120, ge=0, le=1440)
    max_boluses: int = Field(4, ge=1, le=48)


def lead_drug(entry: OrderInput, drugs: tuple[str, ...]) -> str:
    """The drug whose dose sets the rate: the one named, which must be one of ``drugs`` (the solution's), else
    the only one."""
    if not drugs:
        raise ProgrammerError("drug", entry.drug, "a filled pump: refill it before programming")
    if entry.drug is None:
        if len(drugs) != 1:
            raise ProgrammerError("drug", None, "the drug whose dose sets the rate: one of " + ", ".join(drugs))
        return drugs[0]
    if entry.drug not in drugs:
        raise ProgrammerError("drug", entry.drug, f"a drug of the solution: {', '.join(drugs)}")
    return entry.drug


def _program(entry: OrderInput, drug: str, library: DrugLibrary) -> DoseProgram:
    chosen = [name for name, given in (("dose", entry.dose), ("stop", entry.stop), ("flex", entry.flex)) if given]
    if len(chosen) > 1:
        field = chosen[0] if chosen[0] != "stop" else chosen[1]
        raise ProgrammerError(field, chosen, "one of a daily dose, flex steps or stop: empty the others (or untick "
                              "stop)")
    if entry.stop:
        return StoppedDose()
    if entry.flex:
        return FlexDose(tuple(FlexDoseStep(step.start, dose(step.dose, f"flex[{i}].dose"))
                              for i, step in enumerate(entry.flex)))
    if not entry.dose:
        raise ProgrammerError("dose", entry.dose, f"a daily dose such as '3 {dose_unit(library, drug)}/day', "
                              "flex steps or stop")
    return ContinuousDose(dose(entry.dose, "dose"))


def therapy_order(entry: OrderInput, pump: Pump, drugs: tuple[str, ...], library: DrugLibrary) -> TherapyOrder:
    """The programmer's order for the entry with a solution of ``drugs`` (the pump's own, or a refill's new one);
    ``keep`` keeps the pump's present patient bolus in mass, refused when the lead drug has none to keep."""
    drug = lead_drug(entry, drugs)
    program = _program(entry, drug, library)
    patient: BolusOrder | None = None
    if entry.bolus is BolusChoice.SET:
        patient = BolusOrder(dose(entry.bolus_dose, "bolus_dose", MASS), entry.bolus_duration_min * 60,
                             entry.lockout_min * 60, entry.max_boluses)
    elif entry.bolus is BolusChoice.KEEP:
        patient = present_bolus_order(pump, drug, library)
        if patient is None and pump.therapy is not None and pump.therapy.patient_bolus is not None:
            raise ProgrammerError("bolus", entry.bolus.value, f"set or none: the present patient bolus is not of "
                                  f"{drug}, so it cannot be kept")
    return TherapyOrder(drug, program, patient)


def check_concentration(field: str, text: str, solution: Solution, drug: str, library: DrugLibrary,
                        where: str = "in the pump") -> None:
    """A concentration entered by hand must be the one of ``solution`` (the pump's, or a refill's new fill), in
    the library's unit for the drug."""
    unit = f"{dose_unit(library, drug)}/mL"
    held = concentration(solution, drug, dose_unit(library, drug))
    entered = parse_quantity(text, CONCENTRATION, field)
    if str(entered.unit) != unit or entered.magnitude(unit) != held.magnitude(unit):
        raise ProgrammerError(field, text, f"the {drug} concentration {where}, {held} (in {unit}, the library's "
                              "unit): check the pump and the order")


_STEP_BY_START = re.compile(r"^flex\[(?P<start>[^\]]*)\]")
_STEP_BY_PLACE = re.compile(r"^program\.steps\[(?P<i>\d+)\]\.(?P<part>\w+)")


def _step_field(name: str, entry: OrderInput) -> str | None:
    """A flex step's refusal named by the step's place in the form (``flex[1].start``), else None."""
    placed = _STEP_BY_PLACE.match(name)
    if placed:
        return f"flex[{placed['i']}].{'dose' if placed['part'] == 'rate_ml_per_day' else placed['part']}"
    by_start = _STEP_BY_START.match(name)
    starts = [step.start for step in entry.flex]
    if by_start and by_start["start"] in starts:
        return f"flex[{starts.index(by_start['start'])}]" + name[by_start.end():]
    return None


def order_error(error: OpenIDDSError, entry: OrderInput | None, fields: tuple[str, ...],
                prefix: str = "") -> FormError:
    """The refusal placed at its form field among ``fields`` and the order's own (each with ``prefix``), a flex
    step's beside that step."""
    steps = range(len(entry.flex)) if entry is not None else range(0)
    own = tuple(prefix + f for f in ORDER_FIELDS) + tuple(
        f"{prefix}flex[{i}].{part}" for i in steps for part in ("start", "dose"))
    placed = form_error(error, fields + own)
    name = str(error.field)
    for candidate in (None if entry is None else _step_field(name, entry), name):
        if candidate is not None and prefix + candidate in own:
            return FormError(prefix + candidate, placed.message, placed.findings)
    return placed

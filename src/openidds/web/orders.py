"""A therapy as a clinician enters it in a form or the JSON API: the lead drug, its daily dose (continuous), flex
steps (start time, dose and weekdays), a periodic dose or stop, and the patient bolus; turned into the programmer's
:class:`~openidds.programmer.TherapyOrder` for a solution. The programming review and a refill with a new solution
take the same entry, and :func:`order_from_form` reads it from either posted form. A flex step and a periodic dose
are the programmer's entry schema (:mod:`openidds.programmer.order_entry`), which ``openidds program`` reads too.

A refusal about a flex step names the step by its place in the form (``flex[1].dose``), so the page shows it
beside that step: the programmer names a step by its start time, the pump by its place among the program's steps.
A refusal about a periodic dose names its field as entered (``periodic.every_h``), the pump's own in seconds
(``program.every_s``) included.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pydantic import Field
from starlette.datastructures import FormData

from openidds.drugs import DrugLibrary
from openidds.errors import OpenIDDSError
from openidds.programmer import (
    BolusOrder,
    ContinuousDose,
    FlexDose,
    ProgrammerError,
    StoppedDose,
    TherapyOrder,
    concentration,
    dose_unit,
    present_bolus_order,
)
from openidds.programmer.order_entry import (
    FlexStepInput,
    InputModel,
    PeriodicInput,
    flex_dose_step,
    periodic_dose,
)
from openidds.programmer.orders import DoseProgram, dose
from openidds.pump import Pump, Solution
from openidds.units import CONCENTRATION, MASS, parse_quantity
from openidds.web.pump_view import FormError, form_error

ORDER_FIELDS = ("drug", "dose", "stop", "flex", "periodic", "bolus", "bolus_dose", "bolus_duration_min",
                "lockout_min", "max_boluses")
"""The form fields of an order (a flex step's own are ``flex[i].start``, ``flex[i].dose`` and ``flex[i].days``;
the periodic dose's ``periodic.dose``, ``periodic.duration_min``, ``periodic.every_h`` and ``periodic.offset_h``)."""
PERIODIC_FIELDS = ("dose", "duration_min", "every_h", "offset_h")
STEP_EDIT = "step_edit"
"""The button of an order form that adds a flex step (``add``) or removes one (``remove-N``, N from 0)."""


class BolusChoice(str, Enum):
    """The patient bolus of the new therapy: the present one kept, a new one, or none."""

    KEEP = "keep"
    SET = "set"
    NONE = "none"


class OrderInput(InputModel):
    """A therapy as entered: the lead drug's daily dose, its flex steps, a periodic dose, or stop; and the patient
    bolus."""

    drug: str | None = Field(None, description="The drug whose dose sets the rate (default: the only drug).")
    dose: str = Field("", description="Daily dose in the drug's dose unit, e.g. '3 mg/day' (empty with stop or "
                                      "flex steps).")
    stop: bool = False
    flex: list[FlexStepInput] = Field(default_factory=list, max_length=24,
                                      description="Flex steps (day parts), each from its start until the next.")
    periodic: PeriodicInput | None = Field(None, description="A periodic dose instead of a daily dose.")
    bolus: BolusChoice = BolusChoice.KEEP
    bolus_dose: str = Field("", description="Patient bolus dose, e.g. '0.3 mg' (with bolus=set).")
    bolus_duration_min: int = Field(10, ge=1, le=1440)
    lockout_min: int = Field(120, ge=0, le=1440)
    max_boluses: int = Field(4, ge=1, le=48)

    def program_text(self) -> str:
        """The program as entered, in the drug's dose unit (the review shows it as the pump will run it)."""
        if self.stop:
            return "stop basal delivery"
        if self.flex:
            return "flex steps: " + "; ".join(
                f"{step.start} {step.dose} " + ("/".join(d.value for d in step.days) if step.days else "every day")
                for step in self.flex)
        if self.periodic is not None:
            p = self.periodic
            return (f"periodic: {p.dose} over {p.duration_min} min every {p.every_h} h, the week's first "
                    f"{p.offset_h} h after Monday 00:00")
        return f"daily dose {self.dose}" if self.dose else "no program entered"


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
    given = (("dose", entry.dose), ("stop", entry.stop), ("flex", entry.flex), ("periodic", entry.periodic))
    chosen = [name for name, value in given if value]
    if len(chosen) > 1:
        field = chosen[0] if chosen[0] != "stop" else chosen[1]
        raise ProgrammerError(field, chosen, "one of a daily dose, flex steps, a periodic dose or stop: empty the "
                              "others (or untick stop)")
    if entry.stop:
        return StoppedDose()
    if entry.flex:
        return FlexDose(tuple(flex_dose_step(i, step) for i, step in enumerate(entry.flex)))
    if entry.periodic is not None:
        return periodic_dose(entry.periodic)
    if not entry.dose:
        raise ProgrammerError("dose", entry.dose, f"a daily dose such as '3 {dose_unit(library, drug)}/day', "
                              "flex steps, a periodic dose or stop")
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
_STEP_BY_INDEX = re.compile(r"^flex\.(?P<i>\d+)\.(?P<part>\w+)")
_STEP_FIELD = re.compile(r"^flex\[\d+\]\.(start|dose|days)$")
_PERIODIC_BY_PUMP = {"program.dose_ml": "periodic.dose", "program.duration_s": "periodic.duration_min",
                     "program.every_s": "periodic.every_h", "program.offset_s": "periodic.offset_h"}
"""The pump's names of a periodic program's fields (in mL and seconds), by the order's names as entered."""


def _step_field(name: str, entry: OrderInput | None) -> str | None:
    """A flex step's refusal named by the step's place in the form (``flex[1].start``), else None: the pump
    names a step by its place among the program's steps, the schema by its index, the programmer by its start."""
    placed = _STEP_BY_PLACE.match(name) or _STEP_BY_INDEX.match(name)
    if placed:
        return f"flex[{placed['i']}].{'dose' if placed['part'] == 'rate_ml_per_day' else placed['part']}"
    by_start = _STEP_BY_START.match(name)
    starts = [] if entry is None else [step.start for step in entry.flex]
    if by_start and by_start["start"] in starts:
        return f"flex[{starts.index(by_start['start'])}]" + name[by_start.end():]
    return None


def order_error(error: OpenIDDSError, entry: OrderInput | None, fields: tuple[str, ...],
                prefix: str = "") -> FormError:
    """The refusal placed at its form field among ``fields`` and the order's own (each with ``prefix``), a flex
    step's beside that step, a periodic dose's beside its field."""
    own = tuple(prefix + f for f in (*ORDER_FIELDS, *(f"periodic.{part}" for part in PERIODIC_FIELDS)))
    placed = form_error(error, fields + own)
    name = str(error.field)
    unprefixed = name[len(prefix):] if prefix and name.startswith(prefix) else name
    for candidate in (_step_field(unprefixed, entry), _PERIODIC_BY_PUMP.get(unprefixed), unprefixed):
        if candidate is not None and (prefix + candidate in own or _STEP_FIELD.match(candidate)):
            return FormError(prefix + candidate, placed.message, placed.findings)
    return placed


# ---------------------------------------------------------------------- a posted form


@dataclass(frozen=True)
class PostedOrder:
    """An order form as posted: the order's data (as :class:`OrderInput` takes it), the rest of the form (the
    route's own fields), and whether a step button posted it (show the form again, store nothing)."""

    order: dict[str, Any]
    rest: FormData
    step_edit: bool


_STEP_DAYS = re.compile(r"^flex\[(?P<i>\d+)\]\.days$")
_SCALARS = frozenset(ORDER_FIELDS) - {"flex", "periodic"}


def order_from_form(form: FormData, prefix: str = "") -> PostedOrder:
    """The order of a posted form, its fields named with ``prefix``: the scalar fields (empty ones left out, the
    ``stop`` checkbox True when ticked), the flex steps from the repeated ``flex_start`` and ``flex_dose`` fields
    with each step's weekday tick boxes ``flex[i].days``, a step added or removed when a step button posted it,
    and ``periodic.*`` gathered when any is filled in."""
    order: dict[str, Any] = {}
    periodic: dict[str, str] = {}
    days: dict[int, list[str]] = {}
    rest: list[tuple[str, Any]] = []
    edit = ""
    for key, value in form.multi_items():
        if not isinstance(value, str):
            rest.append((key, value))
            continue
        name = key[len(prefix):] if key.startswith(prefix) else ""
        ticked = _STEP_DAYS.match(name)
        if key == STEP_EDIT:
            edit = value
        elif name == "stop":
            order["stop"] = value != ""
        elif name in _SCALARS:
            if value != "":
                order[name] = value
        elif name in ("flex_start", "flex_dose"):
            continue
        elif ticked:
            days.setdefault(int(ticked["i"]), []).append(value)
        elif name.startswith("periodic.") and name != "periodic.":
            if value != "":
                periodic[name[len("periodic."):]] = value
        else:
            rest.append((key, value))
    steps = _steps(form.getlist(prefix + "flex_start"), form.getlist(prefix + "flex_dose"), days, prefix)
    if edit == "add":
        steps.append({"start": "", "dose": "", "days": []})
    elif edit.startswith("remove-") and edit[len("remove-"):].isdigit() and int(edit[len("remove-"):]) < len(steps):
        del steps[int(edit[len("remove-"):])]
    if steps:
        order["flex"] = steps
    if periodic:
        order["periodic"] = periodic
    return PostedOrder(order, FormData(rest), edit != "")


def _steps(starts: list[Any], doses: list[Any], days: dict[int, list[str]], prefix: str) -> list[dict[str, Any]]:
    """The flex steps of a posted form: a start and a daily dose each, and the weekdays ticked for it."""
    if len(starts) != len(doses):
        raise ProgrammerError(f"{prefix}flex", f"{len(starts)} starts, {len(doses)} doses", "a start and a daily "
                              "dose for each flex step")
    beyond = sorted(i for i in days if i >= len(starts))
    if beyond:
        raise ProgrammerError(f"{prefix}flex", f"weekdays for step {beyond[0] + 1}", f"weekdays of one of the "
                              f"form's {len(starts)} flex steps")
    return [{"start": start, "dose": amount, "days": days.get(i, [])}
            for i, (start, amount) in enumerate(zip(starts, doses, strict=True))]

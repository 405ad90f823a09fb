"""The pump state file: a pump's description and the journal of timed commands it accepted.

The pump is rebuilt by replaying the journal on a fresh :class:`~openidds.pump.Pump` (the pump is
deterministic, so the replay gives the same pump, log included). The file also keeps every session log
line (refusals and confirmations included). This module reads and writes text; the command line does
the file I/O. Format: docs/programmer.md.
"""

import json
from datetime import datetime, timedelta
from fractions import Fraction
from typing import Literal

from pydantic import BaseModel, ConfigDict, ValidationError, model_validator

from openidds.errors import OpenIDDSError
from openidds.programmer.conversion import plain_decimal
from openidds.programmer.errors import ProgrammerError
from openidds.pump import (
    MODELS,
    BolusKind,
    CancelBolus,
    Catheter,
    Command,
    CommandRefused,
    Continuous,
    Flex,
    FlexStep,
    PatientBolus,
    Periodic,
    Pump,
    PumpSpec,
    Refill,
    RequestPatientBolus,
    ReviseCatheter,
    SetTherapy,
    Solution,
    StartBolus,
    Stopped,
    Therapy,
)
from openidds.pump.ticks import SECONDS_PER_DAY, exact

FORMAT = "openidds-pump-state/1"


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CatheterIn(_Closed):
    length_cm: int
    volume_ml: str
    tip_level: str


class PumpIn(_Closed):
    model: str = "SynchroMed II"
    reservoir_ml: int = 20
    low_reservoir_ml: str = "2"
    catheter: CatheterIn = CatheterIn(length_cm=80, volume_ml="0.16", tip_level="T10")


class FlexStepIn(_Closed):
    start: str
    rate_ml_per_day: str
    days: tuple[str, ...] = ()


class PeriodicIn(_Closed):
    dose_ml: str
    duration_s: int
    every_s: int
    offset_s: int = 0


class ProgramIn(_Closed):
    stopped: bool = False
    continuous_ml_per_day: str | None = None
    flex: tuple[FlexStepIn, ...] | None = None
    periodic: PeriodicIn | None = None

    @model_validator(mode="after")
    def _one(self) -> "ProgramIn":
        names = ("stopped", "continuous_ml_per_day", "flex", "periodic")
        chosen = [n for n in names if getattr(self, n) not in (None, False)]
        if len(chosen) != 1:
            raise ValueError(f"exactly one of stopped, continuous_ml_per_day, flex, periodic; got {chosen or 'none'}")
        return self


class PatientBolusIn(_Closed):
    dose_ml: str
    duration_s: int
    lockout_s: int
    max_per_24h: int


class TherapyIn(_Closed):
    program: ProgramIn
    max_mg_per_24h: dict[str, str]
    patient_bolus: PatientBolusIn | None = None


class RefillIn(_Closed):
    solution_mg_per_ml: dict[str, str]
    volume_ml: str
    actual_solution_mg_per_ml: dict[str, str] | None = None
    therapy: TherapyIn | None = None


class BolusIn(_Closed):
    kind: Literal["clinician", "priming", "bridge"]
    volume_ml: str
    duration_s: int


_ACTIONS = ("therapy", "refill", "bolus", "cancel_bolus", "patient_bolus", "revise_catheter")


class EntryIn(_Closed):
    """One accepted command at ``at_s`` seconds on the pump clock (exactly one action)."""

    at_s: int
    note: str = ""
    therapy: TherapyIn | None = None
    refill: RefillIn | None = None
    bolus: BolusIn | None = None
    cancel_bolus: bool = False
    patient_bolus: bool = False
    revise_catheter: CatheterIn | None = None

    @model_validator(mode="after")
    def _one(self) -> "EntryIn":
        chosen = [n for n in _ACTIONS if getattr(self, n) not in (None, False)]
        if len(chosen) != 1:
            raise ValueError(f"exactly one action of {', '.join(_ACTIONS)}; got {chosen or 'none'}")
        if self.at_s < 0:
            raise ValueError("at_s must be at least 0")
        return self


class PumpState(_Closed):
    """The whole file."""

    format: Literal["openidds-pump-state/1"] = FORMAT
    start: datetime
    pump: PumpIn = PumpIn()
    journal: tuple[EntryIn, ...] = ()
    sessions: tuple[dict, ...] = ()

    @model_validator(mode="after")
    def _ordered(self) -> "PumpState":
        times = [e.at_s for e in self.journal]
        if times != sorted(times):
            raise ValueError("journal entries must be in time order (at_s never decreasing)")
        return self

    # ------------------------------------------------------------------ pump

    def spec(self) -> PumpSpec:
        p = self.pump
        if p.model not in MODELS:
            raise ProgrammerError("pump.model", p.model, f"one of {sorted(MODELS)}")
        start = self.start
        origin = start.weekday() * SECONDS_PER_DAY + start.hour * 3600 + start.minute * 60 + start.second
        return PumpSpec(model=MODELS[p.model], reservoir_ml=p.reservoir_ml, low_reservoir_ml=p.low_reservoir_ml,
                        catheter=_catheter(p.catheter), clock_origin_s_of_week=origin)

    def replay(self) -> Pump:
        """A pump rebuilt from the journal (at the time of the last entry)."""
        pump = Pump(self.spec())
        for i, entry in enumerate(self.journal):
            try:
                pump.execute(entry.at_s, to_command(entry))
            except CommandRefused as error:
                raise ProgrammerError(f"journal[{i}]", entry.model_dump(exclude_defaults=True),
                                      f"a command the pump accepts on replay ({error})") from None
        return pump

    def last_s(self) -> int:
        return self.journal[-1].at_s if self.journal else 0

    def seconds(self, at: datetime, field: str = "at") -> int:
        """A local date-time as seconds on the pump clock (t = 0 at ``start``)."""
        delta = at - self.start
        if delta < timedelta(0) or delta.microseconds:
            raise ProgrammerError(field, at.isoformat(), f"a whole-second time at or after {self.start.isoformat()}")
        return delta.days * SECONDS_PER_DAY + delta.seconds

    def when(self, t_s: int) -> datetime:
        return self.start + timedelta(seconds=t_s)

    def with_entry(self, at_s: int, command: Command, note: str = "") -> "PumpState":
        if at_s < self.last_s():
            raise ProgrammerError("at", self.when(at_s).isoformat(),
                                  f"a time at or after the last journal entry, {self.when(self.last_s()).isoformat()}")
        return self.model_copy(update={"journal": self.journal + (to_entry(at_s, command, note),)})

    def with_sessions(self, lines: list[dict]) -> "PumpState":
        return self.model_copy(update={"sessions": self.sessions + tuple(lines)})


def load_state(text: str, source: str = "state") -> PumpState:
    """Parse and validate a state file; problems are listed with their location."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise ProgrammerError(source, "JSON", f"valid JSON ({error.msg} at line {error.lineno})") from None
    try:
        state = PumpState.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())
        raise ProgrammerError(source, "file", f"a valid pump state file ({problems})") from None
    try:
        state.spec()
    except OpenIDDSError as error:
        raise ProgrammerError(f"{source}.pump.{error.field}", error.value, error.expected) from None
    return state


def dump_state(state: PumpState) -> str:
    """The file's text: stable key order, two-space indent, defaults left out of journal entries."""
    data = state.model_dump(mode="json")
    data["journal"] = [e.model_dump(mode="json", exclude_defaults=True) | {"at_s": e.at_s} for e in state.journal]
    return json.dumps(data, indent=2) + "\n"


# ---------------------------------------------------------------------- commands <-> entries


def to_command(entry: EntryIn) -> Command:
    if entry.therapy is not None:
        return SetTherapy(_therapy(entry.therapy))
    if entry.refill is not None:
        r = entry.refill
        return Refill(Solution.of(r.solution_mg_per_ml), r.volume_ml,
                      None if r.actual_solution_mg_per_ml is None else Solution.of(r.actual_solution_mg_per_ml),
                      None if r.therapy is None else _therapy(r.therapy))
    if entry.bolus is not None:
        return StartBolus(BolusKind(entry.bolus.kind), entry.bolus.volume_ml, entry.bolus.duration_s)
    if entry.cancel_bolus:
        return CancelBolus()
    if entry.patient_bolus:
        return RequestPatientBolus()
    return ReviseCatheter(_catheter(entry.revise_catheter))


def to_entry(at_s: int, command: Command, note: str = "") -> EntryIn:
    if isinstance(command, SetTherapy):
        return EntryIn(at_s=at_s, note=note, therapy=_therapy_in(command.therapy))
    if isinstance(command, Refill):
        return EntryIn(at_s=at_s, note=note, refill=RefillIn(
            solution_mg_per_ml=_solution_in(command.solution), volume_ml=_num(command.volume_ml),
            actual_solution_mg_per_ml=None if command.actual_solution is None else _solution_in(command.actual_solution),
            therapy=None if command.therapy is None else _therapy_in(command.therapy)))
    if isinstance(command, StartBolus):
        return EntryIn(at_s=at_s, note=note, bolus=BolusIn(kind=command.kind.value, volume_ml=_num(command.volume_ml),
                                                           duration_s=command.duration_s))
    if isinstance(command, CancelBolus):
        return EntryIn(at_s=at_s, note=note, cancel_bolus=True)
    if isinstance(command, RequestPatientBolus):
        return EntryIn(at_s=at_s, note=note, patient_bolus=True)
    if isinstance(command, ReviseCatheter):
        c = command.catheter
        return EntryIn(at_s=at_s, note=note, revise_catheter=CatheterIn(length_cm=c.length_cm, volume_ml=_num(c.volume_ml),
                                                                        tip_level=c.tip_level))
    raise ProgrammerError("command", command, "a command the state file can journal")


def _num(value) -> str:
    return plain_decimal(Fraction(exact("value", value)))


def _catheter(c: CatheterIn) -> Catheter:
    return Catheter(length_cm=c.length_cm, volume_ml=c.volume_ml, tip_level=c.tip_level)


def _solution_in(solution: Solution) -> dict[str, str]:
    return {drug: plain_decimal(solution.mg_per_ml(drug)) for drug in solution.drugs}


def _therapy(t: TherapyIn) -> Therapy:
    p = t.program
    if p.continuous_ml_per_day is not None:
        program = Continuous(p.continuous_ml_per_day)
    elif p.flex is not None:
        program = Flex(tuple(FlexStep(s.start, s.rate_ml_per_day, tuple(s.days)) for s in p.flex))
    elif p.periodic is not None:
        program = Periodic(p.periodic.dose_ml, p.periodic.duration_s, p.periodic.every_s, p.periodic.offset_s)
    else:
        program = Stopped()
    b = t.patient_bolus
    bolus = None if b is None else PatientBolus(b.dose_ml, b.duration_s, b.lockout_s, b.max_per_24h)
    return Therapy(program, dict(t.max_mg_per_24h), bolus)


def _therapy_in(therapy: Therapy) -> TherapyIn:
    p = therapy.program
    if isinstance(p, Continuous):
        program = ProgramIn(continuous_ml_per_day=_num(p.rate_ml_per_day))
    elif isinstance(p, Flex):
        program = ProgramIn(flex=tuple(FlexStepIn(start=s.start, rate_ml_per_day=_num(s.rate_ml_per_day),
                                                  days=tuple(s.days)) for s in p.steps))
    elif isinstance(p, Periodic):
        program = ProgramIn(periodic=PeriodicIn(dose_ml=_num(p.dose_ml), duration_s=p.duration_s, every_s=p.every_s,
                                                offset_s=p.offset_s))
    else:
        program = ProgramIn(stopped=True)
    b = therapy.patient_bolus
    bolus = None if b is None else PatientBolusIn(dose_ml=_num(b.dose_ml), duration_s=b.duration_s,
                                                  lockout_s=b.lockout_s, max_per_24h=b.max_per_24h)
    return TherapyIn(program=program, max_mg_per_24h={d: _num(v) for d, v in dict(therapy.max_mg_per_24h).items()},
                     patient_bolus=bolus)

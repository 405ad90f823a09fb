"""Scenario files: a pump, a start time, timed events and a horizon, in TOML. See docs/scenarios.md.

Parsing takes the file's text (the command line reads the file); running it drives a :class:`Pump` and
keeps every answer the pump gave, refusals included.
"""

import tomllib
from datetime import datetime, timedelta
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from openidds.errors import OpenIDDSError
from openidds.pump.commands import (
    BolusKind,
    CancelBolus,
    Interrogate,
    Refill,
    RequestPatientBolus,
    ReviseCatheter,
    SetLowReservoirAlarm,
    SetTherapy,
    StartBolus,
)
from openidds.pump.device import MODELS, Catheter, PumpSpec
from openidds.pump.faults import (
    BatteryReset,
    CatheterLeak,
    CatheterOcclusion,
    MotorStall,
    MriExposure,
    SelfTestError,
)
from openidds.pump.programs import (
    Continuous,
    Flex,
    FlexStep,
    PatientBolus,
    Periodic,
    Stopped,
    Therapy,
    clock_seconds,
)
from openidds.pump.pump import CommandRefused, Pump
from openidds.pump.solution import Solution
from openidds.pump.ticks import SECONDS_PER_DAY

Decimalish = Annotated[str | int | float, Field(description="a decimal number: 0.25 or \"0.25\"")]


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class CatheterIn(_Closed):
    length_cm: int
    volume_ml: Decimalish
    tip_level: str


class PumpIn(_Closed):
    model: Literal[tuple(MODELS)] = "SynchroMed II"  # type: ignore[valid-type]
    reservoir_ml: int = 20
    low_reservoir_ml: Decimalish = 2
    catheter: CatheterIn = CatheterIn(length_cm=80, volume_ml="0.16", tip_level="T10")
    battery_eri_at: datetime | None = None


class FlexStepIn(_Closed):
    start: str
    rate_ml_per_day: Decimalish
    days: tuple[str, ...] = ()


class PeriodicIn(_Closed):
    dose_ml: Decimalish
    duration_min: int
    every_hours: int
    first_at: str = "00:00"


class PatientBolusIn(_Closed):
    dose_ml: Decimalish
    duration_min: int
    lockout_min: int
    max_per_24h: int


class ContinuousIn(_Closed):
    rate_ml_per_day: Decimalish


class TherapyIn(_Closed):
    """Exactly one of ``stopped``, ``continuous``, ``flex``, ``periodic``; plus limits and patient bolus."""

    max_mg_per_24h: dict[str, Decimalish]
    stopped: bool = False
    continuous: ContinuousIn | None = None
    flex: tuple[FlexStepIn, ...] | None = None
    periodic: PeriodicIn | None = None
    patient_bolus: PatientBolusIn | None = None

    @model_validator(mode="after")
    def _one_program(self) -> "TherapyIn":
        chosen = [name for name in ("continuous", "flex", "periodic") if getattr(self, name) is not None]
        if self.stopped:
            chosen.append("stopped")
        if len(chosen) != 1:
            raise ValueError(f"exactly one program of stopped, continuous, flex, periodic; got {chosen or 'none'}")
        return self


class RefillIn(_Closed):
    solution: dict[str, Decimalish]
    volume_ml: Decimalish
    actual_solution: dict[str, Decimalish] | None = None
    program: TherapyIn | None = None


class BolusIn(_Closed):
    kind: Literal["clinician", "priming", "bridge"]
    volume_ml: Decimalish
    duration_min: int


class FaultIn(_Closed):
    kind: Literal["motor_stall", "mri", "occlusion", "leak", "battery_reset", "memory_error"]
    duration_min: int | None = None
    recovery_delay_min: int = 0
    critical: bool = False


class EventIn(_Closed):
    """One timed event (exactly one action), optionally repeated ``count`` times every ``every_hours`` or
    ``every_minutes``."""

    at: datetime
    every_hours: int | None = None
    every_minutes: int | None = None
    count: int = 1
    note: str = ""
    refill: RefillIn | None = None
    program: TherapyIn | None = None
    bolus: BolusIn | None = None
    cancel_bolus: bool = False
    patient_bolus: bool = False
    interrogate: bool = False
    low_reservoir_alarm_ml: Decimalish | None = None
    fault: FaultIn | None = None
    revise_catheter: CatheterIn | None = None

    @model_validator(mode="after")
    def _one_action(self) -> "EventIn":
        actions = [name for name in _ACTIONS if getattr(self, name) not in (None, False)]
        if len(actions) != 1:
            raise ValueError(f"exactly one action of {', '.join(_ACTIONS)}; got {actions or 'none'}")
        if self.every_hours is not None and self.every_minutes is not None:
            raise ValueError("give every_hours or every_minutes, not both")
        if self.count < 1 or (self.count > 1 and not self.every_s):
            raise ValueError("count must be at least 1, and a repeated event needs every_hours or every_minutes")
        return self

    @property
    def every_s(self) -> int:
        """The repeat interval in seconds (0 for a single event)."""
        return (self.every_hours or 0) * 3600 + (self.every_minutes or 0) * 60


_ACTIONS = ("refill", "program", "bolus", "cancel_bolus", "patient_bolus", "interrogate", "low_reservoir_alarm_ml",
            "fault", "revise_catheter")


class Scenario(_Closed):
    """A whole scenario file."""

    title: str
    description: str = ""
    start: datetime
    horizon_days: int = Field(ge=1, le=3660)
    pump: PumpIn = PumpIn()
    events: tuple[EventIn, ...] = ()


def load_scenario(text: str, *, source: str = "scenario") -> Scenario:
    """Parse and validate a TOML scenario; every problem is reported with its location."""
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise OpenIDDSError(source, "TOML", f"valid TOML ({error})") from None
    try:
        return Scenario.model_validate(raw, strict=False)
    except ValidationError as error:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']} (got {e.get('input')!r})" for e in error.errors())
        raise OpenIDDSError(source, "file", f"a valid scenario: {problems}") from None


class Step:
    """What happened at one scenario event: the command, and the pump's answer or refusal."""

    __slots__ = ("t_s", "action", "note", "answer", "refusal")

    def __init__(self, t_s: int, action: str, note: str, answer: object = None, refusal: str | None = None) -> None:
        self.t_s, self.action, self.note, self.answer, self.refusal = t_s, action, note, answer, refusal


class ScenarioRun:
    """A finished run: the pump (with its log) and the answer to every scenario event."""

    def __init__(self, scenario: Scenario, pump: Pump, steps: list[Step]) -> None:
        self.scenario, self.pump, self.steps = scenario, pump, steps

    def when(self, t_s: int) -> datetime:
        """Pump-clock seconds as a local date and time."""
        return self.scenario.start + timedelta(seconds=t_s)


def run_scenario(scenario: Scenario) -> ScenarioRun:
    """Run the scenario to its horizon. Refused commands are kept as refusals; the run goes on."""
    start = scenario.start
    pump = Pump(_spec(scenario))
    steps: list[Step] = []
    for t_s, order, event in sorted(_expand(scenario), key=lambda item: (item[0], item[1])):
        action = next(name for name in _ACTIONS if getattr(event, name) not in (None, False))
        try:
            answer = _perform(pump, t_s, action, event)
            steps.append(Step(t_s, action, event.note, answer))
        except CommandRefused as refusal:
            steps.append(Step(t_s, action, event.note, refusal=str(refusal)))
        except OpenIDDSError as error:
            raise OpenIDDSError(f"events[{order}].{action}.{error.field}", error.value, error.expected) from None
    pump.advance(_seconds(start, start + timedelta(days=scenario.horizon_days), "horizon_days"))
    return ScenarioRun(scenario, pump, steps)


def _spec(scenario: Scenario) -> PumpSpec:
    pin = scenario.pump
    start = scenario.start
    origin = start.weekday() * SECONDS_PER_DAY + start.hour * 3600 + start.minute * 60 + start.second
    eri = None if pin.battery_eri_at is None else _seconds(start, pin.battery_eri_at, "pump.battery_eri_at")
    return PumpSpec(model=MODELS[pin.model], reservoir_ml=pin.reservoir_ml, low_reservoir_ml=pin.low_reservoir_ml,
                    catheter=_catheter(pin.catheter), clock_origin_s_of_week=origin, battery_eri_at_s=eri)


def _expand(scenario: Scenario):
    horizon = scenario.start + timedelta(days=scenario.horizon_days)
    for order, event in enumerate(scenario.events):
        for k in range(event.count):
            at = event.at + timedelta(seconds=event.every_s * k)
            if at > horizon:
                break
            yield _seconds(scenario.start, at, f"events[{order}].at"), order, event


def _seconds(start: datetime, at: datetime, field: str) -> int:
    delta = at - start
    if delta < timedelta(0) or delta.microseconds:
        raise OpenIDDSError(field, at.isoformat(), f"a whole-second time at or after the start {start.isoformat()}")
    return delta.days * SECONDS_PER_DAY + delta.seconds


def _perform(pump: Pump, t_s: int, action: str, event: EventIn):
    if action == "refill":
        r = event.refill
        actual = None if r.actual_solution is None else Solution.of(r.actual_solution)
        therapy = None if r.program is None else _therapy(r.program)
        return pump.execute(t_s, Refill(Solution.of(r.solution), r.volume_ml, actual, therapy))
    if action == "program":
        return pump.execute(t_s, SetTherapy(_therapy(event.program)))
    if action == "bolus":
        b = event.bolus
        return pump.execute(t_s, StartBolus(BolusKind(b.kind), b.volume_ml, b.duration_min * 60))
    if action == "cancel_bolus":
        return pump.execute(t_s, CancelBolus())
    if action == "patient_bolus":
        return pump.execute(t_s, RequestPatientBolus())
    if action == "interrogate":
        return pump.execute(t_s, Interrogate())
    if action == "low_reservoir_alarm_ml":
        return pump.execute(t_s, SetLowReservoirAlarm(str(event.low_reservoir_alarm_ml)))
    if action == "revise_catheter":
        return pump.execute(t_s, ReviseCatheter(_catheter(event.revise_catheter)))
    return pump.inject(t_s, _fault(event.fault))


def _fault(f: FaultIn):
    seconds = None if f.duration_min is None else f.duration_min * 60
    if f.kind == "motor_stall":
        return MotorStall(seconds)
    if f.kind == "mri":
        if seconds is None:
            raise OpenIDDSError("fault.duration_min", None, "the length of the MRI scan in minutes")
        return MriExposure(seconds, f.recovery_delay_min * 60)
    if f.kind == "memory_error":
        return SelfTestError(critical=f.critical)
    return {"occlusion": CatheterOcclusion, "leak": CatheterLeak, "battery_reset": BatteryReset}[f.kind]()


def _catheter(c: CatheterIn) -> Catheter:
    return Catheter(length_cm=c.length_cm, volume_ml=str(c.volume_ml), tip_level=c.tip_level)


def _therapy(t: TherapyIn) -> Therapy:
    if t.continuous is not None:
        program = Continuous(str(t.continuous.rate_ml_per_day))
    elif t.flex is not None:
        program = Flex(tuple(FlexStep(s.start, str(s.rate_ml_per_day), s.days) for s in t.flex))
    elif t.periodic is not None:
        p = t.periodic
        every_s = p.every_hours * 3600
        first_s = clock_seconds("periodic.first_at", p.first_at)
        program = Periodic(str(p.dose_ml), p.duration_min * 60, every_s, first_s % every_s if every_s else 0)
    else:
        program = Stopped()
    bolus = None
    if t.patient_bolus is not None:
        b = t.patient_bolus
        bolus = PatientBolus(str(b.dose_ml), b.duration_min * 60, b.lockout_min * 60, b.max_per_24h)
    return Therapy(program, {drug: str(mg) for drug, mg in t.max_mg_per_24h.items()}, bolus)

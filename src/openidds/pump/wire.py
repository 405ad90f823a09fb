"""The pump's one wire format: its commands, faults and exported event log as closed pydantic models.

Scenario files, the programmer's state file and the registry's log import all read and write these
models; nothing else defines a command. Numbers are read once, by the rule of :func:`openidds.units.exact`
(an int, or a plain decimal string such as ``"0.25"``; a file's decimals are read as exact decimals, never
floats), and written back as exact decimal strings. Every value carries its unit in its name: ``_ml``,
``_ml_per_day``, ``_mg_per_ml``, ``_s``. Commands and faults are tagged by ``name``, programs by ``kind``.
Reference: docs/wire.md.
"""

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from fractions import Fraction
from itertools import compress, count
from operator import itemgetter
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StrictBool,
    StrictInt,
    StrictStr,
    ValidationError,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
)

from openidds.errors import OpenIDDSError
from openidds.pump import commands, faults, programs
from openidds.pump.device import MODELS, SYNCHROMED_II, PumpSpec
from openidds.pump.device import Catheter as PumpCatheter
from openidds.pump.events import COMPACT_FIELDS, EVENT_DATA, Event, EventKind, EventLog
from openidds.pump.solution import Solution
from openidds.pump.ticks import SECONDS_PER_DAY
from openidds.units import exact
from openidds.units._number import format_exact

WIRE_VERSION = 1
"""The version of this schema; a reader refuses any other."""


MAX_SECONDS = 3660 * SECONDS_PER_DAY
"""Every ``_s`` field (a duration, an interval, a time on the pump clock): at most ten years (3660 days), the
longest scenario horizon and past any pump's battery life."""
MAX_VOLUME_ML = 100
"""Every volume: at most 100 mL (the largest reservoir is 40 mL; the pump itself refuses an overfill)."""
MAX_RATE_ML_PER_DAY = 100
"""Every rate: at most 100 mL/day (the pump's own range is far below; it refuses a rate out of it)."""
MAX_MG_PER_ML = 1000
"""Every concentration: at most 1000 mg/mL (1 g of drug per mL: more than any solution can hold)."""
MAX_MG = 100_000
"""Every drug amount (a 24-hour limit): at most 100 g, the most the rate and concentration bounds can deliver."""
MAX_PER_24H = 1440
"""A count per 24 hours: at most one a minute."""
MAX_LENGTH_CM = 1000
"""A catheter's length: at most 10 m."""
MAX_SEQ = 2**31 - 1
"""An event's sequence number: a 32-bit integer, as the registry stores it."""
EARLIEST = datetime(1970, 1, 1)
LATEST = datetime(2200, 1, 1)
"""Every date-time of a file (a start, an event, a log's clock): from 1970 to the end of 2199."""


def _exact(value: object) -> Fraction:
    return exact(value, "number")


def _bounded(hi: int, unit: str) -> AfterValidator:
    def check(value: Fraction) -> Fraction:
        if not 0 <= value <= hi:
            raise ValueError(f"a number from 0 to {hi} {unit}")
        return value

    return AfterValidator(check)


ExactNumber = Annotated[
    Fraction,
    BeforeValidator(_exact),
    PlainSerializer(format_exact, return_type=str),
    WithJsonSchema({"type": "string", "pattern": r"^[+-]?\d+(\.\d+)?$"}),
]
"""An exact number: an int or a plain decimal string in, its exact decimal string out."""
VolumeMl = Annotated[ExactNumber, _bounded(MAX_VOLUME_ML, "mL")]
RateMlPerDay = Annotated[ExactNumber, _bounded(MAX_RATE_ML_PER_DAY, "mL/day")]
MgPerMl = Annotated[ExactNumber, _bounded(MAX_MG_PER_ML, "mg/mL")]
Mg = Annotated[ExactNumber, _bounded(MAX_MG, "mg")]
Seconds = Annotated[StrictInt, Field(ge=0, le=MAX_SECONDS)]
"""Whole seconds, from 0 to :data:`MAX_SECONDS`."""


def _in_range(value: datetime) -> datetime:
    naive = value.astimezone(UTC).replace(tzinfo=None) if value.utcoffset() is not None else value
    if not EARLIEST <= naive < LATEST:
        raise ValueError(f"a date-time from {EARLIEST:%Y-%m-%d} to {LATEST.year - 1}-12-31")
    return value


WireDateTime = Annotated[datetime, AfterValidator(_in_range)]
"""A date-time of a file, within :data:`EARLIEST` and :data:`LATEST`."""

SolutionMgPerMl = dict[StrictStr, MgPerMl]
"""Drug name -> mg/mL."""
DrugMg = dict[StrictStr, Mg]
"""Drug name -> mg."""


class _Wire(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


# ---------------------------------------------------------------------- the implanted system and programs


class Catheter(_Wire):
    length_cm: Annotated[StrictInt, Field(ge=1, le=MAX_LENGTH_CM)]
    volume_ml: VolumeMl
    tip_level: StrictStr

    def to_pump(self) -> PumpCatheter:
        return PumpCatheter(length_cm=self.length_cm, volume_ml=format_exact(self.volume_ml), tip_level=self.tip_level)


class PumpSetup(_Wire):
    """The implanted system: model, reservoir size, low-reservoir threshold and catheter."""

    model: StrictStr = SYNCHROMED_II.name
    reservoir_ml: Annotated[StrictInt, Field(ge=1, le=MAX_VOLUME_ML)] = 20
    low_reservoir_ml: VolumeMl = Fraction(2)
    catheter: Catheter = Catheter(length_cm=80, volume_ml=Fraction(16, 100), tip_level="T10")

    def to_pump(self, clock_start: datetime, battery_eri_at_s: int | None = None) -> PumpSpec:
        """The pump's spec, its weekly clock set from ``clock_start`` (t_s = 0, the pump's local time)."""
        if self.model not in MODELS:
            raise OpenIDDSError("pump.model", self.model, f"one of {sorted(MODELS)}")
        origin = (clock_start.weekday() * SECONDS_PER_DAY + clock_start.hour * 3600 + clock_start.minute * 60
                  + clock_start.second)
        return PumpSpec(model=MODELS[self.model], reservoir_ml=self.reservoir_ml,
                        low_reservoir_ml=self.low_reservoir_ml, catheter=self.catheter.to_pump(),
                        clock_origin_s_of_week=origin, battery_eri_at_s=battery_eri_at_s)


class Stopped(_Wire):
    kind: Literal["stopped"] = "stopped"


class Continuous(_Wire):
    kind: Literal["continuous"] = "continuous"
    rate_ml_per_day: RateMlPerDay


class FlexStep(_Wire):
    start: StrictStr
    """Time of day, ``HH:MM``."""
    rate_ml_per_day: RateMlPerDay
    days: tuple[StrictStr, ...] = ()
    """Weekdays ``mon`` ... ``sun``; every day when empty."""


class Flex(_Wire):
    kind: Literal["flex"] = "flex"
    steps: tuple[FlexStep, ...]


class Periodic(_Wire):
    kind: Literal["periodic"] = "periodic"
    dose_ml: VolumeMl
    duration_s: Seconds
    every_s: Seconds
    offset_s: Seconds = 0
    """Doses start this long after Monday 00:00 on the pump clock, then every ``every_s``."""


Program = Annotated[Stopped | Continuous | Flex | Periodic, Field(discriminator="kind")]


class PatientBolus(_Wire):
    dose_ml: VolumeMl
    duration_s: Seconds
    lockout_s: Seconds
    max_per_24h: Annotated[StrictInt, Field(ge=0, le=MAX_PER_24H)]


class Therapy(_Wire):
    program: Program
    max_mg_per_24h: DrugMg
    patient_bolus: PatientBolus | None = None

    def to_pump(self) -> programs.Therapy:
        p = self.program
        program: programs.Program
        if isinstance(p, Continuous):
            program = programs.Continuous(p.rate_ml_per_day)
        elif isinstance(p, Flex):
            program = programs.Flex(tuple(programs.FlexStep(s.start, s.rate_ml_per_day, s.days) for s in p.steps))
        elif isinstance(p, Periodic):
            program = programs.Periodic(p.dose_ml, p.duration_s, p.every_s, p.offset_s)
        else:
            program = programs.Stopped()
        b = self.patient_bolus
        bolus = None if b is None else programs.PatientBolus(b.dose_ml, b.duration_s, b.lockout_s, b.max_per_24h)
        return programs.Therapy(program, dict(self.max_mg_per_24h), bolus)


# ---------------------------------------------------------------------- commands


class SetTherapy(_Wire):
    name: Literal["set_therapy"] = "set_therapy"
    therapy: Therapy

    def to_pump(self) -> commands.SetTherapy:
        return commands.SetTherapy(self.therapy.to_pump())


class Refill(_Wire):
    name: Literal["refill"] = "refill"
    solution_mg_per_ml: SolutionMgPerMl
    volume_ml: VolumeMl
    actual_solution_mg_per_ml: SolutionMgPerMl | None = None
    """What really went in, when it differs from what the pump is told (a compounding error)."""
    therapy: Therapy | None = None

    def to_pump(self) -> commands.Refill:
        actual = self.actual_solution_mg_per_ml
        return commands.Refill(Solution.of(self.solution_mg_per_ml), self.volume_ml,
                               None if actual is None else Solution.of(actual),
                               None if self.therapy is None else self.therapy.to_pump())


class SetLowReservoirAlarm(_Wire):
    name: Literal["set_low_reservoir_alarm"] = "set_low_reservoir_alarm"
    low_reservoir_ml: VolumeMl

    def to_pump(self) -> commands.SetLowReservoirAlarm:
        return commands.SetLowReservoirAlarm(self.low_reservoir_ml)


class StartBolus(_Wire):
    name: Literal["start_bolus"] = "start_bolus"
    kind: Literal["clinician", "priming", "bridge"]
    volume_ml: VolumeMl
    duration_s: Seconds

    def to_pump(self) -> commands.StartBolus:
        return commands.StartBolus(commands.BolusKind(self.kind), self.volume_ml, self.duration_s)


class CancelBolus(_Wire):
    name: Literal["cancel_bolus"] = "cancel_bolus"

    def to_pump(self) -> commands.CancelBolus:
        return commands.CancelBolus()


class RequestPatientBolus(_Wire):
    name: Literal["request_patient_bolus"] = "request_patient_bolus"

    def to_pump(self) -> commands.RequestPatientBolus:
        return commands.RequestPatientBolus()


class Interrogate(_Wire):
    name: Literal["interrogate"] = "interrogate"

    def to_pump(self) -> commands.Interrogate:
        return commands.Interrogate()


class ReviseCatheter(_Wire):
    name: Literal["revise_catheter"] = "revise_catheter"
    catheter: Catheter

    def to_pump(self) -> commands.ReviseCatheter:
        return commands.ReviseCatheter(self.catheter.to_pump())


AnyCommand = (SetTherapy | Refill | SetLowReservoirAlarm | StartBolus | CancelBolus | RequestPatientBolus | Interrogate
              | ReviseCatheter)
Command = Annotated[AnyCommand, Field(discriminator="name")]
"""A command as a field of a file or message: tagged by ``name``."""


# ---------------------------------------------------------------------- faults (simulation only)


class MotorStall(_Wire):
    name: Literal["motor_stall"] = "motor_stall"
    duration_s: Seconds | None = None
    """None: the motor never runs again."""

    def to_pump(self) -> faults.MotorStall:
        return faults.MotorStall(self.duration_s)


class MriExposure(_Wire):
    name: Literal["mri_exposure"] = "mri_exposure"
    duration_s: Seconds
    recovery_delay_s: Seconds = 0

    def to_pump(self) -> faults.MriExposure:
        return faults.MriExposure(self.duration_s, self.recovery_delay_s)


class CatheterOcclusion(_Wire):
    name: Literal["catheter_occlusion"] = "catheter_occlusion"

    def to_pump(self) -> faults.CatheterOcclusion:
        return faults.CatheterOcclusion()


class CatheterLeak(_Wire):
    name: Literal["catheter_leak"] = "catheter_leak"

    def to_pump(self) -> faults.CatheterLeak:
        return faults.CatheterLeak()


class BatteryReset(_Wire):
    name: Literal["battery_reset"] = "battery_reset"

    def to_pump(self) -> faults.BatteryReset:
        return faults.BatteryReset()


class SelfTestError(_Wire):
    name: Literal["self_test_error"] = "self_test_error"
    critical: StrictBool = False

    def to_pump(self) -> faults.SelfTestError:
        return faults.SelfTestError(self.critical)


Fault = Annotated[
    MotorStall | MriExposure | CatheterOcclusion | CatheterLeak | BatteryReset | SelfTestError,
    Field(discriminator="name"),
]


# ---------------------------------------------------------------------- pump objects -> wire


def command_to_wire(command: commands.Command) -> AnyCommand:
    """The wire model of a pump command (the programmer journals what it sent)."""
    if isinstance(command, commands.SetTherapy):
        return SetTherapy(therapy=_therapy_to_wire(command.therapy))
    if isinstance(command, commands.Refill):
        actual = command.actual_solution
        return Refill(solution_mg_per_ml=_solution_to_wire(command.solution), volume_ml=command.volume_ml,
                      actual_solution_mg_per_ml=None if actual is None else _solution_to_wire(actual),
                      therapy=None if command.therapy is None else _therapy_to_wire(command.therapy))
    if isinstance(command, commands.SetLowReservoirAlarm):
        return SetLowReservoirAlarm(low_reservoir_ml=command.low_reservoir_ml)
    if isinstance(command, commands.StartBolus):
        return StartBolus(kind=commands.BolusKind(command.kind).value, volume_ml=command.volume_ml,
                          duration_s=command.duration_s)
    if isinstance(command, commands.ReviseCatheter):
        c = command.catheter
        return ReviseCatheter(catheter=Catheter(length_cm=c.length_cm, volume_ml=c.volume_ml, tip_level=c.tip_level))
    if isinstance(command, commands.CancelBolus):
        return CancelBolus()
    if isinstance(command, commands.RequestPatientBolus):
        return RequestPatientBolus()
    if isinstance(command, commands.Interrogate):
        return Interrogate()
    raise OpenIDDSError("command", command, "a pump command from openidds.pump.commands")


def _solution_to_wire(solution: Solution) -> dict[str, Fraction]:
    return {drug: solution.mg_per_ml(drug) for drug in solution.drugs}


def _therapy_to_wire(therapy: programs.Therapy) -> Therapy:
    p = therapy.program
    program: Stopped | Continuous | Flex | Periodic
    if isinstance(p, programs.Continuous):
        program = Continuous(rate_ml_per_day=p.rate_ml_per_day)
    elif isinstance(p, programs.Flex):
        program = Flex(steps=tuple(FlexStep(start=s.start, rate_ml_per_day=s.rate_ml_per_day, days=tuple(s.days))
                                   for s in p.steps))
    elif isinstance(p, programs.Periodic):
        program = Periodic(dose_ml=p.dose_ml, duration_s=p.duration_s, every_s=p.every_s, offset_s=p.offset_s)
    else:
        program = Stopped()
    b = therapy.patient_bolus
    bolus = None if b is None else PatientBolus(dose_ml=b.dose_ml, duration_s=b.duration_s, lockout_s=b.lockout_s,
                                                max_per_24h=b.max_per_24h)
    return Therapy(program=program, max_mg_per_24h=dict(therapy.max_mg_per_24h), patient_bolus=bolus)


# ---------------------------------------------------------------------- the exported log


def _data_fields(record: type) -> tuple[frozenset[str], frozenset[str]]:
    required: frozenset[str] = getattr(record, "__required_keys__", frozenset())
    return required, required | getattr(record, "__optional_keys__", frozenset())


_DATA_FIELDS = {kind: _data_fields(record) for kind, record in EVENT_DATA.items()}
"""Each kind's data fields: those required, and all allowed."""


def _fields_error(kind: EventKind, data: dict[str, Any]) -> str | None:
    """What is wrong with the fields of an event's data for its kind; None when it has exactly its kind's."""
    required, allowed = _DATA_FIELDS[kind]
    # data within allowed, and required within data: by size first, as most kinds have no optional field
    complete = required.issuperset(data) if len(data) == len(required) else required.issubset(data.keys())
    if complete and allowed.issuperset(data):
        return None
    given = set(data)
    return (f"a {kind.value} event's data has the fields {sorted(allowed) or 'none'} "
            f"(missing {sorted(required - given)}, unknown {sorted(given - allowed)})")


class ExportedEvent(_Wire):
    """One event of the pump's log; ``data`` holds the fields of its kind (docs/wire.md, "Events")."""

    seq: Annotated[StrictInt, Field(ge=0, le=MAX_SEQ)]
    t_s: Seconds
    kind: EventKind
    reason: StrictStr
    data: dict[str, Any]

    @field_validator("data")
    @classmethod
    def _fields_of_its_kind(cls, data: dict[str, Any], info: ValidationInfo) -> dict[str, Any]:
        kind = info.data.get("kind")
        if kind is None:  # the kind itself is invalid, and said so
            return data
        error = _fields_error(kind, data)
        if error is not None:
            raise ValueError(error)
        return data

    def to_event(self) -> Event:
        return Event(self.seq, self.t_s, self.kind, self.reason, self.data)


class PumpLog(_Wire):
    """A pump's whole exported log: the wire version, the absolute time of t_s = 0, and the events."""

    wire_version: StrictInt
    clock_start: WireDateTime
    """The pump clock's t_s = 0 as an absolute date-time (with its UTC offset)."""
    events: tuple[ExportedEvent, ...]
    summary: dict[str, Any] | None = None
    """What the simulation computed from the log (totals, alarms, refusals), for reading; importers ignore it."""

    @field_validator("wire_version")
    @classmethod
    def _version(cls, value: int) -> int:
        if value != WIRE_VERSION:
            raise ValueError(f"wire version {WIRE_VERSION}, the one this OpenIDDS reads; export the log again with "
                             f"this version of openidds (got {value})")
        return value

    @field_validator("clock_start")
    @classmethod
    def _absolute(cls, value: datetime) -> datetime:
        if value.utcoffset() is None:
            raise ValueError("a date-time with its UTC offset, e.g. 2026-01-05T08:00:00+00:00")
        return value

    def at(self, t_s: int) -> datetime:
        """Pump-clock seconds as a UTC date-time (naive, as the registry stores it)."""
        return (self.clock_start + timedelta(seconds=t_s)).astimezone(UTC).replace(tzinfo=None)


def export_log(events: Iterable[Event], clock_start: datetime, summary: dict[str, Any] | None = None) -> PumpLog:
    """The pump's log for export. ``clock_start`` is t_s = 0; a naive date-time is read as UTC.

    A pump's :class:`EventLog` is checked over its columns at once (:func:`_checked_events`); any other log, or
    one that those checks cannot vouch for, is validated in one call (each event once, as
    :class:`ExportedEvent` would). A value beyond the wire format's bounds is refused with an
    :class:`OpenIDDSError` naming its first such field (:func:`_export_refused`)."""
    start = clock_start if clock_start.utcoffset() is not None else clock_start.replace(tzinfo=UTC)
    checked = _checked_events(events) if isinstance(events, EventLog) else None
    header = {"wire_version": WIRE_VERSION, "clock_start": start, "summary": summary}
    try:
        if checked is None:
            return PumpLog.model_validate(header | {"events": events.dicts() if isinstance(events, EventLog)
                                                    else [e.to_dict() for e in events]})
        return PumpLog.model_validate(header | {"events": ()}).model_copy(update={"events": checked})
    except ValidationError as error:
        raise _export_refused(error, start) from None


_EVENT_FIELDS = set(ExportedEvent.model_fields)
"""Every event's fields set (pydantic's record of the fields given: all of them), one set for every event
:func:`_checked_events` builds: a frozen model never changes it, and ``model_copy`` copies it first."""
_new_event = ExportedEvent.__new__
_set = object.__setattr__
_T_S, _KIND, _REASON = itemgetter(0), itemgetter(1), itemgetter(2)
_STORED_KINDS = frozenset(EventKind) - COMPACT_FIELDS.keys()
"""The kinds whose rows hold their data as the pump gave it (a compact row's is built by the log)."""


def _checked_events(log: EventLog) -> tuple[ExportedEvent, ...] | None:
    """The log's events as wire objects, built without a validation each when checks over the log's columns
    show that every event passes :class:`ExportedEvent`'s validation unchanged: as many events as a seq can
    number, every ``t_s`` an int within its bounds, every kind an :class:`EventKind`, every reason a str, and
    every ``data`` a dict with str keys and exactly its kind's fields (a compact row's data is built with them,
    so the first of each compact kind is checked). None when any event might not (such a log is then validated
    event by event, and so refused or converted exactly as pydantic does). Each event is what
    :meth:`ExportedEvent.model_construct` would make of the validated values (a data dict of its own, every
    field set), without its per-field work."""
    rows = log.rows
    if len(rows) > MAX_SEQ + 1:
        return None
    times, kinds = list(map(_T_S, rows)), list(map(_KIND, rows))
    if rows and not (_all_of_type(int, times) and min(times) >= 0 and max(times) <= MAX_SECONDS
                     and _all_of_type(EventKind, kinds) and _all_of_type(str, map(_REASON, rows))):
        return None
    events = log.dicts()
    for i in compress(count(), map(_STORED_KINDS.__contains__, kinds)):
        data = events[i]["data"]
        if not (type(data) is dict and _all_of_type(str, data) and _fields_error(kinds[i], data) is None):
            return None
        events[i]["data"] = dict(data)
    for kind in COMPACT_FIELDS:
        if kind in kinds and _fields_error(kind, events[kinds.index(kind)]["data"]) is not None:
            return None
    built = []
    for event in events:
        model = _new_event(ExportedEvent)
        _set(model, "__dict__", event)
        _set(model, "__pydantic_fields_set__", _EVENT_FIELDS)
        _set(model, "__pydantic_extra__", None)
        _set(model, "__pydantic_private__", None)
        built.append(model)
    return tuple(built)


def _all_of_type(kind: type, values: Iterable[object]) -> bool:
    """Whether every value is of exactly this type (not a subclass, which pydantic would convert)."""
    return set(map(type, values)) <= {kind}


def _export_refused(error: ValidationError, clock_start: datetime) -> OpenIDDSError:
    """The first value of a log that the wire format does not hold, as the project's error: the field (its place
    in the log, e.g. ``events[12].t_s``), the value, the bound, and what to do."""
    first = error.errors()[0]
    field = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in first["loc"]).lstrip(".")
    bound = first["msg"][0].lower() + first["msg"][1:]
    if first["loc"][-1] == "t_s":
        bound = (f"a time on the pump clock from 0 to {MAX_SECONDS} s (ten years, the wire format's MAX_SECONDS); "
                 f"a pump's clock starts at its own implant (this log's clock_start {clock_start.isoformat()}) and "
                 f"no battery lasts ten years, so export each pump's log on its own clock: a replacement pump is a "
                 f"new pump whose t_s = 0 is its implant")
    else:
        bound += " (the wire format's bounds: docs/wire.md); the log cannot be exported until the pump's value is"
    others = error.error_count() - 1
    return OpenIDDSError(f"pump log {field}", first["input"],
                         bound + (f" ({others} more value{'s' * (others > 1)} of the log out of bounds)" if others
                                  else ""))

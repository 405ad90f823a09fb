"""Scenario files: a pump, a start time, timed events and a horizon, in TOML. See docs/scenarios.md.

Parsing takes the file's text (the command line reads the file); running it drives a :class:`Pump` and
keeps every answer the pump gave, refusals included.
"""

import tomllib
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, StrictInt, StrictStr, ValidationError, model_validator

from openidds.errors import OpenIDDSError
from openidds.pump import wire
from openidds.pump.device import PumpSpec
from openidds.pump.pump import CommandRefused, Pump
from openidds.pump.ticks import SECONDS_PER_DAY

MAX_COUNT = 100_000
"""How often one scenario event may repeat."""


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class ScenarioPump(wire.PumpSetup):
    """The implanted system, and optionally when its battery reaches its elective replacement indicator."""

    battery_eri_at: wire.WireDateTime | None = None


class ScenarioEvent(_Closed):
    """One timed wire command or simulated fault, optionally repeated ``count`` times every ``every_hours``
    or ``every_minutes``."""

    at: wire.WireDateTime
    every_hours: Annotated[StrictInt, Field(ge=1, le=wire.MAX_SECONDS // 3600)] | None = None
    every_minutes: Annotated[StrictInt, Field(ge=1, le=wire.MAX_SECONDS // 60)] | None = None
    count: Annotated[StrictInt, Field(le=MAX_COUNT)] = 1
    note: StrictStr = ""
    command: wire.Command | None = None
    fault: wire.Fault | None = None

    @model_validator(mode="after")
    def _one_action(self) -> "ScenarioEvent":
        if (self.command is None) == (self.fault is None):
            raise ValueError("exactly one of command or fault")
        if self.every_hours is not None and self.every_minutes is not None:
            raise ValueError("give every_hours or every_minutes, not both")
        if self.count < 1 or (self.count > 1 and not self.every_s):
            raise ValueError("count must be at least 1, and a repeated event needs every_hours or every_minutes")
        return self

    @property
    def every_s(self) -> int:
        """The repeat interval in seconds (0 for a single event)."""
        return (self.every_hours or 0) * 3600 + (self.every_minutes or 0) * 60

    @property
    def action(self) -> str:
        """The wire name of the command or fault."""
        action = self.command if self.command is not None else self.fault
        assert action is not None  # the validator requires one
        return action.name


class Scenario(_Closed):
    """A whole scenario file."""

    title: StrictStr
    description: StrictStr = ""
    start: wire.WireDateTime
    horizon_days: StrictInt = Field(ge=1, le=wire.MAX_SECONDS // SECONDS_PER_DAY)
    pump: ScenarioPump = ScenarioPump()
    events: tuple[ScenarioEvent, ...] = ()


def load_scenario(text: str, *, source: str = "scenario") -> Scenario:
    """Parse and validate a TOML scenario; every problem is reported with its location. Decimals in the
    file are read as exact decimals, never floats."""
    try:
        raw = tomllib.loads(text, parse_float=Decimal)
    except tomllib.TOMLDecodeError as error:
        raise OpenIDDSError(source, "TOML", f"valid TOML ({error})") from None
    except RecursionError:
        raise OpenIDDSError(source, "TOML", "TOML nested as a scenario is (this file nests too deep)") from None
    try:
        return Scenario.model_validate(raw)
    except ValidationError as error:
        problems = "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}{_hint(e)} (got {e.get('input')!r})"
                             for e in error.errors())
        raise OpenIDDSError(source, "file", f"a valid scenario: {problems}") from None


def _hint(error: Any) -> str:
    """How to write a whole number, when a decimal (``1e12``, ``24.0``) was given for one."""
    if error["type"] == "int_type" and isinstance(error.get("input"), Decimal):
        return ", written without a decimal point or exponent (24, not 24.0 or 1e12)"
    return ""


class Step:
    """What happened at one scenario event: the command or fault (its wire name), and the pump's answer or
    refusal."""

    __slots__ = ("t_s", "action", "note", "answer", "refusal", "injected")

    def __init__(self, t_s: int, action: str, note: str, answer: object = None, refusal: str | None = None, *,
                 injected: bool = False) -> None:
        self.t_s, self.action, self.note, self.answer, self.refusal = t_s, action, note, answer, refusal
        self.injected = injected


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
        action = event.action
        try:
            if event.command is not None:
                steps.append(Step(t_s, action, event.note, pump.execute(t_s, event.command.to_pump())))
            else:
                assert event.fault is not None
                pump.inject(t_s, event.fault.to_pump())
                steps.append(Step(t_s, action, event.note, injected=True))
        except CommandRefused as refusal:
            steps.append(Step(t_s, action, event.note, refusal=str(refusal), injected=event.fault is not None))
        except OpenIDDSError as error:
            where = "command" if event.command is not None else "fault"
            raise OpenIDDSError(f"events[{order}].{where}.{error.field}", error.value, error.expected) from None
    pump.advance(_seconds(start, start + timedelta(days=scenario.horizon_days), "horizon_days"))
    return ScenarioRun(scenario, pump, steps)


def _spec(scenario: Scenario) -> PumpSpec:
    p = scenario.pump
    eri = None if p.battery_eri_at is None else _seconds(scenario.start, p.battery_eri_at, "pump.battery_eri_at")
    return p.to_pump(scenario.start, eri)


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

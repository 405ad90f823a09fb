"""The pump state file: a pump's description and the journal of timed commands it accepted.

The pump is rebuilt by replaying the journal on a fresh :class:`~openidds.pump.Pump` (the pump is
deterministic, so the replay gives the same pump, log included). The file also keeps every session log
line (refusals and confirmations included). This module reads and writes text; the command line does
the file I/O. Format: docs/programmer.md.
"""

import json
from datetime import datetime, timedelta

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, model_validator

from openidds.errors import OpenIDDSError
from openidds.programmer.errors import ProgrammerError
from openidds.pump import Command, CommandRefused, Pump, PumpSpec, wire
from openidds.pump.ticks import SECONDS_PER_DAY

FORMAT = "openidds-pump-state/2"
_OLD_FORMATS = ("openidds-pump-state/1",)


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JournalEntry(_Closed):
    """One accepted command (a wire command) at ``at_s`` seconds on the pump clock."""

    at_s: int = Field(ge=0, strict=True)
    note: StrictStr = ""
    command: wire.Command


class PumpState(_Closed):
    """The whole file."""

    format: StrictStr = FORMAT
    start: datetime
    pump: wire.PumpSetup = wire.PumpSetup()
    journal: tuple[JournalEntry, ...] = ()
    sessions: tuple[dict, ...] = ()

    @model_validator(mode="after")
    def _ordered(self) -> "PumpState":
        if self.format != FORMAT:
            raise ValueError(f"format {FORMAT!r}")
        times = [e.at_s for e in self.journal]
        if times != sorted(times):
            raise ValueError("journal entries must be in time order (at_s never decreasing)")
        return self

    # ------------------------------------------------------------------ pump

    def spec(self) -> PumpSpec:
        return self.pump.to_pump(self.start)

    def replay(self) -> Pump:
        """A pump rebuilt from the journal (at the time of the last entry)."""
        pump = Pump(self.spec())
        for i, entry in enumerate(self.journal):
            try:
                pump.execute(entry.at_s, to_command(entry))
            except CommandRefused as error:
                raise ProgrammerError(f"journal[{i}]", entry.model_dump(mode="json", exclude_defaults=True),
                                      f"a command the pump accepts on replay ({error})") from None
        return pump

    def pump_log(self, at_s: int | None = None) -> wire.PumpLog:
        """The replayed pump's own log (run on to ``at_s`` when given) in the wire format, ready for
        ``openidds registry import --format pump-log``."""
        pump = self.replay()
        if at_s is not None:
            pump.advance(at_s)
        return wire.export_log(pump.log, self.start)

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
        return self.model_copy(update={"journal": (*self.journal, to_entry(at_s, command, note))})

    def with_sessions(self, lines: list[dict]) -> "PumpState":
        return self.model_copy(update={"sessions": self.sessions + tuple(lines)})


def load_state(text: str, source: str = "state") -> PumpState:
    """Parse and validate a state file; problems are listed with their location."""
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise ProgrammerError(source, "JSON", f"valid JSON ({error.msg} at line {error.lineno})") from None
    if isinstance(raw, dict) and raw.get("format") in _OLD_FORMATS:
        raise ProgrammerError(f"{source}.format", raw["format"], f"{FORMAT}: this file was written before the "
                              "pump's wire format (docs/wire.md). Create a new file with `openidds program init` "
                              "and enter its sessions again, or edit each journal entry into a wire command as "
                              "docs/programmer.md shows")
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
    """The file's text: stable key order, two-space indent; empty notes and absent options left out of
    journal entries."""
    data = state.model_dump(mode="json")
    data["journal"] = [{"at_s": e.at_s, **({"note": e.note} if e.note else {}),
                        "command": e.command.model_dump(mode="json", exclude_none=True)} for e in state.journal]
    return json.dumps(data, indent=2) + "\n"


def to_command(entry: JournalEntry) -> Command:
    """The pump command a journal entry holds."""
    return entry.command.to_pump()


def to_entry(at_s: int, command: Command, note: str = "") -> JournalEntry:
    """A journal entry for a command the pump accepted."""
    try:
        return JournalEntry(at_s=at_s, note=note, command=wire.command_to_wire(command))
    except OpenIDDSError as error:
        raise ProgrammerError(error.field, error.value, "a command the state file can journal") from None

"""Pump state files on the command line: read, rebuild the pump, write back whole, signed with the clinic's
state key; dates and forecasts as text.

Shared by `openidds program`, `openidds refill` and `openidds pump log`. The programmer and the drug library are
imported when a command runs, so `--help` does not pay for them.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from openidds.cli.output import write_atomic
from openidds.state_key import KEY_FILE_ENV, read_key

if TYPE_CHECKING:
    from openidds.drugs import DrugLibrary
    from openidds.programmer import PumpState, RefillForecast
    from openidds.pump import Pump


def read_text(path: Path, field: str, what: str) -> str:
    """The file's text; an unreadable file is refused under ``field`` as not ``a readable <what> file``."""
    from openidds.programmer import ProgrammerError

    try:
        return path.read_text(encoding="utf-8")
    except OSError as error:
        raise ProgrammerError(field, str(path), f"a readable {what} file ({error.strerror})") from None


KeyFileOption = Annotated[Path | None, typer.Option(
    "--key-file", help=f"The clinic's state key, which signs state files (default: ${KEY_FILE_ENV}, else "
                       "~/.config/openidds/state.key).")]


def read_state(path: Path, key_file: Path | None = None) -> PumpState:
    """Read, decode (UTF-8; UTF-8 or UTF-16 with a byte-order mark), verify against the clinic's key, validate."""
    from openidds.programmer import ProgrammerError, load_state
    from openidds.programmer.state_file import decode_state

    try:
        data = path.read_bytes()
    except OSError as error:
        raise ProgrammerError("state", str(path), f"a readable pump state file ({error.strerror})") from None
    return load_state(decode_state(data, str(path)), str(path), key=read_key(key_file))


def write_state(path: Path, state: PumpState, key_file: Path | None = None) -> None:
    """Write the whole file, signed, or nothing."""
    from openidds.programmer import dump_state

    write_atomic(path, dump_state(state, read_key(key_file)).encode("utf-8"))


def library_from(path: Path | None) -> DrugLibrary:
    """The shipped drug library, or a clinic's own file."""
    from openidds.drugs import default_library, load_library

    if path is None:
        return default_library()
    return load_library(read_text(path, "--library", "drug-library"), str(path))


def parse_at(state: PumpState, text: str | None, field: str = "--at") -> int:
    """``--at`` as seconds on the pump clock (default: the last journal entry)."""
    from openidds.programmer import ProgrammerError

    if text is None:
        return state.last_s()
    try:
        at = datetime.fromisoformat(text)
    except ValueError:
        raise ProgrammerError(field, text, "an ISO local date-time such as 2026-02-01T09:00") from None
    return state.seconds(at, field)


def open_pump(path: Path, at: str | None, key_file: Path | None = None) -> tuple[PumpState, Pump, int]:
    """Read the state file, rebuild the pump by replaying its journal, and read ``--at`` on its clock."""
    state = read_state(path, key_file)
    pump = state.replay()
    return state, pump, parse_at(state, at)


def when(state: PumpState, t_s: int | None) -> str:
    return "never (10 years)" if t_s is None else f"{state.when(t_s):%a %d %b %Y %H:%M}"


def forecast_lines(state: PumpState, fc: RefillForecast) -> list[str]:
    """The refill forecast as text lines."""
    from openidds.programmer import plain_decimal
    from openidds.pump.ticks import decimal_text

    days = "" if fc.due_s is None else f" (in {(fc.due_s - fc.at_s) / 86400:.1f} days)"
    lines = [f"refill due: {when(state, fc.due_s)}{days}, set by {fc.limited_by or 'nothing'}",
             f"  volume date (every allowed bolus, +{plain_decimal(fc.accuracy.value)} % accuracy margin "
             f"{fc.accuracy.tag.split(' ')[0]}, down to {plain_decimal(fc.low_reservoir_ml)} mL): "
             f"{when(state, fc.volume_due_s)}; worst case {decimal_text(fc.worst_ml_per_day, 3)} mL/day",
             f"  stability date: {when(state, fc.stability.due_s)} ({'; '.join(fc.stability.reasons)})",
             f"  low-reservoir alarm at the basal rate, no boluses: {when(state, fc.alarm_s)}"]
    if fc.relies_on_unverified:
        lines.append("  uses at least one unverified [R] number (see docs/programmer.md)")
    return lines

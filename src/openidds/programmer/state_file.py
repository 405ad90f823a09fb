"""The pump state file: a pump's description and the journal of timed commands it accepted.

The pump is rebuilt by replaying the journal on a fresh :class:`~openidds.pump.Pump` (the pump is
deterministic, so the replay gives the same pump, log included). The file also keeps every session log
line (refusals and confirmations included); each journal entry belongs to the ``transmitted`` line of the
session that sent it. The file is signed with the clinic's key (HMAC-SHA256), so a hand edit is refused.
This module reads and writes text and bytes; the command line does the file I/O and holds the key.
Format: docs/programmer.md.
"""

import codecs
import difflib
import hashlib
import hmac
import json
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, StrictStr, ValidationError, model_validator

from openidds.errors import OpenIDDSError
from openidds.programmer.errors import ProgrammerError
from openidds.programmer.session import ProgrammingSession
from openidds.pump import Command, CommandRefused, Pump, PumpSpec, wire
from openidds.pump.ticks import SECONDS_PER_DAY

FORMAT = "openidds-pump-state/3"
_BEFORE_WIRE = "openidds-pump-state/1"
_UNSIGNED = "openidds-pump-state/2"
SENT = "transmitted"
"""The session-log kind of the line that records a command sent to the pump."""
KEY_BYTES = 32
_START_AGAIN = ("create a new file with `openidds program init` and enter its sessions again, or restore the "
                "file from a backup")


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class JournalEntry(_Closed):
    """One accepted command (a wire command) at ``at_s`` seconds on the pump clock."""

    at_s: int = Field(ge=0, strict=True)
    note: StrictStr = ""
    command: wire.Command


class PumpState(_Closed):
    """The whole file (less its checksum, which :func:`dump_state` writes and :func:`load_state` checks)."""

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

    def with_session(self, lines: Sequence[dict], command: Command | None = None, note: str = "") -> "PumpState":
        """Append a session's log lines and, when it sent ``command``, the command's journal entry.

        A session that sent a command has exactly one ``transmitted`` line; the entry takes its time, and the
        line is stamped with the command (``{"name", "sha256"}``) so that the entry can be traced to it.
        """
        if command is None:
            return self.model_copy(update={"sessions": self.sessions + tuple(lines)})
        sent = [i for i, line in enumerate(lines) if line.get("kind") == SENT]
        if len(sent) != 1:
            raise ProgrammerError("session", [line.get("kind") for line in lines],
                                  f"one {SENT!r} line for the command the session sent")
        at_s = lines[sent[0]]["at_s"]
        if at_s < self.last_s():
            raise ProgrammerError("at", self.when(at_s).isoformat(), "a time at or after the last journal entry, "
                                  f"{self.when(self.last_s()).isoformat()}")
        entry = to_entry(at_s, command, note)
        stamped = [line | {"command": _stamp(entry.command)} if i == sent[0] else line for i, line in enumerate(lines)]
        return self.model_copy(update={"journal": (*self.journal, entry), "sessions": self.sessions + tuple(stamped)})

    def with_programmer(self, session: ProgrammingSession, note: str = "") -> "PumpState":
        """Append a programming session's log (each line named ``clinician@at_s``) and, when it sent a command,
        the command's journal entry."""
        lines = [e.to_dict() | {"session": f"{session.clinician}@{session.at_s}"} for e in session.log]
        return self.with_session(lines, session.sent, note)

    def with_sent(self, at_s: int, command: Command, who: str, reason: str, note: str = "") -> "PumpState":
        """A command sent outside a programming session (a patient's press, a surgical revision): its journal
        entry and the one ``transmitted`` line that records who sent it and why."""
        line = {"at_s": at_s, "kind": SENT, "who": who, "reason": reason, "data": {}, "session": f"{who}@{at_s}"}
        return self.with_session([line], command, note)


# ---------------------------------------------------------------------- reading


def decode_state(data: bytes, source: str = "state") -> str:
    """The file's text: UTF-8, or UTF-8 or UTF-16 with a byte-order mark; any other byte is refused with its
    line and position."""
    if data.startswith(codecs.BOM_UTF8):
        encoding, body, skipped = "utf-8", data[len(codecs.BOM_UTF8):], len(codecs.BOM_UTF8)
    elif data.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        encoding = "utf-16-le" if data.startswith(codecs.BOM_UTF16_LE) else "utf-16-be"
        body, skipped = data[2:], 2
    else:
        encoding, body, skipped = "utf-8", data, 0
    try:
        return body.decode(encoding)
    except UnicodeDecodeError as error:
        at = error.start
        newline = "\n".encode(encoding)
        line = body.count(newline, 0, at) + 1
        line_start = body.rfind(newline, 0, at)
        column = at + 1 if line_start < 0 else at - line_start - len(newline) + 1
        raise ProgrammerError(source, f"byte 0x{body[at]:02x} at line {line}, byte {column} "
                              f"(file offset {skipped + at})",
                              f"a {encoding.upper()} text file (UTF-8, or UTF-8 or UTF-16 with a byte-order mark): "
                              "the file was saved in another encoding; save it again as UTF-8, or restore it "
                              "from a backup") from None


def load_state(text: str, source: str = "state", *, key: bytes | None = None) -> PumpState:
    """Parse and validate a state file; problems are listed with their location.

    With the clinic's ``key`` the checksum is verified first and a mismatch names the parts that changed;
    without it only the checksum's presence and form are checked (the command line always passes the key).
    """
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as error:
        raise ProgrammerError(source, "JSON", f"valid JSON ({error.msg} at line {error.lineno})") from None
    if not isinstance(raw, dict):
        raise ProgrammerError(source, type(raw).__name__, "a JSON object (a pump state file)")
    _refuse_old_format(raw, source)
    body = {k: v for k, v in raw.items() if k != "checksum"}
    if "checksum" not in raw:
        raise ProgrammerError(f"{source}.checksum", None, "the checksum `openidds program` writes: a state file "
                              "written or edited by hand is refused; " + _START_AGAIN)
    try:
        checksum = Checksum.model_validate(raw["checksum"])
    except ValidationError as error:
        raise ProgrammerError(f"{source}.checksum", "malformed", f"a checksum as `openidds program` writes it "
                              f"({_problems(error)}); {_START_AGAIN}") from None
    if key is not None:
        _verify(body, checksum, key, source)
    return new_state(body, source)


def new_state(content: dict, source: str = "state") -> PumpState:
    """A state from a file's content (everything but its checksum), validated as a file is: problems are listed
    with their location, the pump description is checked, and every journal entry needs its session line."""
    try:
        state = PumpState.model_validate(content)
    except ValidationError as error:
        raise ProgrammerError(source, "file", f"a valid pump state file ({_problems(error)})") from None
    try:
        state.spec()
    except OpenIDDSError as error:
        raise ProgrammerError(f"{source}.pump.{error.field}", error.value, error.expected) from None
    _require_sessions(state, source)
    return state


def _refuse_old_format(raw: dict, source: str) -> None:
    if raw.get("format") == _BEFORE_WIRE:
        raise ProgrammerError(f"{source}.format", raw["format"], f"{FORMAT}: this file was written before the "
                              "pump's wire format (docs/wire.md). Create a new file with `openidds program init` "
                              "and enter its sessions again")
    if raw.get("format") == _UNSIGNED:
        raise ProgrammerError(f"{source}.format", raw["format"], f"{FORMAT}: this file was written before state "
                              "files were signed, so its content cannot be trusted. Create a new file with "
                              "`openidds program init` and enter its sessions again")


def _problems(error: ValidationError) -> str:
    return "; ".join(f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}" for e in error.errors())


def _require_sessions(state: PumpState, source: str) -> None:
    """Every journal entry matches a ``transmitted`` session line at its time stamped with its command."""
    unused = [line for line in state.sessions if line.get("kind") == SENT]
    for i, entry in enumerate(state.journal):
        stamp = _stamp(entry.command)
        match = next((line for line in unused if line.get("at_s") == entry.at_s and line.get("command") == stamp), None)
        if match is None:
            raise ProgrammerError(f"{source}.journal[{i}]", f"{entry.command.name} at_s={entry.at_s}",
                                  f"a command sent in a session: a {SENT!r} session line at the same time naming "
                                  f"this command (none found); {_START_AGAIN}")
        unused.remove(match)


# ---------------------------------------------------------------------- writing


def state_content(state: PumpState) -> dict:
    """The file's content as JSON values, everything but its checksum (empty notes and absent options left out
    of journal entries): what :func:`dump_state` signs and :func:`new_state` reads back."""
    data = state.model_dump(mode="json")
    data["journal"] = [{"at_s": e.at_s, **({"note": e.note} if e.note else {}),
                        "command": e.command.model_dump(mode="json", exclude_none=True)} for e in state.journal]
    return data


def dump_state(state: PumpState, key: bytes) -> str:
    """The file's text, signed with the clinic's ``key``: stable key order, two-space indent."""
    data = state_content(state)
    data["checksum"] = _sign(data, key).model_dump(mode="json")
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


# ---------------------------------------------------------------------- checksum


class Checksum(_Closed):
    """The file's signature: an HMAC-SHA256 of everything else in the file, and a short SHA-256 digest of each
    value (by its path) so that a mismatch can name what changed."""

    algorithm: Literal["HMAC-SHA256"] = "HMAC-SHA256"
    hmac_sha256: StrictStr
    pump: dict[StrictStr, StrictStr]
    journal: tuple[dict[StrictStr, StrictStr], ...]
    sessions: tuple[StrictStr, ...]


def _sign(body: dict, key: bytes) -> Checksum:
    """The checksum of a file's content (everything but ``checksum``, as written)."""
    _require_key(key)
    return Checksum(hmac_sha256=_mac(body, key), pump=_leaves(_head(body)),
                    journal=tuple(_leaves(e) for e in _list(body, "journal")),
                    sessions=tuple(_digest(line) for line in _list(body, "sessions")))


def _verify(body: dict, checksum: Checksum, key: bytes, source: str) -> None:
    _require_key(key)
    if hmac.compare_digest(_mac(body, key), checksum.hmac_sha256):
        return
    found = _sign(body, key)
    changes = _changed_values("", checksum.pump, found.pump)
    changes += _changed_items("journal", checksum.journal, found.journal)
    changes += _changed_items("sessions", checksum.sessions, found.sessions)
    if changes:
        value = "; ".join(changes)
        why = "the file was edited after `openidds program` signed it (or signed with another key)"
    else:
        value = "checksum"
        why = "no part differs from its signed digest: the file was signed with another key, or its checksum edited"
    raise ProgrammerError(source, value, f"a state file as `openidds program` signed it: {why}. Pass the "
                          "--key-file it was signed with, or restore the file from a backup, or create a new file "
                          "with `openidds program init` and enter its sessions again")


def _changed_values(prefix: str, signed: dict[str, str], found: dict[str, str]) -> list[str]:
    """What differs between two path -> digest maps, e.g. 'journal[3].command.volume_ml changed'."""
    changes = []
    for path in sorted(signed.keys() | found.keys(), key=lambda p: (p not in signed, p)):
        name = f"{prefix}.{path}" if prefix else path
        if path not in found:
            changes.append(f"{name} removed")
        elif path not in signed:
            changes.append(f"{name} added")
        elif signed[path] != found[path]:
            changes.append(f"{name} changed")
    return changes


def _changed_items(section: str, signed: Sequence, found: Sequence) -> list[str]:
    """What differs between the signed and found items of a list: entries changed, removed or added."""
    changes = []
    matcher = difflib.SequenceMatcher(a=[_digest(s) for s in signed], b=[_digest(f) for f in found], autojunk=False)
    for op, a0, a1, b0, b1 in matcher.get_opcodes():
        if op == "equal":
            continue
        if op == "replace" and a1 - a0 == b1 - b0:
            for i, j in zip(range(a0, a1), range(b0, b1), strict=True):
                if isinstance(signed[i], dict):
                    changes += _changed_values(f"{section}[{j}]", signed[i], found[j])
                else:
                    changes.append(f"{section}[{j}] changed")
            continue
        either = " or changed" if op == "replace" else ""
        changes += [f"{section}[{i}] (as signed) removed{either}" for i in range(a0, a1)]
        changes += [f"{section}[{j}] added{either}" for j in range(b0, b1)]
    return changes


def _head(body: dict) -> dict:
    return {k: v for k, v in body.items() if k not in ("journal", "sessions")}


def _list(body: dict, name: str) -> list:
    value = body.get(name, [])
    return value if isinstance(value, list) else [value]


def _leaves(value: object, path: str = "") -> dict[str, str]:
    """A digest of each scalar in ``value`` by its path ('command.therapy.program.rate_ml_per_day')."""
    if isinstance(value, dict) and value:
        out: dict[str, str] = {}
        for k, v in value.items():
            out |= _leaves(v, f"{path}.{k}" if path else str(k))
        return out
    if isinstance(value, list) and value:
        out = {}
        for i, v in enumerate(value):
            out |= _leaves(v, f"{path}[{i}]")
        return out
    return {path: _digest(value)}


def _canonical(value: object) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode("utf-8")


def _digest(value: object) -> str:
    return hashlib.sha256(_canonical(value)).hexdigest()[:16]


def _mac(body: dict, key: bytes) -> str:
    return hmac.new(key, _canonical(body), hashlib.sha256).hexdigest()


def _stamp(command: wire.Command) -> dict[str, str]:
    """What a ``transmitted`` session line records of the command it sent."""
    return {"name": command.name,
            "sha256": hashlib.sha256(_canonical(command.model_dump(mode="json", exclude_none=True))).hexdigest()}


def _require_key(key: bytes) -> None:
    if not isinstance(key, bytes) or len(key) != KEY_BYTES:
        raise ProgrammerError("key", f"{len(key)} bytes" if isinstance(key, bytes) else type(key).__name__,
                              f"the clinic's state key: {KEY_BYTES} bytes")

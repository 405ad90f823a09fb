"""Importing a pump's own event log: the log as the pump exports it (:class:`openidds.pump.wire.PumpLog`).

Events are stored as the pump wrote them (``pump_events``), linked to the implant, each at the absolute time
its ``t_s`` gives from the log's ``clock_start``. A log is append-only, so re-importing it adds only the
events not yet stored; an event whose ``seq`` is stored with other content is an error (a different pump, or a
corrupted log), as is an event outside the implant's life or after death. :func:`stored_pump_log` reads the
stored events back as a pump log, so the pump's totals can be rebuilt from the registry.
"""

from __future__ import annotations

import datetime as dt
import itertools
import json
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from json.encoder import c_make_encoder, encode_basestring_ascii  # type: ignore[attr-defined]
from operator import attrgetter, lt
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
from pydantic import ValidationError
from pydantic_core import TzInfo
from sqlalchemy import Connection, Engine, insert, select
from sqlalchemy.orm import Session

from openidds.clinic import (
    alarms,
    audit,
    audit_chain,
    audit_pump_logs,
    bulk,
    locking,
    models,
    store,
    utc_times,
    validation,
)
from openidds.clinic.database import unit_of_work
from openidds.clinic.errors import ImportRejected, RegistryError
from openidds.clinic.findings import Finding
from openidds.pump.events import EventKind
from openidds.pump.wire import WIRE_VERSION, ExportedEvent, PumpLog
from openidds.text_files import read_text


def _no_constant(name: str) -> object:
    raise RegistryError("pump log", name, "finite numbers: JSON has no NaN or Infinity; export the log again")


def decode_log(text: str, source: str) -> Any:
    """The JSON of a pump log; invalid JSON, NaN and Infinity are refused."""
    try:
        return json.loads(text, parse_constant=_no_constant)
    except json.JSONDecodeError as exc:
        raise RegistryError("pump log", source, f"valid JSON ({exc})") from None
    except RecursionError:
        raise RegistryError("pump log", source, "JSON nested as a pump log is (this file nests too deep)") from None


def parse_log(raw: Any, source: str) -> tuple[PumpLog | None, list[Finding]]:
    """Validate a decoded JSON pump log; every bad event is reported with its index."""
    if not isinstance(raw, dict):
        return None, [Finding("log-shape", source, f"a pump log as openidds exports it: an object with "
                              f"wire_version {WIRE_VERSION}, clock_start and events (a bare list of events is the "
                              f"old format: export the log again with `openidds pump simulate SCENARIO --json`)",
                              source)]
    try:
        log = PumpLog.model_validate(raw)
    except ValidationError as exc:
        findings = []
        for error in exc.errors():
            loc = error["loc"]
            label = f"event {loc[1]}" if loc[:1] == ("events",) and len(loc) > 1 else source
            where = ".".join(str(p) for p in loc)
            findings.append(Finding("event" if label != source else "log-shape", label, f"{where}: {error['msg']}",
                                    source))
        return None, findings
    return log, _order_findings(log, source)


_SEQ = attrgetter("seq")


def _order_findings(log: PumpLog, source: str) -> list[Finding]:
    """A finding for each event whose seq does not follow the previous one's."""
    seqs = list(map(_SEQ, log.events))
    if all(map(lt, seqs, itertools.islice(seqs, 1, None))):
        return []
    return [Finding("event-order", f"event seq {b}", f"seq {b} follows {a}: expected strictly increasing", source)
            for a, b in itertools.pairwise(seqs) if b <= a]


@dataclass(frozen=True)
class PumpLogImport:
    """One implant's pump log to import: the log as parsed wire object, the file holding its JSON (read with
    ``encoding``, default UTF-8 or as its byte-order mark says), or a function that exports it when the import
    reaches it (a bulk import then holds a block of logs at a time); and the implant it came from."""

    log: PumpLog | Path | Callable[[], PumpLog]
    site: str
    patient_id: str
    implant_date: dt.date
    encoding: str | None = None

    @property
    def label(self) -> str:
        """The log's name in findings and, by default, in the audit trail: the file name, or the implant."""
        if isinstance(self.log, Path):
            return self.log.name
        return f"pump log {self.site}/{self.patient_id} {self.implant_date.isoformat()}"

    def parsed(self) -> tuple[PumpLog | None, list[Finding]]:
        """The log validated as :func:`parse_log` does (a parsed log: its events' order checked)."""
        if isinstance(self.log, Path):
            return parse_log(decode_log(read_text(self.log, self.encoding), self.label), self.label)
        log = self.log if isinstance(self.log, PumpLog) else self.log()
        return log, _order_findings(log, self.label)


def import_pump_log(engine: Engine, path: Path, site: str, patient_id: str, implant_date: dt.date,
                    user: str, encoding: str | None = None) -> int:
    """Store the new events of the log at ``path`` for the patient's implant of ``implant_date``;
    returns how many were added. Raises :class:`ImportRejected` (nothing written) on any bad event."""
    [added] = import_pump_logs(engine, [PumpLogImport(path, site, patient_id, implant_date, encoding)], user)
    return added


def import_pump_logs(engine: Engine, logs: Sequence[PumpLogImport], user: str, source: str | None = None
                     ) -> list[int]:
    """Store the new events of many implants' logs in one transaction, with the checks and audit entries of
    :func:`import_pump_log`; returns how many events each log added. The patients' records are read under
    the lock imports take (:func:`openidds.clinic.locking.locked_snapshot`). ``source`` names the import in
    the audit trail (default: each log's :attr:`PumpLogImport.label`). The logs are read, checked and written a
    block at a time (:data:`EVENTS_PER_BLOCK`), so that a bulk import holds one block's events in memory, not
    every log's. Raises :class:`ImportRejected` with the findings of every log, writing nothing (the
    transaction is rolled back), if any event of any log is bad."""
    name = source or (logs[0].label if len(logs) == 1 else f"{len(logs)} pump logs")
    for item in logs:
        validation.check_author(user, source or item.label)
    if not logs:
        return []
    findings: list[Finding] = []
    with bulk.collector_paused(), unit_of_work(engine, user, source=name) as session:
        implants = _implants(session, logs)
        stored = _stored_events(session, [implant.id for implant in implants])
        repeated = {i for i, n in Counter(implant.id for implant in implants).items() if n > 1}
        block = _Block(session.connection())
        added: list[int] = []
        for item, implant in zip(logs, implants, strict=True):
            log, found = item.parsed()
            findings += found
            if log is None:
                count = 0
            elif implant.id in stored or implant.id in repeated:
                count = _new_events(item, log, implant, stored.setdefault(implant.id, {}), findings, block)
            else:
                count = _all_new_events(item, log, implant, findings, block)
            added.append(count)
            block.logs.append((source or item.label, implant.id, count))
            if findings:
                block.clear()  # nothing will be written: only the checks go on
            elif block.events >= EVENTS_PER_BLOCK:
                block.write()
        if findings:
            raise ImportRejected(name, findings)
        block.write()
        _audit_logs(session.connection(), user, audit.now_utc(session.info), block.sealed)
        alarms.derive_alarms(session, {implant.id for implant in implants})
        return added


EVENTS_PER_BLOCK = 100_000
"""How many events an import gathers (whole logs at a time) before it writes them."""


class _Block:
    """The events of whole logs gathered for one write, column by column, and what the writes so far sealed."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.sealed: list[tuple[str, int, dict[str, Any]]] = []
        """Each written log that added events: ``(source, implant id, its audit entry's after)``."""
        self.clear()

    def clear(self) -> None:
        """Drop the gathered events (the sealed logs stay)."""
        self.columns: dict[str, list[Any]] = {key: [] for key in _EVENT_COLUMNS}
        self.times: list[npt.NDArray[np.int64]] = [np.empty(0, dtype=np.int64)]
        self.logs: list[tuple[str, int, int]] = []
        """Each gathered log as ``(source, implant id, events added)``, in the order its events were added."""

    @property
    def events(self) -> int:
        """How many events are gathered."""
        return len(self.columns["seq"])

    def write(self) -> None:
        """Insert the gathered events, seal each log's by its digest (:mod:`openidds.clinic.audit_pump_logs`) and
        start a new block."""
        columns, conn = self.columns, self.conn
        table = bulk.table_of(models.PumpEvent)
        at = utc_times.UtcTimes(np.concatenate(self.times))
        data_json = list(map(_data_json, columns["data"]))
        stored_data = data_json
        # the JSON type writes json.dumps' text unless its engine was given another serializer: then it encodes
        if columns["data"] and bulk.stored_value(conn, table, "data", columns["data"][0]) != stored_data[0]:
            stored_data = [bulk.stored_value(conn, table, "data", data) for data in columns["data"]]
        stored_at: list[Any]
        encoded: tuple[str, ...]
        if bulk.stores_iso_text(table.c.at.type, conn.dialect):
            stored_at, encoded = at.isoformat(" ", "microseconds"), ("at", "data")
        else:
            stored_at, encoded = at.datetimes(), ("data",)
        ids = bulk.insert_columns_with_ids(conn, table, {**columns, "at": stored_at, "data": stored_data},
                                           {"version": 1}, ("implant_id", "seq"), encoded=encoded, copy=True)
        lines = audit_pump_logs.event_lines((ids, columns["implant_id"], columns["seq"], at.isoformat(),
                                             columns["kind"], columns["reason"], data_json, [1] * len(ids)))
        start = 0
        for log_source, implant_id, count in self.logs:
            part = slice(start, start + count)
            start += count
            if count:
                self.sealed.append((log_source, implant_id, audit_pump_logs.log_entry(
                    implant_id, ids[part], audit_pump_logs.lines_digest(lines[part]))))
        self.clear()


def _audit_logs(conn: Connection, user: str, at: dt.datetime, sealed: list[tuple[str, int, dict[str, Any]]]
                ) -> None:
    """One audit entry per log that added events: ``(source, implant id, after)`` (see :class:`_Block`)."""
    entries = []
    for log_source, implant_id, after in sealed:
        entries += audit.audit_rows(user, at, audit_pump_logs.ACTION, "pump_events", [(implant_id, None, after)],
                                    log_source)
    if entries:
        audit_chain.hold_chain(conn)
        conn.execute(insert(models.AuditEntry), entries)
        audit_chain.seal(conn, len(entries))


def _json_dumps() -> Callable[[Any], str]:
    """``json.dumps`` with its default options, as one encoder made once (``json.dumps`` makes a new C encoder for
    every call); where json has no C encoder, ``json.dumps`` itself."""
    if c_make_encoder is None:
        return json.dumps
    markers: dict[int, Any] = {}
    encode = c_make_encoder(markers, json.JSONEncoder().default, encode_basestring_ascii, None, ": ", ", ", False,
                            False, True)

    def dumps(data: Any) -> str:
        try:
            return "".join(encode(data, 0))
        except BaseException:
            markers.clear()  # the containers being encoded when it failed
            raise

    return dumps


_data_json = _json_dumps()
"""``json.dumps(data)``: the text the registry's ``data`` column stores, and the one an event's digest holds."""


_EVENT_COLUMNS = ("implant_id", "seq", "kind", "reason", "data")
"""The columns an import gathers event by event; ``at`` is written from the events' times, gathered apart
(:class:`openidds.clinic.utc_times.UtcTimes`)."""


@dataclass(frozen=True)
class _Implant:
    """What the checks of a pump log read of its implant."""

    id: int
    implant_date: dt.date
    explant_date: dt.date | None
    death_date: dt.date | None


def _implants(session: Session, logs: Sequence[PumpLogImport]) -> list[_Implant]:
    """The implant of each log, read with its patient's records under the import lock."""
    locking.begin_write(session.connection())
    ids = store.patient_ids_for(session, {(item.site, item.patient_id) for item in logs})
    snapshot = locking.locked_snapshot(session, ids.values())
    explants = {record.db_id: record.get("explant_date") for record in snapshot.records
                if record.spec.name == "implants"}
    deaths = {record.patient: record.get("death_date") for record in snapshot.records if record.spec.name == "exits"}
    out = []
    for item in logs:
        patient = (item.site, item.patient_id)
        implant_id = snapshot.implant_ids.get((patient, item.implant_date))
        if implant_id is None:
            raise RegistryError("implant", f"{item.site}/{item.patient_id} {item.implant_date}",
                                "an implant in the registry")
        out.append(_Implant(implant_id, item.implant_date, explants[implant_id], deaths.get(patient)))
    return out


StoredEvent = tuple[dt.datetime, str, str, Any]


def _stored_events(session: Session, implant_ids: list[int]) -> dict[int, dict[int, StoredEvent]]:
    """The stored events of the implants: by implant id, then by seq, as ``(at, kind, reason, data)``."""
    out: dict[int, dict[int, StoredEvent]] = {}
    e = models.PumpEvent
    for chunk in store.chunks(sorted(set(implant_ids))):
        for implant_id, seq, at, kind, reason, data in session.execute(
                select(e.implant_id, e.seq, e.at, e.kind, e.reason, e.data).where(e.implant_id.in_(chunk))):
            out.setdefault(implant_id, {})[seq] = (at, kind, reason, data)
    return out


def _label(item: PumpLogImport, seq: int) -> str:
    return f"pump event {item.site}/{item.patient_id} seq {seq}"


def _outside(item: PumpLogImport, implant: _Implant, seq: int, at: dt.datetime) -> Finding:
    end = implant.explant_date or implant.death_date
    return Finding("within-implant", _label(item, seq), f"at={at.isoformat()} is outside the implant "
                   f"({implant.implant_date} to {end or 'now'})", item.label)


def _life(implant: _Implant) -> tuple[dt.datetime, dt.datetime | None]:
    """The implant's life as times: an event is within it when ``first <= at`` and (``end`` None or) ``at < end``,
    i.e. on a day from the implant's to its explant's or the patient's death's, whichever is first."""
    ends = [day for day in (implant.explant_date, implant.death_date) if day]
    end = dt.datetime.combine(min(ends) + dt.timedelta(days=1), dt.time()) if ends else None
    return dt.datetime.combine(implant.implant_date, dt.time()), end


def _new_events(item: PumpLogImport, log: PumpLog, implant: _Implant, stored: dict[int, StoredEvent],
                findings: list[Finding], block: _Block) -> int:
    """Add to ``block`` (the events' times as microseconds: :mod:`openidds.clinic.utc_times`) the log's events not
    yet in ``stored`` (which they join); a finding for each event outside the implant's life or in conflict with a
    stored one. Returns how many were added."""
    first, end = _life(implant)
    added: list[int] = []
    for event in log.events:
        at = log.at(event.t_s)
        if at < first or (end is not None and at >= end):
            findings.append(_outside(item, implant, event.seq, at))
        content = (at, event.kind.value, event.reason, event.data)
        old = stored.get(event.seq)
        if old is None:
            stored[event.seq] = content
            _add_event(block.columns, implant.id, event.seq, *content[1:])
            added.append(utc_times.micros(at))
        elif old != content:
            findings.append(Finding("event-conflict", _label(item, event.seq), "a different event with this seq is "
                                    "stored", item.label))
    block.times.append(np.array(added, dtype=np.int64))
    return len(added)


def _add_event(columns: dict[str, list[Any]], implant_id: int, seq: int, kind: str, reason: str, data: Any) -> None:
    columns["implant_id"].append(implant_id)
    columns["seq"].append(seq)
    columns["kind"].append(kind)
    columns["reason"].append(reason)
    columns["data"].append(data)


_KIND_TEXT = {kind: kind.value for kind in EventKind}
_EVENT_FIELDS = attrgetter("seq", "t_s", "kind", "reason", "data")
_FIXED_OFFSETS = (dt.timezone, TzInfo)
"""Time zones whose UTC offset never changes: a log on such a clock gives each event's UTC time as the clock's
start in UTC plus its ``t_s``."""


def _all_new_events(item: PumpLogImport, log: PumpLog, implant: _Implant, findings: list[Finding],
                    block: _Block) -> int:
    """:func:`_new_events` for an implant with no stored events and no other log in the import: every event is new
    (a log's seqs strictly increase, or its order findings refuse the import). The events' times are reckoned
    in whole microseconds and checked against the implant's life as such."""
    events = log.events
    if not events:
        return 0
    seqs, seconds, kinds, reasons, data = zip(*map(_EVENT_FIELDS, events), strict=True)
    if isinstance(log.clock_start.tzinfo, _FIXED_OFFSETS):
        micros = utc_times.of_seconds(log.at(0), seconds)
    else:
        micros = np.array([utc_times.micros(log.at(t_s)) for t_s in seconds], dtype=np.int64)
    first, end = _life(implant)
    if micros.min() < utc_times.micros(first) or (end is not None and micros.max() >= utc_times.micros(end)):
        last = end or dt.datetime.max
        findings += [_outside(item, implant, seq, at) for seq, at in zip(seqs, utc_times.UtcTimes(micros).datetimes(),
                                                                         strict=True) if not first <= at < last]
    block.times.append(micros)
    columns = block.columns
    columns["implant_id"] += [implant.id] * len(events)
    columns["seq"] += seqs
    columns["kind"] += map(_KIND_TEXT.__getitem__, kinds)
    columns["reason"] += reasons
    columns["data"] += data
    return len(events)


def stored_pump_log(engine: Engine, site: str, patient_id: str, implant_date: dt.date) -> PumpLog:
    """The implant's stored pump events as a pump log again; its clock starts at the first event (the
    pump's implant event, t_s = 0)."""
    with unit_of_work(engine, "reader") as session:
        implant = _implant(session, site, patient_id, implant_date)
        rows = list(session.scalars(select(models.PumpEvent).where(models.PumpEvent.implant_id == implant.id)
                                    .order_by(models.PumpEvent.seq)))
        if not rows or rows[0].seq != 0:
            raise RegistryError("pump events", f"{site}/{patient_id} {implant_date}",
                                "a stored pump log starting at its implant event (seq 0)")
        start = rows[0].at
        events = tuple(ExportedEvent(seq=r.seq, t_s=int((r.at - start).total_seconds()), kind=r.kind,
                                     reason=r.reason, data=r.data) for r in rows)
    return PumpLog(wire_version=WIRE_VERSION, clock_start=start.replace(tzinfo=dt.UTC), events=events)


def _implant(session: Any, site: str, patient_id: str, implant_date: dt.date) -> models.Implant:
    implant = session.execute(
        select(models.Implant).join(models.Patient).join(models.Site)
        .where(models.Site.code == site, models.Patient.patient_code == patient_id,
               models.Implant.implant_date == implant_date)).scalar_one_or_none()
    if implant is None:
        raise RegistryError("implant", f"{site}/{patient_id} {implant_date}", "an implant in the registry")
    return implant

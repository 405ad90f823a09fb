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
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from sqlalchemy import Engine, Table, select

from openidds.clinic import audit, bulk, models
from openidds.clinic.database import unit_of_work
from openidds.clinic.errors import ImportRejected, RegistryError
from openidds.clinic.findings import Finding
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
    seqs = [e.seq for e in log.events]
    findings = [Finding("event-order", f"event seq {b}", f"seq {b} follows {a}: expected strictly increasing",
                        source) for a, b in itertools.pairwise(seqs) if b <= a]
    return log, findings


def import_pump_log(engine: Engine, path: Path, site: str, patient_id: str, implant_date: dt.date,
                    user: str, encoding: str | None = None) -> int:
    """Store the new events of the log at ``path`` for the patient's implant of ``implant_date``;
    returns how many were added. Raises :class:`ImportRejected` (nothing written) on any bad event."""
    source = path.name
    raw = decode_log(read_text(path, encoding), source)
    log, findings = parse_log(raw, source)
    if log is None:
        raise ImportRejected(source, findings)
    with unit_of_work(engine, user, source=source) as session:
        implant = _implant(session, site, patient_id, implant_date)
        exit_ = session.scalars(select(models.Exit).where(models.Exit.patient_id == implant.patient_id)).first()
        death = exit_.death_date if exit_ else None
        stored = {e.seq: e for e in session.scalars(select(models.PumpEvent)
                                                    .where(models.PumpEvent.implant_id == implant.id))}
        new: list[dict[str, Any]] = []
        for event in log.events:
            at = log.at(event.t_s)
            day = at.date()
            label = f"pump event {site}/{patient_id} seq {event.seq}"
            if day < implant.implant_date or (implant.explant_date and day > implant.explant_date) or \
                    (death and day > death):
                findings.append(Finding("within-implant", label, f"at={at.isoformat()} is outside the implant "
                                        f"({implant.implant_date} to {implant.explant_date or death or 'now'})",
                                        source))
            old = stored.get(event.seq)
            row = {"implant_id": implant.id, "seq": event.seq, "at": at, "kind": event.kind.value,
                   "reason": event.reason, "data": event.data, "version": 1}
            if old is None:
                new.append(row)
            elif (old.at, old.kind, old.reason, old.data) != (at, event.kind.value, event.reason, event.data):
                findings.append(Finding("event-conflict", label, "a different event with this seq is stored", source))
        if findings:
            raise ImportRejected(source, findings)
        conn = session.connection()
        table = models.PumpEvent.__table__
        assert isinstance(table, Table)
        bulk.insert_rows(conn, table, new)
        ids = dict(conn.execute(select(models.PumpEvent.seq, models.PumpEvent.id)
                                .where(models.PumpEvent.implant_id == implant.id)).all())
        if new:
            columns = {"id": [ids[row["seq"]] for row in new], **{k: [row[k] for row in new] for k in new[0]}}
            audit.write_inserts(conn, user, audit.now_utc(session.info), "pump_events", columns, source)
        return len(new)


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

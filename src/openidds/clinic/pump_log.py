"""Importing a pump's own event log: a JSON list of ``{"seq", "at", "kind", "reason", "data"}`` events.

Events are stored as the pump wrote them (``pump_events``), linked to the implant. A log is append-only, so
re-importing it adds only the events not yet stored; an event whose ``seq`` is stored with other content is an
error (a different pump, or a corrupted log), as is an event outside the implant's life or after death.
"""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr, ValidationError, field_validator
from sqlalchemy import Engine, select

from openidds.clinic import audit, bulk, models
from openidds.clinic.database import unit_of_work
from openidds.clinic.errors import ImportRejected, RegistryError
from openidds.clinic.findings import Finding


class PumpLogEvent(BaseModel):
    """One event of the pump's log (closed record)."""

    model_config = ConfigDict(extra="forbid", frozen=True)
    seq: StrictInt
    at: dt.datetime
    kind: StrictStr
    reason: StrictStr
    data: dict[str, Any]

    @field_validator("at", mode="before")
    @classmethod
    def _utc(cls, value: Any) -> dt.datetime:
        if not isinstance(value, str):
            raise ValueError("an ISO-8601 UTC datetime string")
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
        if parsed.utcoffset() != dt.timedelta(0):
            raise ValueError("a UTC datetime (offset Z or +00:00)")
        return parsed.replace(tzinfo=None)

    @field_validator("kind")
    @classmethod
    def _kind(cls, value: str) -> str:
        if not value or not value.replace("_", "").isalnum() or value != value.lower():
            raise ValueError("a lower-case kind such as delivery, bolus_started, alarm, refill")
        return value


def parse_events(raw: Any, source: str) -> tuple[list[PumpLogEvent], list[Finding]]:
    """Validate a decoded JSON log; every bad event is reported with its index."""
    if not isinstance(raw, list):
        return [], [Finding("log-shape", source, "the log must be a JSON list of events", source)]
    events: list[PumpLogEvent] = []
    findings: list[Finding] = []
    for index, item in enumerate(raw):
        try:
            events.append(PumpLogEvent.model_validate(item))
        except ValidationError as exc:
            for error in exc.errors():
                where = ".".join(str(p) for p in error["loc"])
                findings.append(Finding("event", f"event {index}", f"{where}: {error['msg']}", f"{source}[{index}]"))
    seqs = [e.seq for e in events]
    findings += [Finding("event-order", f"event seq {b}", f"seq {b} follows {a}: expected strictly increasing",
                         source) for a, b in zip(seqs, seqs[1:], strict=False) if b <= a]
    return events, findings


def import_pump_log(engine: Engine, path: Path, site: str, patient_id: str, implant_date: dt.date,
                    user: str) -> int:
    """Store the new events of the log at ``path`` for the patient's implant of ``implant_date``;
    returns how many were added. Raises :class:`ImportRejected` (nothing written) on any bad event."""
    source = path.name
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise RegistryError("pump log", source, f"valid JSON ({exc})") from None
    events, findings = parse_events(raw, source)
    with unit_of_work(engine, user, source=source) as session:
        implant = session.execute(
            select(models.Implant).join(models.Patient).join(models.Site)
            .where(models.Site.code == site, models.Patient.patient_code == patient_id,
                   models.Implant.implant_date == implant_date)).scalar_one_or_none()
        if implant is None:
            raise RegistryError("implant", f"{site}/{patient_id} {implant_date}", "an implant in the registry")
        exit_ = session.scalars(select(models.Exit).where(models.Exit.patient_id == implant.patient_id)).first()
        death = exit_.death_date if exit_ else None
        stored = {e.seq: e for e in session.scalars(select(models.PumpEvent)
                                                    .where(models.PumpEvent.implant_id == implant.id))}
        new: list[dict[str, Any]] = []
        for event in events:
            day = event.at.date()
            label = f"pump event {site}/{patient_id} seq {event.seq}"
            if day < implant.implant_date or (implant.explant_date and day > implant.explant_date) or \
                    (death and day > death):
                findings.append(Finding("within-implant", label, f"at={event.at.isoformat()} is outside the implant "
                                        f"({implant.implant_date} to {implant.explant_date or death or 'now'})",
                                        source))
            old = stored.get(event.seq)
            row = {"implant_id": implant.id, "seq": event.seq, "at": event.at, "kind": event.kind,
                   "reason": event.reason, "data": event.data, "version": 1}
            if old is None:
                new.append(row)
            elif (old.at, old.kind, old.reason, old.data) != (event.at, event.kind, event.reason, event.data):
                findings.append(Finding("event-conflict", label, "a different event with this seq is stored", source))
        if findings:
            raise ImportRejected(source, findings)
        conn = session.connection()
        bulk.insert_rows(conn, models.PumpEvent.__table__, new)
        ids = dict(conn.execute(select(models.PumpEvent.seq, models.PumpEvent.id)
                                .where(models.PumpEvent.implant_id == implant.id)).all())
        if new:
            columns = {"id": [ids[row["seq"]] for row in new], **{k: [row[k] for row in new] for k in new[0]}}
            audit.write_inserts(conn, user, audit.now_utc(session.info), "pump_events", columns, source)
        return len(new)

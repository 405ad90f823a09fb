"""Cross-record rules on every write: a ``before_flush`` listener checks each patient whose records a flush adds or
changes, with the import's rules and the import's lock.

The patient's stored records are read under the lock (:func:`openidds.clinic.locking.locked_snapshot`: SQLite's
write lock, PostgreSQL ``FOR UPDATE`` on the patient row), merged with the flush's pending records, and checked by
:func:`openidds.clinic.rules.change_findings`. An error refuses the flush with
:class:`~openidds.clinic.errors.RuleViolation`, so nothing is written; two edits valid alone but not together (a
death on 1 June, a visit on 1 July) run one after the other, and the second reads the first and is refused. An
import checks its records in bulk before writing them and marks its session (:func:`mark_checked`), so its writes
are not checked a second time.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from openidds.clinic import locking, models, rules
from openidds.clinic.errors import RuleViolation
from openidds.clinic.fields import SPECS, RecordSpec
from openidds.clinic.record import PatientKey, Record

CHECKED_KEY = "cross_record_rules_checked"
_SPEC_OF: dict[type[models.Base], RecordSpec] = {spec.model: spec for spec in SPECS.values()}


def mark_checked(session: Session) -> None:
    """Record that the caller has checked the cross-record rules on everything this session will write (an
    import, under :func:`openidds.clinic.locking.locked_snapshot`)."""
    session.info[CHECKED_KEY] = True


def _changed(session: Session) -> list[Any]:
    """The registry records a flush adds or changes."""
    dirty = [obj for obj in session.dirty if session.is_modified(obj, include_collections=False)]
    return [obj for obj in (*session.new, *dirty) if type(obj) in _SPEC_OF]


def _patient_of(session: Session, obj: Any) -> models.Patient | None:
    """The patient a record belongs to; ``None`` when it names none (the schema's constraints refuse it)."""
    if isinstance(obj, models.Patient):
        return obj
    if _SPEC_OF[type(obj)].parent == "implant":
        implant = session.get(models.Implant, obj.implant_id) if obj.implant_id is not None else None
        return None if implant is None else _patient_of(session, implant)
    if isinstance(obj, models.Implant) and obj.patient is not None:
        return obj.patient
    return session.get(models.Patient, obj.patient_id) if obj.patient_id is not None else None


def _patient_key(session: Session, patient: models.Patient) -> PatientKey:
    site = patient.site if patient.site is not None else session.get(models.Site, patient.site_id)
    return (site.code if site is not None else "", patient.patient_code)


def _value(obj: Any, name: str, new: bool) -> Any:
    """A field's value as the flush will write it (a new record's empty field gets its column's default)."""
    value = getattr(obj, name)
    if value is None and new:
        default = inspect(type(obj)).columns[name].default
        if default is not None and default.is_scalar:
            return default.arg
    return value


def _record(session: Session, obj: Any, patient: PatientKey, implant_dates: dict[int, dt.date]) -> Record:
    spec = _SPEC_OF[type(obj)]
    new = obj in session.new
    where = f"new {spec.label.lower()}" if obj.id is None else f"{spec.label.lower()} id {obj.id}"
    implant_id = getattr(obj, "implant_id", None)
    return Record(spec, patient, {f.name: _value(obj, f.name, new) for f in spec.fields},
                  implant_date=implant_dates.get(implant_id) if spec.parent == "implant" and implant_id else None,
                  location=where, db_id=obj.id, extra={"implant_id": implant_id})


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    if session.info.get(CHECKED_KEY):
        return
    changed = _changed(session)
    if not changed:
        return
    with session.no_autoflush:
        owners = {obj: patient for obj in changed if (patient := _patient_of(session, obj)) is not None}
        snapshot = locking.locked_snapshot(session, {p.id for p in owners.values() if p.id is not None})
        replaced = {(type(obj), obj.id) for obj in (*session.deleted, *changed) if obj.id is not None}
        implant_dates = {r.db_id: r.get("implant_date") for r in snapshot.records
                         if r.spec.name == "implants" and r.db_id is not None}
        implant_dates |= {obj.id: obj.implant_date for obj in changed
                          if isinstance(obj, models.Implant) and obj.id is not None}
        records: dict[object, list[Record]] = {}
        for record in snapshot.records:
            if (record.spec.model, record.db_id) in replaced:
                continue
            if record.spec.parent == "implant":
                record.implant_date = implant_dates.get(record.extra["implant_id"], record.implant_date)
            records.setdefault(snapshot.patient_ids[record.patient], []).append(record)
        for obj, patient in owners.items():
            owner = patient if patient.id is None else patient.id
            records.setdefault(owner, []).append(_record(session, obj, _patient_key(session, patient), implant_dates))
        touched = {patient if patient.id is None else patient.id for patient in owners.values()}
        findings = [f for owner in touched for f in rules.change_findings(records[owner])]
    if findings:
        raise RuleViolation(findings)


def install(session_class: type[Session]) -> None:
    """Attach the cross-record rules to a session class (idempotent)."""
    if not event.contains(session_class, "before_flush", _before_flush):
        event.listen(session_class, "before_flush", _before_flush)

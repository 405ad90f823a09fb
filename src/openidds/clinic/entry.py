"""Entering a patient's visits, complications and exit one record at a time (the web app's forms).

A form gives text, as a file's cells would: each field is read by the import's own cell reader
(:func:`openidds.clinic.values.parse_cell`), so a value is refused with the message the import gives, and the
record is written through the registry's checked session (:func:`openidds.clinic.database.unit_of_work`), whose
flush runs the import's rules on the patient's records (:mod:`openidds.clinic.consistency`) and writes the audit
trail. An edit names the version of the record it was made from; if the record has changed since, it is refused
with who changed it and when (:class:`StaleRecord`) and nothing is written.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openidds.clinic import audit, locking, models, rules
from openidds.clinic.database import sessions, unit_of_work
from openidds.clinic.errors import ConcurrentUpdateError, RegistryError, RuleViolation, UnknownRecord
from openidds.clinic.fields import SPECS, RecordSpec
from openidds.clinic.findings import Finding
from openidds.clinic.queries import patient_by_code
from openidds.clinic.record import Record
from openidds.clinic.values import cell_text, parse_cell


class RecordKind(str, Enum):
    """A kind of record entered by hand, named like its import file."""

    VISIT = "visits"
    COMPLICATION = "complications"
    EXIT = "exits"

    @property
    def spec(self) -> RecordSpec:
        return SPECS[self.value]


class EntryRefused(RegistryError):
    """A record refused before anything was written: ``errors`` maps each form field to its message (the
    import's), ``others`` holds findings about the patient's other records that the change would break."""

    def __init__(self, kind: RecordKind, errors: Mapping[str, str], others: list[str]) -> None:
        self.errors = dict(errors)
        self.others = list(others)
        count = len(self.errors) + len(self.others)
        super().__init__(kind.value, ", ".join([*self.errors, *self.others][:3]),
                         f"values that pass the registry's checks ({count} errors, nothing written): correct "
                         "them and save again")


class StaleRecord(ConcurrentUpdateError):
    """An edit made from an older version of the record than the stored one; nothing was written."""

    def __init__(self, label: str, version: int | None, stored_version: int, changed_by: str | None,
                 changed_at: dt.datetime | None) -> None:
        self.changed_by = changed_by
        self.changed_at = changed_at
        who = f"changed by {changed_by} at {changed_at:%Y-%m-%d %H:%M} UTC" if changed_by and changed_at \
            else "changed by another user"
        super().__init__(label, f"version {version}", f"the version now stored (version {stored_version}, {who}): "
                         "reload the record and enter your change again")


@dataclass(frozen=True)
class StoredRecord:
    """A hand-entered record as stored: its id, optimistic-locking version, label and field values."""

    kind: RecordKind
    record_id: int
    version: int
    label: str
    values: dict[str, Any]

    def texts(self) -> dict[str, str]:
        """Each field's value as a form shows it (what the import would read back as the same value)."""
        return {f.name: cell_text(f, self.values.get(f.name)) for f in self.kind.spec.fields}


def parse_form(kind: RecordKind, cells: Mapping[str, str]) -> dict[str, Any]:
    """The typed values of a form's fields (a field left out or empty is no value); refused with
    :class:`EntryRefused` naming every field whose text the import would refuse, or that is required and empty,
    and every name that is not a field of the kind."""
    out: dict[str, Any] = {}
    errors: dict[str, str] = {}
    known = kind.spec.columns
    unknown = [f"{name}: not a field of {kind.value} (the fields are {', '.join(known)})"
               for name in cells if name not in known]
    for f in kind.spec.fields:
        try:
            out[f.name] = parse_cell(f, cells.get(f.name))
        except RegistryError as exc:
            errors[f.name] = str(exc)
            continue
        if out[f.name] is None and f.required:
            errors[f.name] = f"{f.name} is required"
    if errors or unknown:
        raise EntryRefused(kind, errors, unknown)
    return out


def field_of(spec: RecordSpec, message: str) -> str | None:
    """The field of ``spec`` a finding's message is about: the one named first in it, as a whole word."""
    found = [(match.start(), f.name) for f in spec.fields
             if (match := re.search(rf"\b{re.escape(f.name)}\b", message)) is not None]
    return min(found)[1] if found else None


def _label(kind: RecordKind, site: str, patient_id: str, values: Mapping[str, Any]) -> str:
    return Record(kind.spec, (site, patient_id), dict(values)).label


def _stored(kind: RecordKind, site: str, patient_id: str, obj: Any) -> StoredRecord:
    values = {f.name: getattr(obj, f.name) for f in kind.spec.fields}
    return StoredRecord(kind, obj.id, obj.version, _label(kind, site, patient_id, values), values)


def patient_records(engine: Engine, site: str, patient_id: str) -> dict[RecordKind, list[StoredRecord]]:
    """The patient's hand-entered records of each kind, oldest first; an unknown patient is refused."""
    with sessions(engine)() as session:
        patient = patient_by_code(session, site, patient_id)
        out: dict[RecordKind, list[StoredRecord]] = {}
        for kind in RecordKind:
            model: Any = kind.spec.model
            rows = session.scalars(select(model).where(model.patient_id == patient.id)).all()
            out[kind] = sorted((_stored(kind, site, patient_id, row) for row in rows),
                               key=lambda r: (r.label, r.record_id))
    return out


def stored_record(engine: Engine, kind: RecordKind, site: str, patient_id: str, record_id: int) -> StoredRecord:
    """One hand-entered record of the patient; refused when the patient has no such record."""
    with sessions(engine)() as session:
        patient = patient_by_code(session, site, patient_id)
        return _stored(kind, site, patient_id, _own(session, kind, patient, record_id))


def _own(session: Session, kind: RecordKind, patient: models.Patient, record_id: int) -> Any:
    obj: Any = session.get(kind.spec.model, record_id)
    if obj is None or obj.patient_id != patient.id:
        raise UnknownRecord(kind.value, record_id, f"the id of one of this patient's {kind.value}")
    return obj


def _same_key(session: Session, kind: RecordKind, patient: models.Patient, values: Mapping[str, Any],
              record_id: int | None) -> bool:
    """Whether another of the patient's records of ``kind`` has the natural key ``values`` give."""
    model: Any = kind.spec.model
    stmt = select(model.id).where(model.patient_id == patient.id,
                                  *(getattr(model, k) == values[k] for k in kind.spec.key))
    if record_id is not None:
        stmt = stmt.where(model.id != record_id)
    return session.execute(stmt.limit(1)).first() is not None


def _duplicate(kind: RecordKind) -> EntryRefused:
    spec = kind.spec
    if not spec.key:
        return EntryRefused(kind, {}, [f"the patient already has an {spec.label.lower()}: edit it instead"])
    key = " and ".join(spec.key)
    return EntryRefused(kind, dict.fromkeys(spec.key, f"a {key} of no other {spec.label.lower()} of this patient "
                                                      "(that one is already recorded: edit it instead)"), [])


def _refusal(kind: RecordKind, findings: list[Finding]) -> EntryRefused:
    errors: dict[str, str] = {}
    others: list[str] = []
    for finding in findings:
        name = field_of(kind.spec, finding.message) if finding.record.startswith(kind.spec.label.lower()) else None
        if name is not None and name not in errors:
            errors[name] = finding.message
        else:
            others.append(f"{finding.record}: {finding.message}")
    return EntryRefused(kind, errors, others)


def _implant_on(session: Session, patient: models.Patient, day: dt.date) -> int | None:
    """The id of the patient's implant in place on ``day`` (a complication's implant, as the import links it)."""
    implants = session.scalars(select(models.Implant).where(models.Implant.patient_id == patient.id)).all()
    records = [Record(SPECS["implants"], ("", ""), {"implant_date": i.implant_date}, db_id=i.id) for i in implants]
    chosen = rules.implant_for(records, day, None)
    return None if chosen is None else chosen.db_id


def save_record(engine: Engine, kind: RecordKind, site: str, patient_id: str, cells: Mapping[str, str], user: str,
                source: str, record_id: int | None = None, version: int | None = None,
                clock: Callable[[], dt.datetime] | None = None) -> StoredRecord:
    """Add a record (``record_id`` None) or change one from the ``version`` it was read at, as ``user``; every
    field of the kind is set from ``cells`` (absent or empty: no value). Refused, writing nothing, with
    :class:`EntryRefused` (values or rules), :class:`StaleRecord` (changed since ``version``) or
    :class:`UnknownRecord`."""
    if (record_id is None) != (version is None):
        raise RegistryError("version", version, "a version with a record id (an edit), neither for a new record")
    values = parse_form(kind, cells)
    try:
        with unit_of_work(engine, user, source=source, clock=clock) as session:
            locking.begin_write(session.connection())
            patient = patient_by_code(session, site, patient_id)
            locking.lock_patients(session, [patient.id])
            if _same_key(session, kind, patient, values, record_id):
                raise _duplicate(kind)
            if kind is RecordKind.COMPLICATION:
                values["implant_id"] = _implant_on(session, patient, values["onset_date"])
            if record_id is None:
                obj: Any = kind.spec.model(patient_id=patient.id)
                session.add(obj)
            else:
                obj = _own(session, kind, patient, record_id)
                if obj.version != version:
                    raise _stale(session, kind, site, patient_id, obj, version)
            for name, value in values.items():
                setattr(obj, name, value)
            session.flush()
            saved = _stored(kind, site, patient_id, obj)
    except RuleViolation as exc:
        raise _refusal(kind, exc.findings) from None
    except StaleRecord:
        raise
    except ConcurrentUpdateError:
        if record_id is None or version is None:
            raise
        with sessions(engine)() as session:
            obj = _own(session, kind, patient_by_code(session, site, patient_id), record_id)
            raise _stale(session, kind, site, patient_id, obj, version) from None
    return saved


def _stale(session: Session, kind: RecordKind, site: str, patient_id: str, obj: Any,
           version: int | None) -> StaleRecord:
    change = audit.last_change(session, obj.__tablename__, obj.id)
    by, at = change if change is not None else (None, None)
    return StaleRecord(_stored(kind, site, patient_id, obj).label, version, obj.version, by, at)

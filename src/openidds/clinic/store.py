"""Reading registry records back from the database as :class:`Record` objects keyed by natural key."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from openidds.clinic import models
from openidds.clinic.fields import SPECS, RecordSpec
from openidds.clinic.record import PatientKey, Record

_CHUNK = 900


@dataclass
class Snapshot:
    """Records read from the database, with the ids of patients and implants by natural key."""

    records: list[Record] = field(default_factory=list)
    patient_ids: dict[PatientKey, int] = field(default_factory=dict)
    implant_ids: dict[tuple[PatientKey, Any], int] = field(default_factory=dict)
    site_ids: dict[str, int] = field(default_factory=dict)

    def by_patient(self) -> dict[PatientKey, list[Record]]:
        out: dict[PatientKey, list[Record]] = {}
        for record in self.records:
            out.setdefault(record.patient, []).append(record)
        return out


def chunks(items: list[int]) -> Iterator[list[int]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start:start + _CHUNK]


def _select(spec: RecordSpec) -> Any:
    table = spec.model.__table__
    columns = [table.c.id, table.c.version, models.Site.code.label("_site"),
               models.Patient.patient_code.label("_code"), models.Patient.id.label("_pid")]
    if spec.parent == "implant":
        columns.append(models.Implant.implant_date.label("_implant_date"))
    extra = [table.c[name] for name in ("discrepancy_ml", "implant_id", "replaces_implant_id") if name in table.c]
    stmt = select(*columns, *extra, *(table.c[f.name] for f in spec.fields))
    if spec.parent == "implant":
        stmt = stmt.join(models.Implant, models.Implant.id == table.c.implant_id)
        stmt = stmt.join(models.Patient, models.Patient.id == models.Implant.patient_id)
    elif spec.parent == "patient":
        stmt = stmt.join(models.Patient, models.Patient.id == table.c.patient_id)
    else:
        stmt = stmt.select_from(models.Patient)
    return stmt.join(models.Site, models.Site.id == models.Patient.site_id)


def load(session: Session, patient_ids: Iterable[int] | None = None) -> Snapshot:
    """All records of the given patients (every patient when ``None``)."""
    snap = Snapshot(site_ids={code: i for code, i in session.execute(select(models.Site.code, models.Site.id))})
    wanted = None if patient_ids is None else sorted(set(patient_ids))
    for spec in SPECS.values():
        base = _select(spec)
        statements = [base] if wanted is None else [base.where(models.Patient.id.in_(c)) for c in chunks(wanted)]
        for stmt in statements:
            for row in session.execute(stmt).mappings():
                patient = (row["_site"], row["_code"])
                record = Record(spec, patient, {f.name: row[f.name] for f in spec.fields},
                                implant_date=row.get("_implant_date"), db_id=row["id"],
                                extra={k: row[k] for k in ("version", "discrepancy_ml", "implant_id",
                                                           "replaces_implant_id") if k in row})
                snap.records.append(record)
                snap.patient_ids[patient] = row["_pid"]
                if spec.name == "implants":
                    snap.implant_ids[(patient, record.get("implant_date"))] = row["id"]
    return snap


def patient_ids_for(session: Session, keys: Iterable[PatientKey]) -> dict[PatientKey, int]:
    """Database ids of the patients named by (site, patient_id) that exist."""
    wanted = set(keys)
    sites = {site for site, _ in wanted}
    stmt = (select(models.Site.code, models.Patient.patient_code, models.Patient.id)
            .join(models.Site, models.Site.id == models.Patient.site_id).where(models.Site.code.in_(sites)))
    return {(s, c): i for s, c, i in session.execute(stmt) if (s, c) in wanted}

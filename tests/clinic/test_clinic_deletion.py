"""Deleting a record others depend on is refused, naming them; deleting them first is audited row by row."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from openidds.clinic import ConcurrentUpdateError, RegistryError, unit_of_work
from openidds.clinic.models import AuditEntry, Implant, Patient, Refill, RefillStatus, Site, Visit


def _seed(engine) -> tuple[int, int]:
    with unit_of_work(engine, "setup") as s:
        patient = Patient(site=Site(code="S1"), patient_code="P1", sex="male", age_at_implant_years=60)
        implant = Implant(patient=patient, implant_date=dt.date(2024, 1, 1), kind="initial")
        s.add_all([patient, implant])
        s.flush()
        s.add_all([Visit(patient_id=patient.id, visit_date=dt.date(2024, 2, 1), visit_type="follow_up", nrs=3),
                   Visit(patient_id=patient.id, visit_date=dt.date(2024, 3, 1), visit_type="follow_up", nrs=2),
                   Refill(implant_id=implant.id, refilled_at=dt.datetime(2024, 2, 1, 9), volume_added_ml=20.0)])
        return patient.id, implant.id


def _rows(engine) -> dict[str, int]:
    with unit_of_work(engine, "reader") as s:
        return {m.__tablename__: s.scalar(select(func.count()).select_from(m))
                for m in (Patient, Implant, Visit, Refill, RefillStatus, AuditEntry)}


def test_deleting_a_patient_with_records_is_refused_naming_them(engine):
    patient_id, implant_id = _seed(engine)
    before = _rows(engine)
    with pytest.raises(RegistryError) as refused, unit_of_work(engine, "clerk") as s:
        s.delete(s.get(Patient, patient_id))
    assert not isinstance(refused.value, ConcurrentUpdateError)
    assert str(refused.value) == ("delete patient='S1/P1': expected a record nothing depends on; it still has "
                                  "1 in implants, 2 in visits: delete those first (each deletion is audited)")
    with pytest.raises(RegistryError, match="1 in refills"), unit_of_work(engine, "clerk") as s:
        s.delete(s.get(Implant, implant_id))
    assert _rows(engine) == before


def test_deleting_the_dependants_first_audits_every_row(engine):
    patient_id, implant_id = _seed(engine)
    with unit_of_work(engine, "clerk") as s:
        for obj in [*s.scalars(select(Refill)), *s.scalars(select(Visit)), s.get(Implant, implant_id),
                    s.get(Patient, patient_id)]:
            s.delete(obj)
    rows = _rows(engine)
    assert {k: v for k, v in rows.items() if k != "audit_log"} == dict.fromkeys(
        ("patients", "implants", "visits", "refills", "refill_status"), 0)
    with unit_of_work(engine, "reader") as s:
        deleted = s.execute(select(AuditEntry.table_name, func.count()).where(AuditEntry.action == "delete")
                            .group_by(AuditEntry.table_name)).all()
    assert dict(deleted) == {"patients": 1, "implants": 1, "visits": 2, "refills": 1}

"""`registry check`: data-quality rules over stored data, each finding naming its record.

The registry's write API refuses rule-breaking changes (tests/clinic/test_clinic_write_rules.py), so bad rows reach
a registry the way they really do, behind its back: raw SQL on the connection (a legacy database, a manual fix).
"""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select, text

from openidds.clinic import check_registry, import_batch, read_paths, unit_of_work
from openidds.clinic.models import Implant, Patient, Refill, Visit

TODAY = dt.date(2023, 5, 1)


@pytest.fixture
def registry(engine, data_dir):
    import_batch(engine, read_paths([data_dir / "good"]), "setup", "good")
    return engine


def _found(engine) -> set[tuple[str, str, str]]:
    return {(f.severity, f.rule, f.record) for f in check_registry(engine, TODAY)}


def _ids(engine) -> dict[str, int]:
    """The records the raw edits below change, by table."""
    with unit_of_work(engine, "reader") as s:
        return {
            "visits": s.scalars(select(Visit.id).where(Visit.visit_type == "follow_up",
                                                       Visit.visit_date == dt.date(2022, 11, 1))).one(),
            "implants": s.scalars(select(Implant.id).where(Implant.serial_number == "NGP100002")).one(),
            "refills": s.scalars(select(Refill.id).where(Refill.refilled_at == dt.datetime(2023, 3, 20, 10))).one(),
            "patients": s.scalars(select(Patient.id).where(Patient.patient_code == "P003")).one(),
        }


#: Rule-breaking edits as raw SQL: a follow-up after the patient's death, a serial of another patient's pump, a
#: refill larger than the reservoir, a diagnosis after the implant.
RAW_EDITS = {
    "visits": "UPDATE visits SET visit_date = '2023-02-01' WHERE id = :id",
    "implants": "UPDATE implants SET serial_number = 'NGP100001' WHERE id = :id",
    "refills": "UPDATE refills SET volume_added_ml = 55 WHERE id = :id",
    "patients": "UPDATE patients SET cancer_diagnosis_date = '2023-01-01' WHERE id = :id",
}


def test_clean_import_gives_only_the_expected_warnings(registry):
    assert _found(registry) == {
        ("warning", "refill-overdue", "implant CJFH/P001 2022-09-01"),
        ("warning", "refill-discrepancy", "refill CJFH/P001 implant 2022-09-01 2022-12-08T08:30:00"),
    }


def test_rows_changed_behind_the_registry_are_caught_with_their_record(registry):
    ids = _ids(registry)
    with registry.begin() as connection:
        for table, sql in RAW_EDITS.items():
            connection.execute(text(sql), {"id": ids[table]})
    found = _found(registry)
    assert ("error", "before-death", "visit CJFH/P002 2023-02-01 follow_up") in found
    assert ("error", "duplicate-serial", "implant CJFH/P001 2022-09-01") in found
    assert ("error", "duplicate-serial", "implant CJFH/P002 2022-10-10") in found
    assert ("error", "refill-volume", "refill CJFH/P003 implant 2023-01-20 2023-03-20T10:00:00") in found
    assert ("error", "diagnosis-before-implant", "patient and baseline CJFH/P003") in found
    errors = [f for f in check_registry(registry, TODAY) if f.severity == "error"]
    assert check_registry(registry, TODAY)[: len(errors)] == errors

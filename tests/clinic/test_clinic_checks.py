"""`registry check`: data-quality rules over stored data, each finding naming its record."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from openidds.clinic import check_registry, import_batch, read_paths, unit_of_work
from openidds.clinic.models import Implant, Patient, Refill, Visit

TODAY = dt.date(2023, 5, 1)


@pytest.fixture
def registry(engine, data_dir):
    import_batch(engine, read_paths([data_dir / "good"]), "setup", "good")
    return engine


def _found(engine) -> set[tuple[str, str, str]]:
    return {(f.severity, f.rule, f.record) for f in check_registry(engine, TODAY)}


def test_clean_import_gives_only_the_expected_warnings(registry):
    assert _found(registry) == {
        ("warning", "refill-overdue", "implant CJFH/P001 2022-09-01"),
        ("warning", "refill-discrepancy", "refill CJFH/P001 implant 2022-09-01 2022-12-08T08:30:00"),
    }


def test_edits_made_outside_the_importer_are_caught_with_their_record(registry):
    with unit_of_work(registry, "editor") as s:
        visit = s.scalars(select(Visit).where(Visit.visit_type == "follow_up",
                                              Visit.visit_date == dt.date(2022, 11, 1))).one()
        visit.visit_date = dt.date(2023, 2, 1)
        s.scalars(select(Implant).where(Implant.serial_number == "NGP100002")).one().serial_number = "NGP100001"
        refill = s.scalars(select(Refill).where(Refill.refilled_at == dt.datetime(2023, 3, 20, 10))).one()
        refill.volume_added_ml = 55.0
        s.scalars(select(Patient).where(Patient.patient_code == "P003")).one().cancer_diagnosis_date = \
            dt.date(2023, 1, 1)
    found = _found(registry)
    assert ("error", "before-death", "visit CJFH/P002 2023-02-01 follow_up") in found
    assert ("error", "duplicate-serial", "implant CJFH/P001 2022-09-01") in found
    assert ("error", "duplicate-serial", "implant CJFH/P002 2022-10-10") in found
    assert ("error", "refill-volume", "refill CJFH/P003 implant 2023-01-20 2023-03-20T10:00:00") in found
    assert ("error", "diagnosis-before-implant", "patient and baseline CJFH/P003") in found
    errors = [f for f in check_registry(registry, TODAY) if f.severity == "error"]
    assert check_registry(registry, TODAY)[: len(errors)] == errors

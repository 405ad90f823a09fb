"""Every write is checked below the importer: an ORM flush refuses what the import refuses, with its message,
and over-long text is refused the same way on SQLite and PostgreSQL (never stored, never a driver error)."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from openidds.clinic import SPECS, ImportRejected, RegistryError, import_batch, unit_of_work
from openidds.clinic.importer import parse_rows
from openidds.clinic.models import AuditEntry, Implant, Patient, Site, Visit


def _patient(session, code: str = "P1", **values) -> Patient:
    site = session.scalars(select(Site).where(Site.code == "S1")).one_or_none() or Site(code="S1")
    patient = Patient(site=site, patient_code=code, sex="female", age_at_implant_years=60, **values)
    session.add(patient)
    return patient


def _import_message(spec: str, cells: dict[str, str]) -> str:
    batch = parse_rows(SPECS[spec], [("file.csv:2", {"site": "S1", "patient_id": "P1", **cells})])
    return " | ".join(f.message for f in batch.findings)


def _count(engine, model) -> int:
    with unit_of_work(engine, "reader") as s:
        return s.scalar(select(func.count()).select_from(model))


@pytest.mark.parametrize(("model", "name", "value", "cells"), [
    (Visit, "nrs", 99, {"visit_date": "2024-01-01", "visit_type": "follow_up", "nrs": "99"}),
    (Patient, "bmi_kg_per_m2", 500.0, {"sex": "male", "bmi_kg_per_m2": "500"}),
    (Patient, "family_name", "x" * 1000, {"sex": "male", "family_name": "x" * 1000}),
    (Visit, "visit_type", "weekly", {"visit_date": "2024-01-01", "visit_type": "weekly"}),
])
def test_a_flush_refuses_what_the_import_refuses_with_the_same_message(engine, model, name, value, cells):
    with unit_of_work(engine, "setup") as s:
        _patient(s)
    spec = "visits" if model is Visit else "patients"
    expected = _import_message(spec, cells)
    assert expected.startswith(f"{name}=")
    with pytest.raises(RegistryError) as refused, unit_of_work(engine, "clerk") as s:
        if model is Visit:
            patient = s.scalars(select(Patient)).one()
            s.add(Visit(patient_id=patient.id, visit_date=dt.date(2024, 1, 1), **{"visit_type": "follow_up",
                                                                                 name: value}))
        else:
            setattr(s.scalars(select(Patient)).one(), name, value)
    assert str(refused.value) == expected
    with unit_of_work(engine, "reader") as s:
        assert s.scalars(select(Patient)).one().version == 1
    assert _count(engine, Visit) == 0 and _count(engine, AuditEntry) == 2


def test_over_long_patient_id_and_text_are_refused_at_flush_on_both_databases(engine):
    with pytest.raises(RegistryError, match=r"patient_code=.*at most 60 characters \(100 given\)"), \
            unit_of_work(engine, "clerk") as s:
        _patient(s, code="P" * 100)
    with pytest.raises(RegistryError, match=r"serial_number=.*at most 80 characters \(81 given\)"), \
            unit_of_work(engine, "clerk") as s:
        s.add(Implant(patient=_patient(s), implant_date=dt.date(2024, 1, 1), kind="initial",
                      serial_number="N" * 81))
    assert _count(engine, Patient) == 0 and _count(engine, Site) == 0
    with unit_of_work(engine, "clerk") as s:
        _patient(s, code="P" * 60, family_name="y" * 120)
    assert _count(engine, Patient) == 1


def test_over_long_values_are_refused_at_import_on_both_databases(engine):
    rows = [("patients.csv:2", {"site": "S1", "patient_id": "P" * 100, "sex": "male", "age_at_implant_years": "50"}),
            ("patients.csv:3", {"site": "S1", "patient_id": "P2", "sex": "male", "age_at_implant_years": "50",
                                "family_name": "z" * 1000})]
    batch = parse_rows(SPECS["patients"], rows)
    messages = [(f.location, f.message) for f in batch.findings]
    assert messages == [
        ("patients.csv:2", f"patient_id='{'P' * 40}...': expected text of at most 60 characters (100 given)"),
        ("patients.csv:3", f"family_name='{'z' * 40}...': expected text of at most 120 characters (1000 given)")]
    with pytest.raises(ImportRejected):
        import_batch(engine, batch, "clerk", "patients.csv")
    assert _count(engine, Patient) == 0 and _count(engine, AuditEntry) == 0


def test_an_over_long_audit_user_or_source_is_refused_before_anything_is_written(engine):
    with pytest.raises(RegistryError, match="user="), unit_of_work(engine, "u" * 121) as s:
        _patient(s)
    with pytest.raises(RegistryError, match="source="), unit_of_work(engine, "clerk", source="f" * 256) as s:
        _patient(s)
    assert _count(engine, Patient) == 0


@pytest.mark.parametrize(("name", "value", "message"), [
    ("adl_score", "65", "adl_score='65': expected a whole number"),
    ("adl_score", True, "adl_score=True: expected a whole number"),
    ("bmi_kg_per_m2", float("nan"), "bmi_kg_per_m2=nan: expected a finite number"),
    ("birth_date", dt.datetime(1950, 1, 1, 8), "birth_date=datetime.datetime(1950, 1, 1, 8, 0): expected a date"),
    ("pain_locations", ["back", "back"], "pain_locations=['back', 'back']: expected each code once"),
    ("currency", "eur", "currency='eur': expected text matching ^[A-Z]{3}$"),
])
def test_a_flush_refuses_a_value_of_the_wrong_type_or_form(engine, name, value, message):
    with pytest.raises(RegistryError) as refused, unit_of_work(engine, "clerk") as s:
        _patient(s, **{name: value})
    assert str(refused.value) == message
    assert _count(engine, Patient) == 0

"""The registry's write API (a ``unit_of_work`` session) runs the import's cross-record rules on every flush:
a change that breaks one is refused with the rule and the record, and nothing of it is written."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import func, select

from openidds.clinic import RegistryError, import_batch, read_paths, rules, unit_of_work
from openidds.clinic.errors import RuleViolation
from openidds.clinic.models import AuditEntry, Exit, Implant, Patient, Refill, Site, Visit

DEATH = dt.date(2022, 12, 30)  # CJFH/P002's death in the good files


@pytest.fixture
def registry(engine, data_dir):
    import_batch(engine, read_paths([data_dir / "good"]), "setup", "good")
    return engine


def _patient_id(session, code: str) -> int:
    return session.scalars(select(Patient.id).where(Patient.patient_code == code)).one()


def _audit_count(engine) -> int:
    with unit_of_work(engine, "reader") as s:
        return s.scalar(select(func.count()).select_from(AuditEntry))


def _visit_after_death(s) -> None:
    s.scalars(select(Visit).where(Visit.visit_type == "follow_up", Visit.visit_date == dt.date(2022, 11, 1))
              ).one().visit_date = dt.date(2023, 2, 1)


def _refill_over_reservoir(s) -> None:
    s.scalars(select(Refill).where(Refill.refilled_at == dt.datetime(2023, 3, 20, 10))).one().volume_added_ml = 55.0


def _diagnosis_after_implant(s) -> None:
    s.get(Patient, _patient_id(s, "P003")).cancer_diagnosis_date = dt.date(2023, 1, 1)


def _new_visit_after_death(s) -> None:
    s.add(Visit(patient_id=_patient_id(s, "P002"), visit_date=dt.date(2023, 1, 15), visit_type="follow_up", nrs=3))


def _exit_before_a_stored_visit(s) -> None:
    s.add(Exit(patient_id=_patient_id(s, "P001"), exit_date=dt.date(2022, 10, 1), reason="death",
               death_date=dt.date(2022, 10, 1)))


@pytest.mark.parametrize(("edit", "rule", "record"), [
    (_visit_after_death, "before-death", "visit CJFH/P002 2023-02-01 follow_up"),
    (_refill_over_reservoir, "refill-volume", "refill CJFH/P003 implant 2023-01-20 2023-03-20T10:00:00"),
    (_diagnosis_after_implant, "diagnosis-before-implant", "patient and baseline CJFH/P003"),
    (_new_visit_after_death, "before-death", "visit CJFH/P002 2023-01-15 follow_up"),
    (_exit_before_a_stored_visit, "before-death", "CJFH/P001"),
])
def test_a_change_that_breaks_a_cross_record_rule_is_refused_and_writes_nothing(registry, edit, rule, record):
    audited = _audit_count(registry)
    with pytest.raises(RuleViolation) as refused, unit_of_work(registry, "editor") as s:
        edit(s)
    assert isinstance(refused.value, RegistryError)
    assert rule in {f.rule for f in refused.value.findings}
    assert record in str(refused.value) and f"rule {refused.value.findings[0].rule}" in str(refused.value)
    assert "nothing was written" in str(refused.value)
    assert _audit_count(registry) == audited
    with unit_of_work(registry, "reader") as s:
        assert s.scalar(select(func.count()).select_from(Exit)) == 1
        assert s.scalars(select(Visit).where(Visit.visit_date > DEATH,
                                             Visit.patient_id == _patient_id(s, "P002"))).all() == []
        assert s.scalars(select(Refill.volume_added_ml).where(Refill.refilled_at == dt.datetime(2023, 3, 20, 10))
                         ).one() != 55.0
        assert s.get(Patient, _patient_id(s, "P003")).cancer_diagnosis_date != dt.date(2023, 1, 1)


def test_a_refused_record_takes_the_valid_changes_of_its_transaction_with_it(registry):
    audited = _audit_count(registry)
    with pytest.raises(RuleViolation), unit_of_work(registry, "editor") as s:
        pid = _patient_id(s, "P002")
        s.add(Visit(patient_id=pid, visit_date=dt.date(2022, 12, 1), visit_type="follow_up", nrs=2))
        s.flush()
        _new_visit_after_death(s)
    assert _audit_count(registry) == audited
    with unit_of_work(registry, "reader") as s:
        assert s.scalars(select(Visit).where(Visit.visit_date == dt.date(2022, 12, 1))).all() == []


def test_changes_that_keep_the_rules_are_written(registry):
    with unit_of_work(registry, "editor") as s:
        pid = _patient_id(s, "P002")
        s.add(Visit(patient_id=pid, visit_date=DEATH, visit_type="follow_up", nrs=2))
        s.add(Exit(patient_id=_patient_id(s, "P001"), exit_date=dt.date(2023, 4, 1), reason="death",
                   death_date=dt.date(2023, 4, 1)))
    with unit_of_work(registry, "reader") as s:
        assert s.scalar(select(func.count()).select_from(Exit)) == 2
        assert s.scalars(select(Visit.nrs).where(Visit.patient_id == pid, Visit.visit_date == DEATH)).one() == 2


def test_a_new_patient_with_its_implant_is_checked_as_one(engine):
    with unit_of_work(engine, "editor") as s:  # the implant's kind is left to its column default, initial
        patient = Patient(site=Site(code="S9"), patient_code="N1", sex="male", birth_date=dt.date(1950, 1, 1))
        s.add(Implant(patient=patient, implant_date=dt.date(2024, 1, 1)))
    with pytest.raises(RuleViolation, match="after-birth"), unit_of_work(engine, "editor") as s:
        patient = Patient(site=Site(code="S8"), patient_code="N2", sex="male", birth_date=dt.date(1950, 1, 1))
        s.add(Implant(patient=patient, implant_date=dt.date(1949, 1, 1)))
    with unit_of_work(engine, "reader") as s:
        assert s.scalars(select(Patient.patient_code)).all() == ["N1"]
        assert s.scalars(select(Implant.kind)).all() == ["initial"]


def test_an_import_checks_each_patient_once(engine, data_dir, monkeypatch):
    calls: list[int] = []
    checked = rules.change_findings

    def counting(records):
        calls.append(len(records))
        return checked(records)

    monkeypatch.setattr(rules, "change_findings", counting)
    batch = read_paths([data_dir / "good"])
    patients = {r.patient for r in batch.records}
    import_batch(engine, batch, "setup", "good")
    assert len(calls) == len(patients)

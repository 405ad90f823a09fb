"""CSV import: validation report, all-or-nothing, idempotence and upserts, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import func, select

from openidds.clinic import ConcurrentUpdateError, ImportRejected, import_batch, read_paths, unit_of_work
from openidds.clinic.models import AuditEntry, Base, Implant, Patient, Refill, Visit


def _counts(engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {t.name: conn.execute(select(func.count()).select_from(t)).scalar_one()
                for t in Base.metadata.sorted_tables}


def _import(engine, path: Path, user: str = "importer", **kw):
    return import_batch(engine, read_paths([path]), user, str(path), **kw)


def test_good_files_import_every_record_with_links(engine, data_dir):
    summary = _import(engine, data_dir / "good")
    assert summary.inserted == {"patients": 3, "exits": 1, "implants": 4, "screening_trials": 2, "visits": 7,
                                "complications": 3, "programs": 5, "refills": 4, "alarms": 2}
    with unit_of_work(engine, "reader") as s:
        replacement = s.scalars(select(Implant).where(Implant.serial_number == "NGP100004")).one()
        first = s.get(Implant, replacement.replaces_implant_id)
        assert (first.serial_number, replacement.kind) == ("NGP100003", "replacement")
        refill = s.scalars(select(Refill).where(Refill.refilled_at == dt.datetime(2022, 12, 8, 8, 30))).one()
        assert refill.discrepancy_ml == pytest.approx(-3.0)
        assert s.get(Implant, refill.implant_id).serial_number == "NGP100001"
        p1 = s.scalars(select(Patient).where(Patient.patient_code == "P001")).one()
        assert p1.metastasis_sites == ["bone", "liver"] and p1.prior_immunotherapy is False
        audit = s.scalars(select(AuditEntry).where(AuditEntry.table_name == "visits")).all()
    assert len(audit) == 7 and {a.action for a in audit} == {"insert"}
    assert {a.user_name for a in audit} == {"importer"}


def test_importing_the_same_files_twice_adds_nothing(engine, data_dir):
    _import(engine, data_dir / "good")
    before = _counts(engine)
    summary = _import(engine, data_dir / "good")
    assert summary.inserted == {} and set(summary.updated.values()) == {0}
    assert _counts(engine) == before


def test_a_changed_row_updates_its_record_with_audit_and_version(engine, data_dir, tmp_path):
    _import(engine, data_dir / "good")
    changed = tmp_path / "visits.csv"
    with (data_dir / "good" / "visits.csv").open() as src:
        rows = list(csv.DictReader(src))
    rows[1]["nrs"] = "2"
    with changed.open("w", newline="") as out:
        writer = csv.DictWriter(out, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    summary = _import(engine, changed, user="nurse")
    assert (summary.inserted, summary.updated["visits"], summary.unchanged["visits"]) == ({}, 1, 6)
    with unit_of_work(engine, "reader") as s:
        visit = s.scalars(select(Visit).where(Visit.visit_date == dt.date(2022, 10, 1),
                                              Visit.visit_type == "follow_up")).one()
        entry = s.scalars(select(AuditEntry).where(AuditEntry.action == "update")).one()
    assert (visit.nrs, visit.version) == (2, 2)
    assert (entry.user_name, entry.before["nrs"], entry.after["nrs"]) == ("nurse", 3, 2)


def test_a_bad_file_is_reported_row_by_row_and_writes_nothing(engine, data_dir):
    with pytest.raises(ImportRejected) as caught:
        _import(engine, data_dir / "bad")
    found = {(f.location, f.rule) for f in caught.value.findings}
    assert {
        ("patients.csv:2", "diagnosis-before-implant"),
        ("patients.csv:3", "value"),
        ("patients.csv:5", "duplicate"),
        ("refills.csv:1", "unknown-column"),
        ("visits.csv:2", "value"),
        ("visits.csv:3", "value"),
        ("visits.csv:4", "value"),
        ("visits.csv:5", "before-death"),
        ("visits.csv:6", "unknown-patient"),
    } <= found
    messages = " ".join(f.message for f in caught.value.findings)
    assert "nrs=11: expected a value from 0 to 10" in messages and "'120 mg'" in messages
    assert sum(_counts(engine).values()) == 0


@pytest.mark.parametrize(("fixture", "rule"), [
    ("refills.csv", "within-implant"), ("visits.csv", "before-death"), ("programs.csv", "no-implant")])
def test_rows_after_explant_or_death_or_before_any_implant_are_refused(engine, data_dir, tmp_path, fixture, rule):
    good = tmp_path / "good"
    shutil.copytree(data_dir / "good", good)
    extra = {
        "refills.csv": "CJFH,P002,,2022-12-15T09:00:00Z,hydromorphone,2,18,,,\n",
        "visits.csv": "CJFH,P002,2023-01-15,follow_up,3,,,,,,,,,,,,,\n",
        "programs.csv": "CJFH,P003,,2021-12-01T08:00:00Z,morphine,10,1,,,,\n",
    }[fixture]
    with (good / fixture).open("a") as handle:
        handle.write(extra)
    with pytest.raises(ImportRejected) as caught:
        _import(engine, good)
    assert [f.rule for f in caught.value.findings] == [rule]
    assert sum(_counts(engine).values()) == 0


def test_eq5d_levels_follow_the_version(engine, data_dir, tmp_path):
    _import(engine, data_dir / "good")
    path = tmp_path / "visits.csv"
    path.write_text("site,patient_id,visit_date,visit_type,eq5d_version,eq5d_mobility\n"
                    "CJFH,P001,2023-01-01,follow_up,3L,4\nCJFH,P001,2023-01-02,follow_up,,2\n")
    with pytest.raises(ImportRejected) as caught:
        _import(engine, path)
    assert [(f.location, f.rule) for f in caught.value.findings] == [
        ("visits.csv:2", "eq5d-level"), ("visits.csv:3", "eq5d-version")]


def test_an_interrupted_import_leaves_nothing_behind(engine, data_dir):
    def interrupt(kind: str, done: int, total: int) -> None:
        if kind == "visits":
            raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        _import(engine, data_dir / "good", progress=interrupt)
    assert sum(_counts(engine).values()) == 0


def test_a_later_file_links_to_patients_already_in_the_registry(engine, data_dir, tmp_path):
    _import(engine, data_dir / "good" / "patients.csv")
    _import(engine, data_dir / "good" / "implants.csv")
    summary = _import(engine, data_dir / "good" / "refills.csv")
    assert summary.inserted == {"refills": 4}


def test_a_file_with_a_few_columns_updates_only_those_and_checks_the_merged_record(engine, data_dir, tmp_path):
    _import(engine, data_dir / "good")
    path = tmp_path / "patients.csv"
    path.write_text("site,patient_id,last_contact_date\nCJFH,P001,2023-03-05\n")
    assert _import(engine, path).updated == {"patients": 1}
    with unit_of_work(engine, "reader") as s:
        p1 = s.scalars(select(Patient).where(Patient.patient_code == "P001")).one()
    assert (p1.last_contact_date, p1.birth_date, p1.mrn) == (dt.date(2023, 3, 5), dt.date(1960, 4, 2), "MRN001")
    visits = tmp_path / "visits.csv"
    visits.write_text("site,patient_id,visit_date,visit_type,eq5d_mobility\nCJFH,P002,2022-11-01,follow_up,3\n"
                      "CJFH,P002,2022-10-01,baseline,4\n")
    with pytest.raises(ImportRejected) as caught:
        _import(engine, visits)
    assert [(f.location, f.rule) for f in caught.value.findings] == [("visits.csv:3", "eq5d-level")]


def test_a_new_record_without_a_required_column_is_refused(engine, tmp_path):
    path = tmp_path / "patients.csv"
    path.write_text("site,patient_id,birth_date\nCJFH,P100,1950-01-01\n")
    with pytest.raises(ImportRejected) as caught:
        _import(engine, path)
    assert [(f.location, f.rule, f.message) for f in caught.value.findings] == [
        ("patients.csv:2", "required", "sex is required")]


def test_two_imports_at_once_never_duplicate_or_half_write(engine, data_dir):
    """Two users import the same files at the same moment: each import succeeds or is refused whole."""
    outcomes: list[object] = []
    entered = threading.Event()

    def first(kind: str, done: int, total: int) -> None:
        if kind == "patients":
            entered.set()
            time.sleep(0.5)

    def run(progress) -> None:
        try:
            outcomes.append(_import(engine, data_dir / "good", progress=progress))
        except ConcurrentUpdateError as exc:
            outcomes.append(exc)

    a = threading.Thread(target=run, args=(first,))
    a.start()
    assert entered.wait(30)
    b = threading.Thread(target=run, args=(None,))
    b.start()
    a.join(60)
    b.join(60)
    assert len(outcomes) == 2 and any(not isinstance(o, Exception) for o in outcomes)
    with engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(Patient)).scalar_one() == 3
    single = _counts(engine)
    assert single["visits"] == 7 and single["refills"] == 4
    assert _import(engine, data_dir / "good").inserted == {}

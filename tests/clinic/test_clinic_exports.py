"""Exports: analysis dataset (CSV, Parquet), FHIR R4 bundle with our value rules, de-identified research set."""

from __future__ import annotations

import copy
import datetime as dt
import json

import pandas as pd
import pytest
from fhir.resources.R4B.bundle import Bundle

from openidds.clinic import (
    analysis_dataset,
    fhir_bundle,
    import_batch,
    read_paths,
    research_tables,
    write_dataset,
    write_research_export,
)
from openidds.clinic.deidentify import deidentified_records, research_columns
from openidds.clinic.fhir import INTRATHECAL, NRS_LOINC, value_findings
from openidds.clinic.fields import SPECS

D = dt.date


@pytest.fixture
def registry(engine, data_dir):
    import_batch(engine, read_paths([data_dir / "good"]), "setup", "good")
    return engine


def test_analysis_dataset_derives_times_and_censoring(registry):
    frame = analysis_dataset(registry).set_index("patient_id")
    p1, p2, p3 = frame.loc["P001"], frame.loc["P002"], frame.loc["P003"]
    assert (p2["os_days"], p2["death"]) == ((D(2022, 12, 30) - D(2022, 10, 10)).days, 1)
    assert (p1["os_days"], p1["death"]) == ((D(2023, 3, 1) - D(2022, 9, 1)).days, 0)
    assert (p1["complication_days"], p1["complication_status"]) == (2, 1)
    assert (p1["severe_complication_days"], p1["severe_complication_status"]) == (p1["os_days"], 0)
    assert (p2["reoperation_days"], p2["reoperation_status"]) == ((D(2022, 11, 10) - D(2022, 10, 10)).days, 1)
    assert (p3["reoperation_days"], p3["implants"]) == ((D(2022, 11, 2) - D(2022, 1, 15)).days, 2)
    assert (p3["os_days"], p3["exit_status"], p2["exit_reason"]) == ((D(2023, 6, 30) - D(2022, 1, 15)).days, 0,
                                                                     "death")
    assert (p1["baseline_nrs"], p1["last_nrs"], p1["nrs_6m"]) == (8, 4, 4)
    assert p2["age_at_implant_years"] == 67
    assert (p1["screening_trials"], p3["screening_trials"]) == (1, 0)
    assert (p1["systemic_opioid_stopped"], p1["last_ome_mg_per_day"], p1["satisfaction"],
            p1["satisfaction_respondent"]) == (1, 0.0, "satisfied", "patient")
    assert (p2["systemic_opioid_stopped"], p2["satisfaction"]) == (0, "dissatisfied")


def test_death_before_any_complication_is_a_competing_event(registry, tmp_path):
    (tmp_path / "patients.csv").write_text("site,patient_id,birth_date,sex\nCJFH,P009,1950-01-01,male\n")
    (tmp_path / "implants.csv").write_text("site,patient_id,implant_date,kind\nCJFH,P009,2023-01-01,initial\n")
    (tmp_path / "exits.csv").write_text("site,patient_id,exit_date,reason,death_date\n"
                                        "CJFH,P009,2023-02-01,death,2023-02-01\n")
    import_batch(registry, read_paths([tmp_path]), "setup", "p9")
    row = analysis_dataset(registry).set_index("patient_id").loc["P009"]
    assert (row["complication_days"], row["complication_status"], row["reoperation_status"]) == (31, 2, 2)


def test_csv_and_parquet_hold_the_same_dataset(registry, tmp_path):
    frame = analysis_dataset(registry)
    write_dataset(frame, tmp_path / "a.csv")
    write_dataset(frame, tmp_path / "a.parquet")
    from_csv = pd.read_csv(tmp_path / "a.csv")
    from_parquet = pd.read_parquet(tmp_path / "a.parquet")
    assert list(from_parquet.columns) == list(frame.columns) == list(from_csv.columns)
    assert from_parquet["os_days"].tolist() == from_csv["os_days"].tolist() == frame["os_days"].tolist()


def test_fhir_bundle_parses_as_r4_and_uses_the_reference_codes(registry, data_dir):
    bundle = fhir_bundle(registry)
    document = json.loads(bundle.json())
    assert Bundle.parse_obj(document).type == "collection"
    resources = [e["resource"] for e in document["entry"]]
    nrs = [r for r in resources if r["resourceType"] == "Observation" and r["code"]["coding"][0]["code"] == NRS_LOINC]
    visits = pd.read_csv(data_dir / "good" / "visits.csv")
    assert sorted(r["valueInteger"] for r in nrs) == sorted(visits["nrs"].dropna().astype(int))
    requests = [r for r in resources if r["resourceType"] == "MedicationRequest"]
    assert len(requests) == 5
    assert {r["dosageInstruction"][0]["route"]["coding"][0]["code"] for r in requests} == {INTRATHECAL}
    deceased = [r for r in resources if r["resourceType"] == "Patient" and "deceasedDateTime" in r]
    assert [r["deceasedDateTime"] for r in deceased] == ["2022-12-30"]
    assert value_findings(document) == []


def test_our_value_rules_catch_what_the_fhir_models_accept(registry):
    document = json.loads(fhir_bundle(registry).json())
    broken = copy.deepcopy(document)
    entries = [e["resource"] for e in broken["entry"]]
    obs = next(r for r in entries if r["resourceType"] == "Observation" and "valueInteger" in r
               and r["code"]["coding"][0]["code"] == NRS_LOINC)
    obs["valueInteger"] = 42
    next(r for r in entries if r["resourceType"] == "Patient")["gender"] = "robot"
    rx = next(r for r in entries if r["resourceType"] == "MedicationRequest")
    rx["dosageInstruction"][0]["route"]["coding"][0]["code"] = "26643006"
    rx["subject"]["reference"] = "urn:uuid:00000000-0000-0000-0000-000000000000"
    Bundle.parse_obj(broken)
    messages = " | ".join(f.message for f in value_findings(broken))
    assert "value=42" in messages and "gender='robot'" in messages
    assert "not intrathecal" in messages and "not in the bundle" in messages


def test_research_export_removes_identifiers_and_shifts_dates_consistently(registry, data_dir, tmp_path):
    paths = write_research_export(registry, tmp_path / "research", seed=11)
    text = " ".join(p.read_text() for p in paths)
    for secret in ("MRN001", "Wang", "Li,", "NGP1000", "1960-04-02", "P001", "(01)006", "wasting"):
        assert secret not in text
    tables = research_tables(registry, seed=11)
    again = research_tables(registry, seed=11)
    other = research_tables(registry, seed=12)
    assert all(tables[k].equals(again[k]) for k in tables)
    assert not tables["visits"]["visit_date"].equals(other["visits"]["visit_date"])
    original = pd.read_csv(data_dir / "good" / "visits.csv", parse_dates=["visit_date"])
    implants = pd.read_csv(data_dir / "good" / "implants.csv", parse_dates=["implant_date"]).groupby("patient_id")
    gaps = sorted((original["visit_date"] - original["patient_id"].map(implants["implant_date"].min())).dt.days)
    shifted = tables["visits"].merge(tables["implants"].groupby("research_id")["implant_date"].min().rename("t0"),
                                     on="research_id")
    assert sorted((pd.to_datetime(shifted["visit_date"]) - pd.to_datetime(shifted["t0"])).dt.days) == gaps
    ages = sorted(tables["patients"]["age_at_implant_years"])
    assert ages == ["62", "67", "90+"]


def test_research_rows_have_exactly_their_tables_columns(registry):
    rows = [(spec, row) for records in deidentified_records(registry, seed=5).values() for spec, row in records]
    assert {spec.name for spec, _ in rows} >= {"patients", "implants", "refills", "alarms", "exits"}
    for spec, row in rows:
        assert list(row) == research_columns(spec), spec.name


def test_research_export_of_an_empty_registry_writes_every_table_with_its_header(engine, tmp_path):
    paths = write_research_export(engine, tmp_path / "research", seed=1)
    assert sorted(p.stem for p in paths) == sorted(SPECS)
    for path in paths:
        frame = pd.read_csv(path)
        assert frame.empty and list(frame.columns) == research_columns(SPECS[path.stem])

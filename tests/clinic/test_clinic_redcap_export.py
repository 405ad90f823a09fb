"""The REDCap records export, on SQLite and PostgreSQL: the example clinic read back by the REDCap import gives
the same records; the research form carries research IDs, shifted dates and no identifier; negative numbers in
the exports stay numbers (formula neutralising is for text)."""

from __future__ import annotations

import csv
import io
from pathlib import Path

import pytest
from sqlalchemy import Engine

from openidds.clinic import (
    SPECS,
    RegistryError,
    connect,
    data_dictionary,
    import_batch,
    init_registry,
    read_paths,
    read_redcap,
    research_tables,
    store,
)
from openidds.clinic.csv_io import write_records
from openidds.clinic.database import sessions
from openidds.clinic.examples import load_example
from openidds.clinic.importer import parse_rows
from openidds.clinic.redcap import redcap_records, research_redcap_records


def _records(engine: Engine) -> list[str]:
    with sessions(engine)() as session:
        snapshot = store.load(session)
    return sorted(str((r.spec.name, r.patient, r.implant_date, sorted(r.values.items(), key=str)))
                  for r in snapshot.records)


def _write(folder: Path, records: str) -> None:
    (folder / "dictionary.csv").write_text(data_dictionary(), encoding="utf-8")
    (folder / "records.csv").write_text(records, encoding="utf-8")


def test_the_example_clinic_comes_back_whole_through_the_redcap_import(engine: Engine, tmp_path: Path) -> None:
    load_example(engine, pump_logs=False)
    exported = redcap_records(engine)
    _write(tmp_path, exported)
    batch = read_redcap(tmp_path / "dictionary.csv", tmp_path / "records.csv")
    assert batch.findings == []
    copy = connect(str(tmp_path / "copy.sqlite"))
    init_registry(copy)
    summary = import_batch(copy, batch, "test", "records.csv")
    assert summary.inserted["patients"] == 220 and summary.inserted["refills"] == 500
    assert _records(copy) == _records(engine)
    assert redcap_records(copy) == exported
    again = import_batch(engine, read_redcap(tmp_path / "dictionary.csv", tmp_path / "records.csv"), "test", "again")
    assert again.inserted == {} and sum(again.updated.values()) == 0
    copy.dispose()


def test_the_export_writes_redcaps_raw_values_one_row_per_repeating_instance(engine: Engine, data_dir: Path) -> None:
    folder = data_dir / "redcap"
    import_batch(engine, read_redcap(folder / "dictionary.csv", folder / "records.csv"), "redcap", "records.csv")
    rows = list(csv.DictReader(io.StringIO(redcap_records(engine))))
    r001 = [r for r in rows if r["record_id"] == "R001"]
    assert [(r["redcap_repeat_instrument"], r["redcap_repeat_instance"]) for r in r001] == [
        ("", ""), ("implants", "1"), ("visits", "1"), ("visits", "2"), ("refills", "1")]
    base, implant, _, follow_up, refill = r001
    assert (base["site"], base["sex"], base["prior_surgery"], base["exit_reason"]) == ("UH", "female", "1", "death")
    assert (base["pain_locations___lumbosacral"], base["pain_locations___abdomen"], base["pain_locations___back"]) \
        == ("1", "0", "1")
    assert (base["patients_complete"], base["exits_complete"], base["visits_complete"]) == ("2", "2", "")
    assert base["visit_date"] == "" and implant["sex"] == "" and implant["implants_complete"] == "2"
    assert (follow_up["visit_date"], follow_up["visit_nrs"]) == ("2023-04-10", "3")
    assert (refill["refill_refilled_at"], refill["refill_pump_serial"]) == ("2023-03-01 09:15:00", "SN-R001")


def test_a_patient_id_at_two_sites_is_refused_with_what_to_do(engine: Engine) -> None:
    batch = parse_rows(SPECS["patients"], [(f"p{n}", {"site": site, "patient_id": "P1", "sex": "male",
                                                                "age_at_implant_years": "60"})
                                           for n, site in enumerate(("S1", "S2"))])
    import_batch(engine, batch, "test", "two sites")
    with pytest.raises(RegistryError) as refused:
        redcap_records(engine)
    assert "'P1'" in str(refused.value) and "S1 and S2" in str(refused.value) and "each site" in str(refused.value)


def test_the_research_form_is_the_research_export_in_redcaps_layout(engine: Engine, data_dir: Path) -> None:
    import_batch(engine, read_redcap(data_dir / "redcap" / "dictionary.csv", data_dir / "redcap" / "records.csv"),
                 "redcap", "records.csv")
    text = research_redcap_records(engine, seed=7)
    rows = list(csv.DictReader(io.StringIO(text)))
    header = list(rows[0])
    for dropped in ("site", "birth_date", "implant_serial_number", "refill_pump_serial", "mrn", "comp_note",
                    "exit_cause_of_death", "given_name"):
        assert dropped not in header
    for identifier in ("R001", "R002", "UH", "1950-03-04", "SN-R001", "2023-01-10"):
        assert identifier not in text
    tables = research_tables(engine, seed=7)
    assert sorted({r["record_id"] for r in rows}) == sorted(tables["patients"]["research_id"])
    implants = {r["record_id"]: r["implant_date"] for r in rows if r["redcap_repeat_instrument"] == "implants"}
    expected = dict(zip(tables["implants"]["research_id"], tables["implants"]["implant_date"], strict=True))
    assert implants == {k: v.isoformat() for k, v in expected.items()}
    assert research_redcap_records(engine, seed=7) == text and research_redcap_records(engine, seed=8) != text


def test_negative_numbers_are_numbers_not_neutralised_formula_text(engine: Engine, tmp_path: Path) -> None:
    load_example(engine, pump_logs=False)
    rows = {r["Variable / Field Name"]: r for r in csv.DictReader(io.StringIO(data_dictionary()))}
    assert (rows["visit_eq5d_index"]["Text Validation Min"], rows["visit_eq5d_index"]["Text Validation Max"]) \
        == ("-1", "1")
    indexes = [r["visit_eq5d_index"] for r in csv.DictReader(io.StringIO(redcap_records(engine)))]
    assert "-0.262" in indexes and not any(i.startswith("'") for i in indexes)
    write_records(engine, tmp_path)
    visits = (tmp_path / "visits.csv").read_text(encoding="utf-8")
    assert ",-0.262," in visits and "'-" not in visits
    again = import_batch(engine, read_paths([tmp_path]), "test", "registry-csv")
    assert again.inserted == {} and sum(again.updated.values()) == 0

"""REDCap: the generated data dictionary and the import of a records export, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
import datetime as dt
import io

import pytest
from sqlalchemy import select

from openidds.clinic import SPECS, ImportRejected, data_dictionary, import_batch, read_redcap, unit_of_work
from openidds.clinic.models import Patient, Refill, Visit
from openidds.clinic.redcap import HEADER, repeating_instruments, variables


def _dictionary() -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(data_dictionary())))


def test_dictionary_has_the_18_columns_and_one_row_per_mapped_field():
    rows = _dictionary()
    assert list(rows[0]) == HEADER and len(HEADER) == 18
    assert rows[0]["Variable / Field Name"] == "record_id"
    names = [r["Variable / Field Name"] for r in rows]
    assert len(names) == len(set(names)) == 1 + len(variables())
    assert all(n.islower() and n[0].isalpha() and len(n) <= 100 for n in names)
    assert {r["Form Name"] for r in rows} == set(SPECS)


def test_dictionary_carries_types_ranges_choices_and_identifiers():
    rows = {r["Variable / Field Name"]: r for r in _dictionary()}
    nrs = rows["visit_nrs"]
    assert (nrs["Field Type"], nrs["Text Validation Type OR Show Slider Number"], nrs["Text Validation Min"],
            nrs["Text Validation Max"]) == ("text", "integer", "0", "10")
    assert rows["pain_locations"]["Field Type"] == "checkbox"
    assert rows["pain_locations"]["Choices, Calculations, OR Slider Labels"].startswith("lumbosacral, Lumbosacral | ")
    assert rows["sex"]["Field Type"] == "dropdown" and rows["sex"]["Required Field?"] == "y"
    assert rows["prior_surgery"]["Field Type"] == "yesno"
    assert rows["birth_date"]["Identifier?"] == "y" and rows["implant_serial_number"]["Identifier?"] == "y"
    assert rows["refill_refilled_at"]["Text Validation Type OR Show Slider Number"] == "datetime_seconds_ymd"
    assert "visits" in repeating_instruments() and "patients" not in repeating_instruments()


def test_records_export_imports_checkboxes_repeats_and_events(engine, data_dir):
    folder = data_dir / "redcap"
    batch = read_redcap(folder / "dictionary.csv", folder / "records.csv")
    assert batch.findings == []
    summary = import_batch(engine, batch, "redcap", "records.csv")
    assert summary.inserted == {"patients": 2, "exits": 1, "implants": 2, "visits": 2, "refills": 1}
    with unit_of_work(engine, "reader") as s:
        r001 = s.scalars(select(Patient).where(Patient.patient_code == "R001")).one()
        r002 = s.scalars(select(Patient).where(Patient.patient_code == "R002")).one()
        refill = s.scalars(select(Refill)).one()
        event_visit = s.scalars(select(Visit).where(Visit.visit_type == "follow_up")).one()
        site = r001.site.code
    assert (site, r001.pain_locations, r001.prior_surgery) == ("UH", ["back", "lumbosacral"], True)
    assert (r002.pain_locations, r002.prior_surgery) == (["abdomen"], False)
    assert refill.refilled_at == dt.datetime(2023, 3, 1, 9, 15) and refill.discrepancy_ml == pytest.approx(-0.5)
    assert (event_visit.visit_date, event_visit.nrs) == (dt.date(2023, 4, 10), 3)
    again = import_batch(engine, read_redcap(folder / "dictionary.csv", folder / "records.csv"), "redcap", "again")
    assert again.inserted == {}


def test_unknown_columns_and_foreign_choice_codes_are_reported(data_dir, tmp_path):
    folder = data_dir / "redcap"
    dictionary = tmp_path / "dictionary.csv"
    text = (folder / "dictionary.csv").read_text()
    dictionary.write_text(text.replace('"female, Female | male, Male', '"1, Female | 2, Male')
                          + "favourite_colour,patients,,text,Colour,,,,,,,,,,,,,\n")
    records = tmp_path / "records.csv"
    records.write_text("record_id,site,sex,shoe_size\nR9,UH,1,44\n")
    batch = read_redcap(dictionary, records)
    rules = sorted((f.rule, f.record) for f in batch.findings)
    assert rules == [("choice-codes", "sex"), ("unknown-column", "shoe_size"), ("unmapped-field", "favourite_colour")]


def test_bad_values_in_a_records_export_are_reported_by_line(engine, data_dir, tmp_path):
    records = tmp_path / "records.csv"
    records.write_text("record_id,redcap_repeat_instrument,redcap_repeat_instance,site,birth_date,sex,visit_date,"
                       "visit_type,visit_nrs\nR1,,,UH,1950-01-01,female,,,\nR1,visits,1,,,,2023-01-01,baseline,12\n")
    with pytest.raises(ImportRejected) as caught:
        import_batch(engine, read_redcap(data_dir / "redcap" / "dictionary.csv", records), "redcap", "bad")
    assert [(f.location, f.rule) for f in caught.value.findings] == [("records.csv:3", "value")]


def test_the_unmapped_field_hint_names_a_command_that_exists(data_dir, tmp_path):
    from typer.testing import CliRunner

    from openidds.cli import app

    dictionary = tmp_path / "dictionary.csv"
    dictionary.write_text((data_dir / "redcap" / "dictionary.csv").read_text()
                          + "favourite_colour,patients,,text,Colour,,,,,,,,,,,,,\n")
    records = tmp_path / "records.csv"
    records.write_text("record_id,site\nR9,UH\n")
    [finding] = read_redcap(dictionary, records).findings
    command = finding.message.split("`")[1]
    assert command == "openidds registry export redcap-dictionary DICTIONARY.csv"
    result = CliRunner().invoke(app, [*command.split()[1:-1], str(tmp_path / "fresh.csv")])
    assert result.exit_code == 0 and (tmp_path / "fresh.csv").read_text().startswith("Variable / Field Name")


def test_an_empty_records_file_is_refused_as_an_empty_csv_file_is(data_dir, tmp_path):
    records = tmp_path / "records.csv"
    records.write_text("")
    findings = read_redcap(data_dir / "redcap" / "dictionary.csv", records).findings
    assert [(f.rule, f.location) for f in findings] == [("empty-file", "records.csv:1")]


def test_an_unknown_repeat_instrument_is_refused_not_dropped(data_dir, tmp_path):
    records = tmp_path / "records.csv"
    records.write_text("record_id,redcap_repeat_instrument,redcap_repeat_instance,site,visit_date,visit_type\n"
                       "R1,,,UH,,\nR1,visit_notes,1,,2023-01-01,baseline\n")
    findings = read_redcap(data_dir / "redcap" / "dictionary.csv", records).findings
    assert [(f.rule, f.record, f.location) for f in findings] == [("repeat-instrument", "visit_notes",
                                                                   "records.csv:3")]


def test_a_row_wider_than_the_header_is_refused(data_dir, tmp_path):
    records = tmp_path / "records.csv"
    records.write_text("record_id,site\nR1,UH,extra\n")
    findings = read_redcap(data_dir / "redcap" / "dictionary.csv", records).findings
    assert [(f.rule, f.location) for f in findings] == [("row-width", "records.csv:2")]

"""The REDCap records export, on SQLite and PostgreSQL: the example clinic read back by the REDCap import gives
the same records; the research form carries research IDs, shifted dates and no identifier; each export's
dictionary declares every value it writes (type, validation, range, choices) in REDCap's column layout; negative
numbers in the exports stay numbers (formula neutralising is for text)."""

from __future__ import annotations

import csv
import datetime as dt
import io
import re
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
from openidds.clinic.redcap import redcap_records, research_data_dictionary, research_redcap_records

_META = {"record_id", "redcap_event_name", "redcap_repeat_instrument", "redcap_repeat_instance"}


def _codes(field: dict[str, str]) -> list[str]:
    return [c.split(",", 1)[0].strip() for c in field["Choices, Calculations, OR Slider Labels"].split("|")]


def _value_refused(field: dict[str, str], value: str) -> str | None:
    """Why REDCap's data import refuses ``value`` for the dictionary row ``field``, or None."""
    kind, validation = field["Field Type"], field["Text Validation Type OR Show Slider Number"]
    low, high = field["Text Validation Min"], field["Text Validation Max"]
    if kind == "dropdown":
        return None if value in _codes(field) else f"not a choice code {_codes(field)}"
    if kind == "yesno":
        return None if value in ("0", "1") else "not 0 or 1"
    if validation in ("integer", "number"):
        if not re.fullmatch(r"-?\d+" if validation == "integer" else r"-?\d+(\.\d+)?", value):
            return f"not {validation}"
        if (low and float(value) < float(low)) or (high and float(value) > float(high)):
            return f"outside {low}..{high}"
    if validation == "date_ymd":
        return None if re.fullmatch(r"\d{4}-\d\d-\d\d", value) and dt.date.fromisoformat(value) else "not Y-M-D"
    if validation == "datetime_seconds_ymd":
        return None if re.fullmatch(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d", value) else "not Y-M-D H:M:S"
    return None


def _refusals(dictionary: str, records: str) -> list[str]:
    """What REDCap would refuse in ``records`` under ``dictionary``: a column that is no field, no checkbox choice
    or out of the dictionary's order, a form's ``_complete`` not right after that form's last field, and every
    value its field's type, validation, range or choices refuse."""
    fields = {r["Variable / Field Name"]: r for r in csv.DictReader(io.StringIO(dictionary))}
    header, *rows = list(csv.reader(io.StringIO(records)))
    statuses = {c for c in header if c.endswith("_complete") and c not in fields}
    out = [f"{c}: no field of the dictionary" for c in header
           if c not in _META | statuses and c.partition("___")[0] not in fields]
    form_of = {c: fields[c.partition("___")[0]]["Form Name"] for c in header
               if c not in _META | statuses and c.partition("___")[0] in fields}
    for column in form_of:
        name, _, code = column.partition("___")
        if code and (fields[name]["Field Type"] != "checkbox" or code not in _codes(fields[name])):
            out.append(f"{column}: no checkbox choice {code!r} of {name}")
    for n, column in enumerate(header):
        if column in statuses:
            before, after = form_of.get(header[n - 1]), form_of.get([*header, ""][n + 1])
            if before != column.removesuffix("_complete") or after == before:
                out.append(f"{column} is not right after the last field of its form")
    forms = [form for n, form in enumerate(form_of.values()) if n == 0 or form != list(form_of.values())[n - 1]]
    if len(forms) != len(set(forms)):
        out.append(f"a form's fields are split: {forms}")
    variables = [c.partition("___")[0] for c in form_of]
    if variables != sorted(variables, key=list(fields).index):
        out.append("the columns are not in the dictionary's order")
    for line, row in enumerate(rows, start=2):
        for column, value in zip(header, row, strict=True):
            if not value or column in _META:
                continue
            if column not in form_of:
                why = None if value in ("0", "1", "2") else "not a form status"
            elif "___" in column:
                why = None if value in ("0", "1") else "not a checkbox 0 or 1"
            else:
                why = _value_refused(fields[column], value)
            if why:
                out.append(f"line {line}: {column}={value!r} {why}")
    return out


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


def test_every_exported_value_is_one_its_dictionary_declares_in_redcaps_layout(engine: Engine) -> None:
    load_example(engine, pump_logs=False)
    assert _refusals(data_dictionary(), redcap_records(engine)) == []
    assert _refusals(research_data_dictionary(), research_redcap_records(engine, seed=3)) == []


def test_the_research_records_top_code_the_age_at_90_which_their_dictionary_declares(engine: Engine,
                                                                                       data_dir: Path) -> None:
    import_batch(engine, read_paths([data_dir / "good"]), "test", "good")  # P003, born 1930, implanted aged 92
    records = research_redcap_records(engine, seed=11)
    assert sorted(r["age_at_implant_years"] for r in csv.DictReader(io.StringIO(records))
                  if not r["redcap_repeat_instrument"]) == ["62", "67", "90"]
    dictionary = research_data_dictionary()
    [age] = [r for r in csv.DictReader(io.StringIO(dictionary)) if r["Variable / Field Name"] == "age_at_implant_years"]
    assert (age["Text Validation Type OR Show Slider Number"], age["Text Validation Max"]) == ("integer", "90")
    assert "90 means 90 or older" in age["Field Note"] and "164.514(b)(2)(i)(C)" in age["Field Note"]
    assert _refusals(dictionary, records) == []
    assert _refusals(data_dictionary(), redcap_records(engine)) == []
    grouped = records.replace(",90,", ",90+,")  # what the research export wrote before, which REDCap refuses
    assert [r for r in _refusals(dictionary, grouped) if "'90+' not integer" in r]
    assert set(research_tables(engine, seed=11)["patients"]["age_at_implant_years"]) == {"62", "67", "90+"}


def test_each_form_status_follows_its_form_and_the_old_layout_still_imports(engine: Engine, tmp_path: Path) -> None:
    load_example(engine, pump_logs=False)
    exported = redcap_records(engine)
    header = next(csv.reader(io.StringIO(exported)))
    at = header.index("patients_complete")
    assert header[at - 1:at + 2] == ["last_contact_date", "patients_complete", "trial_number"]
    assert header[-1] == "boluses_complete" and header[-2].startswith("bolus_")
    table = list(csv.reader(io.StringIO(exported)))
    old_order = sorted(range(len(header)), key=lambda i: header[i].endswith("_complete"))  # stable: statuses last
    old = io.StringIO()
    csv.writer(old, lineterminator="\n").writerows([row[i] for i in old_order] for row in table)
    assert [header[i] for i in old_order][-10:] == [c for c in header if c.endswith("_complete")]
    assert "patients_complete is not right after the last field of its form" in _refusals(data_dictionary(),
                                                                                           old.getvalue())
    _write(tmp_path, old.getvalue())
    from_old = read_redcap(tmp_path / "dictionary.csv", tmp_path / "records.csv")
    _write(tmp_path, exported)
    from_new = read_redcap(tmp_path / "dictionary.csv", tmp_path / "records.csv")
    assert from_old.findings == [] and from_new.findings == []
    assert [str(r) for r in from_old.records] == [str(r) for r in from_new.records]
    assert len(from_new.records) > 1000

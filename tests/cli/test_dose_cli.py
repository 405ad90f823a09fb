"""End-to-end tests of `openidds dose` (ome, start, library)."""

import json
from pathlib import Path

from typer.testing import CliRunner

from openidds.cli import dose
from openidds.drugs import default_library

runner = CliRunner()


def _run(*args: str) -> tuple[int, str]:
    result = runner.invoke(dose.app, list(args))
    return result.exit_code, result.output


def test_ome_table_output() -> None:
    code, out = _run("ome", "--med", "oxycodone PO 40 mg/day", "--med", "fentanyl TD 25 mcg/h")
    assert code == 0, out
    assert "cdc-2022" in out and "120 mg/day" in out and "[V] cdc-2022" in out
    assert "dosed in mcg/h" in out


def test_ome_json_output_with_each_line_and_source() -> None:
    code, out = _run("ome", "--med", "fentanyl TD 25 mcg/h", "--med", "methadone PO 30 mg/day",
                     "--table", "cdc-2016", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["table"] == "cdc-2016" and data["total"] == "300 mg/day"
    fentanyl, methadone = data["lines"]
    assert (fentanyl["ome"], fentanyl["factor"], fentanyl["status"]) == ("60 mg/day", "12/5", "V")
    assert methadone["factor"] == "8" and "band over 20 mg/day up to 40 mg/day" in methadone["band"]
    assert any("non-linear" in w for w in data["warnings"])


def test_ome_from_csv_and_json_files(tmp_path: Path) -> None:
    csv_file = tmp_path / "meds.csv"
    csv_file.write_text("opioid,route,dose\nmorphine,PO,60 mg/day\nhydromorphone,IV,1.5 mg/day\n")
    code, out = _run("ome", "--file", str(csv_file), "--json")
    assert code == 0, out
    assert json.loads(out)["total"] == "90 mg/day"
    json_file = tmp_path / "meds.json"
    json_file.write_text(json.dumps([{"opioid": "tramadol", "route": "PO", "dose": "100 mg/day"}]))
    code, out = _run("ome", "--file", str(json_file), "--med", "morphine PO 10 mg/day", "--json")
    assert code == 0, out
    assert json.loads(out)["total"] == "30 mg/day"


def test_ome_bad_input_names_field_value_and_expectation(tmp_path: Path) -> None:
    code, out = _run("ome", "--med", "oxycodone PO 40 mg")
    assert code == 2
    assert "--med[0]='oxycodone PO 40 mg'" in out and "a dose needs its time base" in out
    code, out = _run("ome")
    assert code == 2 and "at least one medication line" in out
    bad = tmp_path / "meds.csv"
    bad.write_text("opioid,route,dose\noxycodone,XX,40 mg/day\n")
    code, out = _run("ome", "--file", str(bad))
    assert code == 2 and "row 2.route='XX'" in out
    code, out = _run("ome", "--file", str(tmp_path / "missing.csv"))
    assert code == 2 and "a readable file" in out
    code, out = _run("ome", "--med", "tramadol PO 50 mg/day", "--table", "cdc-2016")
    assert code == 2 and "tramadol is in table cdc-2022" in out


def test_start_from_a_medication_list() -> None:
    code, out = _run("start", "--med", "oxycodone PO 160 mg/day")
    assert code == 0, out
    assert "Proposed intrathecal morphine: 2.4 mg/day" in out
    assert "1.6 mg/day to 3.2 mg/day" in out and "sindt-2021" in out
    assert "unverified [R]" in out


def test_start_json_flags_a_hard_limit_without_clamping() -> None:
    code, out = _run("start", "--ome", "3000 mg/day", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["dose"] == "30 mg/day" and data["exceeds_hard_limit"] is True
    assert data["checks"][0]["outcome"] == "above_hard" and data["checks"][0]["hard"]["value"] == "20 mg/day"
    assert data["ome_detail"] is None


def test_start_options() -> None:
    code, out = _run("start", "--ome", "240 mg/day", "--drug", "hydromorphone", "--ratio", "300:1", "--frail",
                     "--opioid-tolerant", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert data["dose"] == "0.1 mg/day" and data["dose_display"] == "0.1 mg/day"
    code, out = _run("start", "--ome", "100 mg/day", "--ratio", "90", "--json")
    assert code == 0, out
    assert json.loads(out)["dose"] == "10/9 mg/day" and json.loads(out)["dose_display"] == "≈1.111 mg/day"
    assert data["reduction_percent"] == 25 and data["opioid_naive"] is False
    code, out = _run("start", "--ome", "240 mg/day", "--reduction", "10")
    assert code == 2 and "reduction_percent=10" in out
    code, out = _run("start", "--ome", "240 mg", "--json")
    assert code == 2 and "--ome='240 mg'" in out
    code, out = _run("start", "--ome", "240 mg/day", "--med", "morphine PO 10 mg/day")
    assert code == 2 and "not both" in out


def test_start_with_a_clinic_library(tmp_path: Path) -> None:
    data = json.loads(default_library().model_dump_json())
    data["drugs"][0]["limits"]["per_day"]["hard"]["value"] = "40 mg/day"
    clinic = tmp_path / "clinic.json"
    clinic.write_text(json.dumps(data))
    code, out = _run("start", "--ome", "3000 mg/day", "--library", str(clinic), "--json")
    assert code == 0, out
    assert json.loads(out)["checks"][0]["outcome"] == "above_soft"
    data["drugs"][0]["limits"]["per_day"]["hard"]["value"] = "40000 mcg/day"
    clinic.write_text(json.dumps(data))
    code, out = _run("start", "--ome", "3000 mg/day", "--library", str(clinic))
    assert code == 2 and "drugs.0" in out and "write it in mg/day" in out


def test_library_listing() -> None:
    code, out = _run("library", "ziconotide")
    assert code == 0, out
    assert "19.2 mcg/day" in out and "[V] prialt-label" in out and "off-label" in out
    code, out = _run("library", "--json")
    assert code == 0, out
    data = json.loads(out)
    assert len(data["drugs"]) == 8
    morphine = data["drugs"][0]
    soft = morphine["limits"]["per_day"]["soft"]
    assert (soft["value"], soft["status"], soft["source"]) == ("15 mg/day", "R", "pacc-2012")
    code, out = _run("library", "pethidine")
    assert code == 2 and "drug='pethidine'" in out

"""Bad registry files through `openidds registry import`: CSV, REDCap and pump logs that are not what they
claim, refused with the file and what was expected, and the registry unchanged (row counts before = after)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tests.test_bad_input_corpus import DB, GOOD, Case, check, registry_template
from typer.testing import CliRunner

from openidds.cli import app

DATA = GOOD.parent
VISITS_HEADER = (GOOD / "visits.csv").read_text(encoding="utf-8").splitlines()[0]
VISIT = "CJFH,P001,2022-11-01,follow_up,{nrs},5L,2,2,3,3,2,60,0.702,1,60,reduced,satisfied,{who}"
COMPLICATIONS_HEADER = (GOOD / "complications.csv").read_text(encoding="utf-8").splitlines()[0]
COMPLICATION = "CJFH,P001,postdural_puncture_headache,2022-10-03,1,none,2022-10-04,{note}"
HUGE_CELL = "x" * 200_000


def _visits(row: str, encoding: str = "utf-8") -> bytes:
    return f"{VISITS_HEADER}\n{row}\n".encode(encoding)


def _complication(note: str, encoding: str) -> bytes:
    return f"{COMPLICATIONS_HEADER}\n{COMPLICATION.format(note=note)}\n".encode(encoding)


def _log(**changes: object) -> bytes:
    log = json.loads((DATA / "pump_log.json").read_text(encoding="utf-8"))
    event = changes.pop("event", None)
    log.update(changes)
    if isinstance(event, dict):
        log["events"][-1].update(event)
    return json.dumps(log).encode()


def _log_text(old: str, new: str) -> bytes:
    return (DATA / "pump_log.json").read_text(encoding="utf-8").replace(old, new, 1).encode()


def _records(transform: str) -> bytes:
    lines = (DATA / "redcap" / "records.csv").read_text(encoding="utf-8").splitlines()
    if transform == "empty":
        return b""
    if transform == "repeat":
        lines[2] = lines[2].replace(",implants,1,", ",implant_visits,1,", 1)
    return ("\n".join(lines) + "\n").encode("latin-1" if transform == "latin-1" else "utf-8")


def _dictionary_with_unmapped() -> bytes:
    text = (DATA / "redcap" / "dictionary.csv").read_text(encoding="utf-8")
    return (text + "favourite_colour,patients,,text,Favourite colour,,,,,,,,,,,,,\n").encode()


IMPORT = ("registry", "import", "--db", f"{{dir}}/{DB}", "--user", "corpus")
CSV = (*IMPORT, "{dir}/in")
REDCAP = (*IMPORT, "--format", "redcap", "{dir}/dictionary.csv", "{dir}/records.csv")
DICTIONARY = {"dictionary.csv": (DATA / "redcap" / "dictionary.csv").read_bytes()}
PUMP_LOG = (*IMPORT, "--format", "pump-log", "{dir}/log.json", "--patient", "CJFH/P001", "--implant-date",
            "2022-09-01")


def _case(name: str, args: tuple[str, ...], files: dict, says: tuple[str, ...], exit_code: int = 2) -> Case:
    return Case(name, args, says, files, exit_code, registry=True)


CASES = [
    _case("csv-latin-1", CSV, {"in/complications.csv": _complication("c\u00e9phal\u00e9e", "latin-1")},
          ("complications.csv", "line 2", "byte 0xe9 at column 69", "not UTF-8", "save the file as UTF-8")),
    _case("csv-cell-over-field-limit", CSV, {"in/visits.csv": _visits(VISIT.format(nrs=3, who=f'"{HUGE_CELL}"'))},
          ("visits.csv line 2", "field larger than field limit", "CSV cells of at most")),
    _case("csv-unclosed-quote", CSV, {"in/visits.csv": _visits(VISIT.format(nrs=3, who='"family'))
                                      + (VISIT.format(nrs=4, who="family") + "\n").encode()},
          ("visits.csv line 3", "unexpected end of data", "quotes paired")),
    _case("csv-text-after-closing-quote", CSV, {"in/visits.csv": _visits(VISIT.format(nrs=3, who='"fam"ily'))},
          ("visits.csv line 2", "expected after", "quotes paired")),
    _case("csv-utf-16-without-mark", CSV, {"in/complications.csv": _complication("note", "utf-16-le")},
          ("complications.csv", "a NUL character", "UTF-16 without its byte-order mark")),
    _case("csv-folder-without-csv-files", CSV, {"in/visits.xlsx": b"PK\x03\x04"},
          ("in/", "a folder holding CSV files"), exit_code=1),
    _case("csv-empty-file", CSV, {"in/visits.csv": b""}, ("visits.csv:1", "no header row"), exit_code=1),
    _case("csv-number-1e10000", CSV, {"in/visits.csv": _visits(VISIT.format(nrs="1e10000", who="family"))},
          ("visits.csv:2", "nrs", "a whole number"), exit_code=1),
    _case("csv-year-9999", CSV, {"in/visits.csv": _visits(VISIT.format(nrs=3, who="family").replace(
        "2022-11-01", "9999-12-31"))}, ("visits.csv:2", "visit_date", "1900-01-01 to 2199-12-31"), exit_code=1),
    _case("csv-number-1e100000000", CSV, {"in/visits.csv": _visits(VISIT.format(nrs=3, who="family").replace(
        ",60,reduced", ",1e100000000,reduced"))}, ("visits.csv:2", "ome_mg_per_day", "finite"), exit_code=1),
    _case("redcap-empty-records", REDCAP, {**DICTIONARY, "records.csv": _records("empty")},
          ("records.csv:1", "no header row"), exit_code=1),
    _case("redcap-unknown-repeat-instrument", REDCAP, {**DICTIONARY, "records.csv": _records("repeat")},
          ("records.csv:3", "implant_visits", "a repeating instrument"), exit_code=1),
    _case("redcap-latin-1", REDCAP, {**DICTIONARY, "records.csv": _records("latin-1")
                                     + "R009,baseline_arm_1,,,UH,caf\u00e9\n".encode("latin-1")},
          ("records.csv", "line 9", "byte 0xe9", "not UTF-8")),
    _case("redcap-unmapped-field", REDCAP, {"dictionary.csv": _dictionary_with_unmapped(),
                                            "records.csv": _records("")},
          ("favourite_colour", "openidds registry export redcap-dictionary"), exit_code=1),
    _case("pump-log-nan", PUMP_LOG, {"log.json": _log_text('"reservoir_ml": 40', '"reservoir_ml": NaN')},
          ("pump log", "NaN", "finite numbers")),
    _case("pump-log-infinity", PUMP_LOG, {"log.json": _log_text('"withdrawn": 0', '"withdrawn": -Infinity')},
          ("pump log", "Infinity", "finite numbers")),
    _case("pump-log-seq-2^70", PUMP_LOG, {"log.json": _log(event={"seq": 2**70})},
          ("events.4.seq", "less than or equal to 2147483647"), exit_code=1),
    _case("pump-log-t_s-1e15", PUMP_LOG, {"log.json": _log(event={"t_s": 10**15})},
          ("events.4.t_s", "less than or equal to 316224000"), exit_code=1),
    _case("pump-log-year-9999", PUMP_LOG, {"log.json": _log(clock_start="9999-12-31T23:00:00Z")},
          ("clock_start", "1970-01-01 to 2199-12-31"), exit_code=1),
    _case("pump-log-latin-1", PUMP_LOG, {"log.json": _log_text('"SynchroMed II 40 mL implanted"',
                                                               '"SynchroMed II 40 mL implant\u00e9"').decode()
                                         .encode("latin-1")},
          ("log.json", "byte 0xe9", "not UTF-8")),
    _case("pump-log-nested-too-deep", PUMP_LOG, {"log.json": b"[" * 200_000 + b"]" * 200_000},
          ("log.json", "nests too deep")),
    _case("pump-log-not-json", PUMP_LOG, {"log.json": b"seq,t_s\n0,0\n"}, ("pump log", "valid JSON")),
]


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return registry_template(tmp_path_factory.mktemp("registry"))


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_refused_and_nothing_written(case: Case, tmp_path: Path, template: Path) -> None:
    check(case, tmp_path, template)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_a_file_that_says_its_encoding_is_read(encoding: str, tmp_path: Path, template: Path) -> None:
    """Excel's "Unicode text" (UTF-16 with its byte-order mark) and UTF-8 with a BOM import like UTF-8."""
    db = tmp_path / DB
    db.write_bytes(template.read_bytes())
    folder = tmp_path / "in"
    folder.mkdir()
    (folder / "complications.csv").write_bytes(_complication("c\u00e9phal\u00e9e", encoding))
    result = CliRunner().invoke(app, ["registry", "import", str(folder), "--db", str(db), "--user", "c", "--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output)["inserted"] == {"complications": 1}


def test_a_utf16_pump_log_is_read(tmp_path: Path, template: Path) -> None:
    db = tmp_path / DB
    db.write_bytes(template.read_bytes())
    (tmp_path / "log.json").write_bytes((DATA / "pump_log.json").read_text(encoding="utf-8").encode("utf-16"))
    result = CliRunner().invoke(app, [a.replace("{dir}", str(tmp_path)) for a in PUMP_LOG] + ["--json"])
    assert result.exit_code == 0, result.output
    assert json.loads(result.output) == {"inserted": {"pump_events": 5}}

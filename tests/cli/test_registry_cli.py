"""`openidds registry` end to end on an SQLite file: init, import, patients, refills-due, check, export,
sync-alarms."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import select
from tests.cli.invoke import invoke

from openidds.cli import registry
from openidds.clinic import connect, unit_of_work
from openidds.clinic.database import head_revision
from openidds.clinic.models import Implant, Patient, PumpEvent

DATA = Path(__file__).resolve().parents[1] / "data" / "clinic"


def _run(*args: str) -> tuple[int, str]:
    result = invoke(registry.app, *args)
    return result.exit_code, result.output


@pytest.fixture
def db(tmp_path: Path) -> str:
    path = str(tmp_path / "clinic.sqlite")
    assert _run("init", "--db", path)[0] == 0
    assert _run("import", str(DATA / "good"), "--db", path, "--user", "amy")[0] == 0
    return path


def test_init_reports_the_schema_revision(tmp_path):
    code, out = _run("init", "--db", str(tmp_path / "x.sqlite"), "--json")
    assert code == 0 and json.loads(out)["revision"] == head_revision() == "0014"


def test_commands_refuse_an_uninitialised_registry(tmp_path):
    code, out = _run("patients", "--db", str(tmp_path / "none.sqlite"))
    assert code == 2 and "registry init" in out


def test_import_prints_counts_and_reimport_adds_nothing(db):
    code, out = _run("import", str(DATA / "good"), "--db", db, "--json")
    assert code == 0 and json.loads(out)["inserted"] == {}
    code, out = _run("import", str(DATA / "good"), "--db", db)
    assert code == 0 and "unchanged" in out


def test_a_bad_import_lists_each_error_and_exits_1(db):
    code, out = _run("import", str(DATA / "bad"), "--db", db, "--json")
    report = json.loads(out)
    assert code == 1 and "nothing written" in report["error"]
    assert any(f["location"] == "visits.csv:2" and "nrs=11" in f["message"] for f in report["findings"])
    code, out = _run("import", str(DATA / "bad"), "--db", db)
    assert code == 1 and "nothing was written" in out and "patients.csv:3" in out


def test_redcap_and_pump_log_imports(db):
    code, out = _run("import", "--format", "redcap", str(DATA / "redcap" / "dictionary.csv"),
                     str(DATA / "redcap" / "records.csv"), "--db", db, "--json")
    assert code == 0 and json.loads(out)["inserted"]["patients"] == 2
    code, out = _run("import", "--format", "pump-log", str(DATA / "pump_log.json"), "--patient", "CJFH/P001",
                     "--implant-date", "2022-09-01", "--db", db, "--json")
    assert code == 0 and json.loads(out) == {"inserted": {"pump_events": 5}}


def test_patients_and_refills_due(db):
    code, out = _run("patients", "--db", db, "--json")
    rows = {r["patient_id"]: r for r in json.loads(out)}
    assert code == 0 and rows["P002"]["status"] == "death" and rows["P003"]["implants"] == 2
    code, out = _run("refills-due", "--db", db, "--today", "2023-04-10", "--json")
    assert code == 0 and [(r["patient_id"], r["days_left"]) for r in json.loads(out)] == [("P001", 10)]
    code, out = _run("refills-due", "--db", db, "--today", "2023-04-10", "--days", "90")
    assert code == 0 and "P003" in out and "P001" in out


def test_check_exits_1_only_on_errors(db):
    code, out = _run("check", "--db", db, "--today", "2023-05-01", "--json")
    report = json.loads(out)
    assert code == 0 and report["errors"] == 0 and report["warnings"] == 2


def test_exports_write_their_files(db, tmp_path):
    assert _run("export", "analysis", str(tmp_path / "a.parquet"), "--db", db)[0] == 0
    assert len(pd.read_parquet(tmp_path / "a.parquet")) == 3
    assert _run("export", "fhir", str(tmp_path / "b.json"), "--db", db)[0] == 0
    assert json.loads((tmp_path / "b.json").read_text())["resourceType"] == "Bundle"
    assert _run("export", "redcap-dictionary", str(tmp_path / "d.csv"))[0] == 0
    code, out = _run("export", "research", str(tmp_path / "r"), "--db", db)
    assert code == 2 and "--seed" in out
    assert _run("export", "research", str(tmp_path / "r"), "--db", db, "--seed", "5")[0] == 0
    assert (tmp_path / "r" / "patients.csv").exists()
    assert _run("export", "template", str(tmp_path / "t"))[0] == 0
    assert (tmp_path / "t" / "refills.csv").read_text().startswith("site,patient_id,pump_serial,refilled_at")


def test_the_redcap_records_export_reads_back_and_every_export_is_audited(db, tmp_path):
    assert _run("export", "redcap", str(tmp_path / "records.csv"), "--db", db, "--user", "dana")[0] == 0
    assert _run("export", "redcap-dictionary", str(tmp_path / "dictionary.csv"))[0] == 0
    copy = str(tmp_path / "copy.sqlite")
    assert _run("init", "--db", copy)[0] == 0
    code, out = _run("import", "--format", "redcap", str(tmp_path / "dictionary.csv"), str(tmp_path / "records.csv"),
                     "--db", copy, "--json")
    assert code == 0 and json.loads(out)["inserted"]["patients"] == 3
    assert _run("export", "research-redcap", str(tmp_path / "rr.csv"), "--db", db, "--seed", "5",
                "--user", "rita")[0] == 0
    assert (tmp_path / "rr.csv").read_text().startswith("record_id,redcap_repeat_instrument,redcap_repeat_instance,"
                                                        "age_at_implant_years,sex,")
    assert _run("export", "research-redcap-dictionary", str(tmp_path / "rd.csv"))[0] == 0
    assert "90 means 90 or older" in (tmp_path / "rd.csv").read_text()
    code, out = _run("audit", "--db", db, "--action", "export", "--json")
    entries = json.loads(out)
    assert code == 0 and [(e["user"], e["after"]["kind"]) for e in entries] == [("rita", "research-redcap"),
                                                                                ("dana", "redcap")]
    [records] = entries[1]["after"]["files"]
    data = (tmp_path / "records.csv").read_bytes()
    assert records == {"name": "records.csv", "size_bytes": len(data), "sha256": hashlib.sha256(data).hexdigest()}
    code, out = _run("audit", "--db", db, "--action", "exported")
    assert code != 0 and "insert, update, delete, export" in out


def test_import_shows_formula_warnings_and_refuses_formula_like_ids(db, tmp_path):
    """A text cell a spreadsheet would run as a formula is imported as given, with a warning on the command line;
    a site or patient ID may not start like a formula at all."""
    folder = tmp_path / "in"
    folder.mkdir()
    header, row = (DATA / "good" / "patients.csv").read_text().splitlines()[:2]
    cells = row.split(",")
    cells[1], cells[3] = "P900", "=HYPERLINK(x)"
    (folder / "patients.csv").write_text(f"{header}\n{','.join(cells)}\n")
    code, out = _run("import", str(folder), "--db", db)
    assert code == 0 and "1 warnings" in out and "formula-text" in out and "given_name" in out
    cells[1] = "-P901"
    (folder / "patients.csv").write_text(f"{header}\n{','.join(cells)}\n")
    code, out = _run("import", str(folder), "--db", db, "--json")
    assert code == 1 and "starting with a letter or digit" in out


def test_check_finds_an_audit_entry_rewritten_behind_the_registry(db):
    """`registry check` proves the audit trail whole; an entry changed through raw SQL is an error (exit 1)."""
    import sqlite3

    code, out = _run("check", "--db", db, "--today", "2023-05-01", "--json")
    assert code == 0 and not [f for f in json.loads(out)["findings"] if f["rule"] == "audit-chain"]
    with sqlite3.connect(db.removeprefix("sqlite:///")) as conn:
        conn.execute("UPDATE audit_log SET user_name = 'mallory' WHERE id = 3")
    code, out = _run("check", "--db", db, "--today", "2023-05-01", "--json")
    broken = [f for f in json.loads(out)["findings"] if f["rule"] == "audit-chain"]
    assert code == 1 and broken and broken[0]["record"] == "audit entry 3"


def test_import_reads_a_latin1_file_when_told(db, tmp_path):
    """A Latin-1 file is refused as not UTF-8 (naming --encoding), then read with --encoding latin-1."""
    folder = tmp_path / "latin"
    folder.mkdir()
    header, row = (DATA / "good" / "patients.csv").read_text().splitlines()[:2]
    cells = row.split(",")
    cells[1], cells[4] = "P901", "Müller"
    (folder / "patients.csv").write_bytes(f"{header}\n{','.join(cells)}\n".encode("latin-1"))
    code, out = _run("import", str(folder), "--db", db)
    assert code == 2 and "--encoding" in out and "0xfc" in out
    code, out = _run("import", str(folder), "--db", db, "--encoding", "latin-1", "--json")
    assert code == 0 and json.loads(out)["inserted"] == {"patients": 1}
    code, out = _run("patients", "--db", db, "--json")
    assert "P901" in {r["patient_id"] for r in json.loads(out)}


def test_sync_alarms_records_the_alarms_of_stored_logs_once(db):
    """A pump log stored before the alarm record existed (its events written directly) gets its alarms on the
    first sync; the second sync changes nothing."""
    engine = connect(db)
    with unit_of_work(engine, "old import") as session:
        implant_id = session.scalars(select(Implant.id).join(Patient).where(Patient.patient_code == "P001")).one()
        session.add(PumpEvent(implant_id=implant_id, seq=1, at=dt.datetime(2023, 1, 5), kind="alarm", reason="",
                              data={"alarm": "low_reservoir", "severity": "non-critical"}))
    engine.dispose()
    code, out = _run("sync-alarms", "--db", db, "--user", "amy", "--json")
    assert code == 0 and json.loads(out) == {"added": 1, "closed": 0}
    code, out = _run("sync-alarms", "--db", db, "--user", "amy")
    assert code == 0 and "0 alarms added to the alarm record, 0 closed" in out

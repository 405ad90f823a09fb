"""End-to-end: `openidds program` signs its state file, refuses a tampered or mis-encoded one (exit 2, the file
left as it was), and reads UTF-8 and UTF-16 files with a byte-order mark."""

import codecs
import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from openidds.cli import program
from openidds.programmer import load_state

runner = CliRunner()

FILL = ["--nurse", "RN C", "--prescribed", "morphine=10 mg/mL", "--prescriber", "Dr B",
        "--concentration", "morphine=10 mg/mL", "--concentration-again", "morphine=10 mg/mL"]


def run(*args):
    return runner.invoke(program.app, [str(a) for a in args])


@pytest.fixture
def key_file(tmp_path, monkeypatch) -> Path:
    path = tmp_path / "keys" / "state.key"
    monkeypatch.setenv("OPENIDDS_STATE_KEY_FILE", str(path))
    return path


@pytest.fixture
def pump_file(tmp_path, key_file) -> Path:
    """The docs/programmer.md flow: init, implant fill, priming bolus, start dose, a patient bolus, a revision."""
    path = tmp_path / "pump.json"
    assert run("init", path, "--start", "2026-01-05T08:00").exit_code == 0
    r = run("refill", path, "--at", "2026-01-05T08:05", *FILL, "--volume-ml", "18.6", "--checklist-done", "--confirm")
    assert r.exit_code == 0, r.output
    r = run("bolus", path, "--at", "2026-01-05T08:10", "--clinician", "Dr B", "--kind", "priming", "--confirm")
    assert r.exit_code == 0, r.output
    r = run("set", path, "--at", "2026-01-05T09:00", "--clinician", "Dr B", "--dose", "3 mg/day", "--bolus", "0.3 mg",
            "--override", "morphine.starting_dose=opioid tolerant, 100:1 from 300 mg OME", "--confirm")
    assert r.exit_code == 0, r.output
    r = run("patient", path, "--at", "2026-01-05T13:00", "--press")
    assert r.exit_code == 0 and "bolus started" in r.output, r.output
    r = run("revise-catheter", path, "--at", "2026-01-06T09:00", "--clinician", "Dr B", "--length-cm", "60",
            "--volume-ml", "0.12", "--tip", "T8")
    assert r.exit_code == 0, r.output
    return path


def test_init_creates_the_clinic_key_once_owner_only(tmp_path, key_file, pump_file):
    """STATE-TAMPER-1: the key is 32 random bytes, mode 0600, outside the file; a second init reuses it."""
    key = key_file.read_bytes()
    assert len(key) == 32 and stat.S_IMODE(key_file.stat().st_mode) == 0o600
    assert key.hex() not in pump_file.read_text()
    assert run("init", tmp_path / "second.json", "--start", "2026-02-01T08:00").exit_code == 0
    assert key_file.read_bytes() == key


def test_init_refuses_bad_options_creating_nothing(tmp_path, key_file):
    r = run("init", tmp_path / "pump.json", "--start", "2026-01-05T08:00", "--catheter-volume-ml", "abc")
    assert r.exit_code == 2 and "pump.catheter.volume_ml" in r.output and "Traceback" not in r.output
    assert not (tmp_path / "pump.json").exists() and not key_file.exists()


def test_the_documented_flow_still_works_end_to_end(pump_file, key_file):
    state = load_state(pump_file.read_text(), key=key_file.read_bytes())
    assert [e.command.name for e in state.journal] == [
        "refill", "start_bolus", "set_therapy", "request_patient_bolus", "revise_catheter"]
    out = json.loads(run("show", pump_file, "--at", "2026-01-07T09:00", "--json").output)
    assert out["program"] == "continuous 0.3 mL/day"
    sent = [line for line in json.loads(run("log", pump_file, "--json").output) if line["kind"] == "transmitted"]
    assert [line["command"]["name"] for line in sent] == [e.command.name for e in state.journal]
    assert [line["who"] for line in sent] == ["RN C", "Dr B", "Dr B", "patient", "Dr B"]


def _edit(path: Path, change) -> bytes:
    data = json.loads(path.read_text())
    change(data)
    text = json.dumps(data, indent=2).encode("utf-8")
    path.write_bytes(text)
    return text


def _rate(d):
    d["journal"][2]["command"]["therapy"]["program"]["rate_ml_per_day"] = "0.6"


def _concentration(d):
    d["journal"][0]["command"]["solution_mg_per_ml"]["morphine"] = "20"


def _limit(d):
    d["journal"][2]["command"]["therapy"]["max_mg_per_24h"]["morphine"] = "60"


def _session_line(d):
    del d["sessions"][4]


def _journal_entry(d):
    del d["journal"][3]


def _checksum(d):
    del d["checksum"]


@pytest.mark.parametrize(("change", "named"), [
    (_rate, "journal[2].command.therapy.program.rate_ml_per_day changed"),
    (_concentration, "journal[0].command.solution_mg_per_ml.morphine changed"),
    (_limit, "journal[2].command.therapy.max_mg_per_24h.morphine changed"),
    (_session_line, "sessions[4] (as signed) removed"),
    (_journal_entry, "journal[3] (as signed) removed"),
    (_checksum, "checksum=None"),
], ids=["rate", "concentration", "24h-limit", "session-line", "journal-entry", "no-checksum"])
def test_a_hand_edit_is_refused_and_the_file_left_unchanged(pump_file, change, named):
    """STATE-TAMPER-1: each edit is refused (exit 2) naming what changed; neither a reading nor a writing
    command changes the file."""
    edited = _edit(pump_file, change)
    for args in (("show", pump_file), ("log", pump_file), ("patient", pump_file, "--at", "2026-01-08T09:00", "--press"),
                 ("set", pump_file, "--at", "2026-01-08T09:00", "--clinician", "Dr B", "--dose", "3 mg/day",
                  "--confirm")):
        r = run(*args)
        assert r.exit_code == 2, r.output
        assert named in r.output and "openidds program init" in r.output
        assert "Traceback" not in r.output
        assert pump_file.read_bytes() == edited


def test_a_file_signed_with_another_key_is_refused(pump_file, tmp_path):
    other = tmp_path / "other.key"
    other.write_bytes(os.urandom(32))
    other.chmod(0o600)
    before = pump_file.read_bytes()
    r = run("show", pump_file, "--key-file", other)
    assert r.exit_code == 2 and "signed with another key" in r.output and "--key-file" in r.output
    r = run("patient", pump_file, "--at", "2026-01-08T09:00", "--press", "--key-file", other)
    assert r.exit_code == 2 and pump_file.read_bytes() == before


def test_a_missing_or_open_key_is_refused_saying_what_to_do(pump_file, key_file, tmp_path):
    r = run("show", pump_file, "--key-file", tmp_path / "none.key")
    assert r.exit_code == 2 and "openidds program init" in r.output and "OPENIDDS_STATE_KEY_FILE" in r.output
    key_file.chmod(0o644)
    r = run("show", pump_file)
    assert r.exit_code == 2 and "chmod 600" in r.output


@pytest.mark.parametrize("encode", [lambda t: codecs.BOM_UTF8 + t.encode("utf-8"), lambda t: t.encode("utf-16")],
                         ids=["utf-8-bom", "utf-16"])
def test_a_file_with_a_byte_order_mark_is_read(pump_file, encode):
    """STATE-ENCODING-1: the same file in UTF-8 with a BOM or UTF-16 gives the same answer."""
    expected = run("show", pump_file, "--at", "2026-01-07T09:00", "--json").output
    pump_file.write_bytes(encode(pump_file.read_text()))
    r = run("show", pump_file, "--at", "2026-01-07T09:00", "--json")
    assert r.exit_code == 0 and r.output == expected


def test_a_latin1_file_is_refused_naming_line_and_byte(pump_file):
    """STATE-ENCODING-1: a Latin-1 byte is refused with its line and position, the file left unchanged."""
    text = pump_file.read_text().replace('"RN C"', '"RN Ç"')
    data = text.encode("latin-1")
    pump_file.write_bytes(data)
    line = next(i for i, chunk in enumerate(data.split(b"\n"), 1) if b"\xc7" in chunk)
    column = data.split(b"\n")[line - 1].index(b"\xc7") + 1
    for args in (("show", pump_file), ("patient", pump_file, "--at", "2026-01-08T09:00", "--press")):
        r = run(*args)
        assert r.exit_code == 2 and f"byte 0xc7 at line {line}, byte {column}" in r.output, r.output
        assert "UTF-8" in r.output and "Traceback" not in r.output
        assert pump_file.read_bytes() == data

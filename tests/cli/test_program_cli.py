"""End-to-end tests of `openidds program` on a pump state file."""

import json
import os
import stat
from fractions import Fraction

import pytest
from typer.testing import CliRunner

from openidds.cli import program
from openidds.programmer import load_state

runner = CliRunner()

FILL = ["--nurse", "RN C", "--prescribed", "morphine=10 mg/mL", "--prescriber", "Dr B",
        "--concentration", "morphine=10 mg/mL", "--concentration-again", "morphine=10 mg/mL"]


def run(*args):
    return runner.invoke(program.app, [str(a) for a in args])


def implanted(tmp_path):
    """init, implant fill, priming bolus, start dose 3 mg/day with boluses: the demo's first morning."""
    path = tmp_path / "pump.json"
    assert run("init", path, "--start", "2026-01-05T08:00").exit_code == 0
    r = run("refill", path, "--at", "2026-01-05T08:05", *FILL, "--volume-ml", "18.6", "--checklist-done", "--confirm")
    assert r.exit_code == 0, r.output
    assert run("bolus", path, "--at", "2026-01-05T08:10", "--clinician", "Dr B", "--kind", "priming",
               "--confirm").exit_code == 0
    r = run("set", path, "--at", "2026-01-05T09:00", "--clinician", "Dr B", "--dose", "3 mg/day", "--bolus", "0.3 mg",
            "--override", "morphine.starting_dose=opioid tolerant, 100:1 from 300 mg OME", "--confirm")
    assert r.exit_code == 0, r.output
    return path


def test_full_day_and_replay(tmp_path):
    """The journal holds the accepted commands; `show --json` rebuilds the pump from it."""
    path = implanted(tmp_path)
    state = load_state(path.read_text())
    assert [e.command.name for e in state.journal] == ["refill", "start_bolus", "set_therapy"]
    assert state.journal[2].command.therapy.program.rate_ml_per_day == Fraction(3, 10)
    out = json.loads(run("show", path, "--at", "2026-01-06T09:00", "--json").output)
    assert out["program"] == "continuous 0.3 mL/day"
    assert out["doses"][0]["daily"] == "3 mg/day"
    assert out["forecast"]["limited_by"] == "volume"
    overrides = [s for s in state.sessions if s["kind"] == "override"]
    assert overrides[0]["who"] == "Dr B" and "300 mg OME" in overrides[0]["reason"]


def test_review_only_sends_nothing(tmp_path):
    """Without --confirm the review is printed and the journal is unchanged; the session log records it."""
    path = implanted(tmp_path)
    before = load_state(path.read_text())
    r = run("set", path, "--at", "2026-01-10T09:00", "--clinician", "Dr B", "--dose", "3.5 mg/day")
    assert r.exit_code == 0 and "Not sent" in r.output and "3.5 mg/day" in r.output
    after = load_state(path.read_text())
    assert after.journal == before.journal
    assert after.sessions[-1]["kind"] == "abandoned"


def test_bad_input_exit_2_names_field(tmp_path):
    """PROG-HARD-1 / PROG-CAP-1 at the command line: exit code 2, message with field, value and expectation."""
    path = implanted(tmp_path)
    r = run("set", path, "--at", "2026-01-10T09:00", "--clinician", "Dr B", "--dose", "6 mg/day")
    assert r.exit_code == 2 and "morphine.daily_dose='6 mg/day'" in r.output and "at most 30 %" in r.output
    r = run("set", path, "--at", "2026-01-10T09:00", "--clinician", "Dr B", "--dose", "3 mg/day", "--bolus", "1.5 mg")
    assert r.exit_code == 2 and "morphine.bolus_dose='1.5 mg'" in r.output
    r = run("set", path, "--at", "yesterday", "--clinician", "Dr B", "--dose", "3 mg/day")
    assert r.exit_code == 2 and "--at='yesterday'" in r.output and "ISO" in r.output
    r = run("set", path, "--at", "2026-01-10T09:00", "--clinician", "Dr B", "--dose", "3 mg")
    assert r.exit_code == 2 and "dose='3 mg'" in r.output
    refused = [s for s in load_state(path.read_text()).sessions if s["kind"] == "refused"]
    assert len(refused) == 2  # refusals inside a session are logged; unreadable --at or dose text opens none


def test_soft_finding_needs_override(tmp_path):
    """PROG-SOFT-1 at the command line: --confirm without the override is refused (exit 2)."""
    path = tmp_path / "pump.json"
    run("init", path, "--start", "2026-01-05T08:00")
    run("refill", path, "--at", "2026-01-05T08:05", *FILL, "--volume-ml", "18.6", "--checklist-done", "--confirm")
    r = run("set", path, "--at", "2026-01-05T09:00", "--clinician", "Dr B", "--dose", "3 mg/day", "--confirm")
    assert r.exit_code == 2 and "morphine.starting_dose" in r.output
    assert load_state(path.read_text()).journal[-1].command.name == "refill"


def test_patient_device(tmp_path):
    """PROG-DEVICE-1 at the command line: press, then the lockout and the next allowed time."""
    path = implanted(tmp_path)
    r = run("patient", path, "--at", "2026-01-05T13:00", "--press")
    assert r.exit_code == 0 and r.output.startswith("bolus started; 3 left")
    r = run("patient", path, "--at", "2026-01-05T13:30", "--press", "--json")
    screen = json.loads(r.output)
    assert screen["granted"] is False and "lockout" in screen["message"]
    assert len(load_state(path.read_text()).journal) == 5


def test_refill_with_discrepancy(tmp_path):
    """REFILL-DISCREPANCY-1 at the command line: a measured residual far from the expected one stops the
    refill until --ack-discrepancy gives the reason."""
    path = implanted(tmp_path)
    args = ["refill", path, "--at", "2026-02-01T09:00", *FILL, "--volume-ml", "18", "--checklist-done", "--confirm"]
    r = run(*args, "--withdrawn-ml", "12")
    assert r.exit_code == 2 and "acknowledgement of the flagged discrepancy" in r.output
    r = run(*args, "--withdrawn-ml", "12", "--ack-discrepancy", "pump log reviewed; dye study booked")
    assert r.exit_code == 0, r.output
    assert "FLAGGED" in r.output and "Observe the patient until" in r.output
    state = load_state(path.read_text())
    assert state.journal[-1].command.volume_ml == 18


def test_init_refuses_overwrite_and_bad_values(tmp_path):
    path = tmp_path / "pump.json"
    assert run("init", path, "--start", "2026-01-05T08:00").exit_code == 0
    r = run("init", path, "--start", "2026-01-05T08:00")
    assert r.exit_code == 2 and "it exists" in r.output
    r = run("init", tmp_path / "b.json", "--start", "2026-01-05T08:00", "--reservoir-ml", "30")
    assert r.exit_code == 2 and "reservoir_ml" in r.output


def test_clinic_library(tmp_path):
    """PROG-HARD-1 with a clinic's own library: its lower hard limit refuses what the shipped one allows."""
    from openidds.drugs import default_library

    path = implanted(tmp_path)
    clinic = tmp_path / "clinic.json"
    data = json.loads(default_library().model_dump_json())
    morphine = next(d for d in data["drugs"] if d["name"] == "morphine")
    morphine["limits"]["per_day"] = {"soft": None,
                                     "hard": {"value": "3.5 mg/day", "status": "V", "source": "infumorph-label"}}
    clinic.write_text(json.dumps(data))
    args = ["set", path, "--at", "2026-01-10T09:00", "--clinician", "Dr B", "--dose", "3.6 mg/day"]
    assert run(*args).exit_code == 0
    r = run(*args, "--library", clinic)
    assert r.exit_code == 2 and "morphine.daily_dose='3.6 mg/day'" in r.output and "3.5 mg/day" in r.output


def test_catheter_revision_is_journaled_and_cannot_be_back_dated(tmp_path):
    """A revision goes into the journal like any session; one dated before the last entry is refused with the
    --at option named, and the file is unchanged."""
    path = implanted(tmp_path)
    revise = ["--clinician", "Dr B", "--length-cm", "60", "--volume-ml", "0.2", "--tip", "T8"]
    before = path.read_text()
    r = run("revise-catheter", path, "--at", "2026-01-05T08:30", *revise)
    assert r.exit_code == 2 and "--at='2026-01-05T08:30'" in r.output and "last journal entry" in r.output
    assert path.read_text() == before
    r = run("revise-catheter", path, "--at", "2026-01-07T10:00", *revise)
    assert r.exit_code == 0, r.output
    assert load_state(path.read_text()).journal[-1].command.catheter.tip_level == "T8"


def test_refusals_say_how_to_go_on(tmp_path):
    """The discrepancy refusal names --ack-discrepancy and says what the discrepancy suggests; an override
    refusal shows each finding's text and the --override ID=why form."""
    path = implanted(tmp_path)
    args = ["refill", path, "--at", "2026-02-01T09:00", *FILL, "--volume-ml", "18", "--checklist-done", "--confirm"]
    more = run(*args, "--withdrawn-ml", "17")
    assert more.exit_code == 2 and "--ack-discrepancy" in more.output
    assert "under-delivery" in more.output and "catheter" in more.output
    less = run(*args, "--withdrawn-ml", "2")
    assert less.exit_code == 2 and "over-delivery" in less.output and "leak" in less.output
    fresh = tmp_path / "fresh.json"
    run("init", fresh, "--start", "2026-01-05T08:00")
    run("refill", fresh, "--at", "2026-01-05T08:05", *FILL, "--volume-ml", "18.6", "--checklist-done", "--confirm")
    r = run("set", fresh, "--at", "2026-01-05T09:00", "--clinician", "Dr B", "--dose", "3 mg/day", "--confirm")
    assert r.exit_code == 2 and "--override 'morphine.starting_dose=...'" in r.output
    refused = [s for s in load_state(fresh.read_text()).sessions if s["kind"] == "refused"][-1]
    reason = refused["data"]["findings"][0]["reason"]
    assert reason and reason.split(":")[0] in r.output
    r = run("set", fresh, "--at", "2026-01-05T09:00", "--clinician", "Dr B", "--dose", "3 mg/day", "--confirm",
            "--override", "morphine.starting_dos=opioid tolerant")
    assert r.exit_code == 2 and "did you mean 'morphine.starting_dose'?" in r.output


@pytest.mark.parametrize(("args", "nearest"), [
    (("bolus", "--clinician", "Dr B", "--kind", "priminng"), "'priming'"),
    (("set", "--clinician", "Dr B", "--dose", "3 mg/day", "--drug", "morfine"), "'morphine'"),
])
def test_mistyped_values_suggest_the_nearest(tmp_path, args, nearest):
    path = implanted(tmp_path)
    verb, *rest = args
    r = run(verb, path, "--at", "2026-01-06T09:00", *rest)
    assert r.exit_code == 2 and f"did you mean {nearest}?" in r.output


def test_bolus_goes_through_a_session(tmp_path):
    """`program bolus --confirm` sends the bolus through a programming session: it is in the journal and in
    the session log (opened, transmitted), like any other command sent."""
    path = implanted(tmp_path)
    run("revise-catheter", path, "--at", "2026-01-06T09:00", "--clinician", "Dr B", "--length-cm", "60",
        "--volume-ml", "0.2", "--tip", "T8")
    r = run("bolus", path, "--at", "2026-01-06T09:10", "--clinician", "Dr C", "--kind", "priming", "--confirm")
    assert r.exit_code == 0, r.output
    state = load_state(path.read_text())
    assert state.journal[-1].command.name == "start_bolus"
    lines = [s for s in state.sessions if s["session"] == f"Dr C@{state.journal[-1].at_s}"]
    assert [s["kind"] for s in lines] == ["opened", "transmitted"] and "priming bolus" in lines[1]["reason"]
    r = run("bolus", path, "--at", "2026-01-06T09:20", "--clinician", "Dr C", "--kind", "bridge")
    assert r.exit_code == 2 and "a priming bolus, perhaps?" in r.output


def test_state_file_is_readable_like_any_new_file(tmp_path):
    """Written whole through a temporary file, but with 0666 less the umask, not the temporary file's 0600."""
    old = os.umask(0o022)
    try:
        path = implanted(tmp_path)
    finally:
        os.umask(old)
    assert stat.S_IMODE(path.stat().st_mode) == 0o644
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]

"""`openidds program set --periodic` and `--flex` with weekdays: read into the same entry schema as the web form
(programmer/order_entry.py), sent to the pump, and every refusal named by its option with the text entered."""

import json
from fractions import Fraction

import pytest
from tests.cli.test_program_cli import implanted, run

from openidds.programmer import load_state

AT = ("--at", "2026-01-06T09:00", "--clinician", "Dr B")


def _periodic(program):
    """A journalled periodic program's dose (mL), duration, interval and first-dose offset (s)."""
    assert program.kind == "periodic"
    return (program.dose_ml, program.duration_s, program.every_s, program.offset_s)


def test_a_periodic_dose_is_reviewed_sent_and_shown(tmp_path):
    path = implanted(tmp_path)
    r = run("set", path, *AT, "--periodic", "0.75 mg over 30 min every 6 h from 02:00", "--confirm")
    assert r.exit_code == 0, r.output
    assert "program: periodic 0.075 mL over 30 min every 6 h from Mon 02:00" in r.output
    program = load_state(path.read_text()).journal[-1].command.therapy.program
    assert _periodic(program) == (Fraction(3, 40), 1800, 6 * 3600, 2 * 3600)
    shown = json.loads(run("show", path, "--at", "2026-01-07T09:00", "--json").output)
    assert shown["program"] == "periodic 0.075 mL over 30 min every 6 h from Mon 02:00"
    assert shown["doses"][0]["daily"] == "3 mg/day"


def test_the_first_dose_starts_at_the_time_given(tmp_path):
    path = implanted(tmp_path)
    r = run("set", path, *AT, "--periodic", "1.5 mg over 60 min every 12 h from 08:15", "--confirm")
    assert r.exit_code == 0, r.output
    program = load_state(path.read_text()).journal[-1].command.therapy.program
    assert _periodic(program) == (Fraction(3, 20), 3600, 12 * 3600, 8 * 3600 + 15 * 60)


def test_flex_steps_on_weekdays_are_sent_as_entered(tmp_path):
    path = implanted(tmp_path)
    r = run("set", path, *AT, "--flex", "00:00=3 mg/day", "--flex", "08:00=3.5 mg/day@sat/sun",
            "--flex", "20:00=3 mg/day@SAT/Sun", "--confirm")
    assert r.exit_code == 0, r.output
    program = load_state(path.read_text()).journal[-1].command.therapy.program
    assert program.kind == "flex"
    assert [(s.start, s.days) for s in program.steps] == [("00:00", ()), ("08:00", ("sat", "sun")),
                                                          ("20:00", ("sat", "sun"))]


@pytest.mark.parametrize(("option", "text", "expected"), [
    ("--periodic", "0.75 mg every 6 h", "'0.5 mg over 30 min every 6 h'"),
    ("--periodic", "0.75 mg over 400 min every 6 h", "fewer minutes than the interval, 6 h (360 min)"),
    ("--periodic", "0.75 mg over 30 min every 6 h from 07:00", "fewer hours than the interval, 6 h"),
    ("--periodic", "0.75 mg over 30 min every 200 h", "less than or equal to 168 (for every_h='200')"),
    ("--periodic", "0.75 mg over 30 min every 168 h from fry 02:00", "a weekday after 'from': mon, tue"),
    ("--periodic", "0.75 mg over 30 min every 6 h from 25:00", "a time of day as HH:MM"),
    ("--periodic", "0.75 mg over 30 min every 6 h from 02:20", "a minute divisible by 3"),
    ("--periodic", "0.75 mg/day over 30 min every 6 h", "a mass (e.g. mg, mcg), not a mass rate"),
    ("--flex", "08:00 3 mg/day", "'HH:MM=3 mg/day' or, on some weekdays only"),
    ("--flex", "08:00=3 mg/day@mon/mon", "each weekday at most once"),
    ("--flex", "08:00=3 mg/day@mon/mo", "'mon', 'tue', 'wed', 'thu', 'fri', 'sat' or 'sun' (for days.1='mo')"),
])
def test_a_bad_schedule_is_refused_naming_the_option_and_the_text(tmp_path, option, text, expected):
    path = implanted(tmp_path)
    before = path.read_text()
    r = run("set", path, *AT, option, text, "--json")
    assert r.exit_code == 2, r.output
    error = json.loads(r.output)
    assert error["field"].startswith(option) and error["value"] == text
    assert expected in error["expected"]
    assert load_state(path.read_text()).journal == load_state(before).journal


def test_one_program_at_a_time(tmp_path):
    path = implanted(tmp_path)
    r = run("set", path, *AT, "--dose", "3 mg/day", "--periodic", "0.75 mg over 30 min every 6 h", "--json")
    assert r.exit_code == 2 and json.loads(r.output)["value"] == ["--dose", "--periodic"]

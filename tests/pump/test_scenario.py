"""Scenario files: parsing, errors named with their location, bundled scenarios, determinism."""

from datetime import date, datetime
from importlib.resources import files

import pytest

from openidds.errors import OpenIDDSError
from openidds.pump.scenario import load_scenario, run_scenario
from openidds.pump.ticks import decimal_text, mass_to_mg, volume_ticks
from openidds.pump.timeline import day_totals, summary, timeline

BUNDLED = sorted(p.name for p in files("openidds.pump").joinpath("scenarios").iterdir() if p.name.endswith(".toml"))


def bundled(name: str) -> str:
    return files("openidds.pump").joinpath("scenarios", name).read_text()


@pytest.mark.parametrize("name", BUNDLED)
def test_every_bundled_scenario_runs_and_conserves(name):
    """PUMP-CONSERVE-1, PUMP-LOG-1 on each documented example."""
    run = run_scenario(load_scenario(bundled(name)))
    totals = run.pump.totals()
    assert totals.filled == totals.pumped_actual + run.pump.reservoir_actual_ticks + totals.withdrawn
    assert timeline(run) and summary(run)["title"]


def test_the_demo_shows_refusal_alarms_and_refills():
    run = run_scenario(load_scenario(bundled("demo_90_days.toml")))
    result = summary(run)
    assert [r["action"] for r in result["refusals"]] == ["refill"]  # the overfill at implant
    alarms = [(a["alarm"], a["at"][:10]) for a in result["alarms"]]
    assert ("low_reservoir", "2026-02-17") in alarms
    assert ("mri_exposure", "2026-03-06") in alarms
    assert ("elective_replacement_indicator", "2026-03-26") in alarms
    cleared = [e for e in run.pump.log if e.kind == "alarm_cleared" and e.data["alarm"] == "mri_exposure"]
    assert cleared and "interrogation" in cleared[0].reason
    granted = sum(1 for s in run.steps if s.action == "request_patient_bolus" and s.answer.granted)
    denied = sum(1 for s in run.steps if s.action == "request_patient_bolus" and not s.answer.granted)
    assert granted > 150 and denied > 20


def test_the_occlusion_scenario_shows_the_discrepancy():
    """PUMP-FAULT-1."""
    run = run_scenario(load_scenario(bundled("occlusion_found_at_refill.toml")))
    report = [s.answer for s in run.steps if s.action == "refill"][-1]
    assert report.discrepancy_ml > 4


def test_same_scenario_same_output():
    """PUMP-DETERMINISM-1."""
    first = run_scenario(load_scenario(bundled("demo_90_days.toml")))
    second = run_scenario(load_scenario(bundled("demo_90_days.toml")))
    assert first.pump.log.to_json() == second.pump.log.to_json()
    assert summary(first) == summary(second)


MINIMAL = """
title = "t"
start = 2026-01-05T08:00:00
horizon_days = 2
"""


@pytest.mark.parametrize("extra, where", [
    ("colour = 'red'", "colour"),
    ("[[events]]\nat = 2026-01-05T09:00:00", "events.0"),
    ("[[events]]\nat = 2026-01-05T09:00:00\ncommand = { name = 'interrogate' }\nfault = { name = 'battery_reset' }",
     "events.0"),
    ("[[events]]\nat = 2026-01-05T09:00:00\ncount = 3\ncommand = { name = 'interrogate' }", "events.0"),
    ("[[events]]\nat = 2026-01-05T09:00:00\ncommand = { name = 'teleport' }", "events.0.command"),
    ("[[events]]\nat = 2026-01-05T09:00:00\nfault = { name = 'motor_stall', duration_s = '60' }",
     "events.0.fault.motor_stall.duration_s"),
    ("[pump]\nreservoir_ml = 'twenty'", "pump.reservoir_ml"),
])
def test_bad_scenarios_name_the_place(extra, where):
    with pytest.raises(OpenIDDSError) as error:
        load_scenario(MINIMAL + extra)
    assert where in str(error.value)


@pytest.mark.parametrize("value", ['"ten"', '".5"', '"1e-1"', '"1,5"', 'true'])
def test_numbers_inside_commands_are_read_by_the_units_rule_and_name_their_place(value):
    text = MINIMAL + f"""
[[events]]
at = 2026-01-05T09:00:00
command = {{ name = "refill", solution_mg_per_ml = {{ morphine = {value} }}, volume_ml = "18" }}
"""
    with pytest.raises(OpenIDDSError) as error:
        load_scenario(text)
    assert "events.0.command.refill.solution_mg_per_ml.morphine" in str(error.value)


def test_a_toml_decimal_is_read_exactly_and_logged_as_its_decimal():
    text = MINIMAL + """
[[events]]
at = 2026-01-05T09:00:00
command = { name = "refill", solution_mg_per_ml = { morphine = 10 }, volume_ml = 18.10 }
"""
    run = run_scenario(load_scenario(text))
    refill = next(e for e in run.pump.log if e.kind == "refill")
    assert refill.data["fill"] == volume_ticks("v", "18.1") and refill.reason == "morphine 10 mg/mL"


def test_values_the_pump_refuses_name_the_event():
    text = MINIMAL + """
[[events]]
at = 2026-01-05T09:00:00
command = { name = "revise_catheter", catheter = { length_cm = 80, volume_ml = "0.16", tip_level = "T99" } }
"""
    with pytest.raises(OpenIDDSError) as error:
        run_scenario(load_scenario(text))
    assert error.value.field == "events[0].command.catheter.tip_level"


def test_events_before_the_start_are_refused():
    text = MINIMAL + "[[events]]\nat = 2026-01-04T09:00:00\ncommand = { name = 'interrogate' }\n"
    with pytest.raises(OpenIDDSError, match="at or after the start"):
        run_scenario(load_scenario(text))


def test_broken_toml_is_reported():
    with pytest.raises(OpenIDDSError, match="valid TOML"):
        load_scenario("title = ")


def test_day_totals_come_from_the_logged_dose_not_the_last_refill():
    """A day after a concentration change shows what the log says reached the catheter tip (the old 10 mg/mL
    still in the catheter), and the days add up to the pump's own count exactly."""
    run = run_scenario(load_scenario(bundled("concentration_change.toml")))
    totals = day_totals(run)
    assert sum(t.dose["morphine"] for t in totals) == run.pump.totals().nominal["morphine"]
    change_day = next(t for t in totals if t.day == date(2026, 6, 21))
    midnight_s = int((datetime(2026, 6, 21) - run.scenario.start).total_seconds())
    log = run.pump.log  # the log's own reader: the drug counted at the tip after a time
    logged = log.delivered_since(midnight_s)["morphine"] - log.delivered_since(midnight_s + 86_400)["morphine"]
    assert change_day.dose["morphine"] == logged
    rows = [r.text for r in timeline(run) if r.when.date() == change_day.day]
    assert any(f"morphine {decimal_text(mass_to_mg(logged), 3)} mg" in text for text in rows)
    assert decimal_text(mass_to_mg(logged), 3) == "4.991"


def test_refill_rows_show_what_went_in_and_the_new_reservoir_volume():
    run = run_scenario(load_scenario(bundled("concentration_change.toml")))
    refills = [r.text for r in timeline(run) if r.kind == "refill"]
    assert "added 18.00 mL of morphine 20 mg/mL; reservoir now 19.40 mL" in refills[1]
    assert "withdrew 7.58 mL" in refills[1]

"""`openidds pump` end to end through the real command."""

import json

from typer.testing import CliRunner

from openidds.cli import app
from openidds.pump.wire import WIRE_VERSION, PumpLog

runner = CliRunner()


def test_demo_prints_a_timeline_and_totals():
    result = runner.invoke(app, ["pump", "demo"])
    assert result.exit_code == 0, result.output
    for text in ("90 days of intrathecal morphine", "patient bolus granted", "ALARM (critical)", "refill",
                 "day total", "Totals", "morphine"):
        assert text in result.output


def test_demo_json_is_the_wire_log_with_totals_alarms_and_refusals():
    result = runner.invoke(app, ["pump", "demo", "--json"])
    assert result.exit_code == 0
    data = json.loads(result.output)
    assert data["wire_version"] == WIRE_VERSION and data["clock_start"] == "2026-01-05T08:00:00Z"
    assert set(data["summary"]) >= {"drugs_mg", "volumes_ml", "alarms", "refusals"}
    assert float(data["summary"]["drugs_mg"]["morphine"]["to_csf"]) > 0
    assert data["events"][0]["kind"] == "implant"
    assert PumpLog.model_validate(data).events[-1].seq == len(data["events"]) - 1


def test_simulate_a_file_and_a_bundled_name(tmp_path):
    scenario = tmp_path / "s.toml"
    scenario.write_text('title = "one day"\nstart = 2026-01-05T08:00:00\nhorizon_days = 1\n'
                        '[[events]]\nat = 2026-01-05T08:00:00\n'
                        'command = { name = "refill", solution_mg_per_ml = { morphine = "10" }, volume_ml = "10" }\n')
    result = runner.invoke(app, ["pump", "simulate", str(scenario), "--every-delivery"])
    assert result.exit_code == 0 and "one day" in result.output
    assert runner.invoke(app, ["pump", "simulate", "occlusion_found_at_refill"]).exit_code == 0


def test_unknown_scenario_exits_2_with_the_reason():
    result = runner.invoke(app, ["pump", "simulate", "no-such-thing"])
    assert result.exit_code == 2
    assert "scenario='no-such-thing'" in result.output and "demo_90_days" in result.output


def test_scenarios_are_listed():
    result = runner.invoke(app, ["pump", "scenarios"])
    assert "demo_90_days" in result.output.split()


def test_a_programmer_state_file_exports_its_pump_log_in_the_wire_format(tmp_path):
    path = tmp_path / "pump.json"
    assert runner.invoke(app, ["program", "init", str(path), "--start", "2026-01-05T08:00"]).exit_code == 0
    result = runner.invoke(app, ["pump", "log", str(path), "--at", "2026-01-05T09:00"])
    assert result.exit_code == 0, result.output
    log = PumpLog.model_validate_json(result.output)
    assert log.wire_version == WIRE_VERSION and [e.kind for e in log.events] == ["implant"]

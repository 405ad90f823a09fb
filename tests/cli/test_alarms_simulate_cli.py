"""`openidds alarms simulate` from outside: escalation over the example clinic printed as tables, written as a figure
and a table of alarms, and as JSON; bad input refused with exit code 2 before any clinic is loaded."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest
from tests.cli.invoke import invoke

from openidds.cli import app

POLICY = Path(__file__).resolve().parents[2] / "docs" / "escalation-policy.toml"


def test_simulate_prints_the_tables_and_writes_the_figure_and_the_alarms(tmp_path: Path) -> None:
    result = invoke(app, "alarms", "simulate", "--clinic", "example", "--responders", "example", "--policy", POLICY,
                    "--seed", 4, "--replicates", 2, "--out", tmp_path)
    assert result.exit_code == 0, result.output
    for text in ("Time from the alarm to its acknowledgement", "acknowledged at tier 1 (nurse)",
                 "exhausted: the last tier timed out", "per 100 pump-months", "10 alarm escalations (2 replicates"):
        assert text in result.output
    assert (tmp_path / "time-to-acknowledge.png").read_bytes().startswith(b"\x89PNG")
    with (tmp_path / "alarms.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["replicate"] for r in rows] == ["0"] * 5 + ["1"] * 5

    again = invoke(app, "alarms", "simulate", "--policy", POLICY, "--seed", 4, "--replicates", 2, "--json")
    assert again.exit_code == 0, again.output
    summary = json.loads(again.output)
    assert summary["alarms"] == len(rows) and summary["replicates"] == 2
    acknowledged = [float(r["minutes_to_acknowledge"]) for r in rows if r["ending"] == "acknowledged"]
    by_priority = {d["priority"]: d for d in summary["time_to_acknowledge_minutes"]}
    assert sum(d["acknowledged"] for d in by_priority.values()) == len(acknowledged)
    assert sum(t["alarms"] for t in summary["acknowledged_at_tier"]) == summary["acknowledged"] == len(acknowledged)
    for priority, delays in by_priority.items():
        minutes = [float(r["minutes_to_acknowledge"]) for r in rows
                   if r["priority"] == priority and r["minutes_to_acknowledge"]]
        if minutes:  # the table's minutes are rounded to 0.01
            assert delays["median"] == pytest.approx(float(np.median(minutes)), abs=0.01)
            assert delays["p95"] == pytest.approx(float(np.percentile(minutes, 95)), abs=0.01)
    moves = sum(int(r["tiers_reached"]) - 1 for r in rows)
    assert summary["escalations"] == moves
    assert summary["escalations_per_100_pump_months"] == 100 * moves / (2 * summary["pump_months"])


def test_bad_input_is_refused_with_exit_code_2(tmp_path: Path) -> None:
    lacking = tmp_path / "nurses-only.toml"
    lacking.write_text('[office_hours]\nstart = "08:00"\nend = "18:00"\n'
                       '[delivery_failures]\nemail = 0.0\nwebhook = 0.0\nboard = 0.0\nsource = "test"\n'
                       '[roles.nurse]\nsource = "test"\n' + "".join(
                           f'{p} = {{ acknowledge_share = 1.0, office = {{ median_minutes = 1, iqr_minutes = 1 }}, '
                           f'night = {{ median_minutes = 1, iqr_minutes = 1 }} }}\n'
                           for p in ("high", "medium", "low")))
    for args, message in [
        (("--responders", "exampel"), "responders='exampel': expected one of the bundled responders example"),
        (("--responders", lacking), "roles='physician': expected a [roles.physician] block"),
        (("--clinic", "nowhere"), "clinic='nowhere': expected one of the bundled clinics example"),
        (("--replicates", 0), "Invalid value for '--replicates'"),
    ]:
        result = invoke(app, "alarms", "simulate", "--policy", POLICY, *args)
        assert result.exit_code == 2, result.output
        assert message in result.output
    missing = invoke(app, "alarms", "simulate", "--policy", tmp_path / "missing.toml")
    assert missing.exit_code == 2 and "an existing policy file" in missing.output

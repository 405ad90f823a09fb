"""`openidds alarms simulate` plays the refill visits acknowledged reservoir alarms lead to: over the remote clinic
it prints the empty reservoirs with escalation against no escalation and writes their figure and table; with
`--no-refill-visits` it plays none and says nothing of them."""

from __future__ import annotations

import csv
import json
from pathlib import Path

from tests.cli.invoke import invoke

from openidds.cli import app

POLICY = Path(__file__).resolve().parents[2] / "docs" / "escalation-policy.toml"


def test_the_remote_clinic_shows_the_empty_reservoirs_with_and_without_escalation(tmp_path: Path) -> None:
    result = invoke(app, "alarms", "simulate", "--clinic", "remote", "--policy", POLICY, "--seed", 2,
                    "--replicates", 2, "--out", tmp_path)
    assert result.exit_code == 0, result.output
    text = " ".join(result.output.split())
    for shown in ("Empty reservoirs of the 7 pumps that ran low or empty", "a refill visit 24 h after a low-reservoir",
                  "no escalation", "with escalation: mean of 2 replicates", "pump-hours without drug",
                  "prevented by a refill visit"):
        assert shown in text
    assert (tmp_path / "empty-reservoirs.png").read_bytes().startswith(b"\x89PNG")
    with (tmp_path / "empty-reservoirs.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [r["replicate"] for r in rows] == [""] * 7 + ["0"] * 7 + ["1"] * 7  # the baseline, then each replicate
    baseline = sum(float(r["hours_without_drug"]) for r in rows[:7])
    assert baseline > 1000 and f"{baseline:,.1f}" in text
    assert all(r["model_empty_at"] == r["empty_at"] for r in rows if r["empty_at"])  # the model agrees with the log
    assert any(r["model_empty_at"] and not r["empty_at"] for r in rows)  # a log that ends before the pump empties
    with (tmp_path / "alarms.csv").open(encoding="utf-8") as handle:
        endings = [r["ending"] for r in csv.DictReader(handle)]
    assert "prevented" in endings


def test_no_refill_visits_plays_none(tmp_path: Path) -> None:
    played = invoke(app, "alarms", "simulate", "--policy", POLICY, "--seed", 3, "--replicates", 1, "--json")
    assert played.exit_code == 0, played.output
    summary = json.loads(played.output)["empty_reservoirs"]
    assert summary["refill_visits"]["after_low_reservoir_hours"] == 24 and len(summary["per_replicate"]) == 1
    unplayed = invoke(app, "alarms", "simulate", "--policy", POLICY, "--seed", 3, "--replicates", 1,
                      "--no-refill-visits", "--out", tmp_path)
    assert unplayed.exit_code == 0, unplayed.output
    assert "Empty reservoirs" not in unplayed.output and not (tmp_path / "empty-reservoirs.png").exists()

"""End-to-end tests of `openidds refill plan`."""

import json

from typer.testing import CliRunner

from openidds.cli import refill

from .test_program_cli import implanted

runner = CliRunner()


def test_plan_json(tmp_path):
    """REFILL-DATE-1, REFILL-CAPACITY-1: the plan for a refill on day 31 with a 30-day target; never above
    the 18.6 mL room of a 20 mL pump."""
    path = implanted(tmp_path)
    r = runner.invoke(refill.app, ["plan", str(path), "--at", "2026-02-05T09:00", "--target-days", "30", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.output)
    volume = float(out["plan"]["volume_ml"])
    assert 0 < volume <= 18.6
    assert out["plan"]["forecast"]["due_s"] >= out["plan"]["target_s"]
    assert out["now"]["due_s"] < out["plan"]["forecast"]["due_s"]
    assert out["plan_due"].startswith("2026-03")


def test_plan_full_and_readable(tmp_path):
    path = implanted(tmp_path)
    r = runner.invoke(refill.app, ["plan", str(path), "--at", "2026-02-05T09:00"])
    assert r.exit_code == 0
    assert "Refill now with 18.6 mL" in r.output and "refill due" in r.output and "[R]" in r.output


def test_plan_refuses_overfill(tmp_path):
    """REFILL-CAPACITY-1: a planned volume above the room is refused with exit code 2."""
    path = implanted(tmp_path)
    r = runner.invoke(refill.app, ["plan", str(path), "--volume-ml", "19"])
    assert r.exit_code == 2 and "volume_ml='19'" in r.output and "at most 18.6 mL" in r.output
    r = runner.invoke(refill.app, ["plan", str(path), "--target-days", "0"])
    assert r.exit_code == 2 and "target_days=0" in r.output


def test_plan_accuracy_override(tmp_path):
    """A clinic accuracy figure replaces the [R] model figure: a smaller margin gives a later date."""
    path = implanted(tmp_path)
    base = json.loads(runner.invoke(refill.app, ["plan", str(path), "--json"]).output)
    tight = json.loads(runner.invoke(refill.app, ["plan", str(path), "--json", "--accuracy-percent", "2.5"]).output)
    assert tight["plan"]["forecast"]["volume_due_s"] > base["plan"]["forecast"]["volume_due_s"]
    assert tight["plan"]["forecast"]["accuracy_source"] == "[V] clinic policy"

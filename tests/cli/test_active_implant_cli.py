"""`registry refills-due` and `registry check` agree on a patient's pump in place (one definition)."""

from __future__ import annotations

import datetime as dt
import json

import pytest
from typer.testing import CliRunner

from openidds.cli import registry
from openidds.clinic import connect
from openidds.clinic.examples import load_example
from openidds.clinic.queries import ImplantFacts, active_implant

runner = CliRunner()


def _json(*args: str) -> object:
    result = runner.invoke(registry.app, [*args, "--json"])
    assert result.exit_code in (0, 1), result.output
    return json.loads(result.stdout)


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> str:
    path = tmp_path_factory.mktemp("example") / "example.sqlite"
    engine = connect(path)
    load_example(engine)
    engine.dispose()
    return str(path)


def test_a_revised_pump_is_due_by_its_revision_only(example):
    """S00023's first pump (2022-12-04) was replaced on 2023-08-25 at its battery's ERI and the new pump refilled
    since: the first pump's refill of 2023-08-25 is not 674 days overdue."""
    rows = _json("refills-due", "--db", example, "--today", "2025-06-30", "--days", "14")
    assert "S00023" not in {r["patient_id"] for r in rows}
    later = _json("refills-due", "--db", example, "--today", "2025-06-30", "--days", "3650")
    assert [(r["implant_date"], r["next_refill_due"]) for r in later if r["patient_id"] == "S00023"] == [
        ("2023-08-25", "2025-07-29")]


@pytest.mark.parametrize("today", ["2025-07-10", "2025-09-30"])
def test_check_and_refills_due_agree_on_what_is_overdue(example, today):
    due = _json("refills-due", "--db", example, "--today", today, "--days", "0")
    overdue = {f"implant {r['site']}/{r['patient_id']} {r['implant_date']}" for r in due if r["days_left"] < 0}
    findings = _json("check", "--db", example, "--today", today)["findings"]
    flagged = {f["record"] for f in findings if f["rule"] == "refill-overdue"}
    assert overdue == flagged and overdue


D = dt.date


@pytest.mark.parametrize(("implants", "exited", "active"), [
    ([ImplantFacts(1, D(2023, 1, 1), None, None)], False, 1),
    ([ImplantFacts(1, D(2023, 1, 1), None, None), ImplantFacts(2, D(2024, 1, 1), None, 1)], False, 2),
    ([ImplantFacts(1, D(2023, 1, 1), None, None), ImplantFacts(2, D(2024, 1, 1), None, None)], False, 2),
    ([ImplantFacts(1, D(2023, 1, 1), D(2023, 6, 1), None)], False, None),
    ([ImplantFacts(1, D(2023, 1, 1), None, None)], True, None),
    ([ImplantFacts(1, D(2024, 1, 1), None, 2), ImplantFacts(2, D(2023, 1, 1), None, 1)], False, None),
    ([], False, None),
])
def test_active_implant(implants, exited, active):
    """Superseded (a later implant, or one that names it as replaced), explanted or exited: not active."""
    assert active_implant(implants, exited) == active



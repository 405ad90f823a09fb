"""`openidds registry import` says how many escalations it started when the registry escalates (a policy given with
`--escalation-policy` or installed before): one per new open alarm the import derived, none when imported again;
without a policy it says nothing of escalation."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from tests.cli.invoke import invoke

from openidds.cli import app
from openidds.clinic import connect, models
from openidds.clinic.examples import EXAMPLE_FOLDER, EXAMPLE_PUMP_LOGS

POLICY = Path(__file__).resolve().parents[2] / "docs" / "escalation-policy.toml"
LOW_RESERVOIR = ("VIRTUAL-01/S00117", "2025-01-23")


def _escalations(db: Path) -> int:
    engine = connect(db)
    try:
        with Session(engine) as session:
            return session.scalar(select(func.count()).select_from(models.EscalationState)) or 0
    finally:
        engine.dispose()


def test_an_import_prints_the_escalations_it_started(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENIDDS_ESCALATION_POLICY", raising=False)
    db = tmp_path / "registry.sqlite"
    assert invoke(app, "registry", "init", "--db", db).exit_code == 0
    records = invoke(app, "registry", "import", EXAMPLE_FOLDER, "--db", db, "--user", "importer")
    assert records.exit_code == 0, records.output
    assert "escalation" not in records.output  # no policy: nothing escalates, nothing to say

    patient, implant_date = LOW_RESERVOIR
    log = (str(EXAMPLE_PUMP_LOGS / patient / f"{implant_date}.json"), "--format", "pump-log", "--patient", patient,
           "--implant-date", implant_date)
    imported = invoke(app, "registry", "import", *log, "--db", db, "--user", "importer",
                      "--escalation-policy", POLICY)
    assert imported.exit_code == 0, imported.output
    assert _escalations(db) == 1  # the pump log's low-reservoir alarm
    assert "1 escalation started (one per new open alarm)" in " ".join(imported.output.split())

    again = invoke(app, "registry", "import", *log, "--db", db, "--user", "importer", "--json")
    assert again.exit_code == 0, again.output  # the policy installed before still escalates: it says so
    assert json.loads(again.output)["escalations_started"] == 0 and _escalations(db) == 1

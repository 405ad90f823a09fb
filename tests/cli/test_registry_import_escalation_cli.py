"""`openidds registry import --escalation-policy FILE`: the alarms an import derives are escalated, as the web server
does; without a policy nothing is; a missing policy is refused before anything is imported."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from tests.cli.invoke import invoke

from openidds.cli import app
from openidds.clinic import connect, models
from openidds.clinic.escalations import read_policy
from openidds.clinic.examples import EXAMPLE_FOLDER, EXAMPLE_PUMP_LOGS

POLICY = Path(__file__).resolve().parents[2] / "docs" / "escalation-policy.toml"
LOW_RESERVOIR = ("VIRTUAL-01/S00117", "2025-01-23")


def _log(patient: str, implant_date: str) -> tuple[str, ...]:
    return (str(EXAMPLE_PUMP_LOGS / patient / f"{implant_date}.json"), "--format", "pump-log", "--patient", patient,
            "--implant-date", implant_date)


def _alarm_id(db: Path, kind: str) -> int:
    engine = connect(db)
    try:
        with Session(engine) as session:
            found = session.scalars(select(models.ClinicAlarm.id).where(models.ClinicAlarm.kind == kind)
                                    .order_by(models.ClinicAlarm.id)).first()
            assert found is not None
            return found
    finally:
        engine.dispose()


def _count(db: Path, table: type[models.Base]) -> int:
    engine = connect(db)
    try:
        with Session(engine) as session:
            return session.scalar(select(func.count()).select_from(table)) or 0
    finally:
        engine.dispose()


def test_a_pump_log_import_escalates_the_alarms_it_derives(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENIDDS_ESCALATION_POLICY", raising=False)
    db = tmp_path / "registry.sqlite"
    assert invoke(app, "registry", "init", "--db", db).exit_code == 0
    assert invoke(app, "registry", "import", EXAMPLE_FOLDER, "--db", db, "--user", "importer").exit_code == 0
    unescalated = invoke(app, "alarms", "show", _alarm_id(db, "elective_replacement_indicator"), "--db", db)
    assert unescalated.exit_code == 2 and "an alarm whose escalation was started" in unescalated.output

    missing = invoke(app, "registry", "import", *_log(*LOW_RESERVOIR), "--db", db, "--user", "importer",
                     "--escalation-policy", tmp_path / "nowhere.toml")
    assert missing.exit_code == 2 and "--escalation-policy=" in missing.output and "an existing policy file" in \
        missing.output
    assert _count(db, models.PumpEvent) == 0

    before = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    imported = invoke(app, "registry", "import", *_log(*LOW_RESERVOIR), "--db", db, "--user", "importer",
                      "--escalation-policy", POLICY)
    assert imported.exit_code == 0, imported.output
    alarm_id = _alarm_id(db, "low_reservoir")
    shown = json.loads(invoke(app, "alarms", "show", alarm_id, "--db", db, "--json").output)
    held = read_policy(POLICY).quiet_until(before) is not None  # a medium alarm waits for the end of quiet hours
    assert shown["escalation"]["phase"] == ("raised" if held else "notified")
    assert shown["escalation"]["priority"] == "medium"
    assert [e["kind"] for e in shown["log"]] == ["raised", "held" if held else "notified"]
    assert dt.datetime.fromisoformat(shown["escalation"]["raised_at"].removesuffix("Z")) >= before - dt.timedelta(
        seconds=1)  # raised when the clinic learnt of it, as the server does
    queued = _count(db, models.OutboxMessage)
    assert queued == (0 if held else 2)  # the day or night nurse, on the board and by e-mail

    again = invoke(app, "registry", "import", *_log(*LOW_RESERVOIR), "--db", db, "--user", "importer",
                   "--escalation-policy", POLICY)
    assert again.exit_code == 0, again.output
    assert _count(db, models.OutboxMessage) == queued and _count(db, models.EscalationState) == 1

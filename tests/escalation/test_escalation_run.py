"""Escalation over a virtual clinic (openidds.cohort.escalation_run): the example clinic's alarms escalated through
the registry's own path on a simulated clock, answered per a stated model; seeded and deterministic."""

from __future__ import annotations

import csv
import datetime as dt
import shutil
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from openidds.clinic import connect, escalations, models
from openidds.clinic.examples import EXAMPLE_CUTOFF, EXAMPLE_FOLDER, load_example
from openidds.cohort.escalation_run import (
    Ending,
    load_responders,
    load_virtual_clinic,
    pump_months,
    run_escalation,
    run_replicates,
)
from openidds.errors import OpenIDDSError
from openidds.escalation import LogKind, Phase, ResponderError, Responders, StaffRole

from .policies import example_policy
from .responder_models import uniform

POLICY = example_policy()
TIERS = len(POLICY.tiers)
PASS = dt.timedelta(seconds=30)


@pytest.fixture(scope="module")
def clinic(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example clinic's registry (records and pump logs, no escalation policy), as a SQLite file."""
    path = tmp_path_factory.mktemp("clinic") / "registry.sqlite"
    engine = connect(path)
    load_example(engine)
    engine.dispose()
    return path


@pytest.fixture
def registry(clinic: Path, tmp_path: Path) -> Iterator[Engine]:
    """A copy of the example clinic's registry, for one run."""
    copy = tmp_path / "registry.sqlite"
    shutil.copyfile(clinic, copy)
    engine = connect(copy)
    yield engine
    engine.dispose()


def test_the_same_seed_gives_the_same_table_and_another_seed_another(clinic: Path) -> None:
    model = load_responders("example")
    first = run_replicates(clinic, POLICY, model, 7, 3, EXAMPLE_CUTOFF, PASS)
    again = run_replicates(clinic, POLICY, model, 7, 3, EXAMPLE_CUTOFF, PASS)
    other = run_replicates(clinic, POLICY, model, 8, 3, EXAMPLE_CUTOFF, PASS)
    assert first.table() == again.table() and first.summary() == again.summary()
    assert first.table() != other.table()
    assert [o.replicate for o in first.outcomes] == [0] * 5 + [1] * 5 + [2] * 5  # the example's 5 alarms, 3 times
    rows = [row[1:] for row in first.table()[1]]  # without the replicate's number
    assert rows[:5] != rows[5:10]  # each replicate is answered anew


def test_each_alarm_is_escalated_through_the_registry_at_its_own_time(registry: Engine) -> None:
    run = run_escalation(registry, POLICY, uniform(1.0, 30.0), 3, EXAMPLE_CUTOFF, PASS)
    with Session(registry) as session:
        alarms = session.execute(select(models.ClinicAlarm.id, models.ClinicAlarm.raised_at)).all()
        latest_audit = session.scalar(select(func.max(models.AuditEntry.at))
                                      .where(models.AuditEntry.table_name == "escalations"))
    assert sorted(o.alarm_id for o in run.outcomes) == sorted(a.id for a in alarms)
    assert latest_audit is not None and latest_audit < dt.datetime.combine(EXAMPLE_CUTOFF, dt.time())  # simulated time
    for alarm_id, raised_at in alarms:
        stored = escalations.escalation(registry, alarm_id)
        outcome = next(o for o in run.outcomes if o.alarm_id == alarm_id)
        assert stored.raised_at == raised_at == outcome.raised_at
        assert stored.acknowledged_at is not None and outcome.minutes_to_acknowledge is not None
        assert outcome.minutes_to_acknowledge == (stored.acknowledged_at - raised_at).total_seconds() / 60
        assert outcome.acknowledged_tier == stored.tier < outcome.tiers_reached
        log = [e.kind for e in escalations.escalation_log(registry, alarm_id)]
        assert log[0] is LogKind.RAISED and LogKind.NOTIFIED in log and log[-1] is LogKind.ACKNOWLEDGED
    moves = sum(o.tiers_reached - 1 for o in run.outcomes)
    assert run.escalations == moves


def test_prompt_answers_are_acknowledged_at_the_first_tier_within_its_timeout(clinic: Path) -> None:
    run = run_replicates(clinic, POLICY, uniform(1.0, 0.5), 1, 2, EXAMPLE_CUTOFF, PASS)
    assert all(o.ending is Ending.ACKNOWLEDGED and o.acknowledged_tier == 0 and o.tiers_reached == 1
               for o in run.outcomes)
    for o in run.outcomes:
        timeout = POLICY.tiers[0].timeout_minutes.of(o.priority).total_seconds() / 60
        assert o.minutes_to_acknowledge is not None and 0 < o.minutes_to_acknowledge < timeout
    assert run.escalations == 0 and run.exhausted == 0 and run.escalations_per_100_pump_months == 0


def test_nobody_answering_exhausts_every_alarm_after_every_tier(clinic: Path) -> None:
    run = run_replicates(clinic, POLICY, uniform(0.0, 1.0), 1, 1, EXAMPLE_CUTOFF, PASS)
    assert all(o.ending is Ending.UNANSWERED and o.exhausted and o.tiers_reached == TIERS for o in run.outcomes)
    assert run.escalations == len(run.outcomes) * (TIERS - 1)
    assert run.escalations_per_100_pump_months == pytest.approx(100 * run.escalations / run.pump_months)


def test_failing_transports_escalate_at_once_rather_than_lose_the_alarm(registry: Engine) -> None:
    run = run_escalation(registry, POLICY, uniform(1.0, 1.0, failures=1.0), 1, EXAMPLE_CUTOFF, PASS)
    for o in run.outcomes:
        assert o.exhausted and o.tiers_reached == TIERS and o.ending is Ending.UNANSWERED
        stored = escalations.escalation(registry, o.alarm_id)
        assert stored.phase is Phase.EXHAUSTED
        assert stored.due_at is None
        sent = escalations.outbox(registry, o.alarm_id)
        assert sent and all(row.status == "failed" for row in sent)
        assert max(row.created_at for row in sent) - o.raised_at <= PASS  # every tier failed within one pass


def test_an_alarm_its_source_closes_first_is_cleared_and_never_acknowledged(registry: Engine) -> None:
    with Session(registry) as session, session.begin():
        alarm = session.scalars(select(models.ClinicAlarm).order_by(models.ClinicAlarm.id)).first()
        assert alarm is not None
        alarm.resolved_at, alarm.resolution = alarm.raised_at + dt.timedelta(minutes=3), "cleared_by_pump"
        cleared_id = alarm.id
    run = run_escalation(registry, POLICY, uniform(1.0, 30.0), 1, EXAMPLE_CUTOFF, PASS)
    cleared = next(o for o in run.outcomes if o.alarm_id == cleared_id)
    assert cleared.ending is Ending.CLEARED and cleared.minutes_to_acknowledge is None
    assert escalations.escalation(registry, cleared_id).phase is Phase.CLEARED
    assert all(o.ending is Ending.ACKNOWLEDGED for o in run.outcomes if o is not cleared)
    assert run.count(Ending.CLEARED) == 1


def test_pump_months_count_each_implant_from_implant_to_explant_exit_or_clinic_day(registry: Engine) -> None:
    with (EXAMPLE_FOLDER / "exits.csv").open(encoding="utf-8") as handle:
        exits = {(r["site"], r["patient_id"]): dt.date.fromisoformat(r["exit_date"]) for r in csv.DictReader(handle)}
    days = 0
    with (EXAMPLE_FOLDER / "implants.csv").open(encoding="utf-8") as handle:
        for r in csv.DictReader(handle):
            ends = [EXAMPLE_CUTOFF, exits.get((r["site"], r["patient_id"]), EXAMPLE_CUTOFF)]
            if r["explant_date"]:
                ends.append(dt.date.fromisoformat(r["explant_date"]))
            days += max(0, (min(ends) - dt.date.fromisoformat(r["implant_date"])).days)
    assert pump_months(registry, EXAMPLE_CUTOFF) == pytest.approx(days / (365.25 / 12))


def test_another_virtual_clinic_is_played_and_loaded(tmp_path: Path) -> None:
    text = (resources.files("openidds.cohort") / "clinics" / "example.toml").read_text(encoding="utf-8")
    small = tmp_path / "small.toml"
    small.write_text(text.replace('id = "example"', 'id = "small"').replace("patients = 140", "patients = 6")
                     .replace("patients = 80", "patients = 4"), encoding="utf-8")
    engine = connect(tmp_path / "registry.sqlite")
    try:
        assert load_virtual_clinic(engine, small) == EXAMPLE_CUTOFF
        with Session(engine) as session:
            assert session.scalar(select(func.count()).select_from(models.Patient)) == 10
            implants = session.scalar(select(func.count()).select_from(models.Implant)) or 0
            assert session.scalar(select(func.count()).select_from(models.PumpEvent))
        run = run_escalation(engine, POLICY, uniform(1.0, 1.0), 1, EXAMPLE_CUTOFF, PASS)
    finally:
        engine.dispose()
    assert implants >= 10 and run.pump_months > 0 and run.replicates == 1


def test_bad_runs_are_refused(registry: Engine, clinic: Path) -> None:
    with pytest.raises(OpenIDDSError, match="replicates=0: expected at least 1"):
        run_replicates(clinic, POLICY, uniform(1.0, 1.0), 1, 0, EXAMPLE_CUTOFF, PASS)
    with pytest.raises(OpenIDDSError, match="pass_interval"):
        run_escalation(registry, POLICY, uniform(1.0, 1.0), 1, EXAMPLE_CUTOFF, dt.timedelta(0))
    lacking = Responders.model_validate({**uniform(1.0, 1.0).model_dump(mode="json"),
                                         "roles": {"nurse": uniform(1.0, 1.0).roles[StaffRole.NURSE].model_dump()}})
    with pytest.raises(ResponderError, match="physician"):
        run_escalation(registry, POLICY, lacking, 1, EXAMPLE_CUTOFF, PASS)
    run_escalation(registry, POLICY, uniform(1.0, 1.0), 1, EXAMPLE_CUTOFF, PASS)
    with pytest.raises(OpenIDDSError, match="a registry whose alarms were never escalated"):
        run_escalation(registry, POLICY, uniform(1.0, 1.0), 1, EXAMPLE_CUTOFF, PASS)

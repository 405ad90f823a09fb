"""Escalation over the bundled ``remote`` clinic: its patients miss refills, so some pumps run low and then empty
and the run has high-priority alarms to measure (the example clinic has none)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from openidds.clinic import connect, models
from openidds.cohort.escalation_run import Ending, load_responders, load_virtual_clinic, run_replicates
from openidds.cohort.virtual_clinic import load_clinic
from openidds.escalation import Priority

from .policies import example_policy


@pytest.fixture(scope="module")
def remote(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The remote clinic played and loaded without an escalation policy, as a SQLite file."""
    path = tmp_path_factory.mktemp("remote") / "registry.sqlite"
    engine = connect(path)
    try:
        assert load_virtual_clinic(engine, "remote") == load_clinic("remote").clinic_day
    finally:
        engine.dispose()
    return path


def test_the_remote_clinic_has_empty_reservoirs_each_after_its_low_reservoir_alarm(remote: Path) -> None:
    engine = connect(remote)
    try:
        with Session(engine) as session:
            alarms = session.execute(select(models.ClinicAlarm.kind, models.ClinicAlarm.priority,
                                            models.ClinicAlarm.implant_id, models.ClinicAlarm.raised_at)).all()
    finally:
        engine.dispose()
    empty = [a for a in alarms if a.kind == "empty_reservoir"]
    low = {a.implant_id: a.raised_at for a in alarms if a.kind == "low_reservoir"}
    assert empty and all(a.priority == Priority.HIGH.value for a in empty)
    assert all(a.implant_id in low and low[a.implant_id] < a.raised_at for a in empty)
    assert {a.priority for a in alarms if a.kind == "low_reservoir"} == {Priority.MEDIUM.value}


def test_escalation_runs_over_the_remote_clinic_and_measures_its_high_priority_alarms(remote: Path) -> None:
    clinic = load_clinic("remote")
    run = run_replicates(remote, example_policy(), load_responders("example"), 1, 2, clinic.clinic_day)
    high = next(d for d in run.delays() if d.priority is Priority.HIGH)
    assert high.alarms >= 2 and high.alarms % 2 == 0  # the same high-priority alarms in each of the 2 replicates
    for outcome in (o for o in run.outcomes if o.priority is Priority.HIGH):  # never held, never dropped
        assert outcome.tiers_reached >= 1 and (outcome.ending is Ending.ACKNOWLEDGED or outcome.exhausted)
    assert high.median is not None and high.p95 is not None and high.median <= high.p95
    assert run.pump_months > 0 and run.escalations_per_100_pump_months >= 0

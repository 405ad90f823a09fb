"""Escalation over the bundled ``remote`` clinic: its patients miss refills, so some pumps run low and then empty
and the run has high-priority alarms to measure (the example clinic has none); the refill visit an acknowledgement
leads to keeps a pump from running empty, against the baseline where nobody is notified; the time-to-empty model
agrees with the pumps' own empty-reservoir alarms."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from openidds.clinic import connect, models
from openidds.clinic.pump_log import stored_pump_log
from openidds.cohort.escalation_run import Ending, EscalationRun, load_responders, load_virtual_clinic, run_replicates
from openidds.cohort.time_to_empty import empty_at, reading
from openidds.cohort.virtual_clinic import load_clinic
from openidds.errors import OpenIDDSError
from openidds.escalation import Priority, Responders

from .policies import example_policy
from .responder_models import uniform

DAY = load_clinic("remote").clinic_day


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
    without_visits = load_responders("example").model_copy(update={"refill_visits": None})  # the empties happen
    run = run_replicates(remote, example_policy(), without_visits, 1, 2, clinic.clinic_day)
    assert run.empty_reservoirs == () and run.empty_reservoir_summary() is None
    high = next(d for d in run.delays() if d.priority is Priority.HIGH)
    assert high.alarms >= 2 and high.alarms % 2 == 0  # the same high-priority alarms in each of the 2 replicates
    for outcome in (o for o in run.outcomes if o.priority is Priority.HIGH):  # never held, never dropped
        assert outcome.tiers_reached >= 1 and (outcome.ending is Ending.ACKNOWLEDGED or outcome.exhausted)
    assert high.median is not None and high.p95 is not None and high.median <= high.p95
    assert run.pump_months > 0 and run.escalations_per_100_pump_months >= 0


def _reservoir_alarms(remote: Path) -> list[tuple[str, str, dt.date, str, dt.datetime]]:
    """Each reservoir alarm: site, patient, implant date, kind, raised at."""
    engine = connect(remote)
    try:
        with Session(engine) as session:
            rows = session.execute(
                select(models.Site.code, models.Patient.patient_code, models.Implant.implant_date,
                       models.ClinicAlarm.kind, models.ClinicAlarm.raised_at)
                .join(models.Implant, models.Implant.id == models.ClinicAlarm.implant_id)
                .join(models.Patient, models.Patient.id == models.Implant.patient_id)
                .join(models.Site, models.Site.id == models.Patient.site_id)
                .where(models.ClinicAlarm.kind.in_(["low_reservoir", "empty_reservoir"]))).all()
            return [tuple(r) for r in rows]  # type: ignore[misc]
    finally:
        engine.dispose()


def test_the_time_to_empty_model_gives_each_pump_its_own_empty_reservoir_alarm(remote: Path) -> None:
    """From the low-reservoir alarm, and from 20 days before it, the model finds the second the pump itself
    raised its empty-reservoir alarm (a pump left alone on a constant basal rate)."""
    alarms = _reservoir_alarms(remote)
    logged_empty = {(a[0], a[1], a[2]): a[4] for a in alarms if a[3] == "empty_reservoir"}
    engine = connect(remote)
    try:
        checked = 0
        for site, patient, implant_date, kind, raised_at in alarms:
            if kind != "low_reservoir" or (site, patient, implant_date) not in logged_empty:
                continue
            log = stored_pump_log(engine, site, patient, implant_date)
            for at in (raised_at, raised_at - dt.timedelta(days=20)):
                assert empty_at(log, at) == logged_empty[(site, patient, implant_date)]
            start = log.clock_start.replace(tzinfo=None)
            low = reading(log, int((raised_at - start).total_seconds()))
            assert low.above_residual_ml == pytest.approx(0.6, abs=1e-4)  # a 2 mL alarm, a 1.4 mL residual (to 1 s)
            assert 0 < low.basal_ml_per_day < 2
            checked += 1
        assert checked >= 5
        with pytest.raises(OpenIDDSError, match="a refill at or before then"):
            reading(log, -1)
    finally:
        engine.dispose()


def _run(remote: Path, model: Responders, seed: int = 1, replicates: int = 1) -> EscalationRun:
    return run_replicates(remote, example_policy(), model, seed, replicates, DAY)


def test_a_prompt_refill_visit_keeps_every_pump_from_running_empty(remote: Path) -> None:
    run = _run(remote, uniform(1.0, 1.0, refill_after_hours=(1.0, 1.0)))
    baseline = run.baseline
    assert baseline.pumps_empty >= 5 and baseline.patients == baseline.pumps_empty
    assert baseline.hours_without_drug > 1000  # empty from the alarm until the clinic day
    [played] = run.empty_reservoirs
    assert (played.pumps_empty, played.patients, played.hours_without_drug) == (0, 0, 0.0)
    prevented = [o for o in run.outcomes if o.ending is Ending.PREVENTED]
    assert {o.kind for o in prevented} == {"empty_reservoir"} and len(prevented) == baseline.pumps_empty
    assert all(o.priority is not Priority.HIGH for o in run.raised)  # the empty reservoirs never happened
    summary = run.summary()["empty_reservoirs"]
    assert summary["baseline"]["pumps_empty"] == baseline.pumps_empty
    assert summary["per_replicate"] == [played.summary()]


def test_with_nobody_answering_every_pump_runs_empty_as_in_the_baseline(remote: Path) -> None:
    run = _run(remote, uniform(0.0, 1.0, refill_after_hours=(1.0, 1.0)))
    [played] = run.empty_reservoirs
    assert played == type(played)(0, run.baseline.hours_by_run, run.baseline.patients)
    assert run.count(Ending.PREVENTED) == 0


def test_a_late_visit_after_a_low_reservoir_lets_the_pump_run_empty_until_the_urgent_one(remote: Path) -> None:
    """A refill booked 10 days after a low reservoir comes after the empty one (1.3 to 3.5 days later): the empty
    reservoir is acknowledged (within minutes here) and its urgent visit 6 h later refills the pump."""
    run = _run(remote, uniform(1.0, 1.0, refill_after_hours=(240.0, 6.0)))
    [played] = run.empty_reservoirs
    assert played.pumps_empty == run.baseline.pumps_empty and run.count(Ending.PREVENTED) == 0
    for reservoir, hours in zip(run.reservoir_runs, played.hours_by_run, strict=True):
        empty = [o for o in run.outcomes if o.alarm_id in reservoir.alarm_ids and o.kind == "empty_reservoir"]
        if not empty:
            assert hours == 0
            continue
        [outcome] = empty
        assert outcome.minutes_to_acknowledge is not None
        assert hours == pytest.approx(6 + outcome.minutes_to_acknowledge / 60)


def test_the_refill_visits_are_the_same_for_the_same_seed(remote: Path) -> None:
    model = load_responders("example")
    assert model.refill_visits is not None
    first, again = _run(remote, model, 5, 2), _run(remote, model, 5, 2)
    assert first.empty_reservoirs == again.empty_reservoirs and first.table() == again.table()
    assert first.empty_reservoir_table() == again.empty_reservoir_table()
    assert len(first.empty_reservoirs) == 2 and [r.replicate for r in first.empty_reservoirs] == [0, 1]

"""Exits through the whole system: the registry records each patient's exit as the course drew it, and the
report's exit shares (the seed 002 targets) are the courses' shares, so the course model that calibration fits
and the registry that validation measures count exits alike."""

from collections import Counter
from datetime import timedelta

import pytest
from sqlalchemy import select

from openidds.clinic import connect, models
from openidds.cohort.params import Params, load_params
from openidds.cohort.simulate import play, write_registry
from openidds.cohort.study import load_study
from openidds.cohort.targets import measure

N = 60
_EXPLANT_OR_STOPPED = ("explant", "therapy_stopped")


def _frequent_exits() -> Params:
    """Seed 002's parameters with every exit frequent, so that a small cohort has each reason (infections and
    malfunctions explanted)."""
    data = load_params("seed002").model_dump(mode="json", exclude_none=True)
    follow = data["course"]["follow_up"]
    follow.update(therapy_stopped_per_year=0.3, transfer_per_year=0.15, lost_per_year=0.15)
    data["course"]["complications"]["infection"]["incidence"] = 0.3
    data["course"]["complications"]["pump_malfunction"]["incidence"] = 0.2
    data["course"]["survival_months"].update(q25=6.0, median=20.0, q75=80.0)
    return Params.model_validate(data)


@pytest.fixture(scope="module")
def replicate(tmp_path_factory):
    study = load_study("seed002")
    runs = play(study, _frequent_exits(), 5, N)
    db = str(tmp_path_factory.mktemp("exits") / "exits.sqlite")
    write_registry(runs, db, source="test")
    return study, runs, db


def test_the_registry_records_each_exit_as_the_course_drew_it(replicate):
    _, runs, db = replicate
    engine = connect(db)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(models.Patient.patient_code, models.Exit.reason, models.Exit.exit_date)
                                .join(models.Exit, models.Exit.patient_id == models.Patient.id)).all()
    finally:
        engine.dispose()
    recorded = {code: (reason, day) for code, reason, day in rows}
    drawn = {run.patient_id: (run.course.exit_reason.value,
                              run.implant_date + timedelta(days=run.course.end_day))
             for run in runs if run.course.exit_reason is not None}
    assert recorded == drawn
    assert set(Counter(reason for reason, _ in drawn.values())) == {
        "death", "explant", "therapy_stopped", "transfer_of_care", "lost_to_follow_up"}


def test_the_report_measures_the_courses_exit_shares(replicate):
    study, runs, db = replicate
    engine = connect(db)
    try:
        got = measure(study, engine)
    finally:
        engine.dispose()
    reasons = Counter(run.course.exit_reason.value for run in runs if run.course.exit_reason is not None)
    exits = sum(reasons.values())
    assert got["exits_count"] == exits
    assert got["exit_death_proportion"] == pytest.approx(reasons["death"] / exits)
    assert got["exit_explant_or_stopped_proportion"] == pytest.approx(
        sum(reasons[r] for r in _EXPLANT_OR_STOPPED) / exits)
    assert got["exit_other_proportion"] == pytest.approx(
        (exits - reasons["death"] - sum(reasons[r] for r in _EXPLANT_OR_STOPPED)) / exits)

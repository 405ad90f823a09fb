"""The fast model's reading of the clinic's refills: the refill days and the refill that finds an occlusion,
checked against the virtual clinic playing the same course through the pump and programmer; and the fast
model's targets against the registry's on the same patients."""

import datetime as dt

import numpy as np
import pytest

from openidds.cohort import targets
from openidds.cohort.baseline import sample_baselines
from openidds.cohort.calibrate import fit_targets, measure, outcomes_of
from openidds.cohort.clinic_run import run_patient
from openidds.cohort.course import DoseChange, Schedule, draw_course
from openidds.cohort.params import Params, load_params
from openidds.cohort.refill_schedule import occlusion_found_day, refill_days
from openidds.cohort.simulate import implant_dates, play, write_registry
from openidds.cohort.study import load_study
from openidds.drugs import default_library

from .one_patient import a_course

LIBRARY = default_library()


def clinic_refill_days(run):
    """The days of the clinic's refills after the first fill."""
    return tuple((dt.date.fromisoformat(r["refilled_at"][:10]) - run.implant_date).days
                 for r in run.rows["refills"][1:])


def recorded_occlusion(run):
    return next(((dt.date.fromisoformat(r["onset_date"]) - run.implant_date).days
                 for r in run.rows.get("complications", []) if r["kind"] == "catheter_occlusion"), None)


def test_refills_every_stability_period_at_a_low_rate(params):
    # 2 mg/day of morphine at 10 mg/mL: 0.2 mL/day, so morphine's 90 days of stability come first
    baseline, course = a_course(params, start_dose_mg_per_day=2.0, concentration_mg_per_ml=10.0)
    assert refill_days(course, params.course, LIBRARY) == (88, 176, 264)
    run = run_patient(1, baseline, course, params.course, np.random.default_rng(1))
    assert clinic_refill_days(run) == (88, 176, 264)


def test_a_dose_change_rebooks_the_refill_by_volume(params):
    baseline, course = a_course(params, start_dose_mg_per_day=6.0, concentration_mg_per_ml=10.0,
                                dose_changes=(DoseChange(20, 7.2),))
    days = refill_days(course, params.course, LIBRARY)
    assert days[0] < 88  # the volume date, not stability
    run = run_patient(1, baseline, course, params.course, np.random.default_rng(1))
    assert all(abs(a - b) <= 1 for a, b in zip(days, clinic_refill_days(run), strict=True))


def test_an_occlusion_is_dated_at_the_refill_that_finds_it(params):
    baseline, course = a_course(params, start_dose_mg_per_day=8.0, concentration_mg_per_ml=10.0, occlusion_day=10)
    found = occlusion_found_day(course, params.course, LIBRARY)
    assert found is not None and found > 10 and found in refill_days(course, params.course, LIBRARY)
    run = run_patient(1, baseline, course, params.course, np.random.default_rng(1))
    assert recorded_occlusion(run) == found


def test_an_occlusion_no_refill_reaches_is_never_found(params):
    baseline, course = a_course(params, start_dose_mg_per_day=2.0, concentration_mg_per_ml=10.0, occlusion_day=40,
                                death_day=80, exit_day=80, end_day=80)
    assert occlusion_found_day(course, params.course, LIBRARY) is None
    run = run_patient(1, baseline, course, params.course, np.random.default_rng(1))
    assert recorded_occlusion(run) is None


def test_a_revision_first_clears_the_occlusion_unrecorded(params):
    baseline, course = a_course(params, start_dose_mg_per_day=2.0, concentration_mg_per_ml=10.0, occlusion_day=30,
                                revision_days=(60,))
    assert occlusion_found_day(course, params.course, LIBRARY) is None
    run = run_patient(1, baseline, course, params.course, np.random.default_rng(1))
    assert recorded_occlusion(run) is None


def test_the_fast_model_dates_a_cohort_s_occlusions_as_the_clinic_records_them():
    data = load_params("seed000").model_dump(mode="json", exclude_none=True)
    data["course"]["complications"]["catheter_occlusion"]["incidence"] = 0.6  # many occlusions to date
    study, params = load_study("seed000"), Params.model_validate(data)
    runs = play(study, params, 5, 120)
    occluded = [run for run in runs if run.course.occlusion_day not in (None, 0)]
    assert occluded  # an occlusion on day 0 happens before the first fill's priming; the clinic does not inject it
    dated = [(occlusion_found_day(run.course, params.course, LIBRARY), recorded_occlusion(run)) for run in occluded]
    agree = [(model is not None and clinic is not None and abs(model - clinic) <= 1) or model is clinic is None
             for model, clinic in dated]
    assert sum(agree) >= 0.9 * len(dated), dated  # whole days: a refill booked a day apart is the same refill
    assert any(clinic is None for _, clinic in dated) and any(clinic is not None for _, clinic in dated)
    same = sum(refill_days(run.course, params.course, LIBRARY) == clinic_refill_days(run) for run in runs)
    assert same >= 0.9 * len(runs)


@pytest.mark.parametrize("study_id", ["seed000", "seed003"])
def test_the_fast_model_and_the_registry_give_the_same_targets_on_the_same_patients(tmp_path, study_id):
    """The same baselines and courses read by the fast model and played through the clinic into a registry
    measured through the report: every target the fast model gives agrees (the occlusions dated alike)."""
    study, params = load_study(study_id), load_params(study_id)
    rng = np.random.default_rng(12)
    baselines = sample_baselines(params.baseline, 80, rng)
    cohort = [(b, draw_course(b, params.course, Schedule.of(study.design, day), rng, LIBRARY))
              for b, day in zip(baselines, implant_dates(study, 80, rng), strict=True)]
    runs = [run_patient(i, b, c, params.course, rng, LIBRARY) for i, (b, c) in enumerate(cohort, 1)]
    db = tmp_path / "r.sqlite"
    write_registry(runs, str(db), source="test")
    registry = targets.measure(study, str(db))
    fast = measure(fit_targets(study)[0], outcomes_of(study, params, cohort))
    assert fast == pytest.approx({name: registry[name] for name in fast}, abs=1e-9)

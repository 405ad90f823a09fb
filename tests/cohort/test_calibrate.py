"""Calibration on the patient-course model: the distance, recovery of known parameters, and refusals."""

from __future__ import annotations

import datetime as dt
import json
import math

import numpy as np
import pytest

from openidds.cohort.calibrate import (
    CalibrationError,
    calibrate,
    cohort_seeds,
    distance,
    draw_cohort,
    fit_targets,
    free_parameters,
    measure,
    measure_mean,
    outcomes,
)
from openidds.cohort.params import Params, ParamsError, load_params, params_text
from openidds.cohort.study import Interval, Study, StudyError, Use, load_study, parse_study
from openidds.errors import OpenIDDSError

DAY = dt.date(2026, 1, 2)
SEED = 3
PATIENTS = 200


def _moved(params: Params, **values: float) -> Params:
    """``params`` with free parameters set by name (their co-scaled paths follow)."""
    start = params.model_dump(mode="json", exclude_none=True)
    data = json.loads(json.dumps(start))
    for parameter in free_parameters(params):
        if parameter.name in values:
            parameter.set(start, data, values[parameter.name])
    return Params.model_validate(data)


def _synthetic(study: Study, truth: Params) -> Study:
    """``study`` whose fit targets are the course model's values at ``truth`` (same seed and size as the fits),
    each keeping its published half-width."""
    used, _ = fit_targets(study)
    model = measure(used, outcomes(study, truth, SEED, PATIENTS))
    targets = []
    for target in study.targets:
        if target in used:
            half = target.half_width
            assert half is not None
            value = model[target.name]
            target = target.model_validate({**target.model_dump(), "value": value, "low": value - half,
                                            "high": value + half, "interval": Interval.CI95, "sd": None})
        targets.append(target)
    return study.model_copy(update={"targets": tuple(targets)})


@pytest.fixture(scope="module")
def seed000() -> tuple[Study, Params]:
    return load_study("seed000"), load_params("seed000")


def test_distance_is_zero_at_the_truth_and_grows_away_from_it(seed000):
    study, params = seed000
    synthetic = _synthetic(study, params)
    used, _ = fit_targets(synthetic)
    median = params.course.survival_months.median
    at = {k: distance(used, measure(used, outcomes(synthetic, _moved(params, survival_median_months=k * median),
                                                   SEED, PATIENTS)))
          for k in (1.0, 1.25, 1.6)}
    assert at[1.0] == 0.0
    assert 0 < at[1.25] < at[1.6]


def test_distance_is_the_sum_of_squared_half_widths(seed000):
    study, _ = seed000
    used, _ = fit_targets(study)
    one = used[0]
    assert one.half_width is not None
    measured = {t.name: t.value for t in used} | {one.name: one.value + 2 * one.half_width}
    assert distance(used, measured) == pytest.approx(4.0)
    assert distance(used, measured | {one.name: math.nan}) == math.inf


def test_fit_targets_of_seed000_are_all_given_by_the_course_model(seed000):
    study, _ = seed000
    used, left = fit_targets(study)
    assert {t.name for t in used} == {t.name for t in study.targets_for(Use.FIT)} and left == {}
    seed003, _ = fit_targets(load_study("seed003"))
    assert "os_median_months" in {t.name for t in seed003}
    assert "age_mean" in fit_targets(load_study("seed003"))[1]


def test_visit_noise_is_free_only_where_the_follow_up_nrs_sd_is_fitted(seed000):
    """Seed 003 fits its follow-up NRS SD (3.0 ± 1.1), seed 000 keeps it as a holdout."""
    def free(study_id: str) -> set[str]:
        study, params = load_study(study_id), load_params(study_id)
        names = {t.name for t in fit_targets(study)[0]}
        return {p.name for p in free_parameters(params) if p.informs & names}

    assert "visit_noise_nrs" in free("seed003") and "visit_noise_nrs" not in free("seed000")
    study, params = seed000
    quiet, noisy = (_moved(params, visit_noise_nrs=x) for x in (0.1, 2.0))
    sd = {x: measure([t for t in study.targets if t.name == "nrs_follow_up_sd"], outcomes(study, p, SEED, PATIENTS))
          for x, p in ((0.1, quiet), (2.0, noisy))}
    assert sd[2.0]["nrs_follow_up_sd"] > sd[0.1]["nrs_follow_up_sd"] + 0.2


def test_the_needed_dose_spread_is_free_where_a_file_gives_it_and_narrows_the_follow_up_nrs():
    """Seed 003 gives the spread of the dose each patient needs (the model's 0.5 without it, seed 000): the NRS
    before discharge, before titration gets there, spreads less when the needed doses do."""
    study, params = load_study("seed003"), load_params("seed003")
    assert "needed_dose_sigma" in {p.name for p in free_parameters(params)}
    assert "needed_dose_sigma" not in {p.name for p in free_parameters(load_params("seed000"))}
    target = [t for t in study.targets if t.name == "nrs_follow_up_sd"]
    sd = {x: measure(target, outcomes(study, _moved(params, needed_dose_sigma=x), SEED, 400))["nrs_follow_up_sd"]
          for x in (0.1, 0.5)}
    assert sd[0.5] > sd[0.1] + 0.3


def test_calibrate_recovers_known_parameters(seed000):
    """Targets simulated from known parameters; the fit starts from the bundled file and finds them again."""
    study, params = seed000
    truth = _moved(params, survival_median_months=5.0, reached_nrs_mean=4.0)
    synthetic = _synthetic(study, truth)
    result = calibrate(synthetic, params, seed=SEED, budget=40, on=DAY, patients=PATIENTS,
                       parameters=["survival_median_months", "reached_nrs_mean"])
    fitted = result.calibration.parameters
    assert fitted["survival_median_months"].fitted == pytest.approx(5.0, abs=0.25)
    assert fitted["reached_nrs_mean"].fitted == pytest.approx(4.0, abs=0.15)
    assert result.calibration.distance_before > 10
    assert result.calibration.distance_after < 0.05 * result.calibration.distance_before
    survival = result.params.course.survival_months
    start = params.course.survival_months
    assert survival.q75 / survival.median == pytest.approx(start.q75 / start.median)  # the quartiles keep their shape
    assert survival.source.startswith("calibrated to the fit targets of seed000")


def test_calibrated_file_is_reproducible_and_reads_back(seed000):
    study, params = seed000
    runs = [calibrate(study, params, seed=SEED, budget=4, on=DAY, patients=60) for _ in range(2)]
    text = params_text(runs[0].params)
    assert text == params_text(runs[1].params)
    back = Params.model_validate_json(text)
    record = back.calibration
    assert record is not None and record.study == "seed000" and record.date == DAY and record.seed == SEED
    assert record.budget == 4 and record.evaluations == 4 and record.distance_after <= record.distance_before
    assert set(record.fitted_targets) == {t.name for t in study.targets_for(Use.FIT)}
    assert "complication_any_cif_1y" in runs[0].after
    assert back.provenance == params.provenance


def test_one_cohort_an_evaluation_is_the_cohort_of_the_seed_itself(seed000):
    """``cohorts=1`` (the default) draws the one cohort from the seed as before and writes no cohort count: the
    file is the one calibration wrote before the option existed."""
    study, params = seed000
    used, _ = fit_targets(study)
    one = calibrate(study, params, seed=SEED, budget=3, on=DAY, patients=60, cohorts=1)
    assert params_text(one.params) == params_text(calibrate(study, params, seed=SEED, budget=3, on=DAY,
                                                            patients=60).params)
    assert one.before == measure(used, outcomes(study, params, SEED, 60))
    assert one.calibration.distance_before == distance(used, one.before)
    assert "cohorts_per_evaluation" not in params_text(one.params)


def test_several_cohorts_an_evaluation_fit_the_targets_means_deterministically(seed000):
    """``cohorts=K`` measures each target on the K cohorts of the spawned children of ``SeedSequence(seed)`` and
    takes the distance on their means; the same seed gives the same file."""
    study, params = seed000
    used, _ = fit_targets(study)
    runs = [calibrate(study, params, seed=SEED, budget=3, on=DAY, patients=60, cohorts=3) for _ in range(2)]
    assert params_text(runs[0].params) == params_text(runs[1].params)
    each = [measure(used, outcomes(study, params, child, 60)) for child in np.random.SeedSequence(SEED).spawn(3)]
    means = {t.name: sum(m[t.name] for m in each) / 3 for t in used}
    assert runs[0].before == pytest.approx(means, rel=1e-12)
    assert runs[0].calibration.distance_before == pytest.approx(distance(used, means), rel=1e-12)
    assert len({m["os_median_months"] for m in each}) > 1  # the cohorts differ: the mean is not one of them
    record = Params.model_validate_json(params_text(runs[0].params)).calibration
    assert record is not None and record.cohorts_per_evaluation == 3 and record.patients_per_evaluation == 60
    with pytest.raises(CalibrationError, match="cohorts"):
        calibrate(study, params, seed=SEED, budget=2, on=DAY, patients=20, cohorts=0)


def test_a_spawned_seed_draws_the_same_cohort_at_every_call(seed000):
    """A seed sequence's ``spawn`` is stateful; the cohort is drawn from a copy of it, so the same seed object
    gives the same patients at every call (the common random numbers of an evaluation over several cohorts)."""
    study, params = seed000
    child = cohort_seeds(SEED, 2)[0]
    first = draw_cohort(study, params, child, 30)
    assert draw_cohort(study, params, child, 30) == first
    assert draw_cohort(study, params, cohort_seeds(SEED, 2)[1], 30) != first


def test_the_fit_recorded_over_several_cohorts_is_what_the_file_gives_on_them(seed000):
    """The targets' means a calibration over several cohorts records for its best point are the written file's
    on the cohorts of ``cohort_seeds(seed, K)``: every evaluation measured the same cohorts, so the best point
    is the best parameters, not the luckiest draw."""
    study, params = seed000
    used, _ = fit_targets(study)
    result = calibrate(study, params, seed=SEED, budget=12, on=DAY, patients=60, cohorts=3)
    assert result.calibration.distance_after < result.calibration.distance_before  # the fit moved off the start
    again = measure_mean(study, result.params, used, cohort_seeds(SEED, 3), 60)
    assert again == pytest.approx(result.after, rel=1e-12)
    assert distance(used, again) == pytest.approx(result.calibration.distance_after, rel=1e-12)


def test_refusals(seed000, tmp_path):
    study, params = seed000
    with pytest.raises(ParamsError, match="seed000"):
        calibrate(study, load_params("seed002"), seed=1, budget=2, on=DAY, patients=20)
    with pytest.raises(CalibrationError, match="budget"):
        calibrate(study, params, seed=1, budget=0, on=DAY, patients=20)
    with pytest.raises(OpenIDDSError, match="seed=-1: expected a whole number, 0 or more"):
        calibrate(study, params, seed=-1, budget=2, on=DAY, patients=20)
    with pytest.raises(CalibrationError, match="parameter='dose_of_magic'"):
        calibrate(study, params, seed=1, budget=2, on=DAY, patients=20, parameters=["dose_of_magic"])
    data = params.model_dump(mode="json", exclude_none=True)
    del data["course"]["pain"]
    broken = tmp_path / "broken.json"
    broken.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ParamsError, match="course"):
        load_params(broken)
    with pytest.raises(StudyError, match="seed000"):
        load_study("seed999")


def test_an_impossible_target_is_refused():
    from importlib import resources

    text = (resources.files("openidds.cohort") / "studies" / "seed000.toml").read_text(encoding="utf-8")
    with pytest.raises(StudyError, match="nrs_improved_proportion"):
        parse_study(text.replace("value = 0.951", "value = 1.3"), "impossible.toml")


def test_a_study_without_usable_fit_targets_is_refused(seed000):
    study, params = seed000
    holdout = study.model_copy(update={"targets": study.targets_for(Use.HOLDOUT)})
    with pytest.raises(CalibrationError, match="fit target"):
        calibrate(holdout, params, seed=1, budget=2, on=DAY, patients=20)


def test_seed002_exits_and_pairs_as_the_report_counts_them():
    study, params = load_study("seed002"), load_params("seed002")
    used, left = fit_targets(study)
    assert left == {} and len(used) == len(study.targets_for(Use.FIT))
    got = measure(used, outcomes(study, params, SEED, 300))
    shares = ("exit_death_proportion", "exit_explant_or_stopped_proportion", "exit_other_proportion")
    assert sum(got[name] for name in shares) == pytest.approx(1.0)
    assert all(0 < got[name] < 1 for name in shares)
    # pairs only for implants from 2013 (of 2003-2017), scaled to the study's 1,403 patients
    assert 0 < got["pain_12m_pairs_count"] < got["pain_6m_pairs_count"] < 1403 * 5 / 14.6
    free = {p.name for p in free_parameters(params) if p.informs & {t.name for t in used}}
    assert {"other_exits_per_year", "therapy_stopped_per_year", "visit_missing", "eq5d_missing"} <= free


def test_the_pain_model_in_the_file_sets_which_pain_parameters_are_free(seed000):
    """Seed 000's file has the reached-NRS pain model: its mean and SD are free; seed 003's has the relief
    fraction: that one's are."""
    _, params = seed000
    reached = {p.name for p in free_parameters(params)}
    relief = {p.name for p in free_parameters(load_params("seed003"))}
    assert {"reached_nrs_mean", "reached_nrs_sd"} <= reached and not reached & {"relief_fraction_mean",
                                                                                "relief_fraction_sd"}
    assert {"relief_fraction_mean", "relief_fraction_sd"} <= relief and not relief & {"reached_nrs_mean",
                                                                                      "reached_nrs_sd"}


def test_the_survival_tail_is_free_for_seed002_and_moves_with_the_median_held():
    """The third quartile over the median is a parameter of its own where it informs a fit target (seed 002's
    other exits and pairs at 12 months): set with the median, it gives q75 = ratio × the new median; a longer
    tail keeps patients alive, so more leave for other reasons and more are seen at 12 months."""
    def free(study_id: str) -> set[str]:
        study, params = load_study(study_id), load_params(study_id)
        names = {t.name for t in fit_targets(study)[0]}
        return {p.name for p in free_parameters(params) if p.informs & names}

    assert "survival_q75_to_median" in free("seed002")
    assert "survival_q75_to_median" not in free("seed000") | free("seed003")
    study, params = load_study("seed002"), load_params("seed002")
    start = params.course.survival_months
    moved = _moved(params, survival_median_months=6.0, survival_q75_to_median=3.0).course.survival_months
    assert (moved.median, moved.q75) == pytest.approx((6.0, 18.0))
    assert moved.q25 == pytest.approx(start.q25 * 6.0 / start.median)
    used, _ = fit_targets(study)
    short, long = (measure(used, outcomes(study, _moved(params, survival_q75_to_median=r), SEED, 1000))
                   for r in (1.5, 5.0))
    assert long["exit_other_proportion"] > short["exit_other_proportion"]
    assert long["pain_12m_pairs_count"] > short["pain_12m_pairs_count"]
    assert long["exit_death_proportion"] < short["exit_death_proportion"]


def test_a_baseline_nrs_of_published_whole_number_moments_is_not_fitted(seed000):
    """Seed 000's baseline NRS is the paper's 7.38 ± 1.64 of the scores themselves (``moments =
    "whole_numbers"``): it is sampled as published, not fitted; seed 003's normal is the model's own and free."""
    _, params = seed000
    assert {"nrs_mean", "nrs_sd"}.isdisjoint(p.name for p in free_parameters(params))
    assert {"nrs_mean", "nrs_sd"} <= {p.name for p in free_parameters(load_params("seed003"))}

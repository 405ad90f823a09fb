"""Measuring targets on the bundled example registry, read through the analysis dataset and the study report;
the expected values are read by hand from the example's report.json (``openidds report --example``)."""

import math
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine
from tests.cohort.test_study import _minimal

from openidds.clinic import connect, init_registry
from openidds.clinic.examples import load_example
from openidds.cohort.study import FollowUpCounted, Study, load_study, parse_study
from openidds.cohort.targets import (
    NOT_MEASURABLE_YET,
    Unmeasured,
    measure,
    measure_results,
    report_results,
    unmeasured,
)
from openidds.errors import OpenIDDSError


@pytest.fixture(scope="module")
def example(tmp_path_factory: pytest.TempPathFactory) -> str:
    """The example registry in a SQLite file, as ``openidds report --example`` builds it."""
    path = tmp_path_factory.mktemp("example") / "example.sqlite"
    engine = connect(str(path))
    try:
        load_example(engine, pump_logs=False)  # the targets read the analysis dataset, which reads no pump log
    finally:
        engine.dispose()
    return str(path)


@pytest.fixture(scope="module")
def engine(example: str) -> Engine:
    return connect(example)


def test_seed000_targets_on_the_example_registry(engine: Engine) -> None:
    m = measure(load_study("seed000"), engine)
    assert m["nrs_change_mean"] == pytest.approx(4.066298342541437)  # pain.last_nrs.t_test.mean_difference
    assert m["nrs_change_sd"] == pytest.approx(2.0859375987916784)
    assert m["nrs_baseline_mean"] == pytest.approx(7.513812154696133)  # before_mean over the 181 pairs
    assert m["nrs_follow_up_sd"] == pytest.approx(1.9447241752659221)
    assert m["nrs_pairs_count"] == 181
    assert m["nrs_improved_proportion"] == pytest.approx(176 / 181)  # the exact (Clopper–Pearson) entry
    assert m["nrs_change_p_value"] == pytest.approx(2.1849363333509206e-63)
    assert m["os_median_months"] == pytest.approx(3.975359342915811)  # Kaplan–Meier median
    assert m["adverse_events_count"] == 40
    assert m["adverse_event_patients_proportion"] == pytest.approx(33 / 220)
    assert m["complication_any_cif_1y"] == pytest.approx(0.16260354426823392)
    assert m["complication_severe_cif_1y"] == pytest.approx(0.05742326521608058)
    assert m["reoperation_cif_1y"] == pytest.approx(0.05931814439442619)
    assert m["reoperation_patients_proportion"] == pytest.approx(9 / 220)


def test_seed002_targets_on_the_example_registry(engine: Engine) -> None:
    m = measure(load_study("seed002"), engine)
    # exits: death 155, explant 2, therapy stopped 4, transfer 6, lost 5
    assert m["exit_death_proportion"] == pytest.approx(155 / 172)
    assert m["exit_explant_or_stopped_proportion"] == pytest.approx(6 / 172)
    assert m["exit_other_proportion"] == pytest.approx(11 / 172)
    assert m["exits_count"] == 172
    assert m["infection_surgery_proportion"] == pytest.approx(1 / 220)
    assert (m["pain_6m_pairs_count"], m["pain_12m_pairs_count"], m["eq5d_6m_pairs_count"]) == (48, 11, 36)
    assert m["eq5d_6m_p_value"] == pytest.approx(1.323563876626509e-12)
    assert (m["age_minimum"], m["age_maximum"]) == (36, 95)
    assert m["age_mean"] == pytest.approx(62.236363636363635)
    assert m["female_proportion"] == pytest.approx(118 / 220)


def _counting_pain_pairs(study: Study) -> Study:
    """The study as if it counted the patients with a follow-up NRS as followed up."""
    design = study.design.model_copy(update={"follow_up_counted": FollowUpCounted.PAIN_PAIRS})
    return study.model_copy(update={"design": design})


def test_seed003_targets_on_the_example_registry(example: str) -> None:
    # seed 003 counts the patients reached by telephone; the example clinic phones nobody: no estimate
    as_published = measure(load_study("seed003"), example)
    assert math.isnan(as_published["follow_up_complete_proportion"]) and math.isnan(as_published["os_median_months"])
    m = measure(_counting_pain_pairs(load_study("seed003")), example)  # a path works as well as an engine
    assert m["os_median_months"] == pytest.approx(3.3675564681724843)  # observed months to death or last contact
    assert m["ome_median_mg_per_day"] == pytest.approx(268.8)
    assert m["ome_over_500_proportion"] == pytest.approx(68 / 220)
    assert m["pain_lumbosacral_proportion"] == pytest.approx(100 / 220)
    assert m["pain_head_neck_proportion"] == pytest.approx(8 / 220)
    assert m["metastasis_proportion"] == pytest.approx(133 / 220)
    assert m["cancer_pancreatic_proportion"] == pytest.approx(22 / 220)
    assert m["itt_morphine_proportion"] == pytest.approx(89 / 220)  # of every patient, as the paper divides
    assert m["itt_bupivacaine_proportion"] == pytest.approx(10 / 220)
    assert m["itt_none_proportion"] == pytest.approx(44 / 220)
    assert m["insertion_other_proportion"] == 0  # every catheter at L2/3
    assert m["catheter_tip_t6_t9_proportion"] == 0  # every tip at T10
    assert m["idds_bupivacaine_morphine_proportion"] == 0  # the virtual clinic gives morphine alone
    assert m["reason_inadequate_control_proportion"] == pytest.approx(210 / 220)
    assert m["pdph_proportion"] == pytest.approx(17 / 220)
    assert m["early_death_proportion"] == 0  # no post-operative stay recorded: no death in hospital
    assert m["deaths_after_discharge_count"] == 155
    assert m["follow_up_complete_proportion"] == pytest.approx(181 / 220)  # patients with a follow-up NRS
    assert m["satisfied_proportion"] == pytest.approx(144 / 181)
    assert m["opioid_below_100_mg_proportion"] == pytest.approx(103 / 181)
    # the example registry records no hospital charge or operation time: measurable, but there is no estimate
    assert math.isnan(m["hospital_cost_cny_mean"]) and math.isnan(m["own_expense_cny_sd"])
    assert math.isnan(m["surgical_duration_hours_mean"])


def test_a_study_that_counts_telephone_contacts_reads_them() -> None:
    """Seed 003's follow-up rate and median time to death or last contact are over the patients reached by
    telephone (the paper's 72 of 96), not over those with a follow-up NRS."""
    flow = {"follow_up_rate": 0.99, "telephone_contact_rate": 0.75,
            "telephone_contacted_death_or_last_contact_months": {"median": 3.1}}
    results = {"flow": flow, "cohort": {"follow_up": {"death_or_last_contact_months": {"median": 2.5}}}}
    m = measure_results(load_study("seed003"), results)
    assert (m["follow_up_complete_proportion"], m["os_median_months"]) == (0.75, 3.1)
    m = measure_results(_counting_pain_pairs(load_study("seed003")), results)
    assert (m["follow_up_complete_proportion"], m["os_median_months"]) == (0.99, 2.5)


@pytest.mark.parametrize("name", ["seed000", "seed002", "seed003"])
def test_every_target_is_measured_or_listed_as_not_measurable_yet(engine: Engine, name: str) -> None:
    study = load_study(name)
    measured = measure(study, engine)
    listed = {u.target for u in unmeasured(study)}
    assert not set(measured) & listed
    assert set(measured) | listed == {t.name for t in study.targets}


def test_the_targets_not_measurable_yet_say_why() -> None:
    missing = unmeasured(load_study("seed003"))
    assert {u.target for u in missing} == set(NOT_MEASURABLE_YET)
    assert all(u.reason for u in missing)
    assert unmeasured(load_study("seed000")) == () and unmeasured(load_study("seed002")) == ()


def test_a_target_with_no_measure_is_listed_not_skipped(engine: Engine) -> None:
    study = parse_study(_minimal(), "mine.toml")  # the loader tests' minimal study: one target, 'x'

    assert unmeasured(study) == (Unmeasured("x", "no measure of this name: the report's results do not define it"),)
    assert measure(study, engine) == {}


def test_the_results_come_from_the_report_sections(engine: Engine) -> None:
    results = report_results(engine)
    assert {"flow", "cohort", "therapy", "pain", "survival", "complications", "exits"} <= set(results)


def test_the_report_without_figures_has_the_same_results(engine: Engine) -> None:
    from openidds.clinic import analysis_dataset
    from openidds.outcomes.report import study_report

    frame = analysis_dataset(engine)
    drawn, bare = study_report(frame), study_report(frame, figures=False)
    assert len(drawn.figures) >= 3
    assert bare.figures == ()
    assert [s.results for s in bare.sections] == [s.results for s in drawn.sections]
    assert bare.tables == drawn.tables
    assert report_results(engine) == {s["key"]: s["results"] for s in drawn.to_dict()["sections"]}


def test_an_empty_registry_is_refused(tmp_path: Path) -> None:
    engine = connect(str(tmp_path / "empty.sqlite"))
    init_registry(engine)
    with pytest.raises(OpenIDDSError, match="at least one implanted patient"):
        measure(load_study("seed000"), engine)

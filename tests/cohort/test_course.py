"""The course of a virtual patient: survival against its quartiles, frailty and survival, competing exits,
complication incidence, titration within limits, visits within follow-up."""

import datetime as dt

import numpy as np
import pytest
from pydantic import ValidationError
from scipy import stats

from openidds.cohort.baseline import sample_baselines
from openidds.cohort.course import (
    DAY_S,
    ExitReason,
    Schedule,
    draw_course,
    full_relief_nrs,
    soft_per_day_mg,
    start_dose_mg_per_day,
)
from openidds.cohort.params import Normal, Pain, Params, load_params
from openidds.drugs import default_library
from openidds.months import DAYS_PER_MONTH

N = 4000
SCHEDULE = Schedule(dt.date(2015, 1, 1), dt.date(2030, 1, 1), (1, 3, 6, 12), telephone=False, patient_reported=True)


@pytest.fixture(scope="module")
def params():
    return load_params("seed000")


@pytest.fixture(scope="module")
def cohort(params):
    rng = np.random.default_rng(11)
    baselines = sample_baselines(params.baseline, N, rng)
    library = default_library()
    return baselines, [draw_course(b, params.course, SCHEDULE, rng, library) for b in baselines]


def test_survival_matches_its_quartiles_when_nothing_competes(params):
    """With no other exit and no explant, time to death has the parameter's quartiles."""
    quiet = params.course.model_copy(update={
        "follow_up": params.course.follow_up.model_copy(update={
            "transfer_per_year": 0, "lost_per_year": 0, "therapy_stopped_per_year": 0}),
        "complications": {}})
    rng = np.random.default_rng(5)
    lifelong = Schedule(SCHEDULE.implant_date, dt.date(2100, 1, 1), SCHEDULE.visit_months, telephone=False,
                        patient_reported=True)  # a follow-up long enough that no death is censored
    days = [draw_course(b, quiet, lifelong, rng).death_day
            for b in sample_baselines(params.baseline, N, rng)]
    months = np.array(days) / DAYS_PER_MONTH
    target = params.course.survival_months
    assert np.percentile(months, [25, 50, 75]) == pytest.approx([target.q25, target.median, target.q75], rel=0.06)


def test_frailer_patients_die_sooner(cohort):
    baselines, courses = cohort
    dead = [(b.frailty, c.death_day) for b, c in zip(baselines, courses, strict=True) if c.death_day is not None]
    frailty, days = zip(*dead, strict=True)
    assert stats.spearmanr(frailty, days).statistic < -0.2


def test_exits_are_the_first_competing_event(cohort):
    _, courses = cohort
    for c in courses:
        horizon = (SCHEDULE.follow_up_end - SCHEDULE.implant_date).days
        assert c.end_day == (horizon if c.exit_reason is None else c.exit_day)
        if c.exit_reason is ExitReason.DEATH:
            assert c.death_day == c.exit_day
        if c.exit_reason is ExitReason.EXPLANT:
            assert c.explant_day == c.exit_day
            assert any(x.action == "explant" and x.day == c.exit_day for x in c.complications)
        assert all(x.day <= c.end_day for x in c.complications)
        assert all(v.day <= c.end_day for v in c.visits)
        assert all(d.day < c.end_day for d in c.dose_changes)
        assert all(DAY_S <= t < c.end_day * DAY_S for t in c.bolus_times_s)
    reasons = {c.exit_reason for c in courses}
    assert {ExitReason.DEATH, ExitReason.EXPLANT, ExitReason.LOST} <= reasons


def test_early_complication_share(cohort, params):
    """An early complication happens with its share within its window (death on day 0 is impossible)."""
    _, courses = cohort
    rate = params.course.complications["postdural_puncture_headache"]
    share = np.mean([any(x.kind == "postdural_puncture_headache" for x in c.complications) for c in courses])
    assert share == pytest.approx(rate.incidence, abs=3 * np.sqrt(rate.incidence / N) + 0.005)
    days = [x.day for c in courses for x in c.complications if x.kind == "postdural_puncture_headache"]
    assert max(days) < rate.window_days


def test_titration_stays_within_the_library_and_the_session_cap(cohort, params):
    _, courses = cohort
    ceiling = soft_per_day_mg(params.course.therapy.drug, default_library())
    step = 1 + params.course.pain.increase_percent / 100
    for c in courses:
        dose = c.start_dose_mg_per_day
        assert 0 < dose <= ceiling
        for change in c.dose_changes:
            assert dose < change.dose_mg_per_day <= min(dose * step + 1e-3, ceiling)
            dose = change.dose_mg_per_day


def test_pain_falls_at_follow_up(cohort):
    baselines, courses = cohort
    falls = [b.nrs - c.visits[-1].nrs for b, c in zip(baselines, courses, strict=True) if c.visits]
    assert 2.5 < np.mean(falls) < 6
    assert np.mean(np.array(falls) > 0) > 0.8


def _reaching(params, mean: float = 3.0, sd: float = 1.5):
    """The course parameters with this reached-NRS pain model (in place of the file's)."""
    reached = Normal(mean=mean, sd=sd, low=0.0, high=10.0, source="test")
    pain = params.course.pain.model_copy(update={"relief_fraction": None, "reached_nrs": reached})
    return params.course.model_copy(update={"pain": pain})


def test_a_reached_nrs_is_drawn_whatever_the_baseline(params):
    """Titration aiming at a pain level: the NRS at a well-titrated dose has the drawn law whatever the baseline
    (never above it), where relief as a share of the baseline ties the follow-up to the baseline."""
    pain = _reaching(params).pain
    u = np.random.default_rng(4).random((N, 1))
    for baseline in (5.0, 8.0, 10.0):
        reached = np.array([baseline - full_relief_nrs(baseline, pain, x) for x in u])
        expected = stats.truncnorm(-3.0 / 1.5, 7.0 / 1.5, loc=3.0, scale=1.5)
        assert np.all(reached <= baseline) and np.all(reached >= 0)
        below = reached < baseline  # the draws above the baseline stay at it (no relief)
        assert np.mean(~below) == pytest.approx(expected.sf(baseline), abs=0.02)
        below_law = stats.truncnorm(-3.0 / 1.5, (baseline - 3.0) / 1.5, loc=3.0, scale=1.5)
        assert stats.kstest(reached[below], below_law.cdf).pvalue > 0.01
    relief, half = load_params("seed003").course.pain, np.array([0.5])  # a relief fraction: a share of the baseline
    assert full_relief_nrs(8.0, relief, half) == pytest.approx(2 * full_relief_nrs(4.0, relief, half))


def test_a_pain_model_is_one_of_two(params):
    law = {"mean": 0.5, "sd": 0.2, "low": 0, "high": 1, "source": "x"}
    with pytest.raises(ValidationError, match="exactly one pain model"):
        Pain.model_validate({**params.course.pain.model_dump(), "relief_fraction": law})
    with pytest.raises(ValidationError, match="exactly one pain model"):
        Pain.model_validate({**params.course.pain.model_dump(), "reached_nrs": None})


def test_the_reached_nrs_model_keeps_the_random_stream(params):
    """The two pain models draw the same numbers: everything else in a course stays as it was."""
    relief = params.course.model_copy(update={"pain": load_params("seed003").course.pain})
    rng_a, rng_b = np.random.default_rng(9), np.random.default_rng(9)
    baselines = sample_baselines(params.baseline, 40, rng_a)
    sample_baselines(params.baseline, 40, rng_b)
    for b in baselines:
        a, c = draw_course(b, relief, SCHEDULE, rng_a), draw_course(b, _reaching(params), SCHEDULE, rng_b)
        assert (a.death_day, a.exit_reason, a.complications, a.bolus_times_s) == (
            c.death_day, c.exit_reason, c.complications, c.bolus_times_s)


def test_occlusion_is_left_to_the_pump(cohort):
    _, courses = cohort
    assert any(c.occlusion_day is not None for c in courses)
    assert not any(x.kind == "catheter_occlusion" for c in courses for x in c.complications)


def test_same_seed_same_course(params):
    def one():
        rng = np.random.default_rng(99)
        b = sample_baselines(params.baseline, 20, rng)
        return [draw_course(x, params.course, SCHEDULE, rng) for x in b]

    assert one() == one()


def test_every_bundled_parameter_file_loads_and_draws():
    from openidds.cohort.params import bundled_params

    assert bundled_params() == ("seed000", "seed002", "seed003")
    for name in bundled_params():
        p = load_params(name)
        assert p.study == name and p.provenance.startswith("hand-set")  # a calibrated file keeps its start's
        rng = np.random.default_rng(1)
        for b in sample_baselines(p.baseline, 50, rng):
            draw_course(b, p.course, SCHEDULE, rng)


def test_discharge_assessment_and_telephone_calls_without_a_visit_schedule():
    """Seed 003 reports the NRS after the implant with no visit schedule: one assessment before discharge (the
    only NRS), then a call every 30 days while followed; the patients never reached are lost on the first call's
    day and have no call."""
    p = load_params("seed003")
    follow = p.course.follow_up
    assert (follow.telephone_every_days, follow.telephone_unreached) == (30, 0.229)
    phone = Schedule(dt.date(2022, 1, 1), dt.date(2024, 3, 20), (), telephone=True, patient_reported=True)
    rng = np.random.default_rng(4)
    courses = [draw_course(b, p.course, phone, rng) for b in sample_baselines(p.baseline, 2000, rng)]
    for c in courses:
        discharged = c.postop_stay_days is not None and c.postop_stay_days < (c.death_day or c.end_day + 1)
        assert [v.day for v in c.visits if v.nrs is not None] == ([c.postop_stay_days] if discharged else [])
        calls = [v for v in c.visits if v.visit_type == "telephone"]
        assert all(v.nrs is None and v.satisfied is None for v in calls)
        if c.exit_reason is ExitReason.LOST:
            assert not calls and c.exit_day == 30
        else:
            called = [v.day for v in calls]  # (none: never reached, and died on the first call's day)
            after = c.postop_stay_days or 0
            assert called == [d for d in range(30, c.end_day + 1, 30) if d > after] or (not called and c.end_day == 30)
    called = [c for c in courses if c.death_day is None or c.death_day > 30]  # alive at the first call
    lost = sum(c.exit_reason is ExitReason.LOST for c in called) / len(called)
    assert lost == pytest.approx(0.229, abs=3 * (0.229 * 0.771 / len(called)) ** 0.5)
    # a study without telephone follow-up gets no calls, whatever the parameters
    office = Schedule(dt.date(2022, 1, 1), dt.date(2024, 3, 20), (1, 3), telephone=False, patient_reported=True)
    assert all(v.visit_type == "follow_up" for b in sample_baselines(p.baseline, 50, rng)
               for v in draw_course(b, p.course, office, rng).visits)


def test_the_drug_mix_is_drawn_by_its_shares_and_each_drug_dosed_by_its_rule():
    """Seed 003's start drugs (Wang et al., Table 2) drawn by their shares; the opioids dosed from the OME by the
    library's conversion, bupivacaine alone at the top of its starting range, the admixture led by morphine."""
    params = load_params("seed003")
    mix = params.course.therapy.mix
    assert mix is not None
    rng = np.random.default_rng(8)
    library = default_library()
    baselines = sample_baselines(params.baseline, N, rng)
    courses = [draw_course(b, params.course, SCHEDULE, rng, library) for b in baselines]
    keys = ["+".join(sorted((c.drug, *(d for d, _ in c.added_mg_per_ml)))) for c in courses]
    for key, share in mix.shares.items():
        k = keys.count(key)
        assert stats.binomtest(k, N, share).pvalue > 0.001, (key, k / N, share)
    admixed = [c for c in courses if c.added_mg_per_ml]
    assert {c.drug for c in admixed} == {"morphine"}
    assert {c.added_mg_per_ml for c in admixed} == {(("bupivacaine", 5.0),)}
    alone = [c for c in courses if c.drug == "bupivacaine"]
    assert alone and {c.start_dose_mg_per_day for c in alone} == {4.0}  # PACC 2017: 0.01-4 mg/day
    # published 1.07 ± 1.05 and 0.16 ± 0.13 mg/day: each mean within a quarter of its SD (validation's goal), the
    # model's mean taken over many baselines (the drug is drawn apart from the baseline; a few thousand patients'
    # mean of the hydromorphone starts varies by about 0.01 mg/day, a third of that quarter)
    many = sample_baselines(params.baseline, 10 * N, np.random.default_rng(5))
    for drug, published, sd in (("morphine", 1.07, 1.05), ("hydromorphone", 0.16, 0.13)):
        doses = [start_dose_mg_per_day(b, drug, params.course, library) for b in many]
        assert np.mean(doses) == pytest.approx(published, abs=sd / 4), drug
    drawn = [c.start_dose_mg_per_day for c in courses if c.drug == "morphine"]
    assert set(drawn) <= {start_dose_mg_per_day(b, "morphine", params.course, library) for b in baselines}


def test_a_patient_on_no_systemic_opioid_has_no_ome_and_starts_at_the_lowest_usual_dose():
    """Seed 003: 'Among these patients, 66 (68.8 %) were taking a systemic opioid.' The OME quartiles are those of
    the 66; the others have no OME, no opioid to stop at follow-up, and an opioid starts at the low end of the
    library's starting range. Seed 000 gives no share: every patient has an OME."""
    params = load_params("seed003")
    share = params.baseline.systemic_opioid
    assert share is not None and share.share == 66 / 96
    rng = np.random.default_rng(12)
    library = default_library()
    baselines = sample_baselines(params.baseline, N, rng)
    on = [b.ome_mg_per_day for b in baselines if b.ome_mg_per_day is not None]
    assert stats.binomtest(len(on), N, 66 / 96).pvalue > 0.001
    ome = params.baseline.ome_mg_per_day
    assert np.percentile(on, [25, 50, 75]) == pytest.approx([ome.q25, ome.median, ome.q75], rel=0.08)
    off = [b for b in baselines if b.ome_mg_per_day is None]
    for b in off[:200]:
        c = draw_course(b, params.course, SCHEDULE, rng, library)
        if c.drug != "bupivacaine":
            low = library.drug(c.drug).starting_dose
            assert low is not None and c.start_dose_mg_per_day == float(low.low.magnitude("mg/day"))
        assert all(not v.systemic_opioid and v.ome_mg_per_day is None and v.opioid_change is None for v in c.visits)
    assert all(b.ome_mg_per_day is not None for b in sample_baselines(load_params("seed000").baseline, 500, rng))


def test_without_a_mix_every_patient_gets_the_drug_and_no_number_is_drawn_for_it(params):
    baseline = sample_baselines(params.baseline, 1, np.random.default_rng(2))[0]
    one, two = np.random.default_rng(9), np.random.default_rng(9)
    course = draw_course(baseline, params.course, SCHEDULE, one)
    assert course.drug == params.course.therapy.drug and course.added_mg_per_ml == ()
    draw_course(baseline, params.course, SCHEDULE, two)
    assert one.random() == two.random()


def test_a_complication_s_action_is_drawn_by_its_shares_and_only_an_explant_ends_follow_up():
    """An infection needing surgery (seed 002: "IDDS explant, replacement, pocket revision, irrigation and
    debridement") is an explant, a revision or a reoperation by its action shares; an infection revised or
    reoperated leaves the patient in follow-up."""
    params = load_params("seed002")
    infection = params.course.complications["infection"]
    shares = {"explant": 0.5, "revision": 0.3, "reoperation": 0.2}
    assert infection.actions == shares  # the bundled file's hand-set shares (the split is not published)
    course_params = params.course.model_copy(update={"complications": {
        "infection": infection.model_copy(update={"incidence": 0.5, "action": shares})}})
    rng = np.random.default_rng(4)
    courses = [draw_course(b, course_params, SCHEDULE, rng) for b in sample_baselines(params.baseline, N, rng)]
    found = [x for c in courses for x in c.complications if x.kind == "infection"]
    for action, share in shares.items():
        drawn = np.mean([x.action == action for x in found])
        assert drawn == pytest.approx(share, abs=3 * np.sqrt(share * (1 - share) / len(found)))
    for c in courses:
        explanted = [x for x in c.complications if x.action == "explant"]
        assert (c.exit_reason is ExitReason.EXPLANT) == bool(explanted) == (c.explant_day is not None)
        assert c.revision_days == tuple(x.day for x in c.complications if x.action == "revision")
    assert any(x.action != "explant" and x.day < c.end_day for c in courses for x in c.complications)


def test_action_shares_must_be_actions_summing_to_one():
    data = load_params("seed002").model_dump(mode="json", exclude_none=True)
    infection = data["course"]["complications"]["infection"]
    infection["action"] = {"explant": 0.5, "revision": 0.5}
    Params.model_validate(data)
    for bad in ({"explant": 0.5, "revision": 0.3}, {"explant": 0.5, "amputation": 0.5}):
        infection["action"] = bad
        with pytest.raises(ValidationError, match="shares of them summing to 1"):
            Params.model_validate(data)



def test_a_perioperative_death_is_on_day_1_in_hospital_with_its_share():
    """Seed 003: 1 of 96 died in hospital the day after surgery. The share dies on day 1 whatever the survival
    draw, its stay ending that day; the others stay to their discharge day (or die before it)."""
    params = load_params("seed003")
    share = params.course.perioperative_death
    assert share is not None and share.share == pytest.approx(1 / 96, abs=1e-4)
    lifted = params.course.model_copy(update={"perioperative_death": share.model_copy(update={"share": 0.1})})
    rng = np.random.default_rng(8)
    courses = [draw_course(b, lifted, SCHEDULE, rng) for b in sample_baselines(params.baseline, N, rng)]
    early = [c for c in courses if c.perioperative_death]
    assert len(early) / N == pytest.approx(0.1, abs=3 * np.sqrt(0.09 / N))
    for c in early:
        assert c.death_day == c.exit_day == c.end_day == c.postop_stay_days == 1
        assert c.exit_reason is ExitReason.DEATH and c.visits == () and all(x.day <= 1 for x in c.complications)
    others = [c for c in courses if not c.perioperative_death]
    assert all(c.postop_stay_days is not None and c.postop_stay_days >= 1 for c in others)
    assert all(c.death_day is None or c.postop_stay_days <= c.death_day for c in others)


def test_the_stay_drawn_has_the_published_mean_and_sd_in_whole_days():
    """Seed 003: 'the mean time from IDDS implantation to discharge was 6 ± 3 days': each patient's stay is one
    day plus a negative binomial with exactly that mean and SD (whole days, at least 1), and the pain assessment
    before discharge is on that day."""
    params = load_params("seed003")
    stay = params.course.follow_up.postop_stay
    assert stay is not None and (stay.mean_days, stay.sd_days) == (6, 3)
    assert stay.negative_binomial == pytest.approx((6.25, 5 / 9))
    rng = np.random.default_rng(21)
    phone = Schedule(dt.date(2022, 1, 1), dt.date(2024, 3, 20), (), telephone=True, patient_reported=True)
    courses = [draw_course(b, params.course, phone, rng) for b in sample_baselines(params.baseline, N, rng)]
    alive = [c for c in courses if not c.perioperative_death and (c.death_day is None or c.death_day > 60)]
    days = np.array([c.postop_stay_days for c in alive])
    assert days.min() >= 1 and np.issubdtype(days.dtype, np.integer)
    assert days.mean() == pytest.approx(6, abs=4 * 3 / np.sqrt(days.size))
    assert days.std(ddof=1) == pytest.approx(3, rel=0.08)
    assert len(set(days.tolist())) > 10
    for c in alive:
        discharge = [v for v in c.visits if v.visit_type == "follow_up"]
        assert [v.day for v in discharge] == [c.postop_stay_days] * (c.end_day >= c.postop_stay_days)
        assert all(v.day > c.postop_stay_days for v in c.visits if v.visit_type == "telephone")


@pytest.mark.parametrize(("mean", "sd"), [(6, 2), (1, 3)])
def test_a_stay_no_negative_binomial_can_have_is_refused(mean, sd):
    """1 + NB needs a mean above 1 and a variance above mean - 1; a fixed stay is discharge_day's."""
    data = load_params("seed003").model_dump(mode="json", exclude_none=True)
    data["course"]["follow_up"]["postop_stay"].update(mean_days=mean, sd_days=sd)
    with pytest.raises(ValidationError, match="postop_stay"):
        Params.model_validate(data)


def test_a_fixed_discharge_day_and_a_drawn_stay_are_refused_together():
    data = load_params("seed003").model_dump(mode="json", exclude_none=True)
    data["course"]["follow_up"]["discharge_day"] = 6
    with pytest.raises(ValidationError, match="not both"):
        Params.model_validate(data)


def test_without_a_perioperative_death_or_a_discharge_day_no_stay_is_recorded(params):
    """Seed 000 gives neither: no stay, no perioperative death."""
    assert params.course.perioperative_death is None and params.course.follow_up.discharge_day is None
    baseline = sample_baselines(params.baseline, 1, np.random.default_rng(2))[0]
    course = draw_course(baseline, params.course, SCHEDULE, np.random.default_rng(9))
    assert course.postop_stay_days is None and not course.perioperative_death


def test_catheter_levels_are_drawn_by_their_shares_last_of_all():
    """Seed 003 (Wang et al., Table 2): insertion levels and tip levels drawn by the file's shares; every other
    draw of the course is that of the file without a placement, and without one every catheter goes in at L2/3
    with its tip at T10."""
    params = load_params("seed003")
    placement = params.course.catheter
    assert placement is not None
    rng = np.random.default_rng(14)
    library = default_library()
    baselines = sample_baselines(params.baseline, N, rng)
    courses = [draw_course(b, params.course, SCHEDULE, rng, library) for b in baselines]
    for levels, drawn in ((placement.insertion_levels, [c.insertion_level for c in courses]),
                          (placement.tip_levels, [c.tip_level for c in courses])):
        assert set(drawn) <= set(levels)
        for level, share in levels.items():
            assert stats.binomtest(drawn.count(level), N, share).pvalue > 0.001, (level, drawn.count(level) / N)
    bare = params.course.model_copy(update={"catheter": None})
    one, two = np.random.default_rng(3), np.random.default_rng(3)
    placed, plain = (draw_course(baselines[0], course, SCHEDULE, r, library)
                     for course, r in ((params.course, one), (bare, two)))
    assert (plain.insertion_level, plain.tip_level) == ("L2/3", "T10")
    assert plain.visits == placed.visits and plain.bolus_times_s == placed.bolus_times_s


@pytest.mark.parametrize(("field", "shares", "message"), [
    ("tip_levels", {"T13": 1.0}, "expected spinal levels such as T6"),
    ("insertion_levels", {"L2-3": 1.0}, "expected spinal levels such as L2/3"),
    ("tip_levels", {"T6": 0.5, "T10": 0.4}, "shares sum to 0.900000, expected 1"),
])
def test_a_catheter_placement_off_the_spine_or_not_summing_to_one_is_refused(field, shares, message):
    data = load_params("seed003").model_dump(mode="json", exclude_none=True)
    data["course"]["catheter"][field] = shares
    with pytest.raises(ValidationError, match=message):
        Params.model_validate(data)

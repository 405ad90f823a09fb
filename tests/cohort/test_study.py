"""The study files: each bundled study loads, its targets are unique and consistent, and bad files are refused
with the field named."""

from collections import Counter
from pathlib import Path

import numpy as np
import pytest
from scipy import stats

from openidds.cohort.simulate import implant_dates
from openidds.cohort.study import (
    FollowUpCounted,
    Interval,
    Metric,
    StudyError,
    Use,
    bundled_studies,
    computed_interval,
    load_study,
    parse_study,
)

STUDIES = ("seed000", "seed002", "seed003")


def test_the_three_seed_studies_are_bundled() -> None:
    assert bundled_studies() == STUDIES


@pytest.mark.parametrize("name", STUDIES)
def test_each_study_loads_with_unique_names_and_values_inside_their_intervals(name: str) -> None:
    study = load_study(name)
    assert study.id == name
    names = [t.name for t in study.targets]
    assert len(names) == len(set(names))
    for t in study.targets:
        if t.low is not None:
            assert t.low <= t.value, t.name
        if t.high is not None:
            assert t.value <= t.high, t.name
        assert (t.low is None and t.high is None) == (t.interval is Interval.NONE) or t.interval is Interval.UPPER_BOUND
    assert study.targets_for(Use.FIT) and study.targets_for(Use.HOLDOUT)


def test_design_facts_of_the_seeds() -> None:
    s0, s2, s3 = (load_study(n).design for n in STUDIES)
    assert (s0.n_patients, s0.sites, s0.implant_start.year, s0.implant_end.year) == (193, 1, 2013, 2021)
    assert (s2.n_patients, s2.implant_start.year, str(s2.implant_end), str(s2.pro_start)) == (
        1403, 2003, "2017-07-31", "2013-01-01")
    assert (s3.n_patients, s3.sites, str(s3.follow_up_end), s3.telephone_follow_up) == (96, 1, "2024-03-20", True)
    assert "sites" in s2.assumptions  # not published: the file says why the number was taken
    # seed 003 counts the patients reached by telephone as followed up; the others, those with a follow-up NRS
    assert [d.follow_up_counted for d in (s0, s2, s3)] == [FollowUpCounted.PAIN_PAIRS, FollowUpCounted.PAIN_PAIRS,
                                                          FollowUpCounted.TELEPHONE_CONTACT]


def test_published_intervals_are_kept_as_printed() -> None:
    os_median = load_study("seed000").target("os_median_months")
    assert (os_median.metric, os_median.value, os_median.low, os_median.high, os_median.interval) == (
        Metric.KM_MEDIAN, 3.62, 2.73, 4.54, Interval.CI95)
    ome = load_study("seed003").target("ome_median_mg_per_day")
    assert (ome.value, ome.low, ome.high, ome.interval) == (290, 100, 633, Interval.IQR)


def test_computed_intervals_follow_their_named_methods() -> None:
    improved = load_study("seed000").target("nrs_improved_proportion")  # 176 of 185
    assert (improved.low, improved.high) == pytest.approx(
        (stats.beta.ppf(0.025, 176, 10), stats.beta.ppf(0.975, 177, 9)))
    change = load_study("seed000").target("nrs_change_mean")
    half = stats.t.ppf(0.975, 184) * 2.13 / 185 ** 0.5
    assert (change.low, change.high) == pytest.approx((4.08 - half, 4.08 + half))
    # an exact Poisson interval of 103 (Garwood): R's poisson.test(103)$conf.int = 84.07194 124.91746
    assert computed_interval(Metric.COUNT, 103, 0) == pytest.approx((84.07194, 124.91746), abs=1e-4)
    # an SD's χ² interval contains the SD and is wider above it
    low, high = computed_interval(Metric.SD, 2.0, 50)
    assert low < 2.0 < high and high - 2.0 > 2.0 - low
    dose = load_study("seed003").target("itt_morphine_dose_mg_mean")
    assert (dose.interval, dose.low, dose.high) == (Interval.SD, pytest.approx(0.08), pytest.approx(0.28))


def test_a_study_file_loads_by_path(tmp_path: Path) -> None:
    path = tmp_path / "mine.toml"
    path.write_text(_minimal(), encoding="utf-8")
    assert load_study(path).id == "mine"
    assert load_study(str(path)).target("x").value == 0.5


def test_an_unknown_study_is_refused_naming_the_bundled_ones() -> None:
    with pytest.raises(StudyError, match=r"study=.seed999.*seed000, seed002, seed003") as info:
        load_study("seed999")
    assert info.value.field == "study"


def test_a_missing_file_is_refused(tmp_path: Path) -> None:
    with pytest.raises(StudyError, match="an existing study file"):
        load_study(tmp_path / "absent.toml")


@pytest.mark.parametrize(("change", "field", "message"), [
    ('value = 0.5', "targets[0] (x)", "outside its interval"),
    ('value = "half"', "targets[0] (x).value", "valid number"),
    ('metric = "average"', "targets[0] (x).metric", "'mean'"),
    ('use = "train"', "targets[0] (x).use", "'fit' or 'holdout'"),
    ('colour = "red"', "targets[0] (x).colour", "Extra inputs"),
])
def test_a_malformed_target_is_refused_with_its_field(change: str, field: str, message: str) -> None:
    key = change.split(" = ")[0]
    text = _minimal(low=0.6, high=0.9) if key == "value" and "half" not in change else _minimal()
    lines = [line for line in text.splitlines() if not line.startswith(f"{key} = ")] + [change]
    with pytest.raises(StudyError, match=message) as info:
        parse_study("\n".join(lines) + "\n", "bad.toml")
    assert info.value.field == f"bad.toml: {field}"


def test_repeated_target_names_are_refused() -> None:
    text = _minimal() + _minimal().split("[[targets]]")[1].join(["[[targets]]", ""])
    with pytest.raises(StudyError, match="repeated: x"):
        parse_study(text, "twice.toml")


def test_a_computed_interval_given_in_the_file_is_refused() -> None:
    text = _minimal().replace('interval = "ci95"', 'interval = "ci95_computed"\nn = 40')
    with pytest.raises(StudyError, match="low is computed"):
        parse_study(text, "bad.toml")


def test_impossible_design_dates_are_refused() -> None:
    text = _minimal().replace("implant_end = 2021-12-31", "implant_end = 2012-12-31")
    with pytest.raises(StudyError, match=r"bad.toml: design=.*implant_start ≤ implant_end"):
        parse_study(text, "bad.toml")


def test_telephone_contacts_counted_without_telephone_follow_up_are_refused() -> None:
    text = _minimal().replace("telephone_follow_up = false", 'telephone_follow_up = false\nfollow_up_counted = '
                                                              '"telephone_contact"')
    with pytest.raises(StudyError, match="telephone_contact needs telephone_follow_up = true"):
        parse_study(text, "bad.toml")


@pytest.mark.parametrize("shares", ["{ 2020 = 0.5, 2021 = 0.4 }", "{ 2020 = 0.5, 2022 = 0.5 }",
                                    "{ 2020 = 1.5, 2021 = -0.5 }"])
def test_implant_year_shares_outside_the_period_or_not_summing_to_one_are_refused(shares: str) -> None:
    text = _minimal().replace("telephone_follow_up = false",
                              f"telephone_follow_up = false\nimplant_year_shares = {shares}")
    with pytest.raises(StudyError, match=r"implant_year_shares: shares \(0-1, summing to 1\) of years from 2020 to"):
        parse_study(text, "bad.toml")


def test_seed_003s_implants_are_drawn_by_the_published_year_shares() -> None:
    """'The number of patients receiving IDDS therapy in 2021, 2022 and 2023 was 27 (28.1 %), 18 (18.8 %) and 51
    (53.1 %)': each patient's year drawn by those shares, the day uniform within the year; without shares, the
    days are uniform over the period (seed 000)."""
    study = load_study("seed003")
    assert study.design.implant_year_shares == {2021: 27 / 96, 2022: 18 / 96, 2023: 51 / 96}
    n = 20_000
    days = implant_dates(study, n, np.random.default_rng(4))
    assert days == sorted(days) and study.design.implant_start <= days[0] and days[-1] <= study.design.implant_end
    years = Counter(day.year for day in days)
    for year, share in study.design.implant_year_shares.items():
        assert years[year] / n == pytest.approx(share, abs=4 * (share * (1 - share) / n) ** 0.5)
    in_2023 = [day.timetuple().tm_yday for day in days if day.year == 2023]
    assert stats.kstest(in_2023, stats.randint(1, 366).cdf).pvalue > 0.001
    plain = load_study("seed000")
    assert plain.design.implant_year_shares is None
    uniform = implant_dates(plain, n, np.random.default_rng(4))
    span = (plain.design.implant_end - plain.design.implant_start).days
    offsets = [(day - plain.design.implant_start).days for day in uniform]
    assert stats.kstest(offsets, stats.randint(0, span + 1).cdf).pvalue > 0.001


def test_invalid_toml_is_refused_with_the_parser_message() -> None:
    with pytest.raises(StudyError, match="valid TOML"):
        parse_study("id = \n", "broken.toml")


def _minimal(low: float = 0.4, high: float = 0.6) -> str:
    return f"""id = "mine"
version = 1
title = "A study"
citation = "Someone. A study. 2024."
synthetic_notice = "Synthetic."

[design]
n_patients = 10
implant_start = 2020-01-01
implant_end = 2021-12-31
follow_up_end = 2022-06-30
sites = 1
visit_months = [3, 6]
telephone_follow_up = false
endpoints = {{ x = "a proportion" }}

[[targets]]
name = "x"
metric = "proportion"
low = {low}
high = {high}
interval = "ci95"
unit = "fraction"
use = "fit"
sentence = "Half of them did (50 %)."
value = 0.5
"""


@pytest.mark.parametrize(("change", "message"), [
    ('value = 1.5\nlow = 0.4\nhigh = 1.6', "a proportion is a fraction in \\[0, 1\\]"),
    ('interval = "sd"\nvalue = 0.5', "an sd interval needs the published SD"),
    ('interval = "ci95_computed"\nvalue = 0.5', "needs the published n"),
    ('interval = "ci95_computed"\nvalue = 0.5\nn = 40\nmetric = "km_median"', "exists only for proportion"),
    ('interval = "none"\nvalue = 0.5\nlow = 0.4', "an interval of none has no low or high"),
])
def test_an_impossible_target_is_refused(change: str, message: str) -> None:
    keys = {line.split(" = ")[0] for line in change.splitlines()}
    if keys & {"interval"} and "low" not in keys:
        keys |= {"low", "high"}  # a computed or ± SD interval is never given in the file
    lines = [line for line in _minimal().splitlines() if line.split(" = ")[0] not in keys] + change.splitlines()
    with pytest.raises(StudyError, match=message):
        parse_study("\n".join(lines) + "\n", "bad.toml")

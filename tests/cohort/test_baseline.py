"""Each baseline sampler against its target distribution, and the frailty's dependence between them."""

import json

import numpy as np
import pytest
from scipy import stats

from openidds.clinic import vocabulary as v
from openidds.cohort.baseline import (
    choose_one,
    latent_normal,
    normal_quantile,
    quartiles_value,
    sample_baselines,
    whole_number_moments,
)
from openidds.cohort.params import Moments, Normal, ParamsError, Quartiles, load_params

N = 20_000


@pytest.fixture(scope="module")
def params():
    return load_params("seed000")


@pytest.fixture(scope="module")
def cohort(params):
    return sample_baselines(params.baseline, N, np.random.default_rng(2026))


def column(cohort, name):
    return np.array([getattr(p, name) for p in cohort], dtype=float)


def test_ome_matches_published_median_and_iqr(cohort, params):
    """290 (100-633) mg/day: the sample quartiles within 3 % of the published ones on 20,000 draws."""
    q25, median, q75 = np.percentile(column(cohort, "ome_mg_per_day"), [25, 50, 75])
    target = params.baseline.ome_mg_per_day
    assert median == pytest.approx(target.median, rel=0.03)
    assert q25 == pytest.approx(target.q25, rel=0.03)
    assert q75 == pytest.approx(target.q75, rel=0.03)


def test_two_piece_lognormal_has_exact_quartiles():
    q = Quartiles(q25=100, median=290, q75=633, source="test")
    z = np.array([-stats.norm.ppf(0.75), 0.0, stats.norm.ppf(0.75)])
    assert quartiles_value(q, z) == pytest.approx([100, 290, 633])


def test_durations_match_published_quartiles(cohort, params):
    for name in ("cancer_duration_months", "pain_duration_months"):
        target = getattr(params.baseline, name)
        got = np.percentile(column(cohort, name), [25, 50, 75])
        assert got == pytest.approx([target.q25, target.median, target.q75], rel=0.05)


def test_truncated_normal_sampler_against_scipy(params):
    """The ADL sampler's quantiles are scipy's truncated normal's."""
    adl = params.baseline.adl_score
    u = np.linspace(0.01, 0.99, 99)
    a, b = (adl.low - adl.mean) / adl.sd, (adl.high - adl.mean) / adl.sd
    assert normal_quantile(adl, u) == pytest.approx(stats.truncnorm.ppf(u, a, b, adl.mean, adl.sd))


def test_means_and_bounds(cohort, params):
    b = params.baseline
    age, nrs, adl = column(cohort, "age_years"), column(cohort, "nrs"), column(cohort, "adl_score")
    assert age.mean() == pytest.approx(b.age_years.mean, abs=0.3)
    assert age.std() == pytest.approx(b.age_years.sd, rel=0.05)
    # seed 000's NRS is given as the published moments of the whole-number scores: the sample has them
    assert b.nrs.moments is Moments.WHOLE_NUMBERS
    assert nrs.mean() == pytest.approx(b.nrs.mean, abs=0.04)  # 7.38; standard error 0.012 on 20,000
    assert nrs.std(ddof=1) == pytest.approx(b.nrs.sd, abs=0.03)  # 1.64
    assert np.array_equal(nrs, np.rint(nrs))
    assert nrs.min() >= 0 and nrs.max() <= 10 and adl.min() >= 0 and adl.max() <= 100
    assert column(cohort, "bmi_kg_per_m2").mean() == pytest.approx(b.bmi_kg_per_m2.mean, abs=0.1)


def test_whole_number_moments_are_those_of_the_rounded_truncated_normal():
    """The exact mean and SD of rint(x), x a normal truncated to 0-10, against scipy's truncated normal binned."""
    mean, sd = 7.9, 2.0
    a, b = (0 - mean) / sd, (10 - mean) / sd
    edges = np.clip(np.arange(11) + 0.5, 0, 10)
    cdf = stats.truncnorm.cdf(edges, a, b, mean, sd)
    p = np.diff(np.concatenate([[0.0], cdf]))
    values = np.arange(11)
    m = p @ values
    assert whole_number_moments(mean, sd, 0, 10) == pytest.approx((m, np.sqrt(p @ (values - m) ** 2)), abs=1e-9)


def test_published_moments_of_whole_numbers_are_met_exactly():
    """NRS 7.38 ± 1.64 on 0-10: the normal sampled is wider and higher, and its rounded truncation has the
    published moments; a marginal of the normal's own moments is sampled as given."""
    published = Normal(mean=7.38, sd=1.64, low=0, high=10, moments=Moments.WHOLE_NUMBERS, source="test")
    latent = latent_normal(published)
    assert latent.mean > 7.38 and latent.sd > 1.64 and latent.moments is Moments.LATENT
    assert whole_number_moments(latent.mean, latent.sd, 0, 10) == pytest.approx((7.38, 1.64), abs=1e-6)
    own = Normal(mean=7.38, sd=1.64, low=0, high=10, source="test")
    assert latent_normal(own) is own


def test_moments_whole_numbers_cannot_have_are_refused(tmp_path):
    """An SD beyond what scores on 0-10 can have is refused when sampled, non-whole bounds when loaded."""
    marginal = Normal(mean=5.0, sd=6.0, low=0, high=10, moments=Moments.WHOLE_NUMBERS, source="test")
    with pytest.raises(ParamsError, match="whole numbers between low and high can have"):
        latent_normal(marginal)
    data = json.loads(json.dumps(load_params("seed000").model_dump(mode="json", exclude_none=True)))
    data["baseline"]["nrs"].update(high=10.5, moments="whole_numbers")
    path = tmp_path / "p.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ParamsError, match=r"baseline\.nrs.*whole-number low and high"):
        load_params(path)


def test_shares(cohort, params):
    b = params.baseline
    assert column(cohort, "wheelchair").mean() == pytest.approx(b.wheelchair.share, abs=0.015)
    assert column(cohort, "pressure_sores").mean() == pytest.approx(b.pressure_sores.share, abs=0.015)
    assert np.mean([p.sex == "female" for p in cohort]) == pytest.approx(b.female.share, abs=0.015)
    assert np.mean([p.cancer_type == "lung" for p in cohort]) == pytest.approx(0.344, abs=0.015)
    assert np.mean([p.metastasis_sites != ("none",) for p in cohort]) == pytest.approx(b.metastases.share, abs=0.015)
    assert np.mean([len(p.trials) == 0 for p in cohort]) == pytest.approx(b.trials.shares["0"], abs=0.015)
    lumbosacral = np.mean(["lumbosacral" in p.pain_locations for p in cohort])
    assert lumbosacral == pytest.approx(b.pain_locations.shares["lumbosacral"], abs=0.015)


def test_choose_one_draws_each_code_by_its_share():
    shares = {"a": 0.5, "b": 0.0, "c": 0.3, "d": 0.2}
    picks = choose_one(shares, np.random.default_rng(7), N)
    assert "b" not in picks
    for code in ("a", "c", "d"):
        assert stats.binomtest(picks.count(code), N, shares[code]).pvalue > 0.001


def test_codes_come_from_the_registry_vocabularies(cohort):
    for p in cohort[:2000]:
        assert p.cancer_type in v.CANCER_TYPES and p.sex in v.SEX and p.implant_reason in v.IMPLANT_REASONS
        assert set(p.metastasis_sites) <= set(v.METASTASIS_SITES)
        assert set(p.pain_locations) <= set(v.PAIN_LOCATIONS)
        assert set(p.adjuvant_drugs) <= set(v.ADJUVANT_DRUGS)
        assert all(t.drug in v.DRUGS and t.response in v.TRIAL_RESPONSES for t in p.trials)
        assert not p.trials or p.trials[-1].response == "positive"


def test_frailty_ties_the_variables_with_the_documented_signs(cohort):
    f = column(cohort, "frailty")

    def rho(name):
        return stats.spearmanr(f, column(cohort, name)).statistic

    assert rho("adl_score") < -0.5
    assert rho("bmi_kg_per_m2") < -0.2
    assert rho("wheelchair") > 0.4
    assert rho("pressure_sores") > 0.3
    assert rho("survival_z") < -0.3
    assert abs(rho("age_years")) < 0.03  # not tied
    # frailer patients: lower ADL goes with the wheelchair
    assert stats.spearmanr(column(cohort, "adl_score"), column(cohort, "wheelchair")).statistic < -0.3


def test_same_seed_same_cohort(params):
    a = sample_baselines(params.baseline, 50, np.random.default_rng(7))
    b = sample_baselines(params.baseline, 50, np.random.default_rng(7))
    assert a == b


def test_parameter_file_that_does_not_match_is_refused(tmp_path, params):
    raw = json.loads(params.model_dump_json())
    raw["baseline"]["cancer_types"]["shares"]["martian"] = 0.1
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(ParamsError, match="unknown codes"):
        load_params(path)
    with pytest.raises(ParamsError, match="seed000"):
        load_params("seed999")
    raw = json.loads(params.model_dump_json())
    raw["baseline"]["ome_mg_per_day"]["q25"] = 900
    path.write_text(json.dumps(raw))
    with pytest.raises(ParamsError, match="q25 < median < q75"):
        load_params(path)


@pytest.mark.parametrize(("change", "message"), [
    (lambda mix: mix["shares"].update(morphine=0.7), "shares sum to"),
    (lambda mix: mix["shares"].update({"morphine+bupivacaine": mix["shares"].pop("bupivacaine+morphine")}),
     "alphabetical order"),
    (lambda mix: mix["shares"].update({"heroin": mix["shares"].pop("bupivacaine")}), "expected a drug of"),
    (lambda mix: mix.update(added_mg_per_ml={}), "a concentration for each drug added"),
    (lambda mix: mix["added_mg_per_ml"].update(clonidine=1.0), "a concentration for each drug added"),
])
def test_a_drug_mix_that_does_not_match_is_refused(tmp_path, change, message):
    raw = json.loads(load_params("seed003").model_dump_json(exclude_none=True))
    change(raw["course"]["therapy"]["mix"])
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(raw))
    with pytest.raises(ParamsError, match=message):
        load_params(path)


@pytest.mark.parametrize(("path", "message"), [
    (("baseline", "bmi_kg_per_m2"), "only for a score sampled as whole numbers"),
    (("course", "pain", "reached_nrs"), "the pain model's draw is not rounded"),
])
def test_moments_whole_numbers_only_where_the_sample_is_rounded(tmp_path, path, message):
    """A value sampled as a real number cannot take the moments of whole numbers: refused, not ignored."""
    data = json.loads(json.dumps(load_params("seed000").model_dump(mode="json", exclude_none=True)))
    section = data
    for key in path:
        section = section[key]
    section["moments"] = "whole_numbers"
    file = tmp_path / "p.json"
    file.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(ParamsError, match=message):
        load_params(file)


def test_age_and_adl_may_take_the_moments_of_their_whole_numbers(params):
    """ADL 67 ± 24 given as the scores' own moments on 0-100: the rounded sample has them."""
    adl = params.baseline.adl_score.model_copy(update={"moments": Moments.WHOLE_NUMBERS})
    baseline = params.baseline.model_copy(update={"adl_score": adl})
    scores = column(sample_baselines(baseline, N, np.random.default_rng(5)), "adl_score")
    assert scores.mean() == pytest.approx(67.0, abs=0.5) and scores.std(ddof=1) == pytest.approx(24.0, abs=0.4)

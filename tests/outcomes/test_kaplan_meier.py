"""Kaplan–Meier: R survival 3.5-3 reference values (docs/outcomes.md), oracles and invariants."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from lifelines import KaplanMeierFitter
from statsmodels.duration.survfunc import SurvfuncRight

from openidds.outcomes import kaplan_meier

# (conf_type, median, lower, upper) for aml, R print(survfit(Surv(time, status) ~ 1, aml, conf.type=...))
AML_MEDIANS = [("log", "27", "18", "45"), ("plain", "27", "18", "34"), ("log-log", "27", "13", "34")]

# aml S(t) (SE): log CI; log-log CI
AML_SURVIVAL = [
    (12, "0.739", "0.0916", ("0.580", "0.942"), ("0.509", "0.873")),
    (24, "0.547", "0.1073", ("0.372", "0.803"), ("0.319", "0.726")),
    (36, "0.276", "0.1020", ("0.134", "0.569"), ("0.104", "0.480")),
]


@pytest.mark.parametrize(("conf_type", "median", "lower", "upper"), AML_MEDIANS)
def test_aml_median_and_ci_match_r(printed, aml, conf_type, median, lower, upper):
    fit = kaplan_meier(aml.time, aml.status, conf_type=conf_type)
    assert fit.n == 23 and fit.events == 18
    q = fit.median
    assert (printed(q.time, median), printed(q.lower, lower), printed(q.upper, upper)) == (True, True, True)


@pytest.mark.parametrize(("t", "s", "se", "log_ci", "loglog_ci"), AML_SURVIVAL)
def test_aml_survival_at_times_matches_r(printed, aml, t, s, se, log_ci, loglog_ci):
    for conf_type, ci in (("log", log_ci), ("log-log", loglog_ci)):
        at = kaplan_meier(aml.time, aml.status, conf_type=conf_type).at([t])
        assert printed(at.survival[0], s) and printed(at.std_err[0], se)
        assert printed(at.lower[0], ci[0]) and printed(at.upper[0], ci[1])


@pytest.mark.parametrize(("group", "conf_type", "median", "lower"), [
    ("Maintained", "log", "31", "18"), ("Nonmaintained", "log", "23", "8"),
    ("Maintained", "log-log", "31", "13"), ("Nonmaintained", "log-log", "23", "5"),
])
def test_aml_by_group_upper_limit_missing_as_r(printed, aml, group, conf_type, median, lower):
    rows = aml[aml.x == group]
    q = kaplan_meier(rows.time, rows.status, conf_type=conf_type).median
    assert printed(q.time, median) and printed(q.lower, lower)
    if (group, conf_type) == ("Nonmaintained", "log-log"):
        assert printed(q.upper, "33")
    else:
        assert np.isnan(q.upper)


def test_lung_matches_r(printed, lung):
    fit = kaplan_meier(lung.time, lung.status, event=2, censored=1)
    assert (fit.n, fit.events) == (228, 165)
    q = fit.median
    assert [printed(v, r) for v, r in zip((q.time, q.lower, q.upper), ("310", "285", "363"), strict=True)] == [True] * 3
    q = kaplan_meier(lung.time, lung.status, event=2, censored=1, conf_type="log-log").median
    assert [printed(v, r) for v, r in zip((q.time, q.lower, q.upper), ("310", "284", "361"), strict=True)] == [True] * 3
    at = fit.at([180, 365, 730])
    for i, (s, lo, up) in enumerate([("0.722", "0.666", "0.783"), ("0.409", "0.345", "0.486"),
                                     ("0.116", "0.0716", "0.187")]):
        assert printed(at.survival[i], s) and printed(at.lower[i], lo) and printed(at.upper[i], up)
    at = kaplan_meier(lung.time, lung.status, event=2, censored=1, conf_type="log-log").at([180, 365, 730])
    for i, (lo, up) in enumerate([("0.658", "0.775"), ("0.339", "0.478"), ("0.0676", "0.178")]):
        assert printed(at.lower[i], lo) and printed(at.upper[i], up)


@pytest.mark.parametrize(("sex", "n", "events", "log", "loglog"), [
    (1, 138, 112, ("270", "212", "310"), ("270", "210", "306")),
    (2, 90, 53, ("426", "348", "550"), ("426", "345", "524")),
])
def test_lung_by_sex_matches_r(printed, lung, sex, n, events, log, loglog):
    rows = lung[lung.sex == sex]
    for conf_type, ref in (("log", log), ("log-log", loglog)):
        fit = kaplan_meier(rows.time, rows.status, event=2, censored=1, conf_type=conf_type)
        q = fit.median
        assert (fit.n, fit.events) == (n, events)
        assert [printed(v, r) for v, r in zip((q.time, q.lower, q.upper), ref, strict=True)] == [True] * 3


def test_veteran_matches_r(printed, veteran):
    fit = kaplan_meier(veteran.time, veteran.status)
    assert (fit.n, fit.events) == (137, 128)
    q = fit.median
    assert [printed(v, r) for v, r in zip((q.time, q.lower, q.upper), ("80", "52", "105"), strict=True)] == [True] * 3
    q = kaplan_meier(veteran.time, veteran.status, conf_type="log-log").median
    assert [printed(v, r) for v, r in zip((q.time, q.lower, q.upper), ("80", "52", "100"), strict=True)] == [True] * 3
    at = fit.at([30, 90, 180, 365])
    for i, (s, lo, up) in enumerate([("0.700", "0.628", "0.782"), ("0.464", "0.387", "0.556"),
                                     ("0.222", "0.161", "0.308"), ("0.090", "0.051", "0.160")]):
        assert printed(at.survival[i], s) and printed(at.lower[i], lo) and printed(at.upper[i], up)


def test_veteran_trt2_median_uses_r_midpoint_rule_where_lifelines_does_not(veteran):
    rows = veteran[veteran.trt == 2]
    q = kaplan_meier(rows.time, rows.status).median
    assert (q.time, q.lower, q.upper) == (52.5, 44.0, 95.0)
    peer = KaplanMeierFitter().fit(rows.time, rows.status)
    assert peer.median_survival_time_ == 52.0
    q1 = kaplan_meier(veteran[veteran.trt == 1].time, veteran[veteran.trt == 1].status).median
    assert (q1.time, q1.lower, q1.upper) == (103.0, 59.0, 132.0)


def test_log_log_limits_equal_lifelines(lung):
    ours = kaplan_meier(lung.time, lung.status, event=2, censored=1, conf_type="log-log")
    peer = KaplanMeierFitter().fit(lung.time, lung.status == 2)
    ci = peer.confidence_interval_survival_function_.loc[ours.time]
    inside = ours.survival < 1
    np.testing.assert_allclose(ours.survival, peer.survival_function_.loc[ours.time].iloc[:, 0], rtol=1e-12)
    np.testing.assert_allclose(ours.lower[inside], ci.iloc[:, 0][inside], rtol=1e-9)
    np.testing.assert_allclose(ours.upper[inside], ci.iloc[:, 1][inside], rtol=1e-9)


def test_greenwood_se_equals_statsmodels(veteran):
    ours = kaplan_meier(veteran.time, veteran.status)
    peer = SurvfuncRight(veteran.time, veteran.status)
    at = ours.at(peer.surv_times)
    np.testing.assert_allclose(at.survival, peer.surv_prob, rtol=1e-12)
    np.testing.assert_allclose(at.std_err, peer.surv_prob_se, rtol=1e-9)


def test_number_at_risk_counts_patients_still_followed(aml):
    at = kaplan_meier(aml.time, aml.status).at([0, 5, 6, 13, 161, 200])
    expected = [int((aml.time >= t).sum()) for t in (0, 5, 6, 13, 161, 200)]
    assert at.n_risk.tolist() == expected
    assert at.survival[0] == 1.0 and at.n_event.tolist()[:2] == [0, 2]


def test_result_carries_its_method_and_is_read_only(aml):
    fit = kaplan_meier(aml.time, aml.status, conf_type="log-log", conf_level=0.9)
    assert fit.method.conf_type == "log-log" and fit.method.conf_level == 0.9
    assert fit.method.variance == "Greenwood" and "midpoint" in fit.method.median_rule
    assert "log-log 90% CI" in fit.method.describe()
    with pytest.raises(ValueError):
        fit.survival[0] = 0.5
    d = fit.to_dict(times=[12])
    assert d["method"]["conf_type"] == "log-log" and d["survival_at"][0]["n_risk"] == 18


def test_curve_reaching_zero_has_undefined_limits_as_r():
    fit = kaplan_meier([1, 2, 3], [1, 1, 1])
    assert fit.survival[-1] == 0 and np.isnan(fit.lower[-1]) and np.isnan(fit.upper[-1])
    assert fit.median.time == 2.0


def test_flat_at_one_half_to_the_end_takes_midpoint_with_last_follow_up():
    q = kaplan_meier([1, 2, 5, 9], [1, 0, 0, 0]).median
    assert np.isnan(q.time)
    q = kaplan_meier([1, 2, 5, 9], [1, 1, 0, 0]).median
    assert q.time == (2 + 9) / 2


survival_data = st.lists(st.tuples(st.integers(0, 60), st.booleans()), min_size=1, max_size=80)


@settings(max_examples=60, deadline=None)
@given(survival_data)
def test_day_counting_and_sorting_paths_agree(rows):
    time = np.array([t for t, _ in rows], dtype=np.int64)
    status = np.array([e for _, e in rows], dtype=np.int64)
    by_count = kaplan_meier(time, status)
    by_sort = kaplan_meier(time + 0.25, status)
    np.testing.assert_allclose(by_count.time + 0.25, by_sort.time)
    for name in ("survival", "std_err", "lower", "upper", "n_risk", "n_event"):
        np.testing.assert_allclose(getattr(by_count, name), getattr(by_sort, name), equal_nan=True)


@settings(max_examples=60, deadline=None)
@given(survival_data, st.sampled_from(["log", "log-log", "plain"]))
def test_curve_is_non_increasing_and_inside_its_band(rows, conf_type):
    fit = kaplan_meier([t for t, _ in rows], [int(e) for _, e in rows], conf_type=conf_type)
    assert np.all(np.diff(fit.survival) <= 0)
    ok = ~np.isnan(fit.lower)
    assert np.all(fit.lower[ok] <= fit.survival[ok] + 1e-12) and np.all(fit.survival[ok] <= fit.upper[ok] + 1e-12)
    assert np.all((fit.lower[ok] >= 0) & (fit.upper[ok] <= 1))


@settings(max_examples=40, deadline=None)
@given(survival_data)
def test_point_estimate_equals_lifelines(rows):
    time = pd.Series([t for t, _ in rows], dtype=float)
    event = pd.Series([e for _, e in rows])
    fit = kaplan_meier(time, event.astype(int))
    peer = KaplanMeierFitter().fit(time, event)
    np.testing.assert_allclose(fit.survival, peer.survival_function_.loc[fit.time].iloc[:, 0], atol=1e-12)

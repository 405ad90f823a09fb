"""Aalen–Johansen cumulative incidence: R cmprsk / survfit reference on the Scrucca BMT data, oracles, invariants."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from statsmodels.duration.survfunc import CumIncidenceRight

from openidds.outcomes import cumulative_incidence, kaplan_meier

# cause, month, F, cmprsk SE, (log-log CI), survfit IJ SE, (log CI), (log-log CI)   -- docs/outcomes.md
BMT = [
    (1, 12, "0.2728", "0.07961", ("0.1330", "0.4333"), "0.07809", ("0.1557", "0.4781"), ("0.1353", "0.4303")),
    (2, 12, "0.3408", "0.08582", ("0.1822", "0.5063"), "0.08415", ("0.2100", "0.5529"), ("0.1849", "0.5032")),
    (2, 24, "0.4461", "0.09187", ("0.2643", "0.6129"), "0.08942", ("0.3012", "0.6608"), ("0.2690", "0.6089")),
    (2, 36, "0.4813", "0.09276", ("0.2935", "0.6464"), "0.09002", ("0.3336", "0.6944"), ("0.2990", "0.6421")),
]


@pytest.mark.parametrize(("cause", "month", "f", "aalen_se", "aalen_loglog", "delta_se", "delta_log", "delta_loglog"),
                         BMT)
def test_bmt_matches_cmprsk_and_survfit(printed, bmt, cause, month, f, aalen_se, aalen_loglog, delta_se, delta_log,
                                        delta_loglog):
    cases = [("aalen", "log-log", aalen_se, aalen_loglog), ("delta", "log", delta_se, delta_log),
             ("delta", "log-log", delta_se, delta_loglog)]
    for variance, conf_type, se, ci in cases:
        at = cumulative_incidence(bmt.ftime, bmt.status, cause, variance=variance, conf_type=conf_type).at([month])
        assert printed(at.incidence[0], f)
        assert printed(at.std_err[0], se)
        assert printed(at.lower[0], ci[0]) and printed(at.upper[0], ci[1])


def test_trm_is_flat_from_12_to_36_months_and_counts_the_event_on_the_day(bmt):
    fit = cumulative_incidence(bmt.ftime, bmt.status, 1)
    at = fit.at([11.99, 12, 36])
    assert at.incidence[0] < at.incidence[1] == at.incidence[2]
    assert at.n_event.tolist() == [8, 9, 9]


def test_delta_se_equals_statsmodels(bmt):
    peer = CumIncidenceRight(bmt.ftime, bmt.status)
    for cause in (1, 2):
        ours = cumulative_incidence(bmt.ftime, bmt.status, cause)
        at = ours.at(peer.times)
        np.testing.assert_allclose(at.incidence, peer.cinc[cause - 1], rtol=1e-12)
        np.testing.assert_allclose(at.std_err, peer.cinc_se[cause - 1], rtol=1e-9)


def _delta_by_definition(time, status, cause):
    """The delta-method variance summed term by term at every time (O(T²)): the formula, not the running sums."""
    ts = np.unique(time)
    n = np.array([(time >= t).sum() for t in ts], float)
    d1 = np.array([((time == t) & (status == cause)).sum() for t in ts], float)
    d = np.array([((time == t) & (status != 0)).sum() for t in ts], float)
    s_before = np.concatenate(([1.0], np.cumprod(1 - d / n)[:-1]))
    f = np.cumsum(s_before * d1 / n)
    var = []
    for i in range(len(ts)):
        j = np.arange(i + 1)
        a = np.where(n[j] > d[j], d[j] / (n[j] * np.maximum(n[j] - d[j], 1)), 0.0)
        gap = f[i] - f[j]
        var.append(np.sum(gap**2 * a + s_before[j]**2 * d1[j] * (n[j] - d1[j]) / n[j]**3
                          - 2 * gap * s_before[j] * d1[j] / n[j]**2))
    return ts, f, np.array(var)


competing_data = st.lists(st.tuples(st.integers(0, 40), st.sampled_from([0, 1, 2])), min_size=2, max_size=60)


@settings(max_examples=60, deadline=None)
@given(competing_data)
def test_running_sum_variance_equals_the_formula(rows):
    time = np.array([t for t, _ in rows], float)
    status = np.array([s for _, s in rows])
    fit = cumulative_incidence(time, status, 1)
    ts, f, var = _delta_by_definition(time, status, 1)
    np.testing.assert_allclose(fit.time, ts)
    np.testing.assert_allclose(fit.incidence, f, atol=1e-12)
    np.testing.assert_allclose(fit.std_err**2, np.maximum(var, 0), atol=1e-12)


@settings(max_examples=60, deadline=None)
@given(competing_data)
def test_incidences_and_survival_add_up_to_one(rows):
    time = [t for t, _ in rows]
    status = [s for _, s in rows]
    f1 = cumulative_incidence(time, status, 1).incidence
    f2 = cumulative_incidence(time, status, 2).incidence
    km = kaplan_meier(time, [int(s != 0) for s in status]).survival
    np.testing.assert_allclose(f1 + f2 + km, 1.0, atol=1e-12)
    assert np.all(np.diff(f1) >= 0)


def test_without_competing_events_incidence_is_one_minus_km(veteran):
    fit = cumulative_incidence(veteran.time, veteran.status, 1)
    km = kaplan_meier(veteran.time, veteran.status)
    np.testing.assert_allclose(fit.incidence, 1 - km.survival, atol=1e-12)
    alive = km.survival > 0  # Greenwood's SE is undefined once S reaches 0
    np.testing.assert_allclose(fit.std_err[alive], km.std_err[alive], rtol=1e-9)


def test_ties_across_causes_are_exact_not_jittered():
    """Two causes on the same day both use S(t-): the estimate does not depend on row order."""
    time = np.array([365, 365, 365, 400, 500, 200])
    status = np.array([1, 2, 2, 1, 0, 0])
    first = cumulative_incidence(time, status, 1).at([365])
    flipped = cumulative_incidence(time[::-1], status[::-1], 1).at([365])
    assert first.incidence[0] == flipped.incidence[0] == pytest.approx(1 / 5)


def test_competing_codes_can_be_listed_and_method_is_recorded(bmt):
    fit = cumulative_incidence(bmt.ftime, bmt.status, 2, competing=[1], variance="aalen", conf_type="log-log")
    assert fit.method.variance == "aalen" and fit.method.conf_type == "log-log" and fit.method.cause == 2
    assert "cmprsk" in fit.method.describe()
    d = fit.to_dict(times=[12])
    assert d["incidence_at"][0]["events"] == 11 and d["competing_events"] == 9


def test_before_any_event_incidence_is_zero_with_undefined_log_limits(bmt):
    at = cumulative_incidence(bmt.ftime + 1, bmt.status, 1).at([0.5])
    assert at.incidence[0] == 0 and np.isnan(at.lower[0])
    at = cumulative_incidence(bmt.ftime + 1, bmt.status, 1, conf_type="plain").at([0.5])
    assert (at.lower[0], at.upper[0]) == (0.0, 0.0)


def test_series_keeps_its_index_for_errors():
    frame = pd.DataFrame({"t": [1, 2, 3], "s": [0, 1, 7]}, index=[10, 11, 12])
    fit = cumulative_incidence(frame.t, frame.s, 1, competing=[7])
    assert fit.n == 3

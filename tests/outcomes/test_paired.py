"""Paired comparisons and proportions: the 20-pair NRS example run in R 4.2.2, and scipy/statsmodels as peers."""

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import binomtest, ttest_rel, wilcoxon
from statsmodels.stats.proportion import proportion_confint

from openidds.outcomes import paired_comparison, proportion, signed_rank

PRE = [8, 7, 9, 6, 8, 7, 10, 9, 8, 7, 6, 9, 8, 7, 8, 9, 7, 8, 6, 9]
POST = [4, 5, 6, 6, 3, 4, 5, 7, 8, 3, 4, 5, 2, 7, 4, 6, 5, 3, 6, 4]


def test_paired_t_matches_r(printed):
    result = paired_comparison(PRE, POST)
    t = result.t_test
    assert printed(t.statistic, "6.9254") and t.df == 19 and printed(t.p_value, "1.331e-06")
    assert printed(t.lower, "2.058") and printed(t.upper, "3.842")
    assert result.n_pairs == 20 and result.n_excluded == 0


def test_signed_rank_matches_r_default_and_reports_v(printed):
    w = paired_comparison(PRE, POST).signed_rank
    assert w.statistic_v == 136 and printed(w.p_value, "0.0004475")
    assert w.n_zero == 4 and "continuity" in w.method
    assert w.p_value == pytest.approx(wilcoxon(PRE, POST, correction=True, method="approx").pvalue, rel=1e-12)
    assert not printed(wilcoxon(PRE, POST).pvalue, "0.0004475")  # scipy's default differs from R's


@pytest.mark.parametrize(("method", "lower", "upper"), [
    ("clopper-pearson", "0.4572", "0.8811"), ("wilson", "0.4810", "0.8545"), ("wilson-cc", "0.4567", "0.8716"),
])
def test_fourteen_of_twenty_improved_matches_r(printed, method, lower, upper):
    p = proportion(14, 20, method=method)
    assert p.estimate == 0.7 and printed(p.lower, lower) and printed(p.upper, upper)


def test_share_improved_counts_falls_in_pain():
    result = paired_comparison(PRE, POST)
    assert result.improved_exact.successes == sum(a < b for a, b in zip(POST, PRE, strict=True)) == 16
    assert result.improved_exact.method == "clopper-pearson" and result.improved_wilson.method == "wilson"
    higher = paired_comparison(PRE, POST, better="higher")
    assert higher.improved_exact.successes == 0


def test_incomplete_pairs_are_excluded_and_counted():
    before = pd.Series([7.0, 8, np.nan, 6, 9, 5])
    after = pd.Series([3.0, np.nan, 2, 4, 5, 5])
    result = paired_comparison(before, after, before_column="nrs_0", after_column="nrs_6m")
    assert (result.n_pairs, result.n_excluded) == (4, 2)
    peer = ttest_rel([7.0, 6, 9, 5], [3.0, 4, 5, 5])
    assert result.t_test.statistic == pytest.approx(peer.statistic) and result.t_test.p_value == pytest.approx(
        peer.pvalue)
    d = result.to_dict()
    assert d["before_column"] == "nrs_0" and d["improved_definition"] == "after < before"


@settings(max_examples=80, deadline=None)
@given(st.integers(1, 60).flatmap(lambda n: st.tuples(st.integers(0, n), st.just(n))))
def test_binomial_intervals_equal_scipy_and_statsmodels(xn):
    x, n = xn
    exact = binomtest(x, n).proportion_ci(method="exact")
    cc = binomtest(x, n).proportion_ci(method="wilsoncc")
    ours = proportion(x, n)
    assert (ours.lower, ours.upper) == pytest.approx((exact.low, exact.high), abs=1e-10)
    wilson = proportion(x, n, method="wilson")
    assert (wilson.lower, wilson.upper) == pytest.approx(proportion_confint(x, n, method="wilson"), abs=1e-10)
    wcc = proportion(x, n, method="wilson-cc")
    if x != n / 2:  # R's prop.test caps the correction at |x - n/2|, so at x = n/2 it is Wilson; scipy always corrects
        assert (wcc.lower, wcc.upper) == pytest.approx((cc.low, cc.high), abs=1e-10)
    else:
        assert (wcc.lower, wcc.upper) == (wilson.lower, wilson.upper)


@settings(max_examples=60, deadline=None)
@given(st.lists(st.integers(-6, 6), min_size=1, max_size=40).filter(lambda d: any(d)))
def test_signed_rank_equals_scipy_with_r_settings(diffs):
    d = np.array(diffs, dtype=float)
    ours = signed_rank(d)
    nonzero = d[d != 0]
    ties = len(np.unique(np.abs(nonzero))) < len(nonzero)
    method = "exact" if len(nonzero) < 50 and not ties and len(nonzero) == len(d) else "approx"
    peer = wilcoxon(nonzero, correction=True, method=method, alternative="two-sided")
    assert ours.statistic_v == pd.Series(np.abs(nonzero)).rank()[nonzero > 0].sum()
    if np.isfinite(peer.pvalue):
        assert ours.p_value == pytest.approx(peer.pvalue, rel=1e-9, abs=1e-15)

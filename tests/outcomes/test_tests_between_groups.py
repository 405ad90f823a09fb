"""Log-rank and Gray's test: R survdiff / cmprsk reference values, peers and invariants."""

import numpy as np
import pandas as pd
import pytest
from lifelines.statistics import multivariate_logrank_test
from scipy.stats import CensoredData
from scipy.stats import logrank as scipy_logrank

from openidds.outcomes import gray_test, logrank


def test_lung_by_sex_logrank_matches_r(printed, lung):
    result = logrank(lung.time, lung.status, lung.sex, event=2, censored=1)
    assert printed(result.statistic, "10.3") and result.df == 1 and printed(result.p_value, "0.001")
    assert result.observed.tolist() == [112, 53] and result.n.tolist() == [138, 90]


def test_two_group_logrank_equals_scipy(aml):
    result = logrank(aml.time, aml.status, aml.x)
    groups = [CensoredData.right_censored(aml.time[aml.x == g], aml.status[aml.x == g] == 0) for g in result.groups]
    peer = scipy_logrank(*groups)
    assert result.statistic == pytest.approx(peer.statistic**2, rel=1e-10)
    assert result.p_value == pytest.approx(peer.pvalue, rel=1e-10)


def test_four_group_logrank_equals_lifelines(veteran):
    result = logrank(veteran.time, veteran.status, veteran.celltype)
    peer = multivariate_logrank_test(veteran.time, veteran.celltype, veteran.status)
    assert result.df == 3
    assert result.statistic == pytest.approx(peer.test_statistic, rel=1e-10)


@pytest.mark.parametrize(("cause", "chi2", "p"), [(1, "1.30", "0.254"), (2, "7.08", "0.0078")])
def test_bmt_gray_test_matches_cmprsk(printed, bmt, cause, chi2, p):
    result = gray_test(bmt.ftime, bmt.status, bmt.dis, cause)
    assert printed(result.statistic, chi2) and printed(result.p_value, p) and result.df == 1
    assert "Gray" in result.method and result.to_dict()["groups"] == [0, 1]


def test_gray_statistic_does_not_depend_on_the_reference_group(veteran):
    status = np.where(veteran.status == 0, 0, np.where(veteran.karno >= 60, 1, 2))
    first = gray_test(veteran.time, status, veteran.celltype, 1)
    other = gray_test(veteran.time, status, veteran.celltype, 1, levels=["squamous", "large", "adeno", "smallcell"])
    assert first.df == 3
    assert first.statistic == pytest.approx(other.statistic, rel=1e-9)


def test_gray_test_without_competing_events_is_close_to_logrank(veteran):
    """With one cause Gray's risk sets equal the log-rank ones; only the variance estimator differs."""
    gray = gray_test(veteran.time, veteran.status, veteran.trt, 1)
    lr = logrank(veteran.time, veteran.status, veteran.trt)
    assert gray.statistic == pytest.approx(lr.statistic, rel=0.05)


def test_identical_groups_give_no_evidence():
    time = pd.Series([3, 5, 8, 9, 12, 15] * 2)
    status = pd.Series([1, 2, 0, 1, 2, 1] * 2)
    group = pd.Series(["a"] * 6 + ["b"] * 6)
    assert gray_test(time, status, group, 1).statistic == pytest.approx(0, abs=1e-12)
    assert logrank(time, (status > 0).astype(int), group).statistic == pytest.approx(0, abs=1e-12)

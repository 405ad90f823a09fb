"""Bad input is refused with an OpenIDDSError naming the column, the rows and the values."""

import numpy as np
import pandas as pd
import pytest

from openidds.errors import OpenIDDSError
from openidds.outcomes import (
    DataError,
    cumulative_incidence,
    describe,
    describe_continuous,
    gray_test,
    kaplan_meier,
    logrank,
    paired_comparison,
    proportion,
    select_columns,
)


def test_non_numeric_time_names_column_rows_and_values():
    frame = pd.DataFrame({"months": ["3", "x", "4.5", "?"], "dead": [1, 0, 1, 1]}, index=[1, 2, 3, 4])
    with pytest.raises(DataError) as err:
        kaplan_meier(frame.months, frame.dead, time_column="months")
    assert err.value.column == "months" and err.value.rows == [2, 4]
    assert "'months'" in str(err.value) and "'x'" in str(err.value) and "numbers" in str(err.value)


def test_negative_time_refused():
    with pytest.raises(DataError, match="times >= 0") as err:
        cumulative_incidence([3, -1, 4], [1, 0, 2], 1, time_column="days")
    assert err.value.rows == [1] and err.value.column == "days"


def test_missing_time_refused_not_dropped():
    with pytest.raises(DataError, match="every row") as err:
        kaplan_meier([3, np.nan, 4], [1, 0, 1])
    assert err.value.rows == [1]


def test_unknown_status_code_lists_allowed_codes():
    with pytest.raises(DataError) as err:
        kaplan_meier([1, 2, 3, 4], [1, 0, 9, 2], status_column="vital")
    assert err.value.rows == [2, 3] and "one of 0, 1" in str(err.value)
    with pytest.raises(DataError) as err:
        cumulative_incidence([1, 2, 3], [1, 2, 3], 1, competing=[2])
    assert err.value.rows == [2]


def test_missing_status_refused():
    with pytest.raises(DataError) as err:
        kaplan_meier(pd.Series([1, 2, 3]), pd.Series([1, None, 0], dtype=object))
    assert err.value.rows == [1]


def test_missing_column_names_the_columns_that_exist():
    frame = pd.DataFrame({"time": [1], "status": [1]})
    with pytest.raises(OpenIDDSError, match=r"'vital'.*'time', 'status'"):
        select_columns(frame, "time", "vital")
    with pytest.raises(OpenIDDSError, match="'arm'"):
        describe(frame, continuous=["time"], by="arm")


def test_empty_group_refused():
    with pytest.raises(OpenIDDSError, match="empty") as err:
        logrank([1, 2, 3], [1, 1, 0], ["a", "a", "b"], levels=["a", "b", "c"])
    assert err.value.value == ["c"]
    with pytest.raises(OpenIDDSError, match="at least two groups"):
        gray_test([1, 2, 3], [1, 2, 0], ["a", "a", "a"], 1)


def test_missing_group_refused_with_rows():
    with pytest.raises(DataError) as err:
        logrank([1, 2, 3], [1, 1, 0], ["a", None, "b"], group_column="arm")
    assert err.value.rows == [1] and err.value.column == "arm"


def test_empty_dataset_and_mismatched_columns_refused():
    with pytest.raises(OpenIDDSError, match="at least one observation"):
        kaplan_meier([], [])
    with pytest.raises(OpenIDDSError, match="equal length"):
        kaplan_meier([1, 2], [1])


def test_bad_options_refused():
    with pytest.raises(OpenIDDSError, match="conf_type"):
        kaplan_meier([1], [1], conf_type="logit")
    with pytest.raises(OpenIDDSError, match="variance"):
        cumulative_incidence([1], [1], 1, variance="greenwood")
    with pytest.raises(OpenIDDSError, match="conf_level"):
        kaplan_meier([1], [1], conf_level=95)
    with pytest.raises(OpenIDDSError, match="successes"):
        proportion(21, 20)
    with pytest.raises(OpenIDDSError, match="better"):
        paired_comparison([1, 2], [1, 2], better="down")


def test_an_event_code_equal_to_the_censoring_code_is_refused_by_every_estimator():
    for fit in (lambda: kaplan_meier([1, 2], [1, 1], event=1, censored=1),
                lambda: logrank([1, 2], [1, 1], ["a", "b"], event=1, censored=1)):
        with pytest.raises(OpenIDDSError, match="different from the censoring code"):
            fit()
    with pytest.raises(OpenIDDSError, match="different from the censoring code"):
        cumulative_incidence([1, 2], [1, 1], 1, censored=1)


def test_non_numeric_score_refused_in_paired_and_describe():
    with pytest.raises(DataError) as err:
        paired_comparison(["7", "eight", "6"], [3, 4, 5], before_column="nrs_pre")
    assert err.value.rows == [1] and err.value.column == "nrs_pre"
    with pytest.raises(DataError):
        describe_continuous(["1", "n/a "], "age")


def test_no_complete_pairs_refused():
    with pytest.raises(OpenIDDSError, match="both values"):
        paired_comparison([np.nan, 7], [3, np.nan])

"""Descriptive tables: type-7 quartiles, missing excluded and counted, groups."""

import numpy as np
import pandas as pd
import pytest

from openidds.outcomes import describe, describe_categorical, describe_continuous


def test_continuous_summary_uses_type_7_quartiles_and_counts_missing(veteran):
    age = veteran.age.astype(float).copy()
    age.iloc[[0, 5]] = np.nan
    s = describe_continuous(age, "age")
    present = age.dropna()
    assert (s.n, s.n_missing) == (135, 2)
    assert s.mean == pytest.approx(present.mean()) and s.sd == pytest.approx(present.std())
    assert (s.q1, s.median, s.q3) == tuple(present.quantile([0.25, 0.5, 0.75]))  # pandas default = R type 7
    assert s.mean_sd(1) == f"{present.mean():.1f} ± {present.std():.1f}"
    assert s.median_iqr(0) == f"{present.median():.0f} ({present.quantile(.25):.0f}–{present.quantile(.75):.0f})"


def test_type_7_differs_from_spss_type_6():
    s = describe_continuous([1, 2, 3, 4], "x")
    assert (s.q1, s.q3) == (1.75, 3.25)


def test_categorical_percent_is_of_non_missing_rows():
    c = describe_categorical(pd.Series(["yes", "no", None, "yes", "yes"]), "satisfied")
    assert c.levels == ("no", "yes") and c.counts == (1, 3) and (c.n, c.n_missing) == (4, 1)
    assert c.n_percent("yes") == "3 (75.0%)"


def test_table_by_group_has_every_group_and_all(veteran):
    table = describe(veteran, continuous=["karno"], categorical=["celltype"], by="trt")
    assert table.groups == (1, 2, "All")
    karno, cell = table.summaries
    assert [s.n for s in karno] == [69, 68, 137]
    assert cell[0].levels == cell[1].levels == cell[2].levels
    assert sum(cell[0].counts) + sum(cell[1].counts) == sum(cell[2].counts) == 137
    assert table.to_dict()["variables"][1]["groups"]["All"]["counts"] == list(cell[2].counts)


def test_group_absent_from_one_arm_shows_zero():
    frame = pd.DataFrame({"arm": ["a", "a", "b"], "exit": ["death", "explant", "death"]})
    table = describe(frame, categorical=["exit"], by="arm")
    b = table.summaries[0][1]
    assert b.levels == ("death", "explant") and b.counts == (1, 0)

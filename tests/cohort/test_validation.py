"""The comparison of replicates with the published numbers: per-target statistics, verdicts and the figure."""

import json

import numpy as np
import pytest
from tests.cohort.test_study import _minimal

from openidds.cohort.study import Study, Use, load_study, parse_study
from openidds.cohort.validation import INSIDE_GOAL, Verdict, compare, figure
from openidds.errors import OpenIDDSError
from openidds.outcomes.figures import render

_MORE = '''
[[targets]]
name = "nrs_change_p_value"
metric = "p_value"
value = 0.01
high = 0.01
interval = "upper_bound"
unit = "probability"
use = "holdout"
sentence = "The score fell (P < .01)."

[[targets]]
name = "age_mean"
metric = "mean"
value = 59
interval = "none"
unit = "years"
use = "holdout"
sentence = "The average age was 59 years."
'''


@pytest.fixture
def study() -> Study:
    """Three targets with measures: a proportion with a 95 % CI, a p-value bound and a mean without interval."""
    return parse_study(_minimal().replace('name = "x"', 'name = "female_proportion"') + _MORE, "mine.toml")


def test_each_statistic_of_a_judged_target(study: Study) -> None:
    values = [0.45, 0.5, 0.55, 0.7, float("nan")]
    runs = [{"female_proportion": v, "nrs_change_p_value": 0.001, "age_mean": 60.0} for v in values]
    check = compare(study, runs).checks[0]
    assert check.n_estimates == 4
    assert check.mean == pytest.approx(0.55)
    assert (check.low, check.high) == pytest.approx((0.45 + 0.075 * 0.05, 0.55 + 0.925 * 0.15))  # R type 7
    assert check.inside_share == pytest.approx(3 / 5)  # the replicate without an estimate counts as outside
    assert check.mean_close is False  # |0.55 − 0.5| > 0.25 × 0.1
    assert check.verdict is Verdict.MISSED


def test_a_bound_an_unjudged_target_and_a_target_without_estimates(study: Study) -> None:
    runs = [{"female_proportion": float("nan"), "nrs_change_p_value": p, "age_mean": a}
            for p, a in ((0.001, 58.0), (0.02, 61.0))]
    x, p, age = compare(study, runs).checks
    assert x.verdict is Verdict.NO_ESTIMATE and x.mean is None
    assert (p.inside_share, p.mean_close, p.verdict) == (0.5, None, Verdict.MISSED)
    assert (age.inside_share, age.mean, age.verdict) == (None, 59.5, Verdict.SHOWN)


def test_replicates_of_the_published_process_meet_the_goals() -> None:
    """Replicates drawn from the process the paper reports (176 of 185 improved) fall inside its computed 95 %
    interval about 95 % of the time, and their mean sits on the published value."""
    study = load_study("seed000")
    target = study.target("nrs_improved_proportion")
    draws = [np.random.default_rng(c).binomial(185, 176 / 185) / 185 for c in np.random.SeedSequence(5).spawn(400)]
    runs = [dict.fromkeys((t.name for t in study.targets), float("nan")) | {target.name: d} for d in draws]
    check = next(c for c in compare(study, runs).checks if c.target.name == target.name)
    assert check.inside_share is not None and check.inside_share >= INSIDE_GOAL
    assert check.mean_close is True and check.verdict is Verdict.MET


def test_targets_not_measurable_yet_are_listed_in_the_table() -> None:
    study = load_study("seed003")
    measurable = [t.name for t in study.targets if t.name != "underweight_proportion"]
    validation = compare(study, [dict.fromkeys(measurable, 1.0)])
    rows = {row[0]: row for row in validation.rows()}
    assert len(rows) == len(study.targets)
    assert rows["underweight_proportion"][-1].startswith("not measurable yet: the paper does not state")
    assert rows["age_mean"][2] == "62 (60–64, 95% CI computed)"
    data = json.loads(json.dumps(validation.to_dict(), allow_nan=False))
    assert {u["name"] for u in data["not_measurable_yet"]} >= {"underweight_proportion", "catheter_tip_t6_proportion"}


def test_incomplete_replicates_are_refused(study: Study) -> None:
    with pytest.raises(OpenIDDSError, match="replicate 2"):
        compare(study, [{"female_proportion": 0.5, "nrs_change_p_value": 0.001, "age_mean": 60.0},
                        {"female_proportion": 0.5, "nrs_change_p_value": 0.001}])
    with pytest.raises(OpenIDDSError, match="at least one replicate"):
        compare(study, [])


def test_the_figure_has_a_row_per_two_sided_target(study: Study) -> None:
    runs = [{"female_proportion": v, "nrs_change_p_value": 0.001, "age_mean": 60.0} for v in (0.45, 0.5, 0.9)]
    validation = compare(study, runs)
    fig = figure(validation)
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["female_proportion (fit) 0.5 (0.4–0.6, 95% CI)"]
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert texts == ["67%"]
    assert render(fig, "png").startswith(b"\x89PNG")
    with pytest.raises(OpenIDDSError, match="at least one target"):
        figure(validation, use=Use.HOLDOUT)

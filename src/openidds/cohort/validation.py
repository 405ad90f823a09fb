"""Comparing replicates with a study's published numbers: a row per target and a figure.

Per target: the published value and interval, the mean over replicates, their 2.5–97.5 % range, the share of
replicates inside the published interval, and whether the mean lies within a quarter of the interval's
half-width of the published value (the goal of a calibrated model), and the share a model that meets the mean
goal can reach at all at the study's n (:mod:`openidds.cohort.attainable`): a target whose attainable share is
below the 90 % goal is judged unattainable at that n rather than missed. A replicate without an estimate (NaN)
counts as outside; a target without an interval is shown, not judged; a target the report cannot measure yet
is listed with its reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from enum import Enum

import numpy as np
from matplotlib.figure import Figure

from openidds.cohort.attainable import attainable_share
from openidds.cohort.study import Interval, Study, Target, Use
from openidds.cohort.targets import Unmeasured, unmeasured
from openidds.errors import OpenIDDSError

MEAN_TOLERANCE = 0.25
"""The mean must lie within this fraction of the interval's half-width of the published value."""
INSIDE_GOAL = 0.90
"""The share of replicates inside the published interval a calibrated model should reach."""
_RANGE = (2.5, 97.5)
_EDGE = 3.0  # the figure's axis runs over ± this many half-widths


class Verdict(str, Enum):
    """How a target fares against the replicates."""

    MET = "met"                      # mean close enough and ≥ 90 % of replicates inside
    MISSED = "missed"                # judged, and one of the two goals is not reached
    UNATTAINABLE = "unattainable"    # missed, and no model meets both goals at the study's n
    SHOWN = "shown"                  # no interval to judge by: mean and range shown
    NO_ESTIMATE = "no estimate"      # no replicate gave an estimate
    NOT_MEASURABLE_YET = "not measurable yet"


@dataclass(frozen=True)
class TargetCheck:
    """One target against the replicates."""

    target: Target
    n_estimates: int
    mean: float | None
    low: float | None
    high: float | None
    inside_share: float | None
    mean_close: bool | None
    attainable_share: float | None
    """The best share inside for a model meeting the mean goal (None: no sampling law for this target)."""
    verdict: Verdict

    @property
    def verdict_text(self) -> str:
        """The verdict as the table prints it (an unattainable target names the n that limits it)."""
        if self.verdict is Verdict.UNATTAINABLE:
            return "unattainable" + ("" if self.target.n is None else f" at n = {self.target.n}")
        return self.verdict.value


@dataclass(frozen=True)
class Validation:
    """Every target of a study against ``n_replicates`` replicates."""

    study: Study
    n_replicates: int
    checks: tuple[TargetCheck, ...]
    unmeasured: tuple[Unmeasured, ...]

    HEADER = ("target", "use", "published", "mean", "2.5–97.5 %", "inside", "attainable", "verdict")

    def rows(self) -> list[tuple[str, ...]]:
        """The comparison table: one row per target, in the study file's order (the CLI prints it)."""
        reasons = {u.target: u.reason for u in self.unmeasured}
        by_name = {c.target.name: c for c in self.checks}
        out: list[tuple[str, ...]] = []
        for target in self.study.targets:
            check = by_name.get(target.name)
            if check is None:
                out.append((target.name, target.use.value, _published(target), "—", "—", "—", "—",
                            f"{Verdict.NOT_MEASURABLE_YET.value}: {reasons[target.name]}"))
                continue
            out.append((target.name, target.use.value, _published(target), _fmt(check.mean),
                        "—" if check.low is None else f"{_fmt(check.low)}–{_fmt(check.high)}",
                        _share(check.inside_share), _share(check.attainable_share), check.verdict_text))
        return out

    def to_dict(self) -> dict:
        """JSON-ready: the study, the goals, each check and each target not measurable yet."""
        return {
            "study": self.study.id, "n_replicates": self.n_replicates, "mean_tolerance": MEAN_TOLERANCE,
            "inside_goal": INSIDE_GOAL,
            "targets": [{"name": c.target.name, "use": c.target.use.value, "metric": c.target.metric.value,
                         "value": c.target.value, "interval": c.target.interval.value, "low": c.target.low,
                         "high": c.target.high, "n_estimates": c.n_estimates, "mean": c.mean,
                         "replicate_low": c.low, "replicate_high": c.high, "inside_share": c.inside_share,
                         "mean_close": c.mean_close, "attainable_share": c.attainable_share,
                         "verdict": c.verdict.value, "verdict_text": c.verdict_text} for c in self.checks],
            "not_measurable_yet": [{"name": u.target, "reason": u.reason} for u in self.unmeasured],
        }


def compare(study: Study, measured: Sequence[Mapping[str, float]]) -> Validation:
    """The replicates' measured targets (one mapping per replicate, as ``run_replicates`` returns) against the
    study's published numbers."""
    if not measured:
        raise OpenIDDSError("replicates", 0, "at least one replicate's measured targets")
    missing = {u.target for u in unmeasured(study)}
    checks = []
    for target in study.targets:
        if target.name in missing:
            continue
        absent = [i for i, m in enumerate(measured) if target.name not in m]
        if absent:
            raise OpenIDDSError("measured", f"replicate {absent[0] + 1}",
                                f"a value (or NaN) for target {target.name}, as targets.measure gives")
        checks.append(_check(target, np.array([m[target.name] for m in measured], dtype=float)))
    return Validation(study, len(measured), tuple(checks), unmeasured(study))


def _check(target: Target, values: np.ndarray) -> TargetCheck:
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return TargetCheck(target, 0, None, None, None, None, None, None, Verdict.NO_ESTIMATE)
    mean = float(finite.mean())
    low, high = (float(q) for q in np.percentile(finite, _RANGE))
    if target.interval is Interval.NONE:
        return TargetCheck(target, finite.size, mean, low, high, None, None, None, Verdict.SHOWN)
    lower = -math.inf if target.low is None else target.low
    upper = math.inf if target.high is None else target.high
    inside = float(np.sum((values >= lower) & (values <= upper)) / values.size)  # NaN counts as outside
    half = target.half_width
    close = None if half is None else abs(mean - target.value) <= MEAN_TOLERANCE * half
    attainable = attainable_share(target, MEAN_TOLERANCE)
    if inside >= INSIDE_GOAL and close is not False:
        verdict = Verdict.MET
    elif attainable is not None and attainable < INSIDE_GOAL:
        verdict = Verdict.UNATTAINABLE
    else:
        verdict = Verdict.MISSED
    return TargetCheck(target, finite.size, mean, low, high, inside, close, attainable, verdict)


def _share(x: float | None) -> str:
    return "—" if x is None else f"{x:.0%}"


def _fmt(x: float | None) -> str:
    if x is None:
        return "—"
    return f"{x:.3g}" if abs(x) < 1000 else f"{x:,.0f}"


def _published(target: Target) -> str:
    if target.interval is Interval.NONE:
        return _fmt(target.value)
    if target.interval is Interval.UPPER_BOUND:
        return f"< {_fmt(target.high)}"
    label = {Interval.CI95: "95% CI", Interval.IQR: "IQR", Interval.RANGE: "range", Interval.SD: "± SD",
             Interval.CI95_COMPUTED: "95% CI computed"}[target.interval]
    return f"{_fmt(target.value)} ({_fmt(target.low)}–{_fmt(target.high)}, {label})"


def figure(validation: Validation, use: Use | None = None) -> Figure:
    """One row per judged target (``use``: only fit or holdout targets): the published interval as a bar, the
    replicates' 2.5–97.5 % range as a line and their mean as a point, and the share inside as text. A target
    unattainable at the study's n has a grey hatched bar and its attainable share beside the share inside.

    Each row is on its own scale: the published interval runs from −1 to 1 (value at 0), so rows of different
    units share one axis; the shaded band is the goal for the mean (± a quarter of the half-width). A mean off
    the axis is a triangle at its edge. One-sided (p-value bound) and interval-less targets are in the table only.
    """
    rows = [c for c in validation.checks if c.inside_share is not None and c.target.half_width is not None
            and (use is None or c.target.use is use)]
    if not rows:
        raise OpenIDDSError("use", None if use is None else use.value, "a selection with at least one target "
                                                                       "that has a two-sided interval")
    fig = Figure(figsize=(10.0, 1.2 + 0.32 * len(rows)), layout="constrained")
    ax = fig.add_subplot()
    ax.axvspan(-MEAN_TOLERANCE, MEAN_TOLERANCE, color="#2e8b57", alpha=0.12, lw=0)
    for i, check in enumerate(rows):
        y = len(rows) - 1 - i
        t = check.target
        unattainable = check.verdict is Verdict.UNATTAINABLE
        ax.barh(y, 2.0, left=-1.0, height=0.5, color="#e3e3e3" if unattainable else "#b8cfe0",
                edgecolor="#1b6ca8", lw=0.6, hatch="///" if unattainable else None)
        ax.plot([0, 0], [y - 0.25, y + 0.25], color="#1b6ca8", lw=1.2)
        if check.mean is not None and check.low is not None and check.high is not None:
            lo, hi, m = (_scaled(t, v) for v in (check.low, check.high, check.mean))
            ax.plot([max(lo, -_EDGE), min(hi, _EDGE)], [y, y], color="#c0392b", lw=1.4)
            beyond = abs(m) > _EDGE  # off the axis: a triangle at the edge points the way
            ax.plot([math.copysign(_EDGE, m) if beyond else m], [y], (">" if m > 0 else "<") if beyond else "o",
                    color="#c0392b", ms=4, clip_on=False)
        share = f"{check.inside_share:.0%}"
        if unattainable:
            share += f" (at most {check.attainable_share:.0%})"
        ax.text(1.03, y, share, transform=ax.get_yaxis_transform(), va="center", fontsize=7)
    ax.set_yticks(range(len(rows)), [f"{c.target.name} ({c.target.use.value}) {_published(c.target)}"
                                     for c in reversed(rows)], fontsize=7)
    ax.set_xlim(-_EDGE, _EDGE)
    ax.set_xlabel("distance from the published value, in half-widths of the published interval\n(bar: interval; "
                  "line: replicates 2.5–97.5 %; dot: their mean;\nhatched: unattainable at the study's n, at most "
                  "the share in brackets)", fontsize=7)
    ax.set_title(f"{validation.study.id}: {validation.n_replicates} synthetic replicates against the published "
                 "numbers (right: share inside)", fontsize=8)
    ax.tick_params(axis="x", labelsize=7)
    return fig


def _scaled(target: Target, x: float) -> float:
    """``x`` on the row's scale: the published interval maps to [−1, 1], the value to 0."""
    low = target.value if target.low is None else target.low
    high = target.value if target.high is None else target.high
    side = (high - target.value) if x >= target.value else (target.value - low)
    if side == 0:
        return 0.0 if x == target.value else math.copysign(math.inf, x - target.value)
    return (x - target.value) / side

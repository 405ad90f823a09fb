"""Deterministic study figures: Kaplan–Meier and cumulative incidence with CI bands and numbers at risk, NRS
before/after and over time.

Figures are built on ``matplotlib.figure.Figure`` (no pyplot state) and rendered to bytes; the caller
writes them. SVG output uses a fixed hash salt and no date, so the same data gives identical files.
"""

import io
import math
from collections.abc import Mapping, Sequence

import numpy as np
from matplotlib import rc_context
from matplotlib.axes import Axes
from matplotlib.collections import LineCollection
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter
from scipy.stats import t as student

from openidds.errors import OpenIDDSError
from openidds.outcomes.cumulative_incidence import CumulativeIncidence
from openidds.outcomes.kaplan_meier import KaplanMeier
from openidds.outcomes.paired import PairedComparison

_HASH_SALT = "openidds"
_COLOURS = ("#1b6ca8", "#c0392b", "#2e8b57", "#8e44ad", "#d68910", "#555555")
_LINES = ("-", "--", ":", "-.")
FORMATS = ("png", "svg")
MONTH_STEPS = (3, 6, 12, 24)
"""Tick steps of a time axis in months: 3-monthly ticks fall on the 3, 6 and 12 months the studies read at."""
HEADROOM = 1.25
"""Automatic incidence axis: the highest value shown (estimate or upper CI limit) times this, rounded up."""


def month_ticks(last_month: float, max_ticks: int = 9) -> list[float]:
    """0 and the multiples of 3, 6, 12 or 24 months up to ``last_month``: the smallest step giving at most
    ``max_ticks`` ticks (0, 3, 6, 9, 12 for a year; 0, 6, .., 48 for four years)."""
    if not (math.isfinite(last_month) and last_month >= 0):
        raise OpenIDDSError("last_month", last_month, "a finite time in months, 0 or more")
    if max_ticks < 2:
        raise OpenIDDSError("max_ticks", max_ticks, "at least 2 ticks")
    step = next((s for s in MONTH_STEPS if last_month / s <= max_ticks - 1), None)
    if step is None:
        step = 12 * math.ceil(last_month / (12 * (max_ticks - 1)))
    return [float(step * i) for i in range(int(max(last_month, step) // step) + 1)]


def _incidence_top(fits: Mapping[str, CumulativeIncidence], time_max: float) -> float:
    """The automatic top of the incidence axis: the highest estimate or finite upper limit drawn (up to
    ``time_max``) with headroom, rounded up to a multiple of 0.05 (0.1 above one half), never above 1."""
    highest = 0.0
    for fit in fits.values():
        shown = fit.time <= time_max
        values = np.concatenate((fit.incidence[shown], fit.upper[shown]))
        values = values[np.isfinite(values)]
        highest = max(highest, float(values.max()) if values.size else 0.0)
    step = 0.05 if highest * HEADROOM <= 0.5 else 0.1
    return min(1.0, max(step, step * math.ceil(round(highest * HEADROOM / step, 9))))


def _steps(time: np.ndarray, values: np.ndarray, start: float) -> tuple[np.ndarray, np.ndarray]:
    return np.concatenate(([0.0], time)), np.concatenate(([start], values))


def _band(ax, x: np.ndarray, lower: np.ndarray, upper: np.ndarray, colour: str) -> None:
    ok = ~(np.isnan(lower) | np.isnan(upper))
    ax.fill_between(x, np.where(ok, lower, np.nan), np.where(ok, upper, np.nan), step="post", color=colour,
                    alpha=0.18, linewidth=0)


def kaplan_meier_figure(fits: Mapping[str, KaplanMeier], *, risk_times: Sequence[float], time_label: str = "Months",
                        title: str = "Overall survival") -> Figure:
    """Curves with their pointwise CI band and censoring marks, and the numbers at risk beneath."""
    if not fits:
        raise OpenIDDSError("fits", "none", "at least one fitted curve")
    figure = Figure(figsize=(7.0, 5.0), dpi=100)
    grid = figure.add_gridspec(2, 1, height_ratios=(4, 0.35 + 0.3 * len(fits)), hspace=0.5)
    ax = figure.add_subplot(grid[0])
    table = figure.add_subplot(grid[1], sharex=ax)
    for row, (label, fit) in enumerate(fits.items()):
        colour = _COLOURS[row % len(_COLOURS)]
        x, y = _steps(fit.time, fit.survival, 1.0)
        _, lower = _steps(fit.time, fit.lower, 1.0)
        _, upper = _steps(fit.time, fit.upper, 1.0)
        ax.step(x, y, where="post", color=colour, linewidth=1.6, label=label)
        _band(ax, x, lower, upper, colour)
        censored = fit.n_censor > 0
        ax.plot(fit.time[censored], fit.survival[censored], "|", color=colour, markersize=7)
        at = fit.at(risk_times)
        for t, n in zip(at.time, at.n_risk, strict=True):
            table.text(t, len(fits) - 1 - row, str(n), ha="center", va="center", color=colour, fontsize=9)
    ax.set_ylim(0, 1.02)
    ax.set_ylabel("Survival probability")
    ax.set_title(title)
    ax.grid(alpha=0.3)
    method = next(iter(fits.values())).method
    ax.text(0.99, 0.97, f"{method.conf_type} {method.conf_level:.0%} CI, Greenwood", transform=ax.transAxes,
            ha="right", va="top", fontsize=8, color="#444444")
    ax.legend(loc="lower left", frameon=False)
    ax.set_xticks(list(risk_times))
    ax.tick_params(labelbottom=True)
    ax.set_xlabel(time_label)
    table.set_ylim(-0.6, len(fits) - 0.4)
    table.set_yticks(range(len(fits)), list(fits)[::-1])
    table.set_title("Number at risk", fontsize=9, loc="left")
    table.tick_params(left=False, bottom=False, labelbottom=False, pad=16)
    for side in ("top", "right", "left", "bottom"):
        table.spines[side].set_visible(False)
    ax.set_xlim(0, max(max(risk_times), max(float(f.time[-1]) for f in fits.values())) * 1.02)
    return figure


def _risk_row(table: Axes, label: str, times: Sequence[float], n_risk: Sequence[int], colour: str) -> None:
    """One line of numbers at risk under a curve's panel."""
    for t, n in zip(times, n_risk, strict=True):
        table.text(t, 0, str(n), ha="center", va="center", color=colour, fontsize=7)
    table.set_ylim(-0.6, 0.6)
    table.set_yticks([0], [label], fontsize=8)
    table.tick_params(left=False, bottom=False, labelbottom=False, pad=14)
    for side in ("top", "right", "left", "bottom"):
        table.spines[side].set_visible(False)


def cumulative_incidence_figure(fits: Mapping[str, CumulativeIncidence], *, time_label: str = "Months",
                                title: str = "Cumulative incidence", time_max: float | None = None,
                                time_ticks: Sequence[float] | None = None, y_max: float | None = None) -> Figure:
    """One panel per cause or group, side by side on a shared incidence axis: the step curve, its pointwise CI
    band and, beneath, the numbers at risk at each tick (so overlapping bands never hide one another).

    ``time_max`` ends the time axis (default: the last time of any curve); ``time_ticks`` places the ticks and
    the numbers at risk (default: :func:`month_ticks` of the axis end). ``y_max`` is the top of the incidence
    axis (default: automatic, the highest estimate or upper limit shown plus 25% headroom, rounded up to 5
    points), so incidences of a few percent are not squashed against a 0–1 axis.
    """
    if not fits:
        raise OpenIDDSError("fits", "none", "at least one fitted curve")
    last = max(float(f.time[-1]) if len(f.time) else 0.0 for f in fits.values())
    end = last if time_max is None else time_max
    if not (math.isfinite(end) and end > 0):
        raise OpenIDDSError("time_max", time_max, "a time after 0")
    top = _incidence_top(fits, end) if y_max is None else y_max
    if not 0 < top <= 1:
        raise OpenIDDSError("y_max", y_max, "a cumulative incidence above 0 and at most 1")
    ticks = list(time_ticks) if time_ticks is not None else month_ticks(end)
    k = len(fits)
    figure = Figure(figsize=(2.8 * k + 0.9, 4.2), dpi=100)
    grid = figure.add_gridspec(2, k, height_ratios=(4, 0.45), hspace=0.5, wspace=0.3, top=0.8)
    method = next(iter(fits.values())).method
    first: Axes | None = None
    for col, (label, fit) in enumerate(fits.items()):
        colour = _COLOURS[col % len(_COLOURS)]
        ax = figure.add_subplot(grid[0, col], sharey=first)
        first = first or ax
        x, y = _steps(fit.time, fit.incidence, 0.0)
        _, lower = _steps(fit.time, fit.lower, np.nan)
        _, upper = _steps(fit.time, fit.upper, np.nan)
        ax.step(x, y, where="post", color=colour, linewidth=1.6)
        _band(ax, x, lower, upper, colour)
        ax.set_title(label, fontsize=9)
        ax.set_ylim(0, top)
        ax.set_xlim(0, end)
        ax.set_xticks(ticks)
        ax.set_xlabel(time_label, fontsize=9)
        ax.tick_params(labelsize=8)
        ax.grid(alpha=0.3)
        if col:
            ax.tick_params(labelleft=False)
        else:
            ax.yaxis.set_major_formatter(PercentFormatter(xmax=1.0, decimals=0))
            ax.set_ylabel("Cumulative incidence")
        table = figure.add_subplot(grid[1, col], sharex=ax)
        _risk_row(table, "At risk" if col == 0 else "", ticks, list(fit.at(ticks).n_risk), colour)
        if col:
            table.set_yticks([])
    figure.suptitle(title, fontsize=10, y=0.98)
    figure.text(0.5, 0.9, f"Aalen–Johansen; {method.variance} variance, {method.conf_type} {method.conf_level:.0%} CI",
                ha="center", fontsize=8, color="#444444")
    return figure


def paired_figure(before: Sequence[float], after: Sequence[float], comparison: PairedComparison, *,
                  labels: tuple[str, str] = ("Before", "After"), score_label: str = "NRS") -> Figure:
    """Each distinct (before, after) pair as one faint line, wider the more patients share it (line width grows
    with the square root of their number), with the means and their 95% t intervals on top. One line per
    distinct pair keeps the figure light at any cohort size: an NRS has at most 121 pairs."""
    first = np.asarray(before, dtype=float)
    second = np.asarray(after, dtype=float)
    complete = ~(np.isnan(first) | np.isnan(second))
    first, second = first[complete], second[complete]
    figure = Figure(figsize=(4.5, 5.0), dpi=100)
    ax = figure.add_subplot()
    x = np.array([0.0, 1.0])
    pairs, count = np.unique(np.column_stack([first, second]), axis=0, return_counts=True)
    segments = [((0.0, before), (1.0, after)) for before, after in pairs]
    ax.add_collection(LineCollection(segments, colors="#888888", alpha=0.35,
                                     linewidths=0.6 + 3.4 * np.sqrt(count / count.max())))
    n = comparison.n_pairs
    quantile = student.ppf(1 - (1 - comparison.t_test.conf_level) / 2, n - 1)
    half = quantile / np.sqrt(n) * np.array([comparison.before_sd, comparison.after_sd])
    means = np.array([comparison.before_mean, comparison.after_mean])
    ax.errorbar(x, means, yerr=half, color=_COLOURS[0], marker="o", linewidth=2, capsize=6)
    t = comparison.t_test
    ax.set_title(f"{score_label}: mean fall {t.mean_difference:.2f} ({t.lower:.2f}–{t.upper:.2f}), "
                 f"n = {n}", fontsize=10)
    ax.set_xticks(x, labels)
    ax.set_xlim(-0.3, 1.3)
    ax.set_ylabel(score_label)
    ax.grid(axis="y", alpha=0.3)
    return figure


def trajectory_figure(labels: Sequence[str], means: Sequence[float], lower: Sequence[float],
                      upper: Sequence[float], n: Sequence[int], *, score_label: str = "Pain NRS",
                      title: str = "Pain NRS over time", y_range: tuple[float, float] = (0, 10)) -> Figure:
    """Mean score with its 95% t interval at each time point (baseline, follow-ups), n under each point; the
    score axis spans ``y_range`` (0–10 for the NRS)."""
    if not labels or not len(labels) == len(means) == len(lower) == len(upper) == len(n):
        raise OpenIDDSError("labels", list(labels), "one label, mean, interval and n per time point")
    figure = Figure(figsize=(6.0, 3.8), dpi=100)
    ax = figure.add_subplot()
    x = np.arange(len(labels), dtype=float)
    mean = np.asarray(means, dtype=float)
    errors = np.vstack([mean - np.asarray(lower, dtype=float), np.asarray(upper, dtype=float) - mean])
    ax.errorbar(x, mean, yerr=np.where(np.isnan(errors), 0.0, errors), color=_COLOURS[0], marker="o", linewidth=1.8,
                capsize=5)
    ax.set_xticks(x, [f"{label}\nn = {count}" for label, count in zip(labels, n, strict=True)], fontsize=8)
    ax.set_ylabel(f"{score_label}, mean (95% CI)")
    ax.set_ylim(*y_range)
    ax.set_title(title, fontsize=10)
    ax.grid(axis="y", alpha=0.3)
    return figure


def render(figure: Figure, fmt: str) -> bytes:
    """The figure as PNG or SVG bytes; identical input gives identical bytes (fixed SVG salt, no dates)."""
    if fmt not in FORMATS:
        raise OpenIDDSError("format", fmt, "png or svg")
    buffer = io.BytesIO()
    metadata = {"Date": None} if fmt == "svg" else {"Software": None}
    with rc_context({"svg.hashsalt": _HASH_SALT, "svg.fonttype": "path"}):
        figure.savefig(buffer, format=fmt, metadata=metadata, bbox_inches="tight")
    return buffer.getvalue()

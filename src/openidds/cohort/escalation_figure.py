"""The figures of an escalation run: the empirical distribution (ECDF) of the time to acknowledgement, by priority;
the hours each pump that ran low or empty spent empty, with the refill visits played and without escalation."""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from openidds.cohort.escalation_run import EscalationRun
from openidds.escalation import Policy, Priority

_STYLE = {Priority.HIGH: ("#c0392b", "-"), Priority.MEDIUM: ("#d68910", "--"), Priority.LOW: ("#1b6ca8", ":")}


def time_to_acknowledge_figure(run: EscalationRun, policy: Policy) -> Figure:
    """Per priority, the share of the acknowledged alarms acknowledged within each number of minutes (a step
    ECDF on a logarithmic time axis), with the first tier's timeout of that priority marked."""
    figure = Figure(figsize=(7.5, 4.5))
    axes = figure.add_subplot()
    for priority in Priority:
        minutes = np.sort([o.minutes_to_acknowledge for o in run.raised
                           if o.priority is priority and o.minutes_to_acknowledge is not None])
        if not minutes.size:
            continue
        total = sum(o.priority is priority for o in run.raised)
        colour, line = _STYLE[priority]
        share = np.arange(1, minutes.size + 1) / minutes.size
        axes.step(np.concatenate(([minutes[0]], minutes)), np.concatenate(([0.0], share)), where="post",
                  color=colour, linestyle=line, label=f"{priority.value} ({minutes.size} of {total} acknowledged)")
        timeout = policy.tiers[0].timeout_minutes.of(priority).total_seconds() / 60
        axes.axvline(timeout, color=colour, linestyle=line, linewidth=0.8, alpha=0.5)
    axes.set_xscale("log")
    axes.set_xlabel("minutes from the alarm to its acknowledgement (log scale; thin lines: the first tier's timeout)")
    axes.set_ylabel("acknowledged alarms")
    axes.yaxis.set_major_formatter(PercentFormatter(1.0))
    axes.set_ylim(0, 1.02)
    axes.grid(True, which="major", alpha=0.3)
    axes.legend(loc="lower right", title="priority")
    axes.set_title(f"Time to acknowledgement: {len(run.raised)} alarm escalations ({run.replicates} replicates, "
                   f"seed {run.seed}); {run.escalations_per_100_pump_months:.2f} escalations per 100 pump-months",
                   fontsize=9)
    return figure


def empty_reservoir_figure(run: EscalationRun) -> Figure:
    """Per pump that ran low or empty (a reservoir run), the hours it was empty while the record follows it: without
    escalation (nobody notified: refilled only at the record's next refill) and in each replicate with the refill
    visits the acknowledgements led to, on a symmetric-log axis (0 is 0)."""
    runs = run.reservoir_runs
    figure = Figure(figsize=(7.5, 1.6 + 0.42 * max(len(runs), 1)))
    axes = figure.add_subplot()
    baseline = run.baseline.hours_by_run
    rng = np.random.default_rng(0)  # the dots' vertical jitter only
    for n in range(len(runs)):
        hours = np.array([r.hours_by_run[n] for r in run.empty_reservoirs])
        axes.scatter(hours, n + rng.uniform(-0.18, 0.18, hours.size), s=10, color="#1b6ca8", alpha=0.35,
                     label="with escalation: one replicate" if n == 0 else None, linewidths=0)
        axes.scatter([baseline[n]], [n], marker="x", s=60, color="#c0392b",
                     label="no escalation (nobody notified)" if n == 0 else None)
        empty = int((hours > 0).sum())
        axes.annotate(f"empty in {empty} of {hours.size} replicates", (1.0, n), xycoords=("axes fraction", "data"),
                      xytext=(4, 0), textcoords="offset points", va="center", fontsize=7)
    axes.set_yticks(range(len(runs)), [f"{r.patient} (low {r.low_at:%Y-%m-%d})" if r.low_at else r.patient
                                       for r in runs], fontsize=7)
    axes.invert_yaxis()
    axes.set_xscale("symlog", linthresh=1)
    top = max([*baseline, *(h for r in run.empty_reservoirs for h in r.hours_by_run), 1.0])
    axes.set_xlim(-0.5, top * 2)
    axes.set_xlabel("pump-hours without drug (symmetric log scale: 0 is no empty pump)")
    axes.grid(True, axis="x", alpha=0.3)
    axes.legend(loc="lower center", bbox_to_anchor=(0.5, 1.0), ncol=2, fontsize=7, frameon=False)
    with_escalation = np.array([r.hours_without_drug for r in run.empty_reservoirs])
    pumps = np.array([r.pumps_empty for r in run.empty_reservoirs])
    visits = run.refill_visits
    axes.set_title(
        f"Empty reservoirs, no escalation: {run.baseline.pumps_empty} pumps, {run.baseline.hours_without_drug:,.0f} "
        f"pump-hours without drug; with escalation (refill {visits.after_low_reservoir_hours:g} h after a low-reservoir"
        f", {visits.after_empty_reservoir_hours:g} h after an empty-reservoir acknowledgement): "
        f"{pumps.mean():.2f} pumps, {with_escalation.mean():,.1f} pump-hours per replicate ({run.replicates} "
        f"replicates, seed {run.seed})" if visits else "no refill visits played", fontsize=8, wrap=True, pad=22)
    figure.subplots_adjust(left=0.3, right=0.82)
    return figure

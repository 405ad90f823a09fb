"""The figure of an escalation run: the empirical distribution (ECDF) of the time to acknowledgement, by priority."""

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
        minutes = np.sort([o.minutes_to_acknowledge for o in run.outcomes
                           if o.priority is priority and o.minutes_to_acknowledge is not None])
        if not minutes.size:
            continue
        total = sum(o.priority is priority for o in run.outcomes)
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
    axes.set_title(f"Time to acknowledgement: {len(run.outcomes)} alarm escalations ({run.replicates} replicates, "
                   f"seed {run.seed}); {run.escalations_per_100_pump_months:.2f} escalations per 100 pump-months",
                   fontsize=9)
    return figure

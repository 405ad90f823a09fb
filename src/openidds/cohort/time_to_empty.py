"""When a pump's reservoir runs empty, read from the pump's own exported log, for a moment past which the log
cannot tell (it ends, or a simulated refill changes what would have followed).

The state comes from the log: the reservoir holds, at ``t``, the pump's own estimate (the ``reservoir`` its last
refill event left, less the ``volume`` of every delivery since, a segment under way counted up to ``t``), above the
non-retrievable residual (the implant event's ``factory_fill``), with the basal rate of the segment under way at
``t``. When that runs empty is the programmer's answer for a live pump (:func:`openidds.programmer.drawn_down_s`,
which also dates a forecast's low-reservoir alarm): the basal rate run on from ``t`` as a continuous program, no
bolus, until it has drawn the volume above the residual, where the pump raises its empty-reservoir alarm and stops
(:class:`openidds.pump.Pump` does so on its estimate, to the same second). So it holds for a pump left alone on a
constant program, as a patient who missed their refill is; ``tests/escalation/test_escalation_run_remote.py``
checks it against the empty-reservoir alarms the pumps of the ``remote`` clinic raised themselves.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from openidds.errors import OpenIDDSError
from openidds.programmer import drawn_down_s
from openidds.pump import Continuous
from openidds.pump.events import EventKind
from openidds.pump.ticks import ticks_to_ml
from openidds.pump.wire import PumpLog

SECONDS_PER_DAY = 86_400


@dataclass(frozen=True, slots=True)
class ReservoirReading:
    """A pump's reservoir as its log gives it at ``t_s`` (its clock): the estimate and the residual (volume ticks),
    and the basal rate under way (volume ticks per second; 0: not delivering)."""

    t_s: int
    reservoir_ticks: int
    residual_ticks: int
    basal_ticks_per_s: int

    @property
    def above_residual_ml(self) -> float:
        return float(ticks_to_ml(max(self.reservoir_ticks - self.residual_ticks, 0)))

    @property
    def basal_ml_per_day(self) -> float:
        return float(ticks_to_ml(self.basal_ticks_per_s * SECONDS_PER_DAY))

    @property
    def empty_s(self) -> int | None:
        """When the reservoir reaches the residual at the basal rate (its clock; now if it is there already); None
        when nothing is delivered (or not within ten years)."""
        basal = Continuous(ticks_to_ml(self.basal_ticks_per_s * SECONDS_PER_DAY))
        return drawn_down_s(basal, 0, self.t_s, self.reservoir_ticks - self.residual_ticks)


def reading(log: PumpLog, t_s: int) -> ReservoirReading:
    """The reservoir at ``t_s`` on the pump's clock, from its implant and refill events and its deliveries; a moment
    before the pump's first refill is refused."""
    residual = reservoir = None
    refilled_s = 0
    basal = 0
    for event in log.events:
        if event.t_s > t_s:
            break
        data = event.data
        if event.kind is EventKind.IMPLANT:
            residual = int(data["factory_fill"])
        elif event.kind is EventKind.REFILL:
            reservoir, refilled_s = int(data["reservoir"]), event.t_s
        elif event.kind is EventKind.DELIVERY and reservoir is not None and event.t_s >= refilled_s:
            rate = int(data["rate"])
            reservoir -= int(data["volume"]) if int(data["end_s"]) <= t_s else rate * (t_s - event.t_s)
            if data["flow"] == "basal":
                basal = rate
    if residual is None or reservoir is None:
        raise OpenIDDSError("pump log", f"t_s={t_s}", "a log with the pump's implant and a refill at or before then")
    return ReservoirReading(t_s, reservoir, residual, basal)


def empty_at(log: PumpLog, at: dt.datetime) -> dt.datetime | None:
    """When the pump runs empty (naive UTC), run on from ``at`` (naive UTC) by the model; None if not delivering."""
    start = log.clock_start.astimezone(dt.UTC).replace(tzinfo=None)
    t_s = int((at - start).total_seconds())
    empty_s = reading(log, t_s).empty_s
    return None if empty_s is None else start + dt.timedelta(seconds=empty_s)

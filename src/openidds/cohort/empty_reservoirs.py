"""The pumps of a registry that ran low or empty, and the hours each spent empty, with a refill visit or without.

A **reservoir run** is one pump's reservoir alarms between two refills of the clinic's record: its low-reservoir
alarm (if any), its empty-reservoir alarm (if any), and how long the record follows the pump (to the earliest of its
next refill in the record, its explant, its patient's exit and the end of the run). The pump runs empty at its log's
empty-reservoir alarm: a log has one whenever the pump ran empty before the log ends (the pumps in place are read on
the clinic day), and the model of :mod:`openidds.cohort.time_to_empty` gives, from the low-reservoir alarm, when a
pump whose log ends first would have (shown, not counted: the record does not follow it so far). Without
escalation (the baseline: the same alarms, nobody notified) the pump is refilled only at its next refill of the
record, so it is empty from its empty time to the end of the record's view of it; a refill visit
before the empty time keeps it from running empty at all, a later one ends the empty time.
"""

from __future__ import annotations

import datetime as dt
from bisect import bisect_right
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openidds.clinic import models
from openidds.clinic.pump_log import stored_pump_log
from openidds.cohort.time_to_empty import empty_at
from openidds.pump.alarms import AlarmKind

RESERVOIR_ALARMS = frozenset({AlarmKind.LOW_RESERVOIR.value, AlarmKind.EMPTY_RESERVOIR.value})
"""The alarm kinds a refill answers (and clears)."""


@dataclass(frozen=True, slots=True)
class ReservoirRun:
    """One pump's reservoir run (see the module): its alarms, when it runs empty (None: not before the end of the
    run's view, by the log or the model), and how long the record follows it."""

    implant_id: int
    patient: str
    """The patient's site and ID (``SITE/ID``)."""
    alarm_ids: tuple[int, ...]
    low_at: dt.datetime | None
    empty_at: dt.datetime | None
    """The pump's empty-reservoir alarm (None: none in its log)."""
    model_empty_at: dt.datetime | None
    """When the model says the pump would run empty, from its low-reservoir alarm (None: no low-reservoir alarm, or
    not delivering)."""
    followed_until: dt.datetime

    def hours_empty(self, refilled_at: dt.datetime | None) -> float:
        """Hours the pump is empty while the record follows it, refilled at ``refilled_at`` (None: only at the
        record's next refill, the baseline)."""
        if self.empty_at is None:
            return 0.0
        end = self.followed_until if refilled_at is None else min(refilled_at, self.followed_until)
        return max((end - self.empty_at).total_seconds(), 0.0) / 3600


@dataclass(frozen=True, slots=True)
class EmptyReservoirs:
    """The reservoir runs' pumps that ran empty in one replicate (``replicate`` None: the baseline, nobody
    notified), the hours each was empty (in the order of the runs) and the patients affected."""

    replicate: int | None
    hours_by_run: tuple[float, ...]
    patients: int

    @property
    def pumps_empty(self) -> int:
        return sum(hours > 0 for hours in self.hours_by_run)

    @property
    def hours_without_drug(self) -> float:
        return sum(self.hours_by_run)

    def summary(self) -> dict[str, object]:
        return {"replicate": self.replicate, "pumps_empty": self.pumps_empty, "patients_affected": self.patients,
                "pump_hours_without_drug": round(self.hours_without_drug, 3)}


def reservoir_runs(engine: Engine, alarms: Sequence[tuple[int, int, str, dt.datetime]], end: dt.datetime
                   ) -> list[ReservoirRun]:
    """The reservoir runs of ``alarms`` (id, implant id, kind, raised at), followed at most to ``end``."""
    i, p, s, e = models.Implant, models.Patient, models.Site, models.Exit
    by_run: dict[tuple[int, int], list[tuple[int, str, dt.datetime]]] = {}
    with Session(engine) as session:
        refills: dict[int, list[dt.datetime]] = {}
        for implant_id, refilled_at in session.execute(select(models.Refill.implant_id, models.Refill.refilled_at)
                                                       .order_by(models.Refill.refilled_at)):
            refills.setdefault(implant_id, []).append(refilled_at)
        for alarm_id, implant_id, kind, raised_at in alarms:
            if kind in RESERVOIR_ALARMS:
                after = bisect_right(refills.get(implant_id, []), raised_at)
                by_run.setdefault((implant_id, after), []).append((alarm_id, kind, raised_at))
        implants = {row.id: row for row in session.execute(
            select(i.id, i.implant_date, i.explant_date, e.exit_date, s.code, p.patient_code)
            .join(p, p.id == i.patient_id).join(s, s.id == p.site_id).outerjoin(e, e.patient_id == i.patient_id)
            .where(i.id.in_({implant_id for implant_id, _ in by_run})))}
    runs = []
    for (implant_id, after), found in sorted(by_run.items(), key=lambda item: min(a[2] for a in item[1])):
        implant = implants[implant_id]
        log = stored_pump_log(engine, implant.code, implant.patient_code, implant.implant_date)
        ends = [end, *refills.get(implant_id, [])[after:after + 1]]
        ends += [dt.datetime.combine(d, dt.time()) for d in (implant.explant_date, implant.exit_date) if d is not None]
        low = min((at for _, kind, at in found if kind == AlarmKind.LOW_RESERVOIR.value), default=None)
        logged = min((at for _, kind, at in found if kind == AlarmKind.EMPTY_RESERVOIR.value), default=None)
        runs.append(ReservoirRun(implant_id, f"{implant.code}/{implant.patient_code}", tuple(a for a, _, _ in found),
                                 low, logged, None if low is None else empty_at(log, low), min(ends)))
    return runs


def empty_reservoirs(runs: Sequence[ReservoirRun], refilled: Mapping[int, dt.datetime], replicate: int | None
                     ) -> EmptyReservoirs:
    """The pumps that ran empty when each run ``i`` is refilled at ``refilled[i]`` (absent: only at the record's
    next refill)."""
    hours = tuple(run.hours_empty(refilled.get(n)) for n, run in enumerate(runs))
    return EmptyReservoirs(replicate, hours, len({run.patient for run, h in zip(runs, hours, strict=True) if h > 0}))

"""Follow-up visits due: a simple schedule after the first implant, as the registry's outcome windows read it.

Targets are days 91, 182 and 365 after the first implant (the 3-, 6- and 12-month outcomes of the analysis
dataset), then every 182 days. A target is met by a follow-up or telephone visit within ±45 days of it (the
analysis dataset's window); it is due from 14 days before it until its window closes. Patients with an exit
record are no longer followed.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, func, or_, select

from openidds.clinic import models
from openidds.clinic.in_place import connected
from openidds.clinic.store import chunks

FIRST_TARGETS_DAYS = (91, 182, 365)
"""The first follow-up targets, in days after the first implant."""
LATER_EVERY_DAYS = 182
"""After the last first target, a follow-up this often."""
WINDOW_DAYS = 45
"""A visit within this many days of a target meets it."""
COUNTED_VISITS = ("follow_up", "telephone")


def targets(first_implant: dt.date, until: dt.date) -> list[dt.date]:
    """The follow-up target dates after ``first_implant``, up to ``until``."""
    out: list[dt.date] = []
    while (target := first_implant + dt.timedelta(days=_target_days(len(out)))) <= until:
        out.append(target)
    return out


def _target_days(n: int) -> int:
    """Days from the first implant to the ``n``-th target (from 0)."""
    if n < len(FIRST_TARGETS_DAYS):
        return FIRST_TARGETS_DAYS[n]
    return FIRST_TARGETS_DAYS[-1] + (n - len(FIRST_TARGETS_DAYS) + 1) * LATER_EVERY_DAYS


@dataclass(frozen=True)
class FollowUpDue:
    """A follow-up visit a patient needs: its target date, and days until it (negative: overdue)."""

    site: str
    patient_id: str
    first_implant: dt.date
    target: dt.date
    days_left: int

    def to_dict(self) -> dict[str, Any]:
        return {"site": self.site, "patient_id": self.patient_id, "first_implant": self.first_implant.isoformat(),
                "target": self.target.isoformat(), "days_left": self.days_left}


def targets_between(first_implant: dt.date, since: dt.date, until: dt.date) -> list[dt.date]:
    """The follow-up target dates after ``first_implant`` from ``since`` to ``until`` (the same dates as
    :func:`targets` in that range, without walking from the implant)."""
    day = (since - first_implant).days
    n = len(FIRST_TARGETS_DAYS)
    if day > FIRST_TARGETS_DAYS[-1]:  # skip the periodic targets before ``since``
        n += max(0, (day - FIRST_TARGETS_DAYS[-1]) // LATER_EVERY_DAYS - 1)
    else:
        n = next(k for k, days in enumerate(FIRST_TARGETS_DAYS) if days >= day)
    out: list[dt.date] = []
    while (target := first_implant + dt.timedelta(days=_target_days(n))) <= until:
        if target >= since:
            out.append(target)
        n += 1
    return out


def first_implants_with_a_target(since: dt.date, until: dt.date, earliest: dt.date) -> list[tuple[dt.date, dt.date]]:
    """The ranges of first-implant dates (from ``earliest`` on) whose schedule has a target from ``since`` to
    ``until``: one range per target of the schedule, so the registry selects those patients by date alone."""
    out = []
    n = 0
    while (days := _target_days(n)) <= (until - earliest).days:
        out.append((since - dt.timedelta(days=days), until - dt.timedelta(days=days)))
        n += 1
    return out


def follow_ups_due(engine: Engine | Connection, today: dt.date, within_days: int = 14) -> list[FollowUpDue]:
    """Follow-ups due by ``today + within_days`` whose window is still open and that no visit has met,
    soonest first. Only the patients with such a target, and their visits near it, are read."""
    p, i, s, e, v = models.Patient, models.Implant, models.Site, models.Exit, models.Visit
    horizon = today + dt.timedelta(days=within_days)
    window = dt.timedelta(days=WINDOW_DAYS)
    with connected(engine) as conn:
        earliest = conn.execute(select(func.min(i.implant_date))).scalar()
        ranges = [] if earliest is None else first_implants_with_a_target(today - window, horizon, earliest)
        if not ranges:
            return []
        in_ranges = [or_(*(day.between(start, end) for start, end in ranges))
                     for day in (i.implant_date, func.min(i.implant_date))]
        with_an_implant_in_range = select(i.patient_id).where(in_ranges[0])  # the implants' date index
        followed = (select(p.id, s.code, p.patient_code, func.min(i.implant_date))
                    .join(s, s.id == p.site_id).join(i, i.patient_id == p.id).outerjoin(e, e.patient_id == p.id)
                    .where(e.id.is_(None), p.id.in_(with_an_implant_in_range)).group_by(p.id, s.code, p.patient_code)
                    .having(in_ranges[1]))
        open_targets = {(patient_id, site, code, first): due for patient_id, site, code, first in conn.execute(followed)
                        if (due := targets_between(first, today - window, horizon))}
        candidates = sorted({patient_id for patient_id, *_ in open_targets})
        seen: dict[int, list[dt.date]] = defaultdict(list)
        for some in chunks(candidates):
            near = select(v.patient_id, v.visit_date).where(
                v.patient_id.in_(some), v.visit_type.in_(COUNTED_VISITS),
                v.visit_date.between(today - 2 * window, horizon + window))
            for patient_id, day in conn.execute(near):
                seen[patient_id].append(day)
    out = [FollowUpDue(site, code, first, target, (target - today).days)
           for (patient_id, site, code, first), due in open_targets.items() for target in due
           if not any(abs(day - target) <= window for day in seen[patient_id])]
    return sorted(out, key=lambda f: (f.target, f.site, f.patient_id))

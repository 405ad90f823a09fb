"""Open alarms of the pumps in place: what the alarm board and the Today page list.

They are read from the clinic's alarm record (``clinic_alarms``, see :mod:`openidds.clinic.alarms`), which
holds every alarm of the imported pump logs, the clinic's alarm records and the reports of patients and
caregivers, merged. Only active implants count (an explanted pump's alarms need no action). Highest priority
first, then the oldest.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import BindParameter, Connection, Engine, Select, bindparam, case, func, select
from sqlalchemy.orm import Session

from openidds.clinic import models
from openidds.clinic.alarms import AlarmPriority, AlarmSource, AlarmState, Resolution
from openidds.clinic.in_place import connected, in_place

__all__ = ["AlarmSource", "AlarmView", "OpenAlarm", "age_days", "alarm_page", "alarm_views", "open_alarms"]

RESOLVED_SHOWN_DAYS = 90
"""Resolved alarms are listed (when asked for) this many days after their resolution."""


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat() + "Z"


@dataclass(frozen=True)
class AlarmView:
    """An alarm of a patient's pump in place, with its state and who acted on it when (naive UTC). ``age_days``:
    whole days from its raising to the clinic's now; None when it was raised after that now, which is a data error
    (a pump clock ahead, an alarm dated wrong, or a clinic day fixed before it), never a negative age."""

    site: str
    patient_id: str
    alarm: str
    severity: str
    since: dt.datetime
    age_days: int | None
    source: AlarmSource
    id: int
    version: int
    priority: AlarmPriority
    state: AlarmState
    detail: str | None
    acknowledged_by: str | None
    acknowledged_at: dt.datetime | None
    assigned_to: str | None
    assigned_by: str | None
    assigned_at: dt.datetime | None
    resolved_by: str | None
    resolved_at: dt.datetime | None
    resolution: Resolution | None
    resolution_note: str | None

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        for name in ("since", "acknowledged_at", "assigned_at", "resolved_at"):
            out[name] = _iso(out[name])
        for name in ("source", "priority", "state", "resolution"):
            out[name] = None if out[name] is None else out[name].value
        return out


OpenAlarm = AlarmView
"""The name the Today page knows an open alarm by."""


def _listed(now: dt.datetime, states: Collection[AlarmState], assigned_to: str | None) -> Select[Any]:
    """The alarms of active implants (:func:`openidds.clinic.queries.in_place`) in ``states`` (resolved ones only
    if resolved within :data:`RESOLVED_SHOWN_DAYS` of ``now``), of ``assigned_to`` if given."""
    c, i, p, s = models.ClinicAlarm, models.Implant, models.Patient, models.Site
    # the states written into the statement, not bound: a prepared statement's generic plan then still knows how
    # few alarms are unresolved (bound, PostgreSQL guesses a third of the table and scans every implant twice)
    wanted: BindParameter[list[str]] = bindparam("states", [state.value for state in states], expanding=True,
                                                 literal_execute=True)
    stmt = (select().select_from(c).join(i, i.id == c.implant_id).join(p, p.id == i.patient_id)
            .join(s, s.id == p.site_id).where(c.state.in_(wanted), in_place(i)))
    if AlarmState.RESOLVED in states:
        stmt = stmt.where((c.resolved_at.is_(None)) | (c.resolved_at >= now - dt.timedelta(days=RESOLVED_SHOWN_DAYS)))
    if assigned_to is not None:
        stmt = stmt.where(c.assigned_to == assigned_to)
    return stmt


UNRESOLVED = (AlarmState.OPEN, AlarmState.ACKNOWLEDGED)


def alarm_views(engine: Engine | Connection, now: dt.datetime, states: Collection[AlarmState] = UNRESOLVED,
                assigned_to: str | None = None, *, offset: int = 0, limit: int | None = None) -> list[AlarmView]:
    """The alarms of :func:`_listed`, highest priority first, then oldest (then site, patient); ``offset`` and
    ``limit`` give a page of the list. ``now`` (naive UTC) dates their age. One statement."""
    return alarm_page(engine, now, states, assigned_to, offset=offset, limit=limit)[0]


def alarm_page(engine: Engine | Connection, now: dt.datetime, states: Collection[AlarmState] = UNRESOLVED,
               assigned_to: str | None = None, *, offset: int = 0, limit: int | None = None
               ) -> tuple[list[AlarmView], int]:
    """A page of :func:`alarm_views` and how many alarms the whole list has: one statement (the count is a window
    over the same rows), a second only for a page past the end."""
    c, p, s = models.ClinicAlarm, models.Patient, models.Site
    rank = case({priority.value: priority.rank for priority in AlarmPriority}, value=c.priority)
    stmt = (_listed(now, states, assigned_to).add_columns(c, s.code, p.patient_code, func.count().over())
            .order_by(rank, c.raised_at, s.code, p.patient_code, c.id).offset(offset).limit(limit))
    with connected(engine) as conn:
        with Session(conn) as session:
            rows = session.execute(stmt).all()
        if not rows:
            return [], conn.execute(_listed(now, states, assigned_to).add_columns(func.count())).scalar_one()
    return [_view(alarm, site, code, now) for alarm, site, code, _ in rows], rows[0][3]


def age_days(raised_at: dt.datetime, now: dt.datetime) -> int | None:
    """Whole days from ``raised_at`` to ``now`` (naive UTC); None for an alarm raised after ``now``."""
    return None if raised_at > now else (now - raised_at).days


def _view(a: models.ClinicAlarm, site: str, patient_code: str, now: dt.datetime) -> AlarmView:
    return AlarmView(site, patient_code, a.kind, a.severity, a.raised_at, age_days(a.raised_at, now),
                     AlarmSource(a.source), a.id, a.version, AlarmPriority(a.priority), AlarmState(a.state), a.detail,
                     a.acknowledged_by, a.acknowledged_at, a.assigned_to, a.assigned_by, a.assigned_at, a.resolved_by,
                     a.resolved_at, None if a.resolution is None else Resolution(a.resolution), a.resolution_note)


def open_alarms(engine: Engine | Connection, now: dt.datetime) -> list[OpenAlarm]:
    """Every unresolved alarm (open or acknowledged) of an active implant, highest priority first, then oldest;
    ``now`` (naive UTC) dates their age."""
    return alarm_views(engine, now)

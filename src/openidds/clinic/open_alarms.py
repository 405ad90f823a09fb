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

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openidds.clinic import models
from openidds.clinic.alarms import AlarmPriority, AlarmSource, AlarmState, Resolution
from openidds.clinic.queries import active_implants

__all__ = ["AlarmSource", "AlarmView", "OpenAlarm", "alarm_views", "open_alarms"]

RESOLVED_SHOWN_DAYS = 90
"""Resolved alarms are listed (when asked for) this many days after their resolution."""


def _iso(value: dt.datetime | None) -> str | None:
    return None if value is None else value.isoformat() + "Z"


@dataclass(frozen=True)
class AlarmView:
    """An alarm of a patient's pump in place, with its state and who acted on it when (naive UTC)."""

    site: str
    patient_id: str
    alarm: str
    severity: str
    since: dt.datetime
    age_days: int
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


def alarm_views(engine: Engine, now: dt.datetime, states: Collection[AlarmState] = (AlarmState.OPEN,
                                                                                      AlarmState.ACKNOWLEDGED),
                assigned_to: str | None = None) -> list[AlarmView]:
    """The alarms of active implants in ``states`` (resolved ones only if resolved within
    :data:`RESOLVED_SHOWN_DAYS` of ``now``), of ``assigned_to`` if given; highest priority first, then oldest.
    ``now`` (naive UTC) dates their age."""
    c, i, p, s = models.ClinicAlarm, models.Implant, models.Patient, models.Site
    stmt = (select(c, s.code, p.patient_code).join(i, i.id == c.implant_id).join(p, p.id == i.patient_id)
            .join(s, s.id == p.site_id).where(c.state.in_([state.value for state in states])))
    if AlarmState.RESOLVED in states:
        stmt = stmt.where((c.resolved_at.is_(None)) | (c.resolved_at >= now - dt.timedelta(days=RESOLVED_SHOWN_DAYS)))
    if assigned_to is not None:
        stmt = stmt.where(c.assigned_to == assigned_to)
    with Session(engine) as session:
        rows = session.execute(stmt).all()
        if not rows:
            return []
        implant_ids = {row[0].implant_id for row in rows}
        active = active_implants(session.connection(), select(i.patient_id).where(i.id.in_(implant_ids)))
    alarms = [_view(alarm, site, code, now) for alarm, site, code in rows if alarm.implant_id in active]
    return sorted(alarms, key=lambda a: (a.priority.rank, a.since, a.site, a.patient_id, a.id))


def _view(a: models.ClinicAlarm, site: str, patient_code: str, now: dt.datetime) -> AlarmView:
    return AlarmView(site, patient_code, a.kind, a.severity, a.raised_at, (now - a.raised_at).days,
                     AlarmSource(a.source), a.id, a.version, AlarmPriority(a.priority), AlarmState(a.state), a.detail,
                     a.acknowledged_by, a.acknowledged_at, a.assigned_to, a.assigned_by, a.assigned_at, a.resolved_by,
                     a.resolved_at, None if a.resolution is None else Resolution(a.resolution), a.resolution_note)


def open_alarms(engine: Engine, now: dt.datetime) -> list[OpenAlarm]:
    """Every unresolved alarm (open or acknowledged) of an active implant, highest priority first, then oldest;
    ``now`` (naive UTC) dates their age."""
    return alarm_views(engine, now)

"""Open alarms of the pumps in place: what the alarm board and the Today page list.

Two sources: alarms in a pump's own imported event log (``pump_events`` of kind ``alarm`` with no later
``alarm_cleared`` of the same alarm, see docs/wire.md) and alarm or fault records imported from the clinic's
files (``pump_alarms`` without a ``resolved_at``). Only active implants count (an explanted pump's alarms need
no action). Critical alarms come first, then the oldest.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from enum import Enum
from typing import Any

from sqlalchemy import Engine, select

from openidds.clinic import models
from openidds.clinic.queries import active_implants
from openidds.pump.events import EventKind


class AlarmSource(str, Enum):
    """Where an open alarm was read: the pump's own event log or the clinic's alarm records."""

    PUMP_LOG = "pump log"
    CLINIC_RECORD = "clinic record"


@dataclass(frozen=True)
class OpenAlarm:
    """An alarm not cleared, on a patient's pump in place."""

    site: str
    patient_id: str
    alarm: str
    severity: str
    since: dt.datetime
    age_days: int
    source: AlarmSource

    def to_dict(self) -> dict[str, Any]:
        out = asdict(self)
        out["since"], out["source"] = self.since.isoformat() + "Z", self.source.value
        return out


def open_alarms(engine: Engine, now: dt.datetime) -> list[OpenAlarm]:
    """Every open alarm of an active implant, critical first, then oldest first; ``now`` (naive UTC) dates
    their age."""
    e, a, i, p, s = models.PumpEvent, models.PumpAlarm, models.Implant, models.Patient, models.Site
    alarm_kinds = (EventKind.ALARM.value, EventKind.ALARM_CLEARED.value)
    events = (select(e.implant_id, e.seq, e.at, e.kind, e.data).where(e.kind.in_(alarm_kinds))
              .order_by(e.implant_id, e.seq))
    records = select(a.implant_id, a.at, a.code, a.severity).where(a.resolved_at.is_(None))
    who = select(i.id, s.code, p.patient_code).join(p, p.id == i.patient_id).join(s, s.id == p.site_id)
    with engine.connect() as conn:
        raised: dict[tuple[int, str], tuple[dt.datetime, str, AlarmSource]] = {}
        for implant_id, _seq, at, kind, data in conn.execute(events):
            key = (implant_id, str(data.get("alarm")))
            if kind == EventKind.ALARM.value:
                raised.setdefault(key, (at, str(data.get("severity", "")), AlarmSource.PUMP_LOG))
            else:
                raised.pop(key, None)
        for implant_id, at, code, severity in conn.execute(records):
            raised.setdefault((implant_id, code), (at, severity or "", AlarmSource.CLINIC_RECORD))
        implant_ids = {implant_id for implant_id, _ in raised}
        if not implant_ids:
            return []
        active = active_implants(conn, select(i.patient_id).where(i.id.in_(implant_ids)))
        names = {implant_id: (site, code) for implant_id, site, code in conn.execute(who.where(i.id.in_(active)))}
    alarms = [OpenAlarm(*names[implant_id], alarm, severity, at, (now - at).days, source)
              for (implant_id, alarm), (at, severity, source) in raised.items() if implant_id in active]
    return sorted(alarms, key=lambda x: (x.severity != "critical", x.since, x.site, x.patient_id))

"""The Today page's content: what the clinic has to do, for the logged-in user's role."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import Engine

from openidds.clinic import Finding, RefillDue, check_registry, refills_due
from openidds.clinic.follow_up import FollowUpDue, follow_ups_due
from openidds.clinic.open_alarms import OpenAlarm, open_alarms
from openidds.web.roles import Permission, Role, may, require

HORIZON_DAYS = 14
"""Refills and follow-up visits due within this many days are listed (overdue ones too)."""


@dataclass(frozen=True)
class Today:
    """Refills due, open alarms, follow-ups due, and (for a data manager) data-quality findings. The
    aliases are the JSON's names (:meth:`to_dict`, the API's schema)."""

    today: dt.date
    horizon_days: int
    refills: Annotated[list[RefillDue], Field(alias="refills_due")]
    alarms: Annotated[list[OpenAlarm], Field(alias="open_alarms")]
    follow_ups: Annotated[list[FollowUpDue], Field(alias="follow_ups_due")]
    findings: list[Finding] | None

    def to_dict(self) -> dict[str, Any]:
        return {"today": self.today.isoformat(), "horizon_days": self.horizon_days,
                "refills_due": [r.to_dict() for r in self.refills], "open_alarms": [a.to_dict() for a in self.alarms],
                "follow_ups_due": [f.to_dict() for f in self.follow_ups],
                "findings": None if self.findings is None else [f.to_dict() for f in self.findings]}


def today_for(engine: Engine, role: Role, now: dt.datetime) -> Today:
    """What needs doing on the day of ``now`` (naive UTC, from which the alarms' ages count); refused for a role
    without the Today page; findings only for a role that may see them."""
    require(role, Permission.VIEW_TODAY)
    today = now.date()
    findings = check_registry(engine, today) if may(role, Permission.VIEW_QUALITY_FINDINGS) else None
    return Today(today, HORIZON_DAYS, refills_due(engine, today, HORIZON_DAYS), open_alarms(engine, now),
                 follow_ups_due(engine, today, HORIZON_DAYS), findings)

"""The Today page's content: what the clinic has to do, a page of each list at a time.

A 10,000-patient clinic has about 1,900 refills due within 14 days: Today shows how many fall due each day (the
overdue ones together) and one page of each list (refills due, open alarms, follow-ups due), soonest or most urgent
first, each list paged on its own. The data-quality findings are on their own page (:func:`findings_for`): they
read the whole registry.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

from pydantic import Field
from sqlalchemy import Engine

from openidds.clinic import Finding, RefillDue, check_registry, refills_due
from openidds.clinic.follow_up import FollowUpDue, follow_ups_due
from openidds.clinic.open_alarms import OpenAlarm, alarm_page
from openidds.clinic.queries import DueDays, refills_due_by_day
from openidds.web.paging import PER_PAGE, Paging, check_page
from openidds.web.roles import Permission, Role, require

HORIZON_DAYS = 14
"""Refills and follow-up visits due within this many days are listed (overdue ones too)."""


@dataclass(frozen=True)
class TodayPages:
    """The page asked for of each of Today's lists (from 1), and the rows per page."""

    refills: int = 1
    alarms: int = 1
    follow_ups: int = 1
    per_page: int = PER_PAGE

    def __post_init__(self) -> None:
        for name in ("refills", "alarms", "follow_ups"):
            check_page(f"{name}_page", getattr(self, name), self.per_page)

    def paging(self, page: int, total: int) -> Paging:
        return Paging(page, self.per_page, total)


@dataclass(frozen=True)
class Today:
    """A page of each list: refills due with their counts by day, open alarms, follow-ups due. The aliases are the
    JSON's names (:meth:`to_dict`, the API's schema)."""

    today: dt.date
    horizon_days: int
    refills: Annotated[list[RefillDue], Field(alias="refills_due")]
    refills_by_day: DueDays
    refills_page: Paging
    alarms: Annotated[list[OpenAlarm], Field(alias="open_alarms")]
    alarms_page: Paging
    follow_ups: Annotated[list[FollowUpDue], Field(alias="follow_ups_due")]
    follow_ups_page: Paging

    def query(self, leaving_out: str | None = None) -> str:
        """The query string of this view (each list's page, the page size), without the page of list
        ``leaving_out`` (``refills``, ``alarms``, ``follow_ups``) if given."""
        shown = {"refills": self.refills_page.page, "alarms": self.alarms_page.page,
                 "follow_ups": self.follow_ups_page.page}
        out = [f"{name}_page={page}" for name, page in shown.items() if name != leaving_out]
        per_page = self.refills_page.per_page
        return "&".join(out if per_page == PER_PAGE else [*out, f"per_page={per_page}"])

    def to_dict(self) -> dict[str, Any]:
        return {"today": self.today.isoformat(), "horizon_days": self.horizon_days,
                "refills_due": [r.to_dict() for r in self.refills], "refills_by_day": self.refills_by_day.to_dict(),
                "refills_page": self.refills_page.to_dict(),
                "open_alarms": [a.to_dict() for a in self.alarms], "alarms_page": self.alarms_page.to_dict(),
                "follow_ups_due": [f.to_dict() for f in self.follow_ups],
                "follow_ups_page": self.follow_ups_page.to_dict()}


def today_for(engine: Engine, role: Role, now: dt.datetime, pages: TodayPages | None = None,
              today: dt.date | None = None) -> Today:
    """What needs doing on the clinic's day ``today`` (default: the UTC date of ``now``; a clinic in another time
    zone passes its own date), the asked page of each list, the alarms' ages counted from ``now`` (naive UTC);
    refused for a role without the Today page."""
    require(role, Permission.VIEW_TODAY)
    pages = pages or TodayPages()
    today, size = today or now.date(), pages.per_page
    with engine.connect() as conn:
        by_day = refills_due_by_day(conn, today, HORIZON_DAYS)
        refills = pages.paging(pages.refills, by_day.total)
        alarms, alarms_total = alarm_page(conn, now, offset=(pages.alarms - 1) * size, limit=size)
        follow_ups_all = follow_ups_due(conn, today, HORIZON_DAYS)
        follow_ups = pages.paging(pages.follow_ups, len(follow_ups_all))
        return Today(today, HORIZON_DAYS, refills_due(conn, today, HORIZON_DAYS, offset=refills.offset, limit=size),
                     by_day, refills, alarms, pages.paging(pages.alarms, alarms_total),
                     follow_ups_all[follow_ups.offset:follow_ups.offset + size], follow_ups)


def findings_for(engine: Engine, role: Role, today: dt.date) -> list[Finding]:
    """The data-quality findings of the registry for the clinic day (``openidds registry check``); refused for a
    role that may not see them."""
    require(role, Permission.VIEW_QUALITY_FINDINGS)
    return check_registry(engine, today)

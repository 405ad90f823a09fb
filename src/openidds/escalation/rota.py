"""The on-call rota: who holds a role at a given time, in the clinic's own time zone.

A shift covers a role on some days of the week from ``start`` to ``end`` local time; an ``end`` at or before
``start`` runs past midnight into the next day (``start == end``: 24 hours). Times are minutes of the week (Monday
00:00 is 0), so a rota's coverage is checked exactly: it only changes at a shift's start or end. One person holds a
role at a time: two shifts of one role that overlap are refused, as a gap is.
"""

from __future__ import annotations

import datetime as dt
from enum import Enum
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field

from openidds.weekday import Weekday

MINUTES_PER_DAY = 24 * 60
MINUTES_PER_WEEK = 7 * MINUTES_PER_DAY


class StaffRole(str, Enum):
    """A role a tier of escalation notifies, in the order a clinic usually escalates."""

    NURSE = "nurse"
    PHYSICIAN = "physician"
    CLINIC_LEAD = "clinic_lead"


ALL_DAYS = tuple(Weekday)


def minute_of_day(clock: dt.time) -> int:
    return clock.hour * 60 + clock.minute


class Shift(BaseModel):
    """One person holding one role on some days, ``start`` to ``end`` local time."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    role: StaffRole
    person: str = Field(min_length=1)
    days: tuple[Weekday, ...] = Field(default=ALL_DAYS, min_length=1)
    start: dt.time
    end: dt.time

    def spans(self) -> list[tuple[int, int]]:
        """The minutes of the week covered, as half-open ``[from, to)`` intervals (a Sunday night shift wraps)."""
        start, end = minute_of_day(self.start), minute_of_day(self.end)
        length = (end - start) % MINUTES_PER_DAY or MINUTES_PER_DAY
        out: list[tuple[int, int]] = []
        for day in self.days:
            begin = day.number * MINUTES_PER_DAY + start
            stop = begin + length
            if stop <= MINUTES_PER_WEEK:
                out.append((begin, stop))
            else:
                out += [(begin, MINUTES_PER_WEEK), (0, stop - MINUTES_PER_WEEK)]
        return out

    def covers(self, week_minute: int) -> bool:
        return any(begin <= week_minute < stop for begin, stop in self.spans())


def week_minute(at_utc: dt.datetime, zone: ZoneInfo) -> int:
    """The minute of the week, local time in ``zone``, of ``at_utc`` (naive UTC)."""
    local = at_utc.replace(tzinfo=dt.UTC).astimezone(zone)
    return local.weekday() * MINUTES_PER_DAY + local.hour * 60 + local.minute


def holders(rota: tuple[Shift, ...], role: StaffRole, minute: int) -> tuple[str, ...]:
    """Who holds ``role`` at ``minute`` of the week, each once, in rota order."""
    return tuple(dict.fromkeys(s.person for s in rota if s.role is role and s.covers(minute)))


def uncovered_minute(rota: tuple[Shift, ...], role: StaffRole) -> int | None:
    """The first minute of the week at which nobody holds ``role``, or ``None`` when the rota covers the whole week.

    Coverage only changes where a shift starts or ends, so those minutes (and Monday 00:00) are all it checks."""
    edges = {0}
    for shift in rota:
        if shift.role is role:
            for begin, stop in shift.spans():
                edges |= {begin, stop % MINUTES_PER_WEEK}
    return next((m for m in sorted(edges) if not holders(rota, role, m)), None)


def first_overlap(rota: tuple[Shift, ...], role: StaffRole) -> tuple[int, int, int] | None:
    """Two shifts of ``role`` that cover the same minute, as their places in the rota (the earlier first), and the
    first minute they share; ``None`` when one person at a time holds the role."""
    placed = [(i, s.spans()) for i, s in enumerate(rota) if s.role is role]
    for n, (first, first_spans) in enumerate(placed):
        for second, second_spans in placed[n + 1:]:
            shared = [max(b1, b2) for b1, e1 in first_spans for b2, e2 in second_spans if max(b1, b2) < min(e1, e2)]
            if shared:
                return first, second, min(shared)
    return None


def describe_minute(minute: int) -> str:
    """A minute of the week as people read it: ``'tue 03:00'``."""
    day, rest = divmod(minute, MINUTES_PER_DAY)
    return f"{ALL_DAYS[day].value} {rest // 60:02d}:{rest % 60:02d}"

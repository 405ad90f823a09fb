"""The refill calendar's content and actions, and each clinician's secret calendar feed.

Days and times are the clinic's own (:mod:`openidds.clinic.time_zone`): a week runs from Monday 00:00 to Sunday
24:00 local time, an appointment is shown on its local day at its local time, and the time a form gives is read as
local time (refused when the clocks skip it or pass it twice that day), stored as UTC.

A week (``2023-W28``) or a day shows the booked refill appointments and, unbooked, the refills due by its last
day (overdue ones too) from :func:`openidds.clinic.refills_due`: their counts by day, and a page of them. Nurses
and physicians book, move and cancel; a data manager sees the calendar.

A clinician's feed (``/calendar/feed/TOKEN.ics``) is read by a calendar app, which cannot log in: the token in
its address is the secret (256 random bits), kept in ``web_calendar_feeds`` and shown on the user's own page,
where they can replace it (the old address then answers 404). It is stored as it is, unlike a session token:
it only reads what the same database holds, and the user must be able to see it again. The feed holds no
patient name: site and patient code, place and time only.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Column, DateTime, Engine, ForeignKey, String, Table, delete, insert, select

from openidds.clinic import RefillDue, refills_due
from openidds.clinic import appointments as booking
from openidds.clinic.appointments import DEFAULT_MINUTES, Appointment, VisitPlace
from openidds.clinic.errors import ConcurrentUpdateError, UnknownRecord
from openidds.clinic.queries import DueDays, refills_due_by_day
from openidds.clinic.time_zone import DEFAULT_ZONE, ClinicZone
from openidds.web import accounts, ics
from openidds.web.errors import InputRefused, StaleEdit
from openidds.web.paging import PER_PAGE, Paging, check_page
from openidds.web.roles import Permission, Role, may, require

FEED_PAST_DAYS = 60
"""A feed holds appointments from this many days ago onwards (and every later one)."""

feeds_table = Table(
    "web_calendar_feeds", accounts.metadata,
    Column("user_id", ForeignKey("web_users.id", ondelete="CASCADE"), primary_key=True),
    Column("token", String(64), nullable=False, unique=True),
    Column("created_at", DateTime, nullable=False),
)


def parse_week(text: str) -> dt.date:
    """The Monday of an ISO week written ``YYYY-Www``."""
    try:
        year, week = text.split("-W")
        return dt.date.fromisocalendar(int(year), int(week), 1)
    except ValueError:
        raise InputRefused("week", text, "an ISO week such as 2023-W28") from None


def parse_day(text: str) -> dt.date:
    """A date written ``YYYY-MM-DD``."""
    try:
        return dt.date.fromisoformat(text)
    except ValueError:
        raise InputRefused("day", text, "a date such as 2023-07-10") from None


def week_label(day: dt.date) -> str:
    """The ISO week of ``day``, written ``YYYY-Www``."""
    year, week, _ = day.isocalendar()
    return f"{year}-W{week:02d}"


@dataclass(frozen=True)
class Calendar:
    """A week or a day of the refill calendar: its appointments, how many refills due by its last day are not booked
    (the overdue ones together, then day by day) and a page of them."""

    days: list[dt.date]
    label: str
    today: dt.date
    appointments: list[Appointment]
    due: list[RefillDue]
    due_by_day: DueDays
    due_page: Paging
    clinicians: list[str]
    previous: str
    next: str
    zone: ClinicZone

    def on(self, day: dt.date) -> list[Appointment]:
        """The appointments starting on ``day``, the clinic's local date."""
        return [a for a in self.appointments if self.zone.local(a.starts_at).date() == day]

    def due_on(self, day: dt.date) -> int:
        """How many unbooked refills fall due on ``day``."""
        return next((d.count for d in self.due_by_day.by_day if d.day == day), 0)

    @property
    def shown(self) -> str:
        """The query string of this week or day."""
        return f"day={self.label}" if len(self.days) == 1 else f"week={self.label}"

    def to_dict(self) -> dict[str, Any]:
        return {"label": self.label, "days": [d.isoformat() for d in self.days],
                "appointments": [a.to_dict() for a in self.appointments],
                "due_unbooked": [r.to_dict() for r in self.due], "due_unbooked_by_day": self.due_by_day.to_dict(),
                "due_unbooked_page": self.due_page.to_dict(), "clinicians": self.clinicians,
                "time_zone": self.zone.name}


def clinicians(engine: Engine) -> list[str]:
    """The users who may be booked for a refill: those whose role books refills."""
    return accounts.names_who_may(engine, Permission.BOOK_REFILLS)


def calendar_for(engine: Engine, role: Role, today: dt.date, week: str | None = None, day: str | None = None,
                 page: int = 1, per_page: int = PER_PAGE, *, zone: ClinicZone = ClinicZone(DEFAULT_ZONE)) -> Calendar:
    """The week ``week`` (default: today's) or the day ``day``, local days in the clinic's ``zone``, with page
    ``page`` of the refills due by its last day (counted from ``today``, the clinic's date) that have no
    appointment after their last refill."""
    require(role, Permission.VIEW_CALENDAR)
    check_page("page", page, per_page)
    if day:
        first = parse_day(day)
        days, label, step = [first], first.isoformat(), dt.timedelta(days=1)
        around = (f"day={(first - step).isoformat()}", f"day={(first + step).isoformat()}")
    else:
        first = parse_week(week) if week else today - dt.timedelta(days=today.weekday())
        days, label, step = [first + dt.timedelta(days=n) for n in range(7)], week_label(first), dt.timedelta(days=7)
        around = (f"week={week_label(first - step)}", f"week={week_label(first + step)}")
    shown = booking.appointments(engine, zone.day_start(first), zone.day_start(days[-1] + dt.timedelta(days=1)))
    within = (days[-1] - today).days
    with engine.connect() as conn:
        by_day = refills_due_by_day(conn, today, within, unbooked=True)
        paging = Paging(page, per_page, by_day.total)
        due = refills_due(conn, today, within, unbooked=True, offset=paging.offset, limit=per_page)
    return Calendar(days, label, today, shown, due, by_day, paging, clinicians(engine), *around, zone)


def _when(day: dt.date, time: dt.time, zone: ClinicZone) -> dt.datetime:
    """The naive-UTC start of a local ``time`` on ``day`` in the clinic's zone (a time with an offset names its
    moment itself); a local time the clocks skip or pass twice is refused (:class:`LocalTimeRefused`, HTTP 422)."""
    return zone.moment(dt.datetime.combine(day, time))


def _place(text: str) -> VisitPlace:
    try:
        return VisitPlace(text)
    except ValueError:
        raise InputRefused("place", text, f"one of {', '.join(p.value for p in VisitPlace)}") from None


def book(engine: Engine, user: accounts.SessionUser, site: str, patient_id: str, day: dt.date, time: dt.time,
         place: str, clinician: str, at: dt.datetime, duration_minutes: int = DEFAULT_MINUTES, *,
         zone: ClinicZone) -> int:
    """Book the next refill of a patient's pump in place, at the local ``time`` on ``day`` in the clinic's
    ``zone``; returns the appointment's id."""
    require(user.role, Permission.BOOK_REFILLS)
    return booking.book(engine, site, patient_id, _when(day, time, zone), duration_minutes, _place(place),
                        clinician, user.name, at, clinicians=clinicians(engine))


def move(engine: Engine, user: accounts.SessionUser, appointment_id: int, version: int, day: dt.date, time: dt.time,
         place: str, clinician: str, at: dt.datetime, duration_minutes: int = DEFAULT_MINUTES, *,
         zone: ClinicZone) -> None:
    """Change when (local ``time`` on ``day`` in the clinic's ``zone``), where or by whom an appointment (as seen
    at ``version``) is done."""
    require(user.role, Permission.BOOK_REFILLS)
    try:
        booking.move(engine, appointment_id, version, _when(day, time, zone), duration_minutes, _place(place),
                     clinician, user.name, at, clinicians=clinicians(engine))
    except ConcurrentUpdateError as exc:
        raise StaleEdit(exc.field, exc.value, exc.expected) from exc


def cancel(engine: Engine, user: accounts.SessionUser, appointment_id: int, version: int, at: dt.datetime) -> None:
    """Cancel an appointment (as seen at ``version``)."""
    require(user.role, Permission.BOOK_REFILLS)
    try:
        booking.cancel(engine, appointment_id, version, user.name, at)
    except ConcurrentUpdateError as exc:
        raise StaleEdit(exc.field, exc.value, exc.expected) from exc


def _user_id(conn: Any, name: str) -> int:
    user_id: int | None = conn.scalar(select(accounts.users_table.c.id).where(accounts.users_table.c.name == name))
    if user_id is None:
        raise UnknownRecord("user", name, "a user of the web app")
    return user_id


def feed_token(engine: Engine, user: accounts.SessionUser) -> str | None:
    """The user's calendar-feed token, if they made one."""
    with engine.connect() as conn:
        token: str | None = conn.scalar(select(feeds_table.c.token).where(feeds_table.c.user_id ==
                                                                          _user_id(conn, user.name)))
    return token


def new_feed_token(engine: Engine, user: accounts.SessionUser, now: dt.datetime) -> str:
    """A new feed token for the user (a clinician), replacing the old one; audited on the user's account
    (without the token)."""
    require(user.role, Permission.BOOK_REFILLS)
    token = secrets.token_urlsafe(32)
    with engine.begin() as conn:
        user_id = _user_id(conn, user.name)
        replaced = conn.execute(delete(feeds_table).where(feeds_table.c.user_id == user_id)).rowcount
        conn.execute(insert(feeds_table).values(user_id=user_id, token=token, created_at=now))
        accounts.audit_account(conn, user.name, now, "update", user_id, {"calendar_feed": "replaced" if replaced
                                                                                        else None},
                               {"calendar_feed": f"made {now.isoformat()}"}, "calendar feed")
    return token


def feed_text(engine: Engine, token: str, clinic_now: dt.datetime, stamp: dt.datetime, host: str) -> str:
    """The iCalendar text of the feed ``token``: its clinician's appointments from :data:`FEED_PAST_DAYS` before
    ``clinic_now`` onwards, cancelled ones included (so a subscribed calendar removes them), stamped ``stamp``.
    An unknown token, or one of a disabled user, is :class:`UnknownRecord` (404)."""
    u, f = accounts.users_table.c, feeds_table.c
    with engine.connect() as conn:
        row = conn.execute(select(u.name, u.role).join_from(feeds_table, accounts.users_table)
                           .where(f.token == token, u.disabled_at.is_(None))).first()
    if row is None or not may(Role(row.role), Permission.BOOK_REFILLS):
        raise UnknownRecord("feed", "<token>", "the address of a live calendar feed (its owner can copy it from "
                            "their own page)")
    booked = booking.appointments(engine, clinic_now - dt.timedelta(days=FEED_PAST_DAYS), dt.datetime.max,
                                  clinician=row.name, cancelled=True)
    return ics.calendar_text(f"OpenIDDS refills: {row.name}", booked, stamp, host)

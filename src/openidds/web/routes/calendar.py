"""The refill calendar: page, form actions (each redirects back to the calendar), the API, each clinician's
iCalendar feed (no log-in: its address is the secret) and the form that replaces that address."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Query, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from openidds.clinic.appointments import DEFAULT_MINUTES, MAX_MINUTES, MIN_MINUTES, VisitPlace
from openidds.web import calendar
from openidds.web.context import User, Web, Writer, needs
from openidds.web.paging import MAX_PAGE, MAX_PER_PAGE, PER_PAGE
from openidds.web.roles import Permission
from openidds.web.schemas import RecordId

router = APIRouter()

Site = Annotated[str, Form()]
PatientId = Annotated[str, Form()]
Day = Annotated[dt.date, Form(description="the appointment's date")]
Time = Annotated[dt.time, Form(description="its start: local time in the clinic's time zone (HH:MM), or a time "
                                                 "with an offset (09:00+02:00, 07:00Z)")]
Place = Annotated[str, Form(description="clinic or home")]
Clinician = Annotated[str, Form(description="the user who does the refill")]
Minutes = Annotated[int, Form(description=f"{MIN_MINUTES} to {MAX_MINUTES}")]
Version = Annotated[int, Form(description="the appointment's version as the user saw it")]
DuePage = Annotated[int, Query(ge=1, le=MAX_PAGE, description="the page of the refills due not booked, from 1")]
PerPage = Annotated[int, Query(ge=1, le=MAX_PER_PAGE, description="rows per page")]


def _back(day: dt.date) -> Response:
    return RedirectResponse(f"/calendar?week={calendar.week_label(day)}", status_code=303)


@router.get("/calendar", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[needs(Permission.VIEW_CALENDAR)])
def calendar_page(request: Request, web: Web, user: User, week: str | None = None, day: str | None = None,
                  page: DuePage = 1, per_page: PerPage = PER_PAGE) -> Response:
    zone = web.clinic_zone()
    shown = calendar.calendar_for(web.engine, user.role, web.clinic_today(zone), week, day, page, per_page, zone=zone)
    return web.page(request, "calendar.html", user, calendar=shown, clinic_zone=zone,
                    places=[p.value for p in VisitPlace], default_minutes=DEFAULT_MINUTES, min_minutes=MIN_MINUTES,
                    max_minutes=MAX_MINUTES)


@router.post("/calendar/appointments", include_in_schema=False, dependencies=[needs(Permission.BOOK_REFILLS)])
def book_form(web: Web, user: Writer, site: Site, patient_id: PatientId, date: Day, time: Time, place: Place,
              clinician: Clinician, duration_minutes: Minutes = DEFAULT_MINUTES) -> Response:
    calendar.book(web.engine, user, site, patient_id, date, time, place, clinician, web.clock(), duration_minutes,
                  zone=web.clinic_zone())
    return _back(date)


@router.post("/calendar/appointments/{appointment_id}/move", include_in_schema=False,
             dependencies=[needs(Permission.BOOK_REFILLS)])
def move_form(web: Web, user: Writer, appointment_id: RecordId, version: Version, date: Day, time: Time, place: Place,
              clinician: Clinician, duration_minutes: Minutes = DEFAULT_MINUTES) -> Response:
    calendar.move(web.engine, user, appointment_id, version, date, time, place, clinician, web.clock(),
                  duration_minutes, zone=web.clinic_zone())
    return _back(date)


@router.post("/calendar/appointments/{appointment_id}/cancel", include_in_schema=False,
             dependencies=[needs(Permission.BOOK_REFILLS)])
def cancel_form(web: Web, user: Writer, appointment_id: RecordId, version: Version) -> Response:
    calendar.cancel(web.engine, user, appointment_id, version, web.clock())
    return RedirectResponse("/calendar", status_code=303)


@router.post("/me/calendar-feed", include_in_schema=False, dependencies=[needs(Permission.BOOK_REFILLS)])
def new_feed_form(web: Web, user: Writer) -> Response:
    calendar.new_feed_token(web.engine, user, web.clock())
    return RedirectResponse("/me", status_code=303)


@router.get("/calendar/feed/{token}.ics", include_in_schema=False)
def calendar_feed(request: Request, web: Web, token: str) -> Response:
    text = calendar.feed_text(web.engine, token, web.clinic_now(), web.clock(), request.url.hostname or "localhost")
    return Response(text, media_type="text/calendar; charset=utf-8")


@router.get("/api/calendar", tags=["calendar"], dependencies=[needs(Permission.VIEW_CALENDAR)])
def api_calendar(web: Web, user: User, week: str | None = None, day: str | None = None, page: DuePage = 1,
                 per_page: PerPage = PER_PAGE) -> dict[str, Any]:
    """A week (``week=2023-W28``, default this week) or a day (``day=2023-07-10``): the booked refill
    appointments, and the refills due by its last day not yet booked: their counts by day and page ``page`` of
    them (``per_page`` rows, with the total)."""
    zone = web.clinic_zone()
    return calendar.calendar_for(web.engine, user.role, web.clinic_today(zone), week, day, page, per_page,
                                 zone=zone).to_dict()


@router.post("/api/appointments", tags=["calendar"], status_code=201, dependencies=[needs(Permission.BOOK_REFILLS)])
def api_book(web: Web, user: Writer, site: Site, patient_id: PatientId, date: Day, time: Time, place: Place,
             clinician: Clinician, duration_minutes: Minutes = DEFAULT_MINUTES) -> dict[str, int]:
    """Book the next refill of a patient's pump in place (nurse, physician); returns the appointment's id."""
    return {"id": calendar.book(web.engine, user, site, patient_id, date, time, place, clinician, web.clock(),
                                duration_minutes, zone=web.clinic_zone())}


@router.post("/api/appointments/{appointment_id}/move", tags=["calendar"], status_code=204,
             dependencies=[needs(Permission.BOOK_REFILLS)])
def api_move(web: Web, user: Writer, appointment_id: RecordId, version: Version, date: Day, time: Time, place: Place,
             clinician: Clinician, duration_minutes: Minutes = DEFAULT_MINUTES) -> Response:
    """Move an appointment; 409 if it changed since ``version``."""
    calendar.move(web.engine, user, appointment_id, version, date, time, place, clinician, web.clock(),
                  duration_minutes, zone=web.clinic_zone())
    return Response(status_code=204)


@router.post("/api/appointments/{appointment_id}/cancel", tags=["calendar"], status_code=204,
             dependencies=[needs(Permission.BOOK_REFILLS)])
def api_cancel(web: Web, user: Writer, appointment_id: RecordId, version: Version) -> Response:
    """Cancel an appointment; 409 if it changed since ``version``."""
    calendar.cancel(web.engine, user, appointment_id, version, web.clock())
    return Response(status_code=204)

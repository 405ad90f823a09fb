"""The alarm board: page, form actions (each redirects back to the board) and the API."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from openidds.clinic.alarms import REPORT_SOURCES
from openidds.pump.alarms import AlarmKind
from openidds.web import alarm_board
from openidds.web.context import User, Web, Writer, needs
from openidds.web.roles import Permission
from openidds.web.schemas import RecordId

router = APIRouter()

Version = Annotated[int, Form(description="the alarm's version as the user saw it")]
AssignedTo = Annotated[str, Form(description="the user who takes the alarm")]
_REASONS = ", ".join(r.value for r in alarm_board.USER_RESOLUTIONS)
Reason = Annotated[str, Form(description=f"why it is resolved: {_REASONS}")]
Note = Annotated[str | None, Form(description="what was done (needed for the reason 'other')")]


def _back() -> Response:
    return RedirectResponse("/alarms", status_code=303)


@router.get("/alarms", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[needs(Permission.VIEW_ALARMS)])
def alarms_page(request: Request, web: Web, user: User, state: str | None = None,
                assigned_to: str | None = None) -> Response:
    board = alarm_board.opened(web.engine, user, web.clinic_now(), web.clock(), state, assigned_to)
    return web.page(request, "alarms.html", user, board=board, filters=alarm_board.filters(),
                    kinds=[k.value for k in AlarmKind], reporters=[s.value for s in REPORT_SOURCES])


@router.post("/alarms/{alarm_id}/acknowledge", include_in_schema=False, dependencies=[needs(Permission.ACT_ON_ALARMS)])
def acknowledge_form(web: Web, user: Writer, alarm_id: RecordId, version: Version) -> Response:
    alarm_board.acknowledge(web.engine, user, alarm_id, version, web.clock())
    return _back()


@router.post("/alarms/{alarm_id}/assign", include_in_schema=False, dependencies=[needs(Permission.ACT_ON_ALARMS)])
def assign_form(web: Web, user: Writer, alarm_id: RecordId, version: Version, assigned_to: AssignedTo) -> Response:
    alarm_board.assign(web.engine, user, alarm_id, version, assigned_to, web.clock())
    return _back()


@router.post("/alarms/{alarm_id}/resolve", include_in_schema=False, dependencies=[needs(Permission.ACT_ON_ALARMS)])
def resolve_form(web: Web, user: Writer, alarm_id: RecordId, version: Version, resolution: Reason,
                 note: Note = None) -> Response:
    alarm_board.resolve(web.engine, user, alarm_id, version, resolution, note, web.clock())
    return _back()


@router.post("/alarms/report", include_in_schema=False, dependencies=[needs(Permission.ACT_ON_ALARMS)])
def report_form(web: Web, user: Writer, site: Annotated[str, Form()], patient_id: Annotated[str, Form()],
                kind: Annotated[str, Form()], heard_at: Annotated[dt.datetime, Form()], source: Annotated[str, Form()],
                detail: Annotated[str | None, Form()] = None) -> Response:
    alarm_board.report(web.engine, user, site, patient_id, kind, heard_at, source, detail, web.clock(),
                       web.clinic_zone())
    return _back()


@router.get("/api/alarms", tags=["alarms"], dependencies=[needs(Permission.VIEW_ALARMS)])
def api_alarms(web: Web, user: User, state: str | None = None, assigned_to: str | None = None) -> dict[str, Any]:
    """The alarm board: alarms of pumps in place by priority (IEC 60601-1-8) then age; ``state`` is
    unresolved (default), open, acknowledged or resolved (within 90 days); ``assigned_to`` a user name."""
    return alarm_board.board(web.engine, user.role, web.clinic_now(), state, assigned_to).to_dict()


@router.post("/api/alarms/{alarm_id}/acknowledge", tags=["alarms"], status_code=204,
             dependencies=[needs(Permission.ACT_ON_ALARMS)])
def api_acknowledge(web: Web, user: Writer, alarm_id: RecordId, version: Version) -> Response:
    """Acknowledge an open alarm (nurse, physician); 409 if it changed since ``version``."""
    alarm_board.acknowledge(web.engine, user, alarm_id, version, web.clock())
    return Response(status_code=204)


@router.post("/api/alarms/{alarm_id}/assign", tags=["alarms"], status_code=204,
             dependencies=[needs(Permission.ACT_ON_ALARMS)])
def api_assign(web: Web, user: Writer, alarm_id: RecordId, version: Version, assigned_to: AssignedTo) -> Response:
    """Assign an unresolved alarm to a nurse or physician; 409 if it changed since ``version``."""
    alarm_board.assign(web.engine, user, alarm_id, version, assigned_to, web.clock())
    return Response(status_code=204)


@router.post("/api/alarms/{alarm_id}/resolve", tags=["alarms"], status_code=204,
             dependencies=[needs(Permission.ACT_ON_ALARMS)])
def api_resolve(web: Web, user: Writer, alarm_id: RecordId, version: Version, resolution: Reason,
                note: Note = None) -> Response:
    """Resolve an unresolved alarm with its reason; 409 if it changed since ``version``."""
    alarm_board.resolve(web.engine, user, alarm_id, version, resolution, note, web.clock())
    return Response(status_code=204)


@router.post("/api/alarms", tags=["alarms"], status_code=201, dependencies=[needs(Permission.ACT_ON_ALARMS)])
def api_report(web: Web, user: Writer, site: Annotated[str, Form()], patient_id: Annotated[str, Form()],
               kind: Annotated[str, Form()], heard_at: Annotated[dt.datetime, Form()], source: Annotated[str, Form()],
               detail: Annotated[str | None, Form()] = None) -> dict[str, int]:
    """Record an alarm a patient or caregiver reports (``heard_at``: local time in the clinic's time zone, or with
    its offset); returns its id."""
    return {"id": alarm_board.report(web.engine, user, site, patient_id, kind, heard_at, source, detail, web.clock(),
                                     web.clinic_zone())}

"""The Today worklist: page, its htmx-refreshed sections, and the API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from openidds.web.accounts import SessionUser
from openidds.web.context import Web, needs
from openidds.web.roles import Permission
from openidds.web.today import Today, today_for

router = APIRouter()
TodayReader = Annotated[SessionUser, needs(Permission.VIEW_TODAY)]


@router.get("/today", response_class=HTMLResponse, include_in_schema=False)
def today_page(request: Request, web: Web, user: TodayReader) -> Response:
    return web.page(request, "today.html", user, today=today_for(web.engine, user.role, web.clinic_now()))


@router.get("/today/sections", response_class=HTMLResponse, include_in_schema=False)
def today_sections(request: Request, web: Web, user: TodayReader) -> Response:
    return web.page(request, "_today_sections.html", user, today=today_for(web.engine, user.role, web.clinic_now()))


@router.get("/api/today", tags=["worklists"], response_model=Today)
def api_today(web: Web, user: TodayReader) -> dict[str, Any]:
    """Refills and follow-ups due, open alarms and (data managers) data-quality findings."""
    return today_for(web.engine, user.role, web.clinic_now()).to_dict()

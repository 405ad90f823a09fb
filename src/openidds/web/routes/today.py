"""The Today worklist: page, its htmx-refreshed sections, the data-quality findings' page, and the API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import HTMLResponse

from openidds.clinic import Finding
from openidds.clinic.time_zone import ClinicZone
from openidds.web.accounts import SessionUser
from openidds.web.context import Web, needs
from openidds.web.paging import MAX_PAGE, MAX_PER_PAGE, PER_PAGE
from openidds.web.roles import Permission
from openidds.web.today import Today, TodayPages, findings_for, today_for

router = APIRouter()
TodayReader = Annotated[SessionUser, needs(Permission.VIEW_TODAY)]
FindingsReader = Annotated[SessionUser, needs(Permission.VIEW_QUALITY_FINDINGS)]
PageNumber = Annotated[int, Query(ge=1, le=MAX_PAGE, description="the page of this list, from 1")]


def _pages(refills_page: PageNumber = 1, alarms_page: PageNumber = 1, follow_ups_page: PageNumber = 1,
           per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE, description="rows per page of each list")] = PER_PAGE
           ) -> TodayPages:
    return TodayPages(refills_page, alarms_page, follow_ups_page, per_page)


Pages = Annotated[TodayPages, Depends(_pages)]


def _today(web: Web, user: SessionUser, pages: TodayPages, zone: ClinicZone) -> Today:
    return today_for(web.engine, user.role, web.clinic_now(), pages, web.clinic_today(zone))


@router.get("/today", response_class=HTMLResponse, include_in_schema=False)
def today_page(request: Request, web: Web, user: TodayReader, pages: Pages) -> Response:
    zone = web.clinic_zone()
    return web.page(request, "today.html", user, today=_today(web, user, pages, zone), clinic_zone=zone)


@router.get("/today/sections", response_class=HTMLResponse, include_in_schema=False)
def today_sections(request: Request, web: Web, user: TodayReader, pages: Pages) -> Response:
    zone = web.clinic_zone()
    return web.page(request, "_today_sections.html", user, today=_today(web, user, pages, zone), clinic_zone=zone)


@router.get("/today/findings", response_class=HTMLResponse, include_in_schema=False)
def findings_page(request: Request, web: Web, user: FindingsReader) -> Response:
    zone = web.clinic_zone()
    day = web.clinic_today(zone)
    return web.page(request, "findings.html", user, day=day, findings=findings_for(web.engine, user.role, day),
                    clinic_zone=zone)


@router.get("/api/today", tags=["worklists"], response_model=Today)
def api_today(web: Web, user: TodayReader, pages: Pages) -> dict[str, Any]:
    """Refills due (with their counts by day), open alarms and follow-ups due: one page of each list
    (``refills_page``, ``alarms_page``, ``follow_ups_page``, from 1; ``per_page`` rows), with each list's total."""
    return _today(web, user, pages, web.clinic_zone()).to_dict()


@router.get("/api/today/findings", tags=["worklists"], response_model=list[Finding])
def api_findings(web: Web, user: FindingsReader) -> list[dict[str, Any]]:
    """The data-quality findings of the registry for the clinic day (data managers)."""
    return [f.to_dict() for f in findings_for(web.engine, user.role, web.clinic_today(web.clinic_zone()))]

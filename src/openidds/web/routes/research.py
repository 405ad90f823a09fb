"""The researcher's patient list and timelines under research IDs with shifted dates: pages and API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import HTMLResponse

from openidds.web.context import User, Web, needs
from openidds.web.patient_plot import plot_response
from openidds.web.research_view import research_patients, research_series, research_timeline
from openidds.web.roles import Permission

router = APIRouter()


@router.get("/research/patients", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[needs(Permission.VIEW_RESEARCH_PATIENTS)])
def research_patients_page(request: Request, web: Web, user: User) -> Response:
    return web.page(request, "research_patients.html", user,
                    patients=research_patients(web.engine, user.role, web.research_seed))


@router.get("/research/patients/{research_id}", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[needs(Permission.VIEW_RESEARCH_PATIENTS)])
def research_patient_page(request: Request, web: Web, user: User, research_id: str) -> Response:
    zone = web.clinic_zone()
    return web.page(request, "research_patient.html", user, clinic_zone=zone,
                    timeline=research_timeline(web.engine, user.role, web.research_seed, research_id, zone.zone),
                    series=research_series(web.engine, user.role, web.research_seed, research_id))


@router.get("/research/patients/{research_id}/plot.svg", include_in_schema=False,
            dependencies=[needs(Permission.VIEW_RESEARCH_PATIENTS)])
def research_patient_plot(web: Web, user: User, research_id: str,
                          if_none_match: Annotated[str | None, Header()] = None) -> Response:
    """The patient's plot under their research ID, dates shifted (researchers)."""
    return plot_response(research_series(web.engine, user.role, web.research_seed, research_id), if_none_match)


@router.get("/api/research/patients", tags=["research"], dependencies=[needs(Permission.VIEW_RESEARCH_PATIENTS)])
def api_research_patients(web: Web, user: User) -> list[dict[str, Any]]:
    """Every patient under their research ID, dates shifted as in the research export (researchers)."""
    return [row.to_dict() for row in research_patients(web.engine, user.role, web.research_seed)]


@router.get("/api/research/patients/{research_id}", tags=["research"],
            dependencies=[needs(Permission.VIEW_RESEARCH_PATIENTS)])
def api_research_patient(web: Web, user: User, research_id: str) -> dict[str, Any]:
    """A patient's timeline under their research ID, dates shifted, each timed event on its shifted moment's date
    in the clinic's time zone (researchers)."""
    return research_timeline(web.engine, user.role, web.research_seed, research_id,
                             web.clinic_zone().zone).to_dict()

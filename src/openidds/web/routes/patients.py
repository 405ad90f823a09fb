"""The patient list and a patient's timeline: pages and API."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from openidds.web.context import User, Web
from openidds.web.patients import patient_list, timeline_for

router = APIRouter()


@router.get("/patients", response_class=HTMLResponse, include_in_schema=False)
def patients_page(request: Request, web: Web, user: User) -> Response:
    return web.page(request, "patients.html", user, patients=patient_list(web.engine, user.role))


@router.get("/patients/{site}/{patient_id}", response_class=HTMLResponse, include_in_schema=False)
def patient_page(request: Request, web: Web, user: User, site: str, patient_id: str) -> Response:
    return web.page(request, "patient.html", user, timeline=timeline_for(web.engine, user.role, site, patient_id))


@router.get("/api/patients", tags=["patients"])
def api_patients(web: Web, user: User) -> list[dict[str, Any]]:
    """Every patient with first implant and follow-up status."""
    return [row.to_dict() for row in patient_list(web.engine, user.role)]


@router.get("/api/patients/{site}/{patient_id}", tags=["patients"])
def api_patient(web: Web, user: User, site: str, patient_id: str) -> dict[str, Any]:
    """A patient's timeline; ``identifiers`` is null for a role that may not see them."""
    return timeline_for(web.engine, user.role, site, patient_id).to_dict()

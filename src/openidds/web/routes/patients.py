"""The patient list and a patient's timeline: pages and API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from openidds.clinic import PatientRow
from openidds.clinic.timeline import Timeline
from openidds.web.accounts import SessionUser
from openidds.web.context import Web, needs
from openidds.web.patients import patient_list, timeline_for
from openidds.web.roles import Permission
from openidds.web.schemas import PatientCode, SiteCode

router = APIRouter()
PatientReader = Annotated[SessionUser, needs(Permission.VIEW_PATIENTS)]


@router.get("/patients", response_class=HTMLResponse, include_in_schema=False)
def patients_page(request: Request, web: Web, user: PatientReader) -> Response:
    return web.page(request, "patients.html", user, patients=patient_list(web.engine, user.role))


@router.get("/patients/{site}/{patient_id}", response_class=HTMLResponse, include_in_schema=False)
def patient_page(request: Request, web: Web, user: PatientReader, site: SiteCode, patient_id: PatientCode) -> Response:
    zone = web.clinic_zone()
    return web.page(request, "patient.html", user, clinic_zone=zone,
                    timeline=timeline_for(web.engine, user.role, site, patient_id, zone.zone))


@router.get("/api/patients", tags=["patients"], response_model=list[PatientRow])
def api_patients(web: Web, user: PatientReader) -> list[dict[str, Any]]:
    """Every patient with first implant and follow-up status."""
    return [row.to_dict() for row in patient_list(web.engine, user.role)]


@router.get("/api/patients/{site}/{patient_id}", tags=["patients"], response_model=Timeline)
def api_patient(web: Web, user: PatientReader, site: SiteCode, patient_id: PatientCode) -> dict[str, Any]:
    """A patient's timeline, each entry on its date in the clinic's time zone; ``identifiers`` is null for a role
    that may not see them."""
    return timeline_for(web.engine, user.role, site, patient_id, web.clinic_zone().zone).to_dict()

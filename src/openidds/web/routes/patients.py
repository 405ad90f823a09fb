"""The patient list, a patient's timeline and its plot: pages and API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import HTMLResponse

from openidds.clinic import PatientRow
from openidds.clinic.patient_series import PatientSeries
from openidds.clinic.timeline import Timeline
from openidds.web.accounts import SessionUser
from openidds.web.context import Web, needs
from openidds.web.patient_plot import plot_response
from openidds.web.patients import patient_list, series_for, timeline_for
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
                    timeline=timeline_for(web.engine, user.role, site, patient_id, zone.zone),
                    series=series_for(web.engine, user.role, site, patient_id, zone.zone, web.clinic_today(zone)))


def _series(web: Web, user: SessionUser, site: str, patient_id: str) -> PatientSeries:
    zone = web.clinic_zone()
    return series_for(web.engine, user.role, site, patient_id, zone.zone, web.clinic_today(zone))


@router.get("/patients/{site}/{patient_id}/plot.svg", include_in_schema=False,
            responses={200: {"content": {"image/svg+xml": {}}}})
def patient_plot(web: Web, user: PatientReader, site: SiteCode, patient_id: PatientCode,
                 if_none_match: Annotated[str | None, Header()] = None) -> Response:
    """The patient's plot as SVG; its ETag is the series' digest, so an unchanged plot answers 304 unrendered."""
    return plot_response(_series(web, user, site, patient_id), if_none_match)


@router.get("/api/patients", tags=["patients"], response_model=list[PatientRow])
def api_patients(web: Web, user: PatientReader) -> list[dict[str, Any]]:
    """Every patient with first implant and follow-up status."""
    return [row.to_dict() for row in patient_list(web.engine, user.role)]


@router.get("/api/patients/{site}/{patient_id}", tags=["patients"], response_model=Timeline)
def api_patient(web: Web, user: PatientReader, site: SiteCode, patient_id: PatientCode) -> dict[str, Any]:
    """A patient's timeline, each entry on its date in the clinic's time zone; ``identifiers`` is null for a role
    that may not see them."""
    return timeline_for(web.engine, user.role, site, patient_id, web.clinic_zone().zone).to_dict()


@router.get("/api/patients/{site}/{patient_id}/series", tags=["patients"], response_model=PatientSeries)
def api_patient_series(web: Web, user: PatientReader, site: SiteCode, patient_id: PatientCode) -> dict[str, Any]:
    """The series the patient page plots: each drug's programmed daily dose (mg/day) as steps (``continuous``
    false: a flex or periodic program at its worst 24 hours), the NRS at each visit, each refill's residual
    discrepancy (mL) with its limit and the trend, times in the clinic's time zone."""
    return _series(web, user, site, patient_id).to_dict()

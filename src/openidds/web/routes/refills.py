"""The refill page: check the refill's steps, complete it, sign off the observation; and the JSON API."""

from __future__ import annotations

from enum import Enum
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, Field
from starlette.datastructures import FormData

from openidds.drugs import default_library
from openidds.errors import OpenIDDSError
from openidds.web import refills
from openidds.web.accounts import SessionUser
from openidds.web.context import JsonWriter, User, Web, Writer, needs
from openidds.web.forms import PASSED_ON, bad_input, form_values, moment, parse_input
from openidds.web.orders import order_from_form
from openidds.web.pump_view import POLICY, FormError, form_error
from openidds.web.roles import Permission
from openidds.web.schemas import PatientCode, SiteCode

router = APIRouter()


class ObservationSignOff(BaseModel):
    state_version: int
    note: str = Field(description="What was observed, e.g. 'no signs of overdose'.")


_MAPS = ("prescribed", "concentration", "concentration_again", "overrides")
_FORM_ONLY = ("action", "program", "drugs")
"""Fields that steer the form (which button, keep or change the program, the drugs of the new fill), not the entry."""


class ProgramChoice(str, Enum):
    """The program with the new fill: the present one kept (an unchanged concentration), or entered again."""

    KEEP = "keep"
    CHANGE = "change"


def _posted(form: FormData) -> tuple[dict[str, Any], bool]:
    """The refill form's values with the new program's order under ``therapy``, and whether a step button of the
    order posted it."""
    posted = order_from_form(form, refills.THERAPY_PREFIX)
    return form_values(posted.rest, maps=_MAPS, lists=("checklist",)) | {"therapy": posted.order}, posted.step_edit


def _entry_values(values: dict[str, Any]) -> dict[str, Any]:
    """The entry the form posts: without the fields that steer the form, and without the new program's fields
    when the present program is kept."""
    left_out = _FORM_ONLY if values.get("program") == ProgramChoice.CHANGE.value else (*_FORM_ONLY, "therapy")
    return {key: value for key, value in values.items() if key not in left_out}


def _drug_rows(values: dict[str, Any]) -> list[str]:
    """The drugs of the new fill as the form lists them (empty: the pump's present drugs)."""
    if values.get("drugs"):
        return [name.strip() for name in str(values["drugs"]).split(",") if name.strip()]
    return list(values.get("concentration") or values.get("prescribed") or {})


def _page(web: Web, request: Request, user: SessionUser, site: SiteCode, patient_id: PatientCode, status: int = 200,
          result: refills.RefillResult | None = None, values: dict[str, Any] | None = None,
          error: FormError | None = None) -> Response:
    view = refills.refill_view(web.engine, user, site, patient_id, moment(web), POLICY, default_library())
    values = values or {}
    rows = _drug_rows(values) or [d["drug"] for d in view.drugs]
    return web.page(request, "refill.html", user, status, view=view, result=result, values=values, rows=rows,
                    pump_patient=f"{site}/{patient_id}",
                    error=error if error is not None else (result.error if result is not None else None))


@router.get("/patients/{site}/{patient_id}/refill", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[needs(Permission.VIEW_PUMP)])
def refill_page(request: Request, web: Web, user: User, site: SiteCode, patient_id: PatientCode) -> Response:
    return _page(web, request, user, site, patient_id)


@router.post("/patients/{site}/{patient_id}/refill", response_class=HTMLResponse, include_in_schema=False,
             dependencies=[needs(Permission.REFILL)])
async def refill_form(request: Request, web: Web, user: Writer, site: SiteCode, patient_id: PatientCode) -> Response:
    """The refill form: ``action=check`` runs the steps and stores nothing, ``action=complete`` does the refill (or,
    with a new program, proposes it for a physician's confirmation); ``action=drugs`` and the step buttons show the
    form again with the drugs of the new fill or a flex step added or removed, storing nothing."""
    values, entry = None, None
    try:
        values, step_edit = _posted(await request.form())
        action = values.get("action", "check")
        if action == "drugs" or step_edit:
            return await run_in_threadpool(_page, web, request, user, site, patient_id, 200, None, values)
        entry = parse_input(refills.RefillInput, _entry_values(values))
    except OpenIDDSError as error:
        return await run_in_threadpool(_page, web, request, user, site, patient_id, 422, None, values,
                                       refills.refill_error(error, entry))
    act = refills.complete_refill if action == "complete" else refills.check_refill
    result = await run_in_threadpool(act, web.engine, user, site, patient_id, entry, moment(web), POLICY,
                                     default_library())
    if result.proposal_id is not None:
        return RedirectResponse(f"/patients/{site}/{patient_id}/program#proposal-{result.proposal_id}",
                                status_code=303)
    if result.done:
        return RedirectResponse(f"/patients/{site}/{patient_id}/refill", status_code=303)
    return await run_in_threadpool(_page, web, request, user, site, patient_id, 422 if result.error else 200,
                                   result, values)


@router.post("/patients/{site}/{patient_id}/refill/observation", response_class=HTMLResponse,
             include_in_schema=False, dependencies=[needs(Permission.REFILL)])
async def observation_form(request: Request, web: Web, user: Writer,
                           site: SiteCode, patient_id: PatientCode) -> Response:
    values = form_values(await request.form())
    try:
        entry = parse_input(ObservationSignOff, values)
        await run_in_threadpool(refills.complete_observation, web.engine, user, site, patient_id, entry.state_version,
                                entry.note, moment(web))
    except PASSED_ON:
        raise
    except OpenIDDSError as error:
        return await run_in_threadpool(_page, web, request, user, site, patient_id, 422, None, values,
                                       form_error(error, ("note", "observation")))
    return RedirectResponse(f"/patients/{site}/{patient_id}/refill", status_code=303)


# ---------------------------------------------------------------------- API


@router.get("/api/patients/{site}/{patient_id}/refill", tags=["refills"], dependencies=[needs(Permission.VIEW_PUMP)])
def api_refill(web: Web, user: User, site: SiteCode, patient_id: PatientCode) -> dict[str, Any]:
    """The pump now, the expected residual and discrepancy threshold, the patient's discrepancy history, the
    pocket-fill checklist and the last refill's observation."""
    return refills.refill_view(web.engine, user, site, patient_id, moment(web), POLICY,
                               default_library()).to_dict()


@router.post("/api/patients/{site}/{patient_id}/refill/check", tags=["refills"],
             responses={409: {"description": "The pump state changed since it was read: reload"}},
             dependencies=[needs(Permission.REFILL)])
def api_refill_check(web: Web, user: JsonWriter,
                     site: SiteCode, patient_id: PatientCode, entry: refills.RefillInput) -> Any:
    """Run the refill's steps on a copy of the pump and store nothing: the discrepancy, the trend, the review,
    what is still missing, or where it stopped (``error``)."""
    return refills.check_refill(web.engine, user, site, patient_id, entry, moment(web), POLICY,
                                default_library()).to_dict()


@router.post("/api/patients/{site}/{patient_id}/refills", tags=["refills"], status_code=201,
             responses={202: {"description": "A refill with a new program: proposed (``proposal_id``) for a "
                                             "physician's confirmation on the programming review; nothing sent"},
                        409: {"description": "The pump state changed since it was read: reload"},
                        422: {"description": "A step refused: the result with its error; nothing stored"}},
             dependencies=[needs(Permission.REFILL)])
def api_refill_complete(web: Web, user: JsonWriter,
                        site: SiteCode, patient_id: PatientCode, entry: refills.RefillInput) -> Any:
    """Do the refill: the state and the registry's refill row are stored in one transaction. With ``therapy`` (a
    new program, needed when a concentration changes) the refill is proposed instead (202)."""
    result = refills.complete_refill(web.engine, user, site, patient_id, entry, moment(web), POLICY,
                                     default_library())
    if result.proposal_id is not None:
        return JSONResponse(result.to_dict(), status_code=202)
    if not result.done:
        return JSONResponse(result.to_dict(), status_code=422)
    return result.to_dict()


@router.post("/api/patients/{site}/{patient_id}/refill/observation", tags=["refills"],
             responses={409: {"description": "The pump state changed since it was read: reload"},
                        422: {"description": "Too early, nothing to sign off, or no note"}},
             dependencies=[needs(Permission.REFILL)])
def api_observation(web: Web, user: JsonWriter,
                    site: SiteCode, patient_id: PatientCode, entry: ObservationSignOff) -> Any:
    """Sign off the last refill's post-refill observation (not before its end)."""
    try:
        refills.complete_observation(web.engine, user, site, patient_id, entry.state_version, entry.note,
                                     moment(web))
    except PASSED_ON:
        raise
    except OpenIDDSError as error:
        return bad_input(form_error(error, ("note", "observation")), error)
    return {"signed_off_by": user.name}

"""The programming review: the page and its forms, and the JSON API (propose, confirm, withdraw)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, Field

from openidds.drugs import default_library
from openidds.errors import OpenIDDSError
from openidds.web import programming
from openidds.web.accounts import SessionUser
from openidds.web.context import JsonWriter, User, Web, Writer, needs
from openidds.web.forms import PASSED_ON, bad_input, form_values, moment, parse_input
from openidds.web.orders import order_from_form
from openidds.web.proposals import ProposalStatus
from openidds.web.pump_view import POLICY, FormError, form_error
from openidds.web.roles import Permission
from openidds.web.schemas import PatientCode, RecordId, SiteCode

router = APIRouter()


def _page(web: Web, request: Request, user: SessionUser, site: SiteCode, patient_id: PatientCode, status: int = 200,
          error: FormError | None = None, values: dict[str, Any] | None = None,
          error_proposal: int | None = None) -> Response:
    view = programming.programming_view(web.engine, user, site, patient_id, moment(web), POLICY, default_library())
    return web.page(request, "programming.html", user, status, view=view, error=error, values=values or {},
                    pump_patient=f"{site}/{patient_id}",
                    error_proposal=error_proposal)


def _back(site: SiteCode, patient_id: PatientCode) -> Response:
    return RedirectResponse(f"/patients/{site}/{patient_id}/program", status_code=303)


@router.get("/patients/{site}/{patient_id}/program", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[needs(Permission.VIEW_PUMP)])
def programming_page(request: Request, web: Web, user: User, site: SiteCode, patient_id: PatientCode) -> Response:
    return _page(web, request, user, site, patient_id)


@router.post("/patients/{site}/{patient_id}/program/proposals", response_class=HTMLResponse, include_in_schema=False,
             dependencies=[needs(Permission.PROPOSE_PROGRAM)])
async def propose_form(request: Request, web: Web, user: Writer, site: SiteCode, patient_id: PatientCode) -> Response:
    """Propose a change; the step buttons add or remove a flex step and show the form again (nothing stored)."""
    form = await request.form()
    values, entry = form_values(form), None
    try:
        posted = order_from_form(form)
        values = form_values(posted.rest) | posted.order
        if posted.step_edit:
            return await run_in_threadpool(_page, web, request, user, site, patient_id, 200, None, values)
        entry = parse_input(programming.ProposalInput, values)
        await run_in_threadpool(programming.propose, web.engine, user, site, patient_id, entry, moment(web),
                                POLICY, default_library())
    except PASSED_ON:
        raise
    except OpenIDDSError as error:
        return await run_in_threadpool(_page, web, request, user, site, patient_id, 422,
                                       programming.proposal_error(error, entry), values)
    return _back(site, patient_id)


@router.post("/patients/{site}/{patient_id}/program/proposals/{proposal_id}/confirm", response_class=HTMLResponse,
             include_in_schema=False, dependencies=[needs(Permission.CONFIRM_PROGRAM)])
async def confirm_form(request: Request, web: Web, user: Writer, site: SiteCode, patient_id: PatientCode,
                       proposal_id: RecordId) -> Response:
    values = form_values(await request.form(), maps=("overrides",))
    try:
        entry = parse_input(programming.ConfirmInput, values)
        await run_in_threadpool(programming.confirm, web.engine, user, site, patient_id, proposal_id, entry,
                                moment(web), POLICY, default_library())
    except PASSED_ON:
        raise
    except OpenIDDSError as error:
        return await run_in_threadpool(_page, web, request, user, site, patient_id, 422,
                                       form_error(error, programming.CONFIRM_FIELDS), values, proposal_id)
    return _back(site, patient_id)


@router.post("/patients/{site}/{patient_id}/program/proposals/{proposal_id}/withdraw", response_class=HTMLResponse,
             include_in_schema=False, dependencies=[needs(Permission.PROPOSE_PROGRAM)])
async def withdraw_form(request: Request, web: Web, user: Writer, site: SiteCode, patient_id: PatientCode,
                        proposal_id: RecordId) -> Response:
    values = form_values(await request.form())
    why = str(values.get("why", ""))
    try:
        await run_in_threadpool(programming.withdraw, web.engine, user, site, patient_id, proposal_id, why,
                                moment(web))
    except PASSED_ON:
        raise
    except OpenIDDSError as error:
        return await run_in_threadpool(_page, web, request, user, site, patient_id, 422, form_error(error, ("why",)),
                                       values, proposal_id)
    return _back(site, patient_id)


# ---------------------------------------------------------------------- API


class Withdrawal(BaseModel):
    why: str = Field(description="Why the proposal is withdrawn.")


@router.get("/api/patients/{site}/{patient_id}/program", tags=["programming"],
            dependencies=[needs(Permission.VIEW_PUMP)])
def api_programming(web: Web, user: User, site: SiteCode, patient_id: PatientCode) -> dict[str, Any]:
    """The patient's pump now and every open proposal with its review (null when no pump state is stored)."""
    return programming.programming_view(web.engine, user, site, patient_id, moment(web), POLICY,
                                        default_library()).to_dict()


@router.post("/api/patients/{site}/{patient_id}/program/proposals", tags=["programming"], status_code=201,
             responses={422: {"description": "Bad input or a hard finding: field, value, expected, message"}},
             dependencies=[needs(Permission.PROPOSE_PROGRAM)])
def api_propose(web: Web, user: JsonWriter, site: SiteCode, patient_id: PatientCode,
                entry: programming.ProposalInput) -> Any:
    """Propose a therapy change (stored with its author and time; nothing reaches the pump model)."""
    try:
        proposal_id = programming.propose(web.engine, user, site, patient_id, entry, moment(web), POLICY,
                                          default_library())
    except PASSED_ON:
        raise
    except OpenIDDSError as error:
        return bad_input(programming.proposal_error(error, entry), error)
    return {"id": proposal_id}


@router.post("/api/patients/{site}/{patient_id}/program/proposals/{proposal_id}/confirm", tags=["programming"],
             responses={409: {"description": "The pump state changed since the proposal: reload"},
                        422: {"description": "Bad input or a refusal of the session: field, value, expected"}},
             dependencies=[needs(Permission.CONFIRM_PROGRAM)])
def api_confirm(web: Web, user: JsonWriter, site: SiteCode, patient_id: PatientCode, proposal_id: RecordId,
                entry: programming.ConfirmInput) -> Any:
    """Confirm a proposal: the whole programming session runs and what it sent is stored."""
    try:
        done = programming.confirm(web.engine, user, site, patient_id, proposal_id, entry, moment(web), POLICY,
                                   default_library())
    except PASSED_ON:
        raise
    except OpenIDDSError as error:
        return bad_input(form_error(error, programming.CONFIRM_FIELDS), error)
    return done.to_dict()


@router.post("/api/patients/{site}/{patient_id}/program/proposals/{proposal_id}/withdraw", tags=["programming"],
             responses={422: {"description": "No reason given"}}, dependencies=[needs(Permission.PROPOSE_PROGRAM)])
def api_withdraw(web: Web, user: JsonWriter, site: SiteCode, patient_id: PatientCode, proposal_id: RecordId,
                 entry: Withdrawal) -> Any:
    """Withdraw an open proposal (its proposer, or a clinician who may confirm); nothing is sent."""
    try:
        programming.withdraw(web.engine, user, site, patient_id, proposal_id, entry.why, moment(web))
    except PASSED_ON:
        raise
    except OpenIDDSError as error:
        return bad_input(form_error(error, ("why",)), error)
    return {"id": proposal_id, "status": ProposalStatus.WITHDRAWN.value}

"""The import page and API (data managers): upload CSV files, a REDCap export, or a pump log or pump state file for
an implant, see the row-by-row report."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse

from openidds.clinic.errors import RegistryError
from openidds.errors import OpenIDDSError
from openidds.web.accounts import SessionUser
from openidds.web.context import User, Web, Writer, needs
from openidds.web.imports import (
    ImplantChoice,
    ImportOutcome,
    Upload,
    UploadFormat,
    import_pump_log_upload,
    import_pump_state_upload,
    import_uploads,
)
from openidds.web.roles import Permission, require

router = APIRouter()


def _importer(user: Writer) -> SessionUser:
    """The CSRF-checked user of an import, refused (403) before the upload is read unless they may import."""
    require(user.role, Permission.IMPORT_RECORDS)
    return user


Importer = Annotated[SessionUser, Depends(_importer)]
Files = Annotated[list[UploadFile], File(description="CSV files, each named after its kind (visits.csv, ...)")]
OneFile = Annotated[UploadFile | None, File(description="REDCap: the data dictionary or the records export")]
LogFile = Annotated[UploadFile | None, File(description="pump-log: the pump's exported event log (wire JSON)")]
StateFile = Annotated[UploadFile | None, File(description="pump-state: the programmer's signed pump state file")]
Text = Annotated[str | None, Form()]


@dataclass
class ImportForm:
    """What an import request posts: the format and its files, the implant of a pump log or state, the encoding."""

    fmt: UploadFormat
    files: list[UploadFile]
    dictionary: UploadFile | None
    records: UploadFile | None
    log: UploadFile | None
    state: UploadFile | None
    site: str | None
    patient_id: str | None
    implant_date: str | None
    encoding: str | None


def _import_form(fmt: Annotated[UploadFormat, Form(alias="format")], files: Files = [],  # noqa: B006
                 dictionary: OneFile = None, records: OneFile = None, log: LogFile = None, state: StateFile = None,
                 site: Annotated[str | None, Form(description="pump-log, pump-state: the patient's site code")] = None,
                 patient_id: Annotated[str | None, Form(description="pump-log, pump-state: the patient's ID at the "
                                                                    "site")] = None,
                 implant_date: Annotated[str | None, Form(description="pump-log, pump-state: the implant date, "
                                                                      "YYYY-MM-DD")] = None,
                 encoding: Text = None) -> ImportForm:
    return ImportForm(fmt, files, dictionary, records, log, state, site, patient_id, implant_date, encoding)


Posted = Annotated[ImportForm, Depends(_import_form)]


def _implant(form: ImportForm) -> ImplantChoice:
    """The implant a pump log or state is for, each missing or malformed field refused by name."""
    for name in ("site", "patient_id", "implant_date"):
        if not getattr(form, name):
            raise RegistryError(name, None, "the implant the pump's file comes from: site, patient ID and implant "
                                "date")
    assert form.site and form.patient_id and form.implant_date, "checked above"
    try:
        implant_date = dt.date.fromisoformat(form.implant_date)
    except ValueError:
        raise RegistryError("implant_date", form.implant_date, "a date as YYYY-MM-DD") from None
    return ImplantChoice(form.site, form.patient_id, implant_date)


async def _run(web: Web, user: SessionUser, form: ImportForm) -> ImportOutcome:
    chosen: dict[UploadFormat, list[UploadFile | None]] = {
        UploadFormat.CSV: list(form.files), UploadFormat.REDCAP: [form.dictionary, form.records],
        UploadFormat.PUMP_LOG: [form.log], UploadFormat.PUMP_STATE: [form.state]}
    uploads = [Upload(f.filename or "", await f.read()) for f in chosen[form.fmt] if f is not None and f.filename]
    if form.fmt is UploadFormat.PUMP_LOG:
        return import_pump_log_upload(web.engine, user.role, user.name, _implant(form), uploads,
                                      form.encoding or None)
    if form.fmt is UploadFormat.PUMP_STATE:
        return import_pump_state_upload(web.engine, user.role, user.name, _implant(form), uploads, web.state_key)
    return import_uploads(web.engine, user.role, user.name, form.fmt, uploads, form.encoding or None)


def _page(request: Request, web: Web, user: SessionUser, status: int = 200, outcome: ImportOutcome | None = None,
          message: str | None = None, form: ImportForm | None = None) -> Response:
    return web.page(request, "import.html", user, status, outcome=outcome, message=message,
                    chosen=UploadFormat.CSV if form is None else form.fmt, form=form,
                    state_key=web.state_key is not None)


@router.get("/import", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[needs(Permission.IMPORT_RECORDS)])
def import_page(request: Request, web: Web, user: User) -> Response:
    require(user.role, Permission.IMPORT_RECORDS)
    return _page(request, web, user)


@router.post("/import", response_class=HTMLResponse, include_in_schema=False,
             dependencies=[needs(Permission.IMPORT_RECORDS)])
async def import_upload(request: Request, web: Web, user: Importer, form: Posted) -> Response:
    try:
        outcome = await _run(web, user, form)
    except OpenIDDSError as exc:
        return _page(request, web, user, 422, message=str(exc), form=form)
    return _page(request, web, user, 422 if outcome.refused else 200, outcome, form=form)


@router.post("/api/import", tags=["import"],
             responses={422: {"description": "refused: `findings` row by row (nothing written), or the request"}},
             dependencies=[needs(Permission.IMPORT_RECORDS)])
async def api_import(web: Web, user: Importer, form: Posted) -> Any:
    """Import CSV files (``files``, each named after its kind), a REDCap export (``dictionary`` and ``records``),
    a pump's event log (``log``) or a programmer's pump state file (``state``, checked with the server's state
    key), each of these two with ``site``, ``patient_id`` and ``implant_date``: all or nothing, checked row by row,
    as ``openidds registry import`` (data managers)."""
    try:
        outcome = await _run(web, user, form)
    except OpenIDDSError as exc:
        return JSONResponse({"error": type(exc).__name__, "field": exc.field, "value": exc.value,
                             "expected": exc.expected, "message": str(exc)}, status_code=422)
    if outcome.summary is None:
        return JSONResponse({"error": "ImportRejected", "source": outcome.source,
                             "findings": [f.to_dict() for f in outcome.findings]}, status_code=422)
    return {"source": outcome.source, **outcome.summary.to_dict()}

"""Data entry: a patient's visits, complications and exit, their add and edit forms, and the API."""

from __future__ import annotations

from typing import Any, TypeVar

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from pydantic import BaseModel, ValidationError

from openidds.clinic.entry import EntryRefused, RecordKind, StoredRecord
from openidds.web.context import User, Web, Writer, needs
from openidds.web.data_entry import entry_kinds, record_for_edit, records_for, require_entry, save
from openidds.web.errors import StaleEdit
from openidds.web.roles import Permission
from openidds.web.schemas import PatientCode, RecordId, SiteCode

router = APIRouter()
_FORM_META = {"csrf_token", "version"}
_Body = TypeVar("_Body", bound=BaseModel)


def _records_url(site: SiteCode, patient_id: PatientCode) -> str:
    return f"/patients/{site}/{patient_id}/records"


def _form(request: Request, web: Web, user: Any, kind: RecordKind, site: SiteCode, patient_id: PatientCode,
          cells: dict[str, str], record: StoredRecord | None, status: int = 200, errors: dict[str, str] | None = None,
          others: list[str] | None = None, stale: str | None = None) -> Response:
    return web.page(request, "record_form.html", user, status, kind=kind, spec=kind.spec, site=site,
                    patient_id=patient_id, cells=cells, record=record, errors=errors or {}, others=others or [],
                    stale=stale, back=_records_url(site, patient_id))


@router.get("/patients/{site}/{patient_id}/records", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[needs(Permission.VIEW_PATIENTS)])
def records_page(request: Request, web: Web, user: User, site: SiteCode, patient_id: PatientCode) -> Response:
    records = records_for(web.engine, user.role, site, patient_id)
    return web.page(request, "records.html", user, site=site, patient_id=patient_id, records=records,
                    may_enter=entry_kinds(user.role))


@router.get("/patients/{site}/{patient_id}/records/{kind}/new", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[needs(Permission.VIEW_PATIENTS)])
def new_record_form(request: Request, web: Web, user: User,
                    site: SiteCode, patient_id: PatientCode, kind: RecordKind) -> Response:
    require_entry(user.role, kind)
    records_for(web.engine, user.role, site, patient_id)  # an unknown patient: 404
    return _form(request, web, user, kind, site, patient_id, {}, None)


@router.get("/patients/{site}/{patient_id}/records/{kind}/{record_id}", response_class=HTMLResponse,
            include_in_schema=False, dependencies=[needs(Permission.VIEW_PATIENTS)])
def edit_record_form(request: Request, web: Web, user: User, site: SiteCode, patient_id: PatientCode, kind: RecordKind,
                     record_id: RecordId) -> Response:
    record = record_for_edit(web.engine, user.role, kind, site, patient_id, record_id)
    return _form(request, web, user, kind, site, patient_id, record.texts(), record)


async def _cells(request: Request) -> tuple[dict[str, str], str | None]:
    form = await request.form()
    cells = {k: v for k, v in form.items() if isinstance(v, str) and k not in _FORM_META}
    version = form.get("version")
    return cells, version if isinstance(version, str) else None


def _saved_or_form(request: Request, web: Web, user: Any, kind: RecordKind, site: SiteCode, patient_id: PatientCode,
                   cells: dict[str, str], record_id: RecordId | None, version_text: str | None) -> Response:
    record = None if record_id is None else record_for_edit(web.engine, user.role, kind, site, patient_id, record_id)
    version = None
    if record_id is not None:
        if version_text is None or not version_text.isdigit():
            return _form(request, web, user, kind, site, patient_id, cells, record, 422,
                         others=[f"version={version_text!r}: expected the version the form was loaded with "
                                 "(reload the record)"])
        version = int(version_text)
    try:
        save(web.engine, user.role, user.name, kind, site, patient_id, cells, record_id, version, web.clock)
    except EntryRefused as exc:
        return _form(request, web, user, kind, site, patient_id, cells, record, 422, exc.errors, exc.others)
    except StaleEdit as exc:
        return _form(request, web, user, kind, site, patient_id, cells, record, 409, stale=str(exc))
    return RedirectResponse(_records_url(site, patient_id), status_code=303)


@router.post("/patients/{site}/{patient_id}/records/{kind}/new", response_class=HTMLResponse,
             include_in_schema=False, dependencies=[needs(Permission.VIEW_PATIENTS)])
async def add_record(request: Request, web: Web, user: Writer, site: SiteCode, patient_id: PatientCode,
                     kind: RecordKind) -> Response:
    cells, _ = await _cells(request)
    return _saved_or_form(request, web, user, kind, site, patient_id, cells, None, None)


@router.post("/patients/{site}/{patient_id}/records/{kind}/{record_id}", response_class=HTMLResponse,
             include_in_schema=False, dependencies=[needs(Permission.VIEW_PATIENTS)])
async def edit_record(request: Request, web: Web, user: Writer,
                      site: SiteCode, patient_id: PatientCode, kind: RecordKind,
                      record_id: RecordId) -> Response:
    cells, version = await _cells(request)
    return _saved_or_form(request, web, user, kind, site, patient_id, cells, record_id, version)


def _json(record: StoredRecord) -> dict[str, Any]:
    return {"kind": record.kind.value, "id": record.record_id, "version": record.version, "label": record.label,
            "values": record.texts()}


def _refused(exc: EntryRefused) -> JSONResponse:
    return JSONResponse({"error": type(exc).__name__, "field": exc.field, "value": exc.value, "expected": exc.expected,
                         "message": str(exc), "errors": exc.errors, "others": exc.others}, status_code=422)


@router.get("/api/patients/{site}/{patient_id}/records", tags=["data entry"],
            dependencies=[needs(Permission.VIEW_PATIENTS)])
def api_records(web: Web, user: User, site: SiteCode, patient_id: PatientCode) -> dict[str, list[dict[str, Any]]]:
    """The patient's visits, complications and exit, each with its id and version (roles that enter them)."""
    return {kind.value: [_json(r) for r in rows]
            for kind, rows in records_for(web.engine, user.role, site, patient_id).items()}


class NewRecord(BaseModel):
    """A new record: each field's text, read as the import reads a file's cells (a field left out: no value)."""

    values: dict[str, str]


class ChangedRecord(NewRecord):
    """A record's fields replaced, from the ``version`` it was read at."""

    version: int


def _body(model: type[BaseModel]) -> dict[str, Any]:
    """The OpenAPI request body of a JSON write (read by the route itself: the CSRF dependency takes a form field,
    so FastAPI would read a declared body as a form)."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": model.model_json_schema()}}}}


def _invalid(field: str, value: Any, expected: str) -> JSONResponse:
    return JSONResponse({"error": "InvalidBody", "field": field, "value": value, "expected": expected,
                         "message": f"{field}={value!r}: expected {expected}"}, status_code=422)


async def _read(request: Request, model: type[_Body]) -> _Body | JSONResponse:
    """The request's JSON body as ``model``, or the 422 answer saying what was expected."""
    content_type = request.headers.get("content-type", "")
    if not content_type.startswith("application/json"):
        return _invalid("Content-Type", content_type, f"application/json: {model.__doc__}")
    try:
        return model.model_validate_json(await request.body())
    except ValidationError as exc:
        first = exc.errors()[0]
        return _invalid(".".join(map(str, first["loc"])) or "body", first.get("input"),
                        f"{model.__doc__} ({first['msg']})")


@router.post("/api/patients/{site}/{patient_id}/records/{kind}", tags=["data entry"], status_code=201,
             openapi_extra=_body(NewRecord),
             responses={422: {"description": "a value or rule refused: `errors` by field, `others`"}},
             dependencies=[needs(Permission.VIEW_PATIENTS)])
async def api_add_record(request: Request, web: Web, user: Writer, site: SiteCode, patient_id: PatientCode,
                         kind: RecordKind) -> Any:
    """Add a record from its fields' text, read as the import reads a file's cells."""
    require_entry(user.role, kind)
    body = await _read(request, NewRecord)
    if isinstance(body, JSONResponse):
        return body
    try:
        return _json(save(web.engine, user.role, user.name, kind, site, patient_id, body.values, None, None,
                          web.clock))
    except EntryRefused as exc:
        return _refused(exc)


@router.put("/api/patients/{site}/{patient_id}/records/{kind}/{record_id}", tags=["data entry"],
            openapi_extra=_body(ChangedRecord),
            responses={409: {"description": "changed by another user since `version`"},
                       422: {"description": "a value or rule refused: `errors` by field, `others`"}},
            dependencies=[needs(Permission.VIEW_PATIENTS)])
async def api_edit_record(request: Request, web: Web, user: Writer,
                          site: SiteCode, patient_id: PatientCode, kind: RecordKind,
                          record_id: RecordId) -> Any:
    """Replace a record's fields with ``values``, from the ``version`` it was read at."""
    require_entry(user.role, kind)
    body = await _read(request, ChangedRecord)
    if isinstance(body, JSONResponse):
        return body
    try:
        return _json(save(web.engine, user.role, user.name, kind, site, patient_id, body.values, record_id,
                          body.version, web.clock))
    except EntryRefused as exc:
        return _refused(exc)

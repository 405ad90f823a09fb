"""The import page and API (data managers): upload CSV files or a REDCap export, see the row-by-row report."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Request, Response, UploadFile
from fastapi.responses import HTMLResponse, JSONResponse

from openidds.errors import OpenIDDSError
from openidds.web.accounts import SessionUser
from openidds.web.context import User, Web, Writer, needs
from openidds.web.imports import ImportOutcome, Upload, UploadFormat, import_uploads
from openidds.web.roles import Permission, require

router = APIRouter()


def _importer(user: Writer) -> SessionUser:
    """The CSRF-checked user of an import, refused (403) before the upload is read unless they may import."""
    require(user.role, Permission.IMPORT_RECORDS)
    return user


Importer = Annotated[SessionUser, Depends(_importer)]
Files = Annotated[list[UploadFile], File(description="CSV files, each named after its kind (visits.csv, ...)")]
OneFile = Annotated[UploadFile | None, File(description="REDCap: the data dictionary or the records export")]


async def _uploads(fmt: UploadFormat, files: list[UploadFile], dictionary: UploadFile | None,
                   records: UploadFile | None) -> list[Upload]:
    chosen = [dictionary, records] if fmt is UploadFormat.REDCAP else files
    return [Upload(f.filename or "", await f.read()) for f in chosen if f is not None and f.filename]


async def _run(web: Web, user: Any, fmt: UploadFormat, files: list[UploadFile], dictionary: UploadFile | None,
               records: UploadFile | None, encoding: str | None) -> ImportOutcome:
    uploads = await _uploads(fmt, files, dictionary, records)
    return import_uploads(web.engine, user.role, user.name, fmt, uploads, encoding or None)


@router.get("/import", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[needs(Permission.IMPORT_RECORDS)])
def import_page(request: Request, web: Web, user: User) -> Response:
    require(user.role, Permission.IMPORT_RECORDS)
    return web.page(request, "import.html", user, outcome=None, message=None, formats=list(UploadFormat))


@router.post("/import", response_class=HTMLResponse, include_in_schema=False,
             dependencies=[needs(Permission.IMPORT_RECORDS)])
async def import_upload(request: Request, web: Web, user: Importer, fmt: Annotated[UploadFormat, Form(alias="format")],
                        files: Files = [], dictionary: OneFile = None, records: OneFile = None,  # noqa: B006
                        encoding: Annotated[str | None, Form()] = None) -> Response:
    try:
        outcome = await _run(web, user, fmt, files, dictionary, records, encoding)
    except OpenIDDSError as exc:
        return web.page(request, "import.html", user, 422, outcome=None, message=str(exc), formats=list(UploadFormat))
    return web.page(request, "import.html", user, 422 if outcome.refused else 200, outcome=outcome, message=None,
                    formats=list(UploadFormat))


@router.post("/api/import", tags=["import"],
             responses={422: {"description": "refused: `findings` row by row (nothing written), or the request"}},
             dependencies=[needs(Permission.IMPORT_RECORDS)])
async def api_import(web: Web, user: Importer, fmt: Annotated[UploadFormat, Form(alias="format")],
                     files: Files = [], dictionary: OneFile = None, records: OneFile = None,  # noqa: B006
                     encoding: Annotated[str | None, Form()] = None) -> Any:
    """Import CSV files (``files``, each named after its kind) or a REDCap export (``dictionary`` and
    ``records``): all or nothing, checked row by row, as ``openidds registry import`` (data managers)."""
    try:
        outcome = await _run(web, user, fmt, files, dictionary, records, encoding)
    except OpenIDDSError as exc:
        return JSONResponse({"error": type(exc).__name__, "field": exc.field, "value": exc.value,
                             "expected": exc.expected, "message": str(exc)}, status_code=422)
    if outcome.summary is None:
        return JSONResponse({"error": "ImportRejected", "source": outcome.source,
                             "findings": [f.to_dict() for f in outcome.findings]}, status_code=422)
    return {"source": outcome.source, **outcome.summary.to_dict()}

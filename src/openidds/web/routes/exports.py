"""The exports page and its downloads (data managers; researchers: the de-identified research export only)."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from openidds.web.context import User, Web, needs
from openidds.web.errors import Forbidden
from openidds.web.exports import DESCRIPTIONS, ExportKind, export, export_kinds, recent_exports
from openidds.web.roles import Permission, may

router = APIRouter()


@router.get("/exports", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[needs(Permission.EXPORT_RESEARCH)])
def exports_page(request: Request, web: Web, user: User) -> Response:
    kinds = export_kinds(user.role)
    if not kinds:
        raise Forbidden("role", user.role.value, "a role that exports (data_manager, researcher)")
    recent = recent_exports(web.engine, user.role) if may(user.role, Permission.EXPORT_REGISTRY) else None
    return web.page(request, "exports.html", user, kinds=kinds, descriptions=DESCRIPTIONS,
                    research_seed=web.research_seed, recent=recent)


@router.get("/api/exports/{kind}", tags=["exports"], response_class=Response,
            responses={200: {"description": "the file, as an attachment"}},
            dependencies=[needs(Permission.EXPORT_RESEARCH)])
def export_download(web: Web, user: User, kind: ExportKind) -> Response:
    """Download an export: ``analysis``, ``records``, ``redcap-dictionary``, ``redcap`` and ``fhir`` (data
    managers), ``research`` and ``research-redcap`` (researchers and data managers; the server's research seed).
    Each download is an entry of the audit trail: the user, the kind, the file's name, size and SHA-256."""
    done = export(web.engine, user.name, user.role, kind, web.research_seed, web.clock())
    return Response(done.data, media_type=done.media_type,
                    headers={"Content-Disposition": f'attachment; filename="{done.name}"'})

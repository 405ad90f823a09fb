"""The report page: build the study report (htmx shows that it is being built), view it, download the PDF."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from openidds.errors import OpenIDDSError
from openidds.web.context import User, Web, Writer, needs
from openidds.web.reports import build_report, built_report
from openidds.web.roles import Permission, require

router = APIRouter()
_REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; "
               "base-uri 'none'; form-action 'none'")
"""The report's own page: its inline style and SVG figures as data URIs, nothing else (it has no script)."""


@router.get("/report", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[needs(Permission.BUILD_REPORT)])
def report_page(request: Request, web: Web, user: User) -> Response:
    require(user.role, Permission.BUILD_REPORT)
    return web.page(request, "report.html", user, report=None, message=None)


@router.post("/report", response_class=HTMLResponse, include_in_schema=False,
             dependencies=[needs(Permission.BUILD_REPORT)])
def report_build(request: Request, web: Web, user: Writer) -> Response:
    partial = request.headers.get("HX-Request") == "true"
    template = "_report_built.html" if partial else "report.html"
    require(user.role, Permission.BUILD_REPORT)
    try:
        report = build_report(web.engine, user.role)
    except OpenIDDSError as exc:  # a dataset the report refuses, e.g. no implanted patient yet
        return web.page(request, template, user, 422, report=None, message=str(exc))
    return web.page(request, template, user, report=report, message=None)


@router.get("/report/{dataset_sha256}/report.html", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[needs(Permission.BUILD_REPORT)])
def report_html(web: Web, user: User, dataset_sha256: str) -> Response:
    report = built_report(web.engine, user.role, dataset_sha256)
    return HTMLResponse(report.html(), headers={"Content-Security-Policy": _REPORT_CSP})


@router.get("/api/report/{dataset_sha256}/report.pdf", tags=["report"], response_class=Response,
            responses={200: {"description": "the report as PDF, an attachment"}},
            dependencies=[needs(Permission.BUILD_REPORT)])
def report_pdf(web: Web, user: User, dataset_sha256: str) -> Response:
    """The PDF of the report built from the dataset with this SHA-256 (researchers, data managers, physicians)."""
    report = built_report(web.engine, user.role, dataset_sha256)
    return Response(report.pdf(), media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="report-{dataset_sha256[:12]}.pdf"'})

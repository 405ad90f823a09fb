"""The report page: start a build of the study report (it runs outside the request, the page polls its state
with htmx), view the report, download the PDF; the API starts a build and reads its state."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import HTMLResponse

from openidds.web.context import JsonWriter, User, Web, WebContext, Writer, needs
from openidds.web.report_jobs import JobState, ReportJob, latest_job, report_job, start_build
from openidds.web.reports import ReportFile, kept_report, report_file
from openidds.web.roles import Permission
from openidds.web.schemas import RecordId

router = APIRouter()
DatasetSha256 = Annotated[str, Path(pattern="^[0-9a-f]{64}$", description="the SHA-256 of the report's dataset, "
                                    "64 lower-case hex digits, as a finished build gives it")]
_REPORT_CSP = ("default-src 'none'; style-src 'unsafe-inline'; img-src data:; frame-ancestors 'none'; "
               "base-uri 'none'; form-action 'none'")
"""The report's own page: its inline style and SVG figures as data URIs, nothing else (it has no script)."""


def _job_page(request: Request, web: WebContext, user: User, job: ReportJob | None, partial: bool,
              status_code: int = 200) -> Response:
    """The report page (or, for htmx, its build part) showing ``job``: its state, and the report when done."""
    report = kept_report(user.role, job.dataset_sha256) if job and job.dataset_sha256 else None
    return web.page(request, "_report_job.html" if partial else "report.html", user, status_code, job=job,
                    report=report, states=JobState)


@router.get("/report", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[needs(Permission.BUILD_REPORT)])
def report_page(request: Request, web: Web, user: User) -> Response:
    return _job_page(request, web, user, latest_job(web.engine, user.role, web.clock()), partial=False)


@router.post("/report", response_class=HTMLResponse, include_in_schema=False,
             dependencies=[needs(Permission.BUILD_REPORT)])
def report_build(request: Request, web: Web, user: Writer) -> Response:
    job = start_build(web.engine, user.name, user.role, web.clock)
    return _job_page(request, web, user, job, partial=request.headers.get("HX-Request") == "true")


@router.get("/report/jobs/{job_id}", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[needs(Permission.BUILD_REPORT)])
def report_job_part(request: Request, web: Web, user: User, job_id: RecordId) -> Response:
    """The build part of the page, which htmx polls while the build is queued or running."""
    return _job_page(request, web, user, report_job(web.engine, user.role, job_id, web.clock()), partial=True)


@router.post("/api/report/jobs", tags=["report"], status_code=202, dependencies=[needs(Permission.BUILD_REPORT)])
def report_job_start(web: Web, user: JsonWriter) -> ReportJob:
    """Start building the study report of the registry as it is now and answer at once (or give the build that
    is already queued or running); poll ``GET /api/report/jobs/{job_id}`` until it is done or failed."""
    return start_build(web.engine, user.name, user.role, web.clock)


@router.get("/api/report/jobs/{job_id}", tags=["report"], dependencies=[needs(Permission.BUILD_REPORT)])
def report_job_state(web: Web, user: User, job_id: RecordId) -> ReportJob:
    """A build of the report: queued, running, done (with its dataset's SHA-256, which names the PDF) or failed
    (with its error; a build whose server process ended is reported failed, never left running)."""
    return report_job(web.engine, user.role, job_id, web.clock())


@router.get("/report/{dataset_sha256}/report.html", response_class=HTMLResponse, include_in_schema=False,
            dependencies=[needs(Permission.BUILD_REPORT)])
def report_html(web: Web, user: User, dataset_sha256: DatasetSha256) -> Response:
    _, data = report_file(web.engine, user.name, user.role, dataset_sha256, ReportFile.HTML, web.clock())
    return HTMLResponse(data, headers={"Content-Security-Policy": _REPORT_CSP})


@router.get("/api/report/{dataset_sha256}/report.pdf", tags=["report"], response_class=Response,
            responses={200: {"description": "the report as PDF, an attachment"}},
            dependencies=[needs(Permission.BUILD_REPORT)])
def report_pdf(web: Web, user: User, dataset_sha256: DatasetSha256) -> Response:
    """The PDF of the report built from the dataset with this SHA-256 (researchers, data managers, physicians);
    each download is an entry of the audit trail (the user, the file's name, size and SHA-256)."""
    name, data = report_file(web.engine, user.name, user.role, dataset_sha256, ReportFile.PDF, web.clock())
    return Response(data, media_type="application/pdf",
                    headers={"Content-Disposition": f'attachment; filename="{name}"'})

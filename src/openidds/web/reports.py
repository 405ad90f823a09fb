"""The study report of the registry, built in the web app: :func:`openidds.outcomes.report.study_report` on the
registry's analysis dataset, as ``openidds report --db`` builds it (outside the request: :mod:`.report_jobs`).

A built report is named by its dataset's SHA-256 and kept in this process (the last few), so the page can
show it and its PDF can be downloaded; the same data gives the same report, so a worker that does not hold it
builds it again from the registry and serves it only if the registry still gives that dataset. Each view and
download of a report is an entry of the audit trail (:class:`ReportFile`)."""

from __future__ import annotations

import datetime as dt
import threading
from collections import OrderedDict
from enum import Enum

from sqlalchemy import Engine

from openidds.clinic import analysis_dataset
from openidds.clinic.audit import ExportedFile, record_export
from openidds.clinic.errors import UnknownRecord
from openidds.outcomes.report import StudyReport, study_report
from openidds.web.roles import Permission, Role, require

KEPT_REPORTS = 4
"""Reports each process keeps after building them (older ones are built again when asked for)."""
_built: OrderedDict[str, StudyReport] = OrderedDict()
_lock = threading.Lock()


def _keep(report: StudyReport) -> StudyReport:
    with _lock:
        _built[report.dataset_sha256] = report
        _built.move_to_end(report.dataset_sha256)
        while len(_built) > KEPT_REPORTS:
            _built.popitem(last=False)
    return report


def build_report(engine: Engine, role: Role) -> StudyReport:
    """Build the study report of the registry as it is now (seconds for a large registry); refused for a role
    that may not, and with the report's own refusal for a dataset it cannot report (e.g. no implanted patient)."""
    require(role, Permission.BUILD_REPORT)
    return _keep(study_report(analysis_dataset(engine)))


def kept_report(role: Role, dataset_sha256: str) -> StudyReport | None:
    """The report built from the dataset with ``dataset_sha256`` if this process keeps it (never built here)."""
    require(role, Permission.BUILD_REPORT)
    with _lock:
        return _built.get(dataset_sha256)


def built_report(engine: Engine, role: Role, dataset_sha256: str) -> StudyReport:
    """The report built from the dataset with ``dataset_sha256``: kept, or built again if the registry still
    gives that dataset; refused (404) once the registry has changed."""
    kept = kept_report(role, dataset_sha256)
    if kept is not None:
        return kept
    dataset = analysis_dataset(engine)
    if study_report(dataset, figures=False).dataset_sha256 != dataset_sha256:  # the results alone, no figure: fast
        raise UnknownRecord("report", dataset_sha256[:16], "a report of the registry as it is now: it has changed "
                            "since that report was built; build the report again")
    return _keep(study_report(dataset))


class ReportFile(str, Enum):
    """A report leaving the registry, as the audit trail names it."""

    PDF = "report-pdf"
    HTML = "report-html"


REPORT_SOURCE = "web app: report"
"""The audit trail's source of a report viewed or downloaded."""


def report_file(engine: Engine, user: str, role: Role, dataset_sha256: str, kind: ReportFile,
                at: dt.datetime) -> tuple[str, bytes]:
    """The file name and bytes of the report built from the dataset with ``dataset_sha256`` as ``kind`` (PDF, or
    its HTML page), audited as leaving the registry for ``user`` at ``at`` (kind, name, size, SHA-256)."""
    report = built_report(engine, role, dataset_sha256)
    if kind is ReportFile.PDF:
        name, data = f"report-{dataset_sha256[:12]}.pdf", report.pdf()
    else:
        name, data = f"report-{dataset_sha256[:12]}.html", report.html().encode("utf-8")
    record_export(engine, user, at, kind.value, [ExportedFile.of(name, data)], REPORT_SOURCE)
    return name, data

"""The study report of the registry, built in the web app: :func:`openidds.outcomes.report.study_report` on the
registry's analysis dataset, as ``openidds report --db`` builds it.

A built report is named by its dataset's SHA-256 and kept in this process (the last few), so the page can
show it and its PDF can be downloaded; the same data gives the same report, so a worker that does not hold it
builds it again from the registry and serves it only if the registry still gives that dataset."""

from __future__ import annotations

import threading
from collections import OrderedDict

from sqlalchemy import Engine

from openidds.clinic import analysis_dataset
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


def built_report(engine: Engine, role: Role, dataset_sha256: str) -> StudyReport:
    """The report built from the dataset with ``dataset_sha256``: kept, or built again if the registry still
    gives that dataset; refused (404) once the registry has changed."""
    require(role, Permission.BUILD_REPORT)
    with _lock:
        kept = _built.get(dataset_sha256)
    if kept is not None:
        return kept
    report = build_report(engine, role)
    if report.dataset_sha256 != dataset_sha256:
        raise UnknownRecord("report", dataset_sha256[:16], "a report of the registry as it is now: it has changed "
                            "since that report was built; build the report again")
    return report

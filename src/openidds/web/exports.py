"""Exports as downloads, as the logged-in user's role may: the data manager's analysis dataset, registry CSV
files, REDCap data dictionary and records, and FHIR bundle, and the de-identified research export as CSV files or
REDCap records (researchers and data managers, with the server's research seed). Each is what the matching
``openidds registry export`` writes, and each download is an entry of the audit trail (user, kind, digest)."""

from __future__ import annotations

import datetime as dt
import io
import tempfile
import zipfile
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from sqlalchemy import Engine

from openidds.clinic import analysis_dataset, data_dictionary, fhir_bundle, write_dataset, write_research_export
from openidds.clinic.audit import AuditAction, ExportedFile, audit_entries, record_export
from openidds.clinic.csv_io import write_records
from openidds.clinic.redcap import redcap_records, research_data_dictionary, research_redcap_records
from openidds.web.research_view import held_seed
from openidds.web.roles import Permission, Role, may, require


class ExportKind(str, Enum):
    """A download of the exports page."""

    ANALYSIS = "analysis"
    RECORDS = "records"
    REDCAP_DICTIONARY = "redcap-dictionary"
    REDCAP = "redcap"
    FHIR = "fhir"
    RESEARCH = "research"
    RESEARCH_REDCAP = "research-redcap"
    RESEARCH_REDCAP_DICTIONARY = "research-redcap-dictionary"

    @property
    def permission(self) -> Permission:
        research = self in (ExportKind.RESEARCH, ExportKind.RESEARCH_REDCAP, ExportKind.RESEARCH_REDCAP_DICTIONARY)
        return Permission.EXPORT_RESEARCH if research else Permission.EXPORT_REGISTRY


DESCRIPTIONS = {
    ExportKind.ANALYSIS: "Analysis dataset (CSV): one row per implanted patient, the study report's input",
    ExportKind.RECORDS: "Registry records (ZIP of CSV files, one per kind, as the import reads them)",
    ExportKind.REDCAP_DICTIONARY: "REDCap data dictionary (CSV) of the registry's mapping, to start a project",
    ExportKind.REDCAP: "REDCap records (flat CSV, raw values) of the whole registry, for the project of that "
                       "dictionary; the REDCap import reads it back to the same records",
    ExportKind.FHIR: "FHIR R4 collection Bundle (JSON) of the whole registry",
    ExportKind.RESEARCH: "De-identified research export (ZIP of CSV files): research IDs, dates shifted per "
                         "patient, no direct identifiers or free text, ages 90 and over grouped",
    ExportKind.RESEARCH_REDCAP: "De-identified research export as REDCap records (flat CSV): the same research "
                                "IDs and shifted dates, without site, identifier and free-text fields",
    ExportKind.RESEARCH_REDCAP_DICTIONARY: "REDCap data dictionary (CSV) of the de-identified records, to start the "
                                           "research project: the age an integer up to 90, meaning 90 or older",
}
"""What each download holds, as the exports page lists it."""


@dataclass(frozen=True)
class ExportFile:
    """A download: its file name, media type and bytes."""

    name: str
    media_type: str
    data: bytes


def export_kinds(role: Role) -> list[ExportKind]:
    """The downloads ``role`` may take."""
    return [kind for kind in ExportKind if may(role, kind.permission)]


def _zipped(paths: list[Path]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as archive:
        for path in paths:
            archive.write(path, path.name)
    return out.getvalue()


def _file(engine: Engine, kind: ExportKind, research_seed: int | None) -> ExportFile:
    if kind is ExportKind.REDCAP_DICTIONARY:
        return ExportFile("redcap-dictionary.csv", "text/csv", data_dictionary().encode("utf-8"))
    if kind is ExportKind.RESEARCH_REDCAP_DICTIONARY:
        return ExportFile("research-redcap-dictionary.csv", "text/csv", research_data_dictionary().encode("utf-8"))
    if kind is ExportKind.REDCAP:
        return ExportFile("redcap-records.csv", "text/csv", redcap_records(engine).encode("utf-8"))
    if kind is ExportKind.RESEARCH_REDCAP:
        records = research_redcap_records(engine, held_seed(research_seed))
        return ExportFile("research-redcap-records.csv", "text/csv", records.encode("utf-8"))
    if kind is ExportKind.FHIR:
        # fhir.resources types json() as str | bytes; it gives str unless asked for bytes.
        document: str = fhir_bundle(engine).json(indent=2)  # type: ignore[assignment]
        return ExportFile("registry-fhir.json", "application/fhir+json", document.encode("utf-8"))
    with tempfile.TemporaryDirectory(prefix="openidds-export-") as folder:
        where = Path(folder)
        if kind is ExportKind.ANALYSIS:
            return ExportFile("analysis.csv", "text/csv",
                              write_dataset(analysis_dataset(engine), where / "analysis.csv").read_bytes())
        if kind is ExportKind.RECORDS:
            return ExportFile("registry-csv.zip", "application/zip", _zipped(write_records(engine, where)))
        seed = held_seed(research_seed)
        return ExportFile("research.zip", "application/zip", _zipped(write_research_export(engine, where, seed)))


DOWNLOAD_SOURCE = "web app: exports"
"""The audit trail's source of a download from the exports page or its API."""


def export(engine: Engine, user: str, role: Role, kind: ExportKind, research_seed: int | None,
           at: dt.datetime) -> ExportFile:
    """The download ``kind`` of the registry for ``user``, audited as leaving the registry at ``at`` (kind, file
    name, size, SHA-256); refused for a role that may not take it, and the research exports without the
    server's research seed."""
    require(role, kind.permission)
    done = _file(engine, kind, research_seed)
    record_export(engine, user, at, kind.value, [ExportedFile.of(done.name, done.data)], DOWNLOAD_SOURCE)
    return done


@dataclass(frozen=True)
class ExportLogLine:
    """One audited export, as the exports page lists it."""

    at: dt.datetime
    user: str
    kind: str
    files: list[ExportedFile]
    source: str


def recent_exports(engine: Engine, role: Role, limit: int = 20) -> list[ExportLogLine]:
    """The newest audited exports (downloads and the command line's), for a role that exports the registry."""
    require(role, Permission.EXPORT_REGISTRY)
    lines = []
    for entry in audit_entries(engine, AuditAction.EXPORT, limit):
        after = entry.after or {}
        files = [ExportedFile(f["name"], f["size_bytes"], f["sha256"]) for f in after.get("files", [])]
        lines.append(ExportLogLine(entry.at, entry.user_name, str(after.get("kind", "")), files, entry.source or ""))
    return lines

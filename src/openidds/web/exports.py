"""Exports as downloads, as the logged-in user's role may: the data manager's analysis dataset, registry CSV
files, REDCap data dictionary and FHIR bundle, and the de-identified research export (researchers and data
managers, with the server's research seed). Each is what the matching ``openidds registry export`` writes."""

from __future__ import annotations

import io
import tempfile
import zipfile
from dataclasses import dataclass
from enum import Enum
from pathlib import Path

from sqlalchemy import Engine

from openidds.clinic import analysis_dataset, data_dictionary, fhir_bundle, write_dataset, write_research_export
from openidds.clinic.csv_io import write_records
from openidds.web.research_view import held_seed
from openidds.web.roles import Permission, Role, may, require


class ExportKind(str, Enum):
    """A download of the exports page."""

    ANALYSIS = "analysis"
    RECORDS = "records"
    REDCAP_DICTIONARY = "redcap-dictionary"
    FHIR = "fhir"
    RESEARCH = "research"

    @property
    def permission(self) -> Permission:
        return Permission.EXPORT_RESEARCH if self is ExportKind.RESEARCH else Permission.EXPORT_REGISTRY


DESCRIPTIONS = {
    ExportKind.ANALYSIS: "Analysis dataset (CSV): one row per implanted patient, the study report's input",
    ExportKind.RECORDS: "Registry records (ZIP of CSV files, one per kind, as the import reads them)",
    ExportKind.REDCAP_DICTIONARY: "REDCap data dictionary (CSV) of the registry's mapping, to start a project",
    ExportKind.FHIR: "FHIR R4 collection Bundle (JSON) of the whole registry",
    ExportKind.RESEARCH: "De-identified research export (ZIP of CSV files): research IDs, dates shifted per "
                         "patient, no direct identifiers or free text, ages 90 and over grouped",
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


def export(engine: Engine, role: Role, kind: ExportKind, research_seed: int | None) -> ExportFile:
    """The download ``kind`` of the registry; refused for a role that may not take it, and the research export
    without the server's research seed."""
    require(role, kind.permission)
    if kind is ExportKind.REDCAP_DICTIONARY:
        return ExportFile("redcap-dictionary.csv", "text/csv", data_dictionary().encode("utf-8"))
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

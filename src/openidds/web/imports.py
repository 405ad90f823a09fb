"""Importing uploaded files as the data manager: CSV files (one per kind of record, named after it) or a REDCap
records export with its data dictionary, read and imported exactly as ``openidds registry import`` does (all or
nothing, checked row by row, re-importing adds nothing), audited as the logged-in user."""

from __future__ import annotations

import tempfile
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path, PurePath

from sqlalchemy import Engine

from openidds.clinic import Finding, ImportRejected, ImportSummary, import_batch, read_paths, read_redcap
from openidds.clinic.errors import RegistryError
from openidds.web.roles import Permission, Role, require


class UploadFormat(str, Enum):
    """What an upload holds."""

    CSV = "csv"
    REDCAP = "redcap"


@dataclass(frozen=True)
class Upload:
    """One uploaded file: the name the browser gave and its bytes."""

    name: str
    data: bytes


@dataclass
class ImportOutcome:
    """What an import did (``summary``), or every finding that refused it (nothing was written)."""

    source: str
    summary: ImportSummary | None = None
    findings: list[Finding] = field(default_factory=list)

    @property
    def refused(self) -> bool:
        return self.summary is None


def _file_name(upload: Upload) -> str:
    """The upload's base name (a browser may send a path), refused when empty or not a CSV file."""
    name = PurePath(upload.name.replace("\\", "/")).name
    if not name.lower().endswith(".csv") or name.startswith("."):
        raise RegistryError("file", upload.name or None, "a CSV file named after its kind of record, e.g. visits.csv "
                            "(or a REDCap export's .csv files)")
    return name


def import_uploads(engine: Engine, role: Role, user: str, fmt: UploadFormat, uploads: list[Upload],
                   encoding: str | None = None) -> ImportOutcome:
    """Import the uploads as ``user``: for CSV, any number of files each named after its kind (``visits.csv``);
    for REDCap, two: the data dictionary, then the records export. A refusal is an outcome with its findings,
    row by row as the command line reports them; a request that is not an import at all raises
    :class:`RegistryError`."""
    require(role, Permission.IMPORT_RECORDS)
    if not uploads:
        raise RegistryError("files", None, "at least one CSV file to import")
    if fmt is UploadFormat.REDCAP and len(uploads) != 2:
        raise RegistryError("files", len(uploads), "two files for REDCap: the data dictionary and the records export")
    names = [_file_name(u) for u in uploads]
    if len(set(names)) != len(names) and fmt is UploadFormat.CSV:
        raise RegistryError("files", ", ".join(names), "each kind of record in one file (a file name once)")
    source = ", ".join(names)
    with tempfile.TemporaryDirectory(prefix="openidds-upload-") as folder:
        paths = []
        for i, (name, upload) in enumerate(zip(names, uploads, strict=True)):
            own = Path(folder) / str(i)
            own.mkdir()
            paths.append(own / name)
            paths[-1].write_bytes(upload.data)
        batch = read_redcap(paths[0], paths[1], encoding) if fmt is UploadFormat.REDCAP \
            else read_paths(paths, encoding=encoding)
    try:
        return ImportOutcome(source, summary=import_batch(engine, batch, user, source))
    except ImportRejected as exc:
        return ImportOutcome(source, findings=exc.findings)

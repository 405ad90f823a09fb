"""Importing uploaded files as the data manager: CSV files (one per kind of record, named after it), a REDCap
records export with its data dictionary, a pump's exported event log or a programmer's pump state file for one
implant, read and imported exactly as ``openidds registry import`` does (all or nothing, checked row by row,
re-importing adds nothing), audited as the logged-in user. A pump log updates the clinic's alarm record in the
import's transaction (and raises the escalation of each new open alarm when the server escalates, its engine
carrying the policy)."""

from __future__ import annotations

import datetime as dt
import tempfile
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path, PurePath

from sqlalchemy import Engine

from openidds.clinic import Finding, ImportRejected, ImportSummary, import_batch, read_paths, read_redcap
from openidds.clinic.errors import RegistryError
from openidds.clinic.pump_log import PumpLogImport, import_pump_logs
from openidds.clinic.pump_states import Outcome, put_pump_state
from openidds.programmer import load_state
from openidds.programmer.state_file import decode_state
from openidds.web.roles import Permission, Role, require


class UploadFormat(str, Enum):
    """What an upload holds."""

    CSV = "csv"
    REDCAP = "redcap"
    PUMP_LOG = "pump-log"
    PUMP_STATE = "pump-state"


@dataclass(frozen=True)
class ImplantChoice:
    """The implant a pump log or state comes from: its patient's site and ID and its implant date."""

    site: str
    patient_id: str
    implant_date: dt.date


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


def _file_name(upload: Upload, suffix: str, what: str) -> str:
    """The upload's base name (a browser may send a path), refused when empty or not ending in ``suffix``."""
    name = PurePath(upload.name.replace("\\", "/")).name
    if not name.lower().endswith(suffix) or name.startswith("."):
        raise RegistryError("file", upload.name or None, what)
    return name


def _saved(folder: str, names: list[str], uploads: list[Upload]) -> list[Path]:
    """Each upload written under its own name in its own subfolder of ``folder``."""
    paths = []
    for i, (name, upload) in enumerate(zip(names, uploads, strict=True)):
        own = Path(folder) / str(i)
        own.mkdir()
        paths.append(own / name)
        paths[-1].write_bytes(upload.data)
    return paths


def import_uploads(engine: Engine, role: Role, user: str, fmt: UploadFormat, uploads: list[Upload],
                   encoding: str | None = None) -> ImportOutcome:
    """Import the uploads as ``user``: for CSV, any number of files each named after its kind (``visits.csv``);
    for REDCap, two: the data dictionary, then the records export. A refusal is an outcome with its findings,
    row by row as the command line reports them; a request that is not an import at all raises
    :class:`RegistryError`."""
    require(role, Permission.IMPORT_RECORDS)
    if fmt in (UploadFormat.PUMP_LOG, UploadFormat.PUMP_STATE):
        raise RegistryError("format", fmt.value, "csv or redcap here: a pump log or state is imported with its "
                            "implant (import_pump_log_upload, import_pump_state_upload)")
    if not uploads:
        raise RegistryError("files", None, "at least one CSV file to import")
    if fmt is UploadFormat.REDCAP and len(uploads) != 2:
        raise RegistryError("files", len(uploads), "two files for REDCap: the data dictionary and the records export")
    names = [_file_name(u, ".csv", "a CSV file named after its kind of record, e.g. visits.csv (or a REDCap "
                        "export's .csv files)") for u in uploads]
    if len(set(names)) != len(names) and fmt is UploadFormat.CSV:
        raise RegistryError("files", ", ".join(names), "each kind of record in one file (a file name once)")
    source = ", ".join(names)
    with tempfile.TemporaryDirectory(prefix="openidds-upload-") as folder:
        paths = _saved(folder, names, uploads)
        batch = read_redcap(paths[0], paths[1], encoding) if fmt is UploadFormat.REDCAP \
            else read_paths(paths, encoding=encoding)
    try:
        return ImportOutcome(source, summary=import_batch(engine, batch, user, source))
    except ImportRejected as exc:
        return ImportOutcome(source, findings=exc.findings)


def import_pump_log_upload(engine: Engine, role: Role, user: str, implant: ImplantChoice, uploads: list[Upload],
                           encoding: str | None = None) -> ImportOutcome:
    """Import one uploaded pump log (the wire JSON, ``LOG.json``) for ``implant`` as ``user``, as
    ``openidds registry import --format pump-log`` does: only the events not yet stored are added, the alarm
    record follows in the same transaction. A refusal is an outcome with every bad event (nothing written)."""
    require(role, Permission.IMPORT_RECORDS)
    if len(uploads) != 1:
        raise RegistryError("files", len(uploads), "one pump log file (LOG.json) for the chosen implant")
    [name] = [_file_name(uploads[0], ".json", "a pump log as the pump exports it: a .json file (docs/wire.md)")]
    with tempfile.TemporaryDirectory(prefix="openidds-upload-") as folder:
        [path] = _saved(folder, [name], uploads)
        item = PumpLogImport(path, implant.site, implant.patient_id, implant.implant_date, encoding)
        try:
            [added] = import_pump_logs(engine, [item], user)
        except ImportRejected as exc:
            return ImportOutcome(name, findings=exc.findings)
    return ImportOutcome(name, summary=ImportSummary(inserted={"pump_events": added}))


def import_pump_state_upload(engine: Engine, role: Role, user: str, implant: ImplantChoice, uploads: list[Upload],
                             state_key: bytes | None) -> ImportOutcome:
    """Store one uploaded programmer's state file (``STATE.json``, checked against the clinic's ``state_key``) for
    ``implant`` as ``user``, as ``openidds registry import --format pump-state`` does: a state that does not
    continue the stored one, or does not fit the implant, is refused and nothing is written."""
    require(role, Permission.IMPORT_RECORDS)
    if state_key is None:
        raise RegistryError("state key", None, "a server that holds the clinic's state key, which signs state files: "
                            "start it with `openidds web serve --key-file FILE` (the key `openidds program` "
                            "signs with), or import the file with `openidds registry import --format pump-state`")
    if len(uploads) != 1:
        raise RegistryError("files", len(uploads), "one pump state file (STATE.json) for the chosen implant")
    name = _file_name(uploads[0], ".json", "a programmer's pump state file: a .json file (docs/programmer.md)")
    state = load_state(decode_state(uploads[0].data, name), name, key=state_key)
    outcome = put_pump_state(engine, implant.site, implant.patient_id, state, user,
                             implant_date=implant.implant_date, source=name)
    counts = {"pump_states": 1}
    summary = ImportSummary(inserted=counts) if outcome is Outcome.INSERTED else \
        ImportSummary(updated=counts) if outcome is Outcome.UPDATED else ImportSummary(unchanged=counts)
    return ImportOutcome(name, summary=summary)

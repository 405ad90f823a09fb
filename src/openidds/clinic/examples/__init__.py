"""The bundled example registry: a seeded virtual clinic of synthetic patients, as the files a clinic imports.

The files are the cohort package's ``example`` clinic (``openidds/cohort/clinics/example.toml``) played through
the real pump and programmer up to the clinic day and written by ``python -m openidds.cohort.virtual_clinic``:
the registry's CSV import files (``registry/``) and each pump's exported log
(``pump_logs/SITE/PATIENT/IMPLANT_DATE.json``). :func:`load_example` imports them through the same paths as
``openidds registry import``. No real patient is in them.
"""

import datetime as dt
from pathlib import Path

from sqlalchemy import Engine

from openidds.clinic.csv_io import read_paths
from openidds.clinic.database import init_registry
from openidds.clinic.importer import ImportSummary, import_batch
from openidds.clinic.pump_log import PumpLogImport, import_pump_logs

EXAMPLE_FOLDER = Path(__file__).resolve().parent / "registry"
"""The folder of example CSV files (one per kind of record), shipped as package data."""
EXAMPLE_PUMP_LOGS = Path(__file__).resolve().parent / "pump_logs"
"""The folder of the example's pump logs, one JSON file per pump: ``SITE/PATIENT/IMPLANT_DATE.json``."""
EXAMPLE_CUTOFF = dt.date(2025, 6, 30)
"""The example clinic's day: no event is dated later (only next-refill due dates); the pumps in place were read
at 08:00 that day, and patients alive and followed then are censored at their last contact."""
EXAMPLE_USER = "openidds example"


def example_pump_logs() -> list[PumpLogImport]:
    """Every bundled pump log with the patient and implant its path names, in path order."""
    return pump_logs_in(EXAMPLE_PUMP_LOGS)


def pump_logs_in(folder: Path) -> list[PumpLogImport]:
    """Every pump log of a folder laid out as ``SITE/PATIENT/IMPLANT_DATE.json``, in path order."""
    return [PumpLogImport(path, path.parent.parent.name, path.parent.name, dt.date.fromisoformat(path.stem))
            for path in sorted(folder.glob("*/*/*.json"))]


def load_example(engine: Engine, user: str = EXAMPLE_USER, pump_logs: bool = True) -> ImportSummary:
    """Create the registry schema on ``engine`` and import the example: the records (all or nothing, audited),
    then, unless ``pump_logs`` is False, every pump's log (all or nothing, audited). The records alone are what
    the analysis dataset reads; the logs are what the open alarms and a pump's history read."""
    return load_clinic_files(engine, EXAMPLE_FOLDER, EXAMPLE_PUMP_LOGS if pump_logs else None, user,
                             "openidds example registry")


def load_clinic_files(engine: Engine, records: Path, pump_logs: Path | None, user: str, source: str) -> ImportSummary:
    """Create the registry schema on ``engine`` and import a clinic's files: the CSV files of the folder
    ``records`` (all or nothing, audited), then every pump log of the folder ``pump_logs`` (:func:`pump_logs_in`),
    if given; ``source`` names the import in the audit trail."""
    init_registry(engine)
    summary = import_batch(engine, read_paths([records]), user, source=source)
    if pump_logs is not None:
        import_pump_logs(engine, pump_logs_in(pump_logs), user, source=f"{source}: pump logs")
    return summary


__all__ = ["EXAMPLE_CUTOFF", "EXAMPLE_FOLDER", "EXAMPLE_PUMP_LOGS", "EXAMPLE_USER", "example_pump_logs",
           "load_clinic_files", "load_example", "pump_logs_in"]

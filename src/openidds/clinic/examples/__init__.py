"""The bundled example registry: a seeded virtual clinic of synthetic patients, as the files a clinic imports.

The files are the cohort package's ``example`` clinic (``openidds/cohort/clinics/example.toml``) played through
the real pump and programmer up to the clinic day and written by ``python -m openidds.cohort.virtual_clinic``:
the registry's CSV import files (``registry/``), each pump's exported log
(``pump_logs/SITE/PATIENT/IMPLANT_DATE.json``) and the programmer's state of each pump in place on the clinic day
(``pump_states/SITE/PATIENT/IMPLANT_DATE.json``: the content of a pump state file less its checksum, as table
``pump_states`` holds it), so that the web app's refill and programming pages have a pump to work on.
:func:`load_example` imports them through the same paths as ``openidds registry import``. No real patient is in
them.
"""

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import Engine

from openidds.clinic.csv_io import read_paths
from openidds.clinic.database import init_registry
from openidds.clinic.importer import ImportSummary, import_batch
from openidds.clinic.pump_log import PumpLogImport, import_pump_logs
from openidds.clinic.pump_states import PumpStateFor, put_pump_states
from openidds.programmer import new_state

EXAMPLE_FOLDER = Path(__file__).resolve().parent / "registry"
"""The folder of example CSV files (one per kind of record), shipped as package data."""
EXAMPLE_PUMP_LOGS = Path(__file__).resolve().parent / "pump_logs"
"""The folder of the example's pump logs, one JSON file per pump: ``SITE/PATIENT/IMPLANT_DATE.json``."""
EXAMPLE_PUMP_STATES = Path(__file__).resolve().parent / "pump_states"
"""The folder of the programmer's state of each of the example's pumps in place: ``SITE/PATIENT/IMPLANT_DATE.json``."""
EXAMPLE_CUTOFF = dt.date(2025, 6, 30)
"""The example clinic's day: no event is dated later (only next-refill due dates); the pumps in place were read
at 08:00 that day, and patients alive and followed then are censored at their last contact."""
EXAMPLE_USER = "openidds example"
EXAMPLE_RESEARCH_SEED = 1
"""The research IDs' and date shifts' seed of the example's de-identified view (`openidds web serve --example`):
a real clinic keeps its own seed secret; the example's patients are synthetic, so its seed is published."""


def example_pump_logs() -> list[PumpLogImport]:
    """Every bundled pump log with the patient and implant its path names, in path order."""
    return pump_logs_in(EXAMPLE_PUMP_LOGS)


def pump_logs_in(folder: Path) -> list[PumpLogImport]:
    """Every pump log of a folder laid out as ``SITE/PATIENT/IMPLANT_DATE.json``, in path order."""
    return [PumpLogImport(path, site, patient_id, implant_date)
            for path, site, patient_id, implant_date in _laid_out(folder)]


def pump_states_in(folder: Path) -> list[PumpStateFor]:
    """Every pump state (a state file's content less its checksum) of a folder laid out as
    ``SITE/PATIENT/IMPLANT_DATE.json``, in path order; a file that is not a valid state is refused naming it."""
    return [PumpStateFor(site, patient_id, new_state(json.loads(path.read_text(encoding="utf-8")), str(path)),
                         implant_date) for path, site, patient_id, implant_date in _laid_out(folder)]


def _laid_out(folder: Path) -> Iterator[tuple[Path, str, str, dt.date]]:
    for path in sorted(folder.glob("*/*/*.json")):
        yield path, path.parent.parent.name, path.parent.name, dt.date.fromisoformat(path.stem)


def load_example(engine: Engine, user: str = EXAMPLE_USER, pump_logs: bool = True) -> ImportSummary:
    """Create the registry schema on ``engine`` and import the example: the records (all or nothing, audited),
    then, unless ``pump_logs`` is False, every pump's log and the state of each pump in place (each all or
    nothing, audited). The records alone are what the analysis dataset reads; the logs are what the open alarms
    and a pump's history read; the states are what the refill and programming pages work on."""
    return load_clinic_files(engine, EXAMPLE_FOLDER, EXAMPLE_PUMP_LOGS if pump_logs else None, user,
                             "openidds example registry", EXAMPLE_PUMP_STATES if pump_logs else None)


def load_clinic_files(engine: Engine, records: Path, pump_logs: Path | None, user: str, source: str,
                      pump_states: Path | None = None) -> ImportSummary:
    """Create the registry schema on ``engine`` and import a clinic's files: the CSV files of the folder
    ``records`` (all or nothing, audited), then every pump log of the folder ``pump_logs`` (:func:`pump_logs_in`)
    and every pump state of the folder ``pump_states`` (:func:`pump_states_in`), each if given; ``source`` names
    the import in the audit trail."""
    init_registry(engine)
    summary = import_batch(engine, read_paths([records]), user, source=source)
    if pump_logs is not None:
        import_pump_logs(engine, pump_logs_in(pump_logs), user, source=f"{source}: pump logs")
    if pump_states is not None:
        put_pump_states(engine, pump_states_in(pump_states), user, source=f"{source}: pump states")
    return summary


__all__ = ["EXAMPLE_CUTOFF", "EXAMPLE_FOLDER", "EXAMPLE_PUMP_LOGS", "EXAMPLE_PUMP_STATES", "EXAMPLE_RESEARCH_SEED",
           "EXAMPLE_USER", "example_pump_logs", "load_clinic_files", "load_example", "pump_logs_in", "pump_states_in"]

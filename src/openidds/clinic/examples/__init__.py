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

import csv
import dataclasses
import datetime as dt
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

from sqlalchemy import Engine

from openidds.clinic.appointments import Booking, VisitPlace, book_all
from openidds.clinic.csv_io import read_paths
from openidds.clinic.database import init_registry
from openidds.clinic.errors import RegistryError
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
EXAMPLE_APPOINTMENTS = Path(__file__).resolve().parent / "refill_appointments.csv"
"""The example's refill appointments (:func:`read_bookings`), as its clinic booked them."""
BOOKING_COLUMNS = tuple(f.name for f in dataclasses.fields(Booking))
"""The columns of a file of refill appointments: :class:`openidds.clinic.appointments.Booking`'s fields; times
are UTC, written ``2025-07-14T09:30:00Z``, an appointment not cancelled has the last two empty."""
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


def write_bookings(path: Path, bookings: Sequence[Booking]) -> None:
    """Write ``bookings`` as a file of refill appointments (:data:`BOOKING_COLUMNS`)."""
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(BOOKING_COLUMNS)
        for booking in bookings:
            writer.writerow(_cell(getattr(booking, name)) for name in BOOKING_COLUMNS)


def _cell(value: object) -> str:
    if isinstance(value, dt.datetime):
        return value.isoformat() + "Z"
    if isinstance(value, VisitPlace):
        return value.value
    return "" if value is None else str(value)


def read_bookings(path: Path) -> list[Booking]:
    """The refill appointments of a file written by :func:`write_bookings`; a file with other columns, or a cell
    that is not what its column holds, is refused naming the file, line and column."""
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.reader(handle)
        header = tuple(next(reader, ()))
        if header != BOOKING_COLUMNS:
            raise RegistryError(f"{path.name}: header", ",".join(header), ",".join(BOOKING_COLUMNS))
        bookings = []
        for line, cells in enumerate(reader, start=2):
            if len(cells) != len(header):
                raise RegistryError(f"{path.name}:{line}", f"{len(cells)} cells", f"{len(header)} cells, one a column")
            bookings.append(_booking(dict(zip(header, cells, strict=True)), f"{path.name}:{line}"))
        return bookings


def _booking(cells: dict[str, str], where: str) -> Booking:
    try:
        place = VisitPlace(cells["place"])
        minutes = int(cells["duration_minutes"])
    except ValueError:
        raise RegistryError(f"{where}: place, duration_minutes", f"{cells['place']}, {cells['duration_minutes']}",
                            f"one of {', '.join(p.value for p in VisitPlace)}, and whole minutes") from None
    cancelled_at = _moment(cells, "cancelled_at", where) if cells["cancelled_at"] else None
    return Booking(cells["site"], cells["patient_id"], _moment(cells, "starts_at", where), minutes, place,
                   cells["clinician"], cells["booked_by"], _moment(cells, "booked_at", where),
                   cells["cancelled_by"] or None, cancelled_at)


def _moment(cells: dict[str, str], name: str, where: str) -> dt.datetime:
    """The naive-UTC time of the cell ``name``, written with its UTC offset (``Z``)."""
    try:
        moment = dt.datetime.fromisoformat(cells[name])
    except ValueError:
        moment = None
    if moment is None or moment.utcoffset() != dt.timedelta(0):
        raise RegistryError(f"{where}: {name}", cells[name], "a UTC time such as 2025-07-14T09:30:00Z")
    return moment.replace(tzinfo=None)


def load_example(engine: Engine, user: str = EXAMPLE_USER, pump_logs: bool = True) -> ImportSummary:
    """Create the registry schema on ``engine`` and import the example: the records (all or nothing, audited),
    then, unless ``pump_logs`` is False, every pump's log, the state of each pump in place and the refill
    appointments (each all or nothing, audited). The records alone are what the analysis dataset reads; the logs are
    what the open alarms and a pump's history read; the states are what the refill and programming pages work on;
    the appointments are the refill calendar's."""
    return load_clinic_files(engine, EXAMPLE_FOLDER, EXAMPLE_PUMP_LOGS if pump_logs else None, user,
                             "openidds example registry", EXAMPLE_PUMP_STATES if pump_logs else None,
                             EXAMPLE_APPOINTMENTS if pump_logs else None)


def load_clinic_files(engine: Engine, records: Path, pump_logs: Path | None, user: str, source: str,
                      pump_states: Path | None = None, appointments: Path | None = None) -> ImportSummary:
    """Create the registry schema on ``engine`` and import a clinic's files: the CSV files of the folder
    ``records`` (all or nothing, audited), then every pump log of the folder ``pump_logs`` (:func:`pump_logs_in`),
    every pump state of the folder ``pump_states`` (:func:`pump_states_in`) and the refill appointments of the file
    ``appointments`` (:func:`read_bookings`, booked by :func:`openidds.clinic.appointments.book_all`), each if
    given; ``source`` names the import in the audit trail."""
    init_registry(engine)
    summary = import_batch(engine, read_paths([records]), user, source=source)
    if pump_logs is not None:
        import_pump_logs(engine, pump_logs_in(pump_logs), user, source=f"{source}: pump logs")
    if pump_states is not None:
        put_pump_states(engine, pump_states_in(pump_states), user, source=f"{source}: pump states")
    if appointments is not None:
        book_all(engine, read_bookings(appointments), source=f"{source}: refill appointments")
    return summary


__all__ = ["BOOKING_COLUMNS", "EXAMPLE_APPOINTMENTS", "EXAMPLE_CUTOFF", "EXAMPLE_FOLDER", "EXAMPLE_PUMP_LOGS",
           "EXAMPLE_PUMP_STATES", "EXAMPLE_RESEARCH_SEED", "EXAMPLE_USER", "example_pump_logs", "load_clinic_files",
           "load_example", "pump_logs_in", "pump_states_in", "read_bookings", "write_bookings"]

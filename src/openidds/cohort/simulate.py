"""One replicate of a study: a virtual cohort drawn, played through the clinic, and written to a registry.

``simulate(study, params, seed, db_url)`` draws every patient's baseline and course from one seeded
``numpy`` Generator, runs each through a real pump and programmer (:mod:`openidds.cohort.clinic_run`) and
writes the registry only through the clinic package's imports: one ``import_batch`` holding every record
(patients, trials, implants, visits, complications, exits, programs, refills, alarms), then every pump's own
log in one ``import_pump_logs`` (the import a clinic uses for the pumps it interrogated), the logs passed as
the pump exports them. The audit trail is stamped with the end of follow-up (:func:`written_at`), so one seed
writes the same registry byte for byte.
"""

from __future__ import annotations

import datetime as dt
import os
import tempfile
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from sqlalchemy import make_url

from openidds.clinic import SPECS, RegistryError, connect, import_batch, init_registry, patients
from openidds.clinic.bulk import collector_paused
from openidds.clinic.database import database_url, new_sqlite_registry, with_clock
from openidds.clinic.fields import reference_columns
from openidds.clinic.importer import Batch, parse_table
from openidds.clinic.pump_log import PumpLogImport, import_pump_logs
from openidds.cohort.baseline import choose_one, sample_baselines
from openidds.cohort.clinic_run import Implanted, PatientRun, run_patient
from openidds.cohort.course import DAY_S, Schedule, draw_course
from openidds.cohort.params import Params, ParamsError
from openidds.cohort.seeds import checked_seed
from openidds.cohort.study import Study
from openidds.drugs import default_library
from openidds.pump.wire import PumpLog, export_log

USER = "openidds-cohort"


@dataclass(frozen=True)
class SimulationSummary:
    """What one replicate made."""

    study: str
    seed: str
    patients: int
    deaths: int
    explants: int
    refills: int
    flagged_refills: int
    pump_events: int
    pump_years: float
    db_url: str


def implant_dates(study: Study, n: int, rng: np.random.Generator) -> list[dt.date]:
    """``n`` implant days, in order: uniform over the study's implant period, or, when the design gives the
    implants' shares by year, each patient's year drawn by those shares and the day uniform over that year's part
    of the period."""
    design = study.design
    if design.implant_year_shares is None:
        span = (design.implant_end - design.implant_start).days
        return [design.implant_start + dt.timedelta(days=int(d)) for d in np.sort(rng.integers(0, span + 1, n))]
    days = []
    for year in choose_one({str(y): share for y, share in design.implant_year_shares.items()}, rng, n):
        first = max(dt.date(int(year), 1, 1), design.implant_start)
        last = min(dt.date(int(year), 12, 31), design.implant_end)
        days.append(first + dt.timedelta(days=int(rng.integers(0, (last - first).days + 1))))
    return sorted(days)


def simulate(study: Study, params: Params, seed: int | np.random.SeedSequence, db_url: str,
             patients: int | None = None, *, pump_logs: bool = True) -> SimulationSummary:
    """Simulate ``patients`` (default: the study's number) into a new registry at ``db_url`` (see
    :func:`write_registry`, and ``pump_logs`` there). Python's cycle collector is paused throughout: the runs'
    millions of objects live to the end, and each collection would scan them all again."""
    new_registry_file(db_url)  # refused now, not after every patient is played
    with collector_paused():
        runs = play(study, params, seed, patients)
        write_registry(runs, db_url, source=f"cohort {study.id}", pump_logs=pump_logs)
    return SimulationSummary(
        study=study.id, seed=seed_text(seed), patients=len(runs),
        deaths=sum(r.course.death_day is not None for r in runs),
        explants=sum(r.course.explant_day is not None for r in runs), refills=sum(r.refills for r in runs),
        flagged_refills=sum(r.flagged_refills for r in runs),
        pump_events=sum(len(i.pump.log) for r in runs for i in r.implants),
        pump_years=round(sum(i.pump.t_s for r in runs for i in r.implants) / DAY_S / 365.25, 3),
        db_url=db_url)


def play(study: Study, params: Params, seed: int | np.random.SeedSequence,
         patients: int | None = None) -> list[PatientRun]:
    """Every patient drawn and played through the clinic, in implant order (nothing written)."""
    if params.study != study.id:
        raise ParamsError("params.study", params.study, f"parameters made for the study {study.id}")
    n = study.design.n_patients if patients is None else patients
    if n < 1:
        raise ParamsError("patients", n, "at least 1")
    rng = np.random.default_rng(seed if isinstance(seed, np.random.SeedSequence) else checked_seed(seed))
    library = default_library()
    design = study.design
    baselines = sample_baselines(params.baseline, n, rng)
    runs: list[PatientRun] = []
    with collector_paused():  # every pump's log is kept: the collector would rescan them over and over
        for number, (baseline, implant) in enumerate(zip(baselines, implant_dates(study, n, rng), strict=True), 1):
            course = draw_course(baseline, params.course, Schedule.of(design, implant), rng, library)
            runs.append(run_patient(number, baseline, course, params.course, rng, library))
    return runs


def write_registry(runs: list[PatientRun], db: str, source: str, pump_logs: bool = True) -> None:
    """A new registry at ``db`` (an SQLite path or URL, or another database URL) holding the runs: one
    ``import_batch`` of every record, then every pump's log in one ``import_pump_logs``. Without ``pump_logs``
    the registry holds every record but no pump event (nor the alarms the clinic derives from the logs): all that
    the report reads, so all that a replicate of ``openidds cohort validate`` needs.

    An SQLite registry is written whole or not at all: into a temporary file beside it, synced to the disk once
    and renamed into place when complete (its commits meanwhile do not wait for the disk: nobody opens the file
    before it is renamed, and it is deleted if the write fails); an existing file is refused. Another database
    must hold no patients yet."""
    url = make_url(database_url(db))
    final = new_registry_file(db)
    if final is None:
        _write(runs, url.render_as_string(hide_password=False), source, pump_logs)
        return
    handle, partial = tempfile.mkstemp(prefix=f".{final.name}.", suffix=".partial", dir=final.parent)
    os.close(handle)
    try:
        new_sqlite_registry(Path(partial))
        _write(runs, url.set(database=partial).render_as_string(hide_password=False), source, pump_logs,
               synchronous=False)
        with open(partial, "rb") as written:
            os.fsync(written.fileno())
        os.replace(partial, final)
    finally:
        Path(partial).unlink(missing_ok=True)


def new_registry_file(db: str) -> Path | None:
    """The SQLite file a new registry at ``db`` is to be written into (None for another database): refused if it
    exists already or its folder does not."""
    url = make_url(database_url(db))
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:":
        return None
    final = Path(url.database)
    if final.exists():
        raise RegistryError("db", db, "a registry file that does not exist yet (a cohort is written whole into a "
                                      "new registry, never merged)")
    if not final.parent.is_dir():
        raise RegistryError("db", db, f"a registry file in a folder that exists (there is no folder {final.parent})")
    return final


def _write(runs: list[PatientRun], db_url: str, source: str, pump_logs: bool, synchronous: bool = True) -> None:
    engine = connect(db_url, synchronous=synchronous)
    try:
        init_registry(engine)
        if patients(engine):
            raise RegistryError("db", db_url, "a new, empty registry (this one already holds patients)")
        clocked = with_clock(engine, lambda: written_at(runs))
        import_batch(clocked, registry_batch(runs), USER, source=source)
        if pump_logs:
            import_pump_logs(clocked, exported_logs(runs), USER, source=source)
    finally:
        engine.dispose()


def written_at(runs: list[PatientRun]) -> dt.datetime:
    """The time the registry's audit trail gives its entries: midnight (UTC) after the last day of follow-up,
    so that one seed always writes the same registry, byte for byte."""
    last = max(run.implant_date + dt.timedelta(days=run.course.end_day) for run in runs)
    return dt.datetime.combine(last + dt.timedelta(days=1), dt.time(0))


def exported_log(run: PatientRun, implanted: Implanted) -> PumpLog:
    """The pump's log as the pump exports it: its own times, t_s = 0 at its implant (the log's ``clock_start``)."""
    return export_log(implanted.pump.log, run.clock_start(implanted).replace(tzinfo=dt.UTC))


def pump_logs(run: PatientRun) -> list[tuple[dt.date, PumpLog]]:
    """Each of the patient's pumps' exported log (:func:`exported_log`), by its implant date."""
    return [(run.implant_date_of(implanted), exported_log(run, implanted)) for implanted in run.implants]


def exported_logs(runs: list[PatientRun]) -> list[PumpLogImport]:
    """Every pump's log of the runs, ready for ``import_pump_logs``: each exported (:func:`exported_log`) when the
    import reaches it."""
    return [PumpLogImport(partial(exported_log, run, implanted), run.site, run.patient_id,
                          run.implant_date_of(implanted)) for run in runs for implanted in run.implants]


def seed_text(seed: int | np.random.SeedSequence) -> str:
    """A seed as text: the integer, or a seed sequence's entropy and spawn key (``entropy/0,3``)."""
    if isinstance(seed, np.random.SeedSequence):
        return f"{seed.entropy}/{','.join(map(str, seed.spawn_key))}"
    return str(seed)


def registry_tables(runs: list[PatientRun]) -> dict[str, tuple[tuple[str, ...], list[list[str]]]]:
    """The runs' registry rows as the registry's import tables: each record kind with rows, its header (the
    columns of its CSV file) and its rows of text cells."""
    tables = {}
    for name, spec in SPECS.items():
        header = (*reference_columns(spec), *spec.columns)
        rows = [[row.get(c, "") for c in header] for run in runs for row in run.rows.get(name, [])]
        if rows:
            tables[name] = header, rows
    return tables


def registry_batch(runs: list[PatientRun]) -> Batch:
    """Every registry row of the runs, parsed by the clinic's importer (one table per record kind)."""
    batch = Batch()
    with collector_paused():
        for name, (header, rows) in registry_tables(runs).items():
            batch.extend(parse_table(SPECS[name], header, [(f"{name}:{i}", row)
                                                           for i, row in enumerate(rows, start=1)]))
    return batch

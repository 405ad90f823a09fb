"""A virtual clinic: the cohort model's patients implanted at one or more sites over several years, each played
through a real pump and the programmer up to a fixed clinic day, and written as the registry's import files.

A clinic is a TOML file (``openidds/cohort/clinics/<id>.toml``, schema :class:`ClinicDefinition`): its sites
(codes ``VIRTUAL-...``, patients and first implant day of each), the clinic day, the visit schedule, the model's
parameter file and the seed. Every patient is drawn and played as a study's are (:mod:`openidds.cohort.baseline`,
:mod:`openidds.cohort.course`, :mod:`openidds.cohort.clinic_run`), with two things a clinic has and a study's
cohort does not:

- **Missed contacts**: a share of the patients still followed on the clinic day have not been heard from for up
  to ``max_days`` days (a missed or postponed appointment): nothing after their last contact (visit, dose
  change, complication, refill) is played or recorded, so their refills and follow-ups can be overdue.
- **Premature ERI**: a share of the pumps have a battery that shows its elective replacement indicator early,
  a fault the pump models (``PumpSpec.battery_eri_at_s``), so that the ERI alarm and the pump replacement appear
  in a clinic whose patients rarely outlive a battery.

Every pump in place is read on the clinic day (its log runs to 08:00 that day), as a clinic with remote
monitoring reads them. A clinic with ``[bookings]`` books each refill of a pump in place at the refill before
(:mod:`openidds.cohort.clinic_bookings`, :func:`booked_refills`). :func:`write_clinic` writes the registry's CSV
import files (one per record kind), each pump's log as it exports it (``pump_logs/SITE/PATIENT/IMPLANT_DATE.json``)
and the refill appointments (``refill_appointments.csv``), the files a clinic would import. The bundled example
registry (:mod:`openidds.clinic.examples`) is the ``example`` clinic written so;
``python -m openidds.cohort.virtual_clinic`` writes it again, byte for byte.
"""

from __future__ import annotations

import argparse
import csv
import dataclasses
import datetime as dt
import json
import shutil
import tempfile
import tomllib
from collections import Counter
from importlib import resources
from pathlib import Path
from typing import Annotated

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from openidds.clinic.appointments import Booking
from openidds.clinic.examples import write_bookings
from openidds.cohort.baseline import sample_baselines
from openidds.cohort.bundled import bundled_ids, read_toml_file
from openidds.cohort.clinic_bookings import RefillBookings, book_refills
from openidds.cohort.clinic_run import CATHETER, RESERVOIR_ML, SITE_PREFIX, PatientRun, run_patient
from openidds.cohort.course import DAY_S, PatientCourse, Schedule, draw_course
from openidds.cohort.params import Params, load_params
from openidds.cohort.simulate import pump_logs, registry_tables
from openidds.drugs import default_library
from openidds.errors import OpenIDDSError
from openidds.programmer import state_content
from openidds.pump import SYNCHROMED_II, PumpSpec

Share = Annotated[float, Field(ge=0, le=1)]
REGISTRY_FOLDER = "registry"
"""Where :func:`write_clinic` puts the registry's CSV import files, inside its output folder."""
PUMP_LOG_FOLDER = "pump_logs"
"""Where :func:`write_clinic` puts the pump logs (``SITE/PATIENT/IMPLANT_DATE.json``), inside its output folder."""
PUMP_STATE_FOLDER = "pump_states"
"""Where :func:`write_clinic` puts the programmer's state of each pump in place (``SITE/PATIENT/IMPLANT_DATE.json``),
inside its output folder."""
FOLDERS = (REGISTRY_FOLDER, PUMP_LOG_FOLDER, PUMP_STATE_FOLDER)
APPOINTMENT_FILE = "refill_appointments.csv"
"""The refill appointments :func:`write_clinic` writes, inside its output folder."""


class ClinicError(OpenIDDSError):
    """A clinic name that is not bundled, or a clinic file that does not follow the schema."""


class _Closed(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Site(_Closed):
    """One site of the clinic: its code (a virtual clinic's: ``VIRTUAL-...``), name, patients and first implant."""

    code: str = Field(pattern=rf"^{SITE_PREFIX}[A-Z0-9-]+$", max_length=40)
    name: str = Field(min_length=1)
    patients: int = Field(gt=0)
    implant_start: dt.date


class MissedContacts(_Closed):
    """Patients still followed on the clinic day who have not been heard from for 1 to ``max_days`` days."""

    share: Share
    max_days: int = Field(gt=0)
    source: str = Field(min_length=1)


class PrematureEri(_Closed):
    """Pumps whose battery shows the elective replacement indicator on a uniform day 1 to ``within_days``
    after their implant."""

    share: Share
    within_days: int = Field(gt=0)
    source: str = Field(min_length=1)


class ClinicDefinition(_Closed):
    """A virtual clinic: identity, sites, clinic day, follow-up schedule, model parameters and seed."""

    id: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    version: int = Field(gt=0)
    title: str = Field(min_length=1)
    synthetic_notice: str = Field(min_length=1)
    params: str = Field(min_length=1)
    """The model's parameter file: a bundled one by its study id (``seed000``) or a path."""
    seed: int = Field(ge=0)
    clinic_day: dt.date
    """The day the registry is as of: no event later (pump logs run to 08:00 that day), only due dates."""
    visit_months: tuple[int, ...]
    sites: tuple[Site, ...] = Field(min_length=1)
    missed_contacts: MissedContacts
    premature_eri: PrematureEri
    bookings: RefillBookings | None = None
    """How the clinic books refills; None: it books none."""

    @model_validator(mode="after")
    def _consistent(self) -> ClinicDefinition:
        late = [s.code for s in self.sites if s.implant_start >= self.clinic_day]
        if late:
            raise ValueError(f"sites {late}: implant_start must lie before the clinic_day {self.clinic_day}")
        doubles = sorted(code for code, k in Counter(s.code for s in self.sites).items() if k > 1)
        if doubles:
            raise ValueError(f"site codes must be unique; repeated: {', '.join(doubles)}")
        if any(m <= 0 for m in self.visit_months) or list(self.visit_months) != sorted(set(self.visit_months)):
            raise ValueError("visit_months must be positive and strictly increasing")
        if self.bookings is not None and set(self.bookings.staff) != {s.code for s in self.sites}:
            raise ValueError(f"bookings.staff must name the staff of each site, {', '.join(s.code for s in self.sites)}"
                             f" (it names {', '.join(self.bookings.staff) or 'none'})")
        return self

    @property
    def patients(self) -> int:
        return sum(site.patients for site in self.sites)


def bundled_clinics() -> tuple[str, ...]:
    """The ids of the clinic files shipped with the package."""
    return bundled_ids("clinics")


def load_clinic(name_or_path: str | Path) -> ClinicDefinition:
    """A bundled clinic by id (``example``) or a clinic file by path; refused with the field named."""
    text, where = read_toml_file(name_or_path, "clinics", "clinic", ClinicError)
    try:
        return ClinicDefinition.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as error:
        raise ClinicError(where, "(file)", f"valid TOML ({error})") from None
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"]) or "(top level)"
        raise ClinicError(f"{where}: {field}", first.get("input"), f"{first['msg'].removeprefix('Value error, ')} "
                          f"({error.error_count()} problem(s) in all; the schema is in docs/cohort.md)") from None


def clinic_params(clinic: ClinicDefinition) -> Params:
    """The clinic's parameters: a bundled study's (``params = "seed000"``) or a JSON file beside the bundled
    clinics (``params = "example-params.json"``, kept so that recalibrating a study leaves the example alone)."""
    if clinic.params.endswith(".json"):
        return load_params(Path(str(resources.files("openidds.cohort") / "clinics" / clinic.params)))
    return load_params(clinic.params)


def play_clinic(clinic: ClinicDefinition, params: Params | None = None) -> list[PatientRun]:
    """Every patient of the clinic drawn and played up to the clinic day, site by site in implant order (patients
    numbered across the sites), each pump's programmer state kept (:attr:`PatientRun.states`); ``params`` default
    to the clinic's parameter file. Nothing is written."""
    params = params or clinic_params(clinic)
    rng = np.random.default_rng(clinic.seed)
    library = default_library()
    runs: list[PatientRun] = []
    for site in clinic.sites:
        baselines = sample_baselines(params.baseline, site.patients, rng)
        span = (clinic.clinic_day - site.implant_start).days
        days = np.sort(rng.integers(0, span, site.patients))
        implants = [site.implant_start + dt.timedelta(days=int(d)) for d in days]
        for baseline, implant in zip(baselines, implants, strict=True):
            schedule = Schedule(implant, clinic.clinic_day, clinic.visit_months, telephone=False,
                                patient_reported=True)
            course = draw_course(baseline, params.course, schedule, rng, library)
            missed = rng.random() < clinic.missed_contacts.share
            missed_days = int(rng.integers(1, clinic.missed_contacts.max_days + 1))
            premature = rng.random() < clinic.premature_eri.share
            eri_day = int(rng.integers(1, clinic.premature_eri.within_days + 1))
            if missed and course.exit_reason is None and course.end_day > missed_days:
                course = last_contact(course, course.end_day - missed_days)
            spec = PumpSpec(model=SYNCHROMED_II, reservoir_ml=RESERVOIR_ML, catheter=CATHETER,
                            battery_eri_at_s=eri_day * DAY_S if premature else None)
            run = run_patient(len(runs) + 1, baseline, course, params.course, rng, library, spec, site.code,
                              keep_states=True)
            if course.exit_reason is None:  # a pump in place is read at 08:00 on the clinic day
                run.pump.advance(run.on_pump((clinic.clinic_day - implant).days * DAY_S))
            runs.append(run)
    return runs


def booked_refills(clinic: ClinicDefinition, runs: list[PatientRun]) -> list[Booking]:
    """The refill appointments the clinic booked for the played ``runs`` (:func:`book_refills`); none for a clinic
    without ``[bookings]``."""
    if clinic.bookings is None:
        return []
    return book_refills(runs, clinic.bookings, clinic.clinic_day, clinic.seed)


def last_contact(course: PatientCourse, day: int) -> PatientCourse:
    """The course as the clinic knows it when the patient was last heard from on ``day``: what would have
    happened from that day on (visits, dose changes, complications, revisions, an occlusion, bolus presses) is
    neither played nor recorded, and the last contact is that day."""
    return dataclasses.replace(
        course, end_day=day, visits=tuple(v for v in course.visits if v.day < day),
        dose_changes=tuple(c for c in course.dose_changes if c.day < day),
        complications=tuple(c for c in course.complications if c.day < day),
        revision_days=tuple(d for d in course.revision_days if d < day),
        occlusion_day=course.occlusion_day if course.occlusion_day is not None and course.occlusion_day < day
        else None,
        bolus_times_s=tuple(t for t in course.bolus_times_s if t < day * DAY_S))


def write_clinic(runs: list[PatientRun], folder: Path, bookings: list[Booking] | None = None) -> list[Path]:
    """Write the runs' registry CSV files (``registry/<kind>.csv``), pump logs, the programmer's state of each
    pump in place on the clinic day (``pump_logs/`` and ``pump_states/``, each ``SITE/PATIENT/IMPLANT_DATE.json``)
    and the refill appointments ``bookings`` (``refill_appointments.csv``; just its header without any) into
    ``folder``, replacing those folders and that file whole: they are written beside them first and moved into
    place when complete. Returns the files written.

    A state is the content of a pump state file less its checksum, as the registry stores it (table
    ``pump_states``): a clinic signs its files with its own key, so the example ships none. A pump whose
    simulated fault no state file describes (a premature ERI, a catheter occlusion) has no state."""
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".clinic-", dir=folder) as partial:
        staged = Path(partial)
        for name in FOLDERS:
            (staged / name).mkdir()
        for name, (header, rows) in registry_tables(runs).items():
            with (staged / REGISTRY_FOLDER / f"{name}.csv").open("w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle, lineterminator="\n")
                writer.writerow(header)
                writer.writerows(rows)
        for run in runs:
            for implant_date, log in pump_logs(run):
                _write(staged / PUMP_LOG_FOLDER, run, implant_date, log.model_dump_json())
            state = None if run.course.exit_reason is not None or run.states is None else run.states[-1]
            if state is not None:
                implant_date = run.implant_date + dt.timedelta(days=run.implants[-1].day)
                _write(staged / PUMP_STATE_FOLDER, run, implant_date,
                       json.dumps(state_content(state), separators=(",", ":")))
        write_bookings(staged / APPOINTMENT_FILE, bookings or [])
        for name in FOLDERS:
            shutil.rmtree(folder / name, ignore_errors=True)
            (staged / name).replace(folder / name)
        (staged / APPOINTMENT_FILE).replace(folder / APPOINTMENT_FILE)
    return sorted([folder / APPOINTMENT_FILE, *(p for name in FOLDERS for p in (folder / name).rglob("*")
                                                if p.is_file())])


def _write(folder: Path, run: PatientRun, implant_date: dt.date, text: str) -> None:
    path = folder / run.site / run.patient_id / f"{implant_date.isoformat()}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text + "\n", encoding="utf-8")


def main(argv: list[str] | None = None) -> None:
    """``python -m openidds.cohort.virtual_clinic [CLINIC] [--out DIR]``: play a clinic and write its files
    (default: the bundled ``example`` clinic into the example registry's package folder)."""
    from openidds.clinic.examples import EXAMPLE_FOLDER

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("clinic", nargs="?", default="example", help="a bundled clinic id or a clinic file")
    parser.add_argument("--out", type=Path, default=EXAMPLE_FOLDER.parent, help="the folder to write into")
    args = parser.parse_args(argv)
    try:
        clinic = load_clinic(args.clinic)
        runs = play_clinic(clinic)
        written = write_clinic(runs, args.out, booked_refills(clinic, runs))
    except OpenIDDSError as error:
        parser.exit(2, f"error: {error}\n")
    print(f"{len(written)} files written under {args.out}")


if __name__ == "__main__":
    main()

"""The researcher's view of the registry: patients and timelines under the research export's pseudonyms.

Each patient appears under the random research ID and with every date moved by the patient's date shift of
``openidds registry export research`` with the same seed (:func:`openidds.clinic.deidentify.research_keys`),
so what a researcher reads in the browser matches the export they download, and no site patient ID, name or
real date reaches them. The seed is the server's (``openidds web serve --research-seed``); without one the
view is refused. The mapping is the export's: the same seed and the same patients give the same research IDs
(adding a patient draws them again, as a new export would)."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Engine

from openidds.clinic import PatientRow, patients
from openidds.clinic.deidentify import Pseudonym, research_keys
from openidds.clinic.errors import UnknownRecord
from openidds.clinic.patient_series import PatientSeries, patient_series
from openidds.clinic.record import PatientKey
from openidds.clinic.timeline import Entry, patient_timeline
from openidds.web.errors import NoResearchSeed
from openidds.web.roles import Permission, Role, require

SEED_OPTION = "--research-seed"


@dataclass(frozen=True)
class ResearchPatient:
    """One line of the researcher's patient list: no site, no patient ID, dates shifted."""

    research_id: str
    sex: str
    cancer_type: str | None
    first_implant: dt.date | None
    implants: int
    status: str
    status_date: dt.date | None

    def to_dict(self) -> dict[str, Any]:
        return {k: v.isoformat() if isinstance(v, dt.date) else v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class ResearchTimeline:
    """A patient's timeline under their research ID, every date shifted."""

    research_id: str
    entries: list[Entry]

    def to_dict(self) -> dict[str, Any]:
        return {"research_id": self.research_id, "entries": [e.to_dict() for e in self.entries]}


def held_seed(seed: int | None) -> int:
    """The server's research seed; refused (HTTP 503) when the server was started without one."""
    if seed is None:
        raise NoResearchSeed(SEED_OPTION, None, "a research seed given to the server (`openidds web serve "
                             f"{SEED_OPTION} N`, the --seed of `openidds registry export research`): ask the "
                             "clinic's data manager")
    return seed


def _pseudonyms(rows: list[PatientRow], seed: int | None) -> dict[PatientKey, Pseudonym]:
    return research_keys(((p.site, p.patient_id) for p in rows), held_seed(seed))


def _shifted(day: dt.date | None, shift: dt.timedelta) -> dt.date | None:
    return None if day is None else day + shift


def research_patients(engine: Engine, role: Role, seed: int | None) -> list[ResearchPatient]:
    """Every patient under their research ID, by research ID; refused for a role without the research view."""
    require(role, Permission.VIEW_RESEARCH_PATIENTS)
    rows = patients(engine)
    keys = _pseudonyms(rows, seed)
    out = []
    for p in rows:
        pseudonym = keys[(p.site, p.patient_id)]
        out.append(ResearchPatient(pseudonym.research_id, p.sex, p.cancer_type,
                                   _shifted(p.first_implant, pseudonym.shift), p.implants, p.status,
                                   _shifted(p.status_date, pseudonym.shift)))
    return sorted(out, key=lambda r: r.research_id)


def _patient_of(engine: Engine, seed: int | None, research_id: str) -> tuple[PatientKey, Pseudonym]:
    found = [(key, p) for key, p in _pseudonyms(patients(engine), seed).items() if p.research_id == research_id]
    if not found:
        raise UnknownRecord("research_id", research_id, "a research ID of the patient list (R000001, ...)")
    return found[0]


def research_timeline(engine: Engine, role: Role, seed: int | None, research_id: str,
                      zone: dt.tzinfo = dt.UTC) -> ResearchTimeline:
    """The timeline of the patient with ``research_id``, dates shifted and without identifiers; a timed event is
    dated by its shifted moment's date in ``zone`` (the clinic's), the export's shifted UTC time read there."""
    require(role, Permission.VIEW_RESEARCH_PATIENTS)
    (site, patient_id), pseudonym = _patient_of(engine, seed, research_id)
    timeline = patient_timeline(engine, site, patient_id, identifiers=False, shift=pseudonym.shift, zone=zone)
    return ResearchTimeline(research_id, timeline.entries)


def research_series(engine: Engine, role: Role, seed: int | None, research_id: str) -> PatientSeries:
    """The plot's series of the patient with ``research_id``: labelled with it, times shifted as the timeline's, in
    UTC. Not in the clinic's zone: a dose step ending on a date ends at that date's local midnight, which a shift
    across a change of summer time would move by an hour, telling whether the real date was in summer time."""
    require(role, Permission.VIEW_RESEARCH_PATIENTS)
    (site, patient_id), pseudonym = _patient_of(engine, seed, research_id)
    return patient_series(engine, site, patient_id, shift=pseudonym.shift, label=research_id)

"""De-identified research export: direct identifiers removed, dates shifted per patient, old ages grouped.

* Removed: every field marked ``identifier`` in the mapping (MRN, names, postal code, birth date, pump serial,
  UDI), free-text fields (notes, descriptions, cause of death, bolus reasons) and the site's own patient ID,
  replaced by a random research ID.
* Dates: every date and date-time of a patient moves by the same number of days (a shift drawn from
  −``max_shift_days``..+``max_shift_days`` by a seeded generator), so intervals are kept exactly.
* Age at first implant (from the birth date before it is dropped) is reported with every age of 90 and over
  aggregated, as HIPAA Safe Harbor requires (45 CFR 164.514(b)(2)(i)(C)): the de-identified records carry 90
  (meaning 90 or older, :data:`AGE_TOP_NOTE`), an integer that a REDCap integer field takes; the research tables
  write it ``"90+"``.

Rows are ordered by research ID in every table (random per seed), so a row's rank in the export says
nothing about its patient's rank in the registry. The same seed gives the same research IDs and shifts; keep
the seed secret, as it re-links the export.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from openidds.clinic import store
from openidds.clinic.analysis import age_on
from openidds.clinic.database import sessions
from openidds.clinic.fields import SPECS, Field, RecordSpec
from openidds.clinic.record import PatientKey
from openidds.formula_cells import neutralised_frame

AGE_TOP = 90
AGE_TOP_NOTE = (f"{AGE_TOP} means {AGE_TOP} or older: HIPAA Safe Harbor aggregates ages over 89 "
                "(45 CFR 164.514(b)(2)(i)(C))")
"""What an age of :data:`AGE_TOP` means in the de-identified records."""
FREE_TEXT = {"note", "description", "cause_of_death", "reason"}


def _shift(value: Any, days: dt.timedelta) -> Any:
    return value + days if isinstance(value, dt.date | dt.datetime) else value


def top_coded_age(age: int | None) -> int | None:
    """The age, with every age of 90 and over written 90 (meaning 90 or older)."""
    return None if age is None else min(age, AGE_TOP)


def age_group(age: int | None) -> str | None:
    """The age as text, with ages of 90 and over grouped as ``"90+"``."""
    if age is None:
        return None
    return f"{AGE_TOP}+" if age >= AGE_TOP else str(age)


@dataclass(frozen=True)
class Pseudonym:
    """A patient's random research ID and the shift of all their dates in the research export."""

    research_id: str
    shift: dt.timedelta


def research_keys(patients: Iterable[PatientKey], seed: int, max_shift_days: int = 180) -> dict[PatientKey, Pseudonym]:
    """The research export's pseudonym of each patient (site, patient_id): research IDs ``R000001``... in a
    random order drawn from ``seed`` over the patients sorted by key, and a date shift drawn per patient from
    the seed and the key. The same seed and the same patients give the same pseudonyms."""
    keys = sorted(set(patients))
    order = random.Random(seed).sample(range(len(keys)), len(keys))
    out = {}
    for key, n in zip(keys, order, strict=True):
        salt = hashlib.sha256(f"{seed}:{key[0]}:{key[1]}".encode()).digest()
        shift = dt.timedelta(days=int.from_bytes(salt[:4], "big") % (2 * max_shift_days + 1) - max_shift_days)
        out[key] = Pseudonym(f"R{n + 1:06d}", shift)
    return out


def research_field(f: Field) -> bool:
    """Whether the research export keeps field ``f``: not an identifier, not free text."""
    return not f.identifier and not (f.kind == "text" and f.name in FREE_TEXT)


def deidentified_records(engine: Engine, seed: int,
                         max_shift_days: int = 180) -> dict[str, list[tuple[RecordSpec, dict[str, Any]]]]:
    """Each patient's records, de-identified as the research export writes them, by research ID: per record its
    kind and its row (``research_id``, the shifted ``implant_date`` of a pump record, the kept fields shifted,
    and for the patient the age at first implant, top-coded: :func:`top_coded_age`)."""
    with sessions(engine)() as session:
        snapshot = store.load(session)
    by_patient = snapshot.by_patient()
    keys = [p for p, records in by_patient.items() if any(r.spec.name == "patients" for r in records)]
    out: dict[str, list[tuple[RecordSpec, dict[str, Any]]]] = {}
    for key, pseudonym in research_keys(keys, seed, max_shift_days).items():
        research_id, shift = pseudonym.research_id, pseudonym.shift
        records = by_patient[key]
        first_implant = min((r.get("implant_date") for r in records if r.spec.name == "implants"), default=None)
        rows = out.setdefault(research_id, [])
        for record in records:
            spec = record.spec
            row: dict[str, Any] = {"research_id": research_id}
            if record.implant_date is not None:
                row["implant_date"] = _shift(record.implant_date, shift)
            for f in spec.fields:
                if research_field(f):
                    row[f.name] = _shift(record.get(f.name), shift)
            if spec.name == "patients":
                birth = record.get("birth_date")
                age = age_on(birth, first_implant) if birth and first_implant else record.get("age_at_implant_years")
                row["age_at_implant_years"] = top_coded_age(age)
            rows.append((spec, row))
    return out


def research_columns(spec: RecordSpec) -> list[str]:
    """The columns of ``spec``'s research table, in order: ``research_id``, the shifted ``implant_date`` of a
    pump record, then the fields the export keeps (:func:`research_field`)."""
    pump_record = ["implant_date"] if spec.parent == "implant" else []
    return ["research_id", *pump_record, *(f.name for f in spec.fields if research_field(f))]


def research_tables(engine: Engine, seed: int, max_shift_days: int = 180) -> dict[str, pd.DataFrame]:
    """One de-identified table per kind of record, keyed by ``research_id``, every one with its columns
    (:func:`research_columns`) even when the registry holds none of its records; the age at first implant is
    text, ``"90+"`` for 90 and over (:func:`age_group`)."""
    tables: dict[str, list[dict[str, Any]]] = {name: [] for name in SPECS}
    for rows in deidentified_records(engine, seed, max_shift_days).values():
        for spec, row in rows:
            if spec.name == "patients":
                row = {**row, "age_at_implant_years": age_group(row["age_at_implant_years"])}
            tables[spec.name].append(row)
    for table in tables.values():
        table.sort(key=_research_order)
    return {name: pd.DataFrame(rows, columns=research_columns(SPECS[name])) for name, rows in tables.items()}


def _research_order(row: dict[str, Any]) -> tuple[str, list[str]]:
    """Sort key of a research row: its research ID, then its values as text (a stable order per patient that
    does not follow the registry's)."""
    return row["research_id"], [str(value) for value in row.values()]


def write_research_export(engine: Engine, directory: Path, seed: int, max_shift_days: int = 180) -> list[Path]:
    """Write the de-identified tables as CSV files in ``directory`` (formula-like text neutralised, see
    :mod:`openidds.formula_cells`)."""
    directory.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, frame in research_tables(engine, seed, max_shift_days).items():
        path = directory / f"{name}.csv"
        neutralised_frame(frame).to_csv(path, index=False)
        paths.append(path)
    return paths

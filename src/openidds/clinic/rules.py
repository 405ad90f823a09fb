"""Validation rules (after Kahn et al., eGEMs 2016): per record (consistency of one row) and per patient (dates
in order).

The same rules run on an import before anything is written and on a whole registry in ``check``.
Dates must follow birth ≤ diagnosis ≤ implant ≤ follow-up ≤ death; pump records stay within their implant's
life (implant ≤ event ≤ explant) and a refill within its reservoir; nothing is dated after death, and no follow-up
after the exit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from openidds.clinic import vocabulary as v
from openidds.clinic.fields import SPECS
from openidds.clinic.findings import Finding
from openidds.clinic.record import Record

EQ5D_DIMENSIONS = ("eq5d_mobility", "eq5d_self_care", "eq5d_usual_activities", "eq5d_pain_discomfort",
                   "eq5d_anxiety_depression")
EQ5D_LEVELS = {"5L": 5, "3L": 3}
#: The required fields of each kind of record outside its natural key.
REQUIRED = {s.name: tuple(f.name for f in s.fields if f.required and f.name not in s.key) for s in SPECS.values()}


def _f(rule: str, record: Record, message: str, location: str = "") -> Finding:
    return Finding(rule, record.label, message, location or record.location)


def _day(value: Any) -> dt.date | None:
    return value.date() if isinstance(value, dt.datetime) else value


def record_findings(record: Record) -> list[Finding]:
    """Consistency of one record's own values."""
    g = record.values.get
    out: list[Finding] = []
    name = record.spec.name
    if name == "visits":
        version = g("eq5d_version")
        if version != "5L":
            given = {d: level for d in EQ5D_DIMENSIONS if (level := g(d)) is not None}
            if given and version is None:
                out.append(_f("eq5d-version", record, "EQ-5D levels given without eq5d_version (5L or 3L)"))
            top = EQ5D_LEVELS.get(version or "", 5)
            out += [_f("eq5d-level", record, f"{d}={level}: EQ-5D-{version} levels run from 1 to {top}")
                    for d, level in given.items() if level > top]
        if g("systemic_opioid") is False and (g("ome_mg_per_day") or 0) > 0:
            out.append(_f("ome-without-opioid", record, "ome_mg_per_day > 0 but systemic_opioid = 0"))
        if g("satisfaction") is not None and g("satisfaction_respondent") is None:
            out.append(_f("satisfaction-respondent", record, "satisfaction given without satisfaction_respondent"))
    elif name == "implants":
        postop, total = g("postop_stay_days"), g("total_stay_days")
        if postop is not None and total is not None and postop > total:
            out.append(_f("stay-order", record, "postop_stay_days exceeds total_stay_days"))
        if g("explant_reason") is not None and g("explant_date") is None:
            out.append(_f("explant-reason", record, "explant_reason given without explant_date"))
    elif name == "complications":
        if (g("action") == "death" or g("kind") == "death") != (g("grade") == 5):
            out.append(_f("grade-death", record, "grade 5 if and only if the complication led to death"))
    elif name == "exits":
        if g("reason") == "death" and g("death_date") != g("exit_date"):
            out.append(_f("exit-death", record, "exit reason death needs death_date equal to exit_date"))
        death = g("death_date")
        if g("reason") != "death" and death is not None and death < g("exit_date"):
            out.append(_f("exit-death", record, "death_date before exit_date: the exit reason should be death"))
    elif name == "alarms":
        resolved = g("resolved_at")
        if resolved is not None and resolved < g("at"):
            out.append(_f("alarm-order", record, "resolved_at before the alarm"))
    elif name == "patients" and g("birth_date") is None and g("age_at_implant_years") is None:
        out.append(_f("age", record, "birth_date or age_at_implant_years is required", record.location))
    return out


_PRE_IMPLANT = {"screening_trials"}
_POST_IMPLANT = {"complications"}
_DATE_FIELDS: dict[str, tuple[str, ...]] = {
    "screening_trials": ("trial_date",),
    "visits": ("visit_date",),
    "complications": ("onset_date", "resolved_date"),
    "programs": ("started_at",),
    "refills": ("refilled_at",),
    "alarms": ("at", "resolved_at"),
    "boluses": ("at",),
}


def _dated(records: Iterable[Record]) -> Iterable[tuple[Record, str, dt.date]]:
    for record in records:
        for name in _DATE_FIELDS.get(record.spec.name, ()):
            day = _day(record.get(name))
            if day is not None:
                yield record, name, day


def _refill_volume(refill: Record, implant: Record) -> list[Finding]:
    size, volume = implant.get("reservoir_ml"), refill.get("volume_added_ml")
    if size is None or volume is None or volume <= size:
        return []
    return [_f("refill-volume", refill, f"volume_added_ml={volume:g} exceeds the {size:g} mL reservoir",
               refill.location or implant.location)]


def patient_findings(records: list[Record]) -> list[Finding]:
    """Dates in order across all records of one patient (records of several kinds, from file and database)."""
    by_kind: dict[str, list[Record]] = {}
    for record in records:
        by_kind.setdefault(record.spec.name, []).append(record)
    patient = next(iter(by_kind.get("patients", [])), None)
    implants = sorted(by_kind.get("implants", []), key=lambda r: r.get("implant_date"))
    exit_ = next(iter(by_kind.get("exits", [])), None)
    out: list[Finding] = []
    events = list(_dated(records))
    birth = patient.get("birth_date") if patient else None
    death = exit_.get("death_date") if exit_ else None
    first = implants[0].get("implant_date") if implants else None

    def bound(rule: str, record: Record, name: str, day: dt.date, limit: dt.date | None, after: bool,
              what: str, by: Record | None) -> None:
        if limit is None or (day >= limit if after else day <= limit):
            return
        relation = "before" if after else "after"
        location = record.location or (by.location if by else "")
        out.append(_f(rule, record, f"{name}={day.isoformat()} is {relation} {what} {limit.isoformat()}", location))

    if patient is not None:
        for name in ("cancer_diagnosis_date", "pain_onset_date", "enrolled_on", "last_contact_date"):
            if patient.get(name) is not None:
                bound("after-birth", patient, name, patient.get(name), birth, True, "birth", patient)
        if patient.get("cancer_diagnosis_date") is not None:
            bound("diagnosis-before-implant", patient, "cancer_diagnosis_date", patient.get("cancer_diagnosis_date"),
                  first, False, "the first implant", implants[0] if implants else None)
        if patient.get("last_contact_date") is not None:
            bound("before-death", patient, "last_contact_date", patient.get("last_contact_date"), death, False,
                  "death", exit_)
    previous: Record | None = None
    for implant in implants:
        day = implant.get("implant_date")
        bound("after-birth", implant, "implant_date", day, birth, True, "birth", patient)
        bound("before-death", implant, "implant_date", day, death, False, "death", exit_)
        if implant.get("explant_date") is not None:
            bound("explant-after-implant", implant, "explant_date", implant.get("explant_date"), day, True,
                  "the implant", implant)
            bound("before-death", implant, "explant_date", implant.get("explant_date"), death, False, "death", exit_)
        if previous is None and implant.get("kind") != "initial":
            out.append(_f("first-implant-kind", implant, f"the patient's first implant has kind={implant.get('kind')},"
                          " expected initial"))
        if previous is not None and implant.get("kind") == "initial":
            out.append(_f("later-implant-kind", implant, "a later implant must be a replacement or revision"))
        previous = implant
    by_date = {i.get("implant_date"): i for i in implants}
    for record, name, day in events:
        bound("after-birth", record, name, day, birth, True, "birth", patient)
        bound("before-death", record, name, day, death, False, "death", exit_)
        kind = record.spec.name
        if record.spec.parent == "implant":
            own = by_date.get(record.implant_date)
            if own is not None:
                bound("within-implant", record, name, day, own.get("implant_date"), True, "its implant", own)
                bound("within-implant", record, name, day, own.get("explant_date"), False, "the explant", own)
                if kind == "refills" and name == "refilled_at":
                    out += _refill_volume(record, own)
        elif kind in _PRE_IMPLANT or (kind == "visits" and record.get("visit_type") == "baseline"):
            bound("before-implant", record, name, day, first, False, "the first implant",
                  implants[0] if implants else None)
        elif kind in _POST_IMPLANT or kind == "visits":
            bound("after-implant", record, name, day, first, True, "the first implant",
                  implants[0] if implants else None)
        if exit_ is not None and exit_.get("reason") != "death" and kind != "screening_trials":
            bound("before-exit", record, name, day, exit_.get("exit_date"), False, "the exit", exit_)
    if exit_ is not None:
        bound("after-birth", exit_, "exit_date", exit_.get("exit_date"), birth, True, "birth", patient)
        bound("exit-after-implant", exit_, "exit_date", exit_.get("exit_date"), first, True, "the first implant",
              implants[0] if implants else None)
    return out


def change_findings(records: list[Record]) -> list[Finding]:
    """The findings about the changed records among one patient's records (stored ones merged with the change):
    a changed record is one with a ``location``, and a finding counts when it is located at a changed record
    (its own, or the record that bounds it, e.g. an exit dated before a stored visit)."""
    out: list[Finding] = []
    for record in records:
        if record.location:
            out += record_findings(record)
            out += [_f("required", record, f"{name} is required") for name in REQUIRED[record.spec.name]
                    if record.values.get(name) is None]
    return out + [f for f in patient_findings(records) if f.location]


def implant_for(implants: list[Record], day: dt.date, serial: str | None) -> Record | None:
    """The implant in place on ``day`` (the latest implanted on or before it), matching ``serial`` if given."""
    chosen = None
    for implant in sorted(implants, key=lambda r: r.get("implant_date")):
        if implant.get("implant_date") <= day and (serial is None or implant.get("serial_number") == serial):
            chosen = implant
    return chosen


def refill_discrepancy_limit(reservoir_ml: float | None) -> float:
    """The discrepancy (mL) above which a refill is flagged: 1 mL up to a 20 mL pump, 2 mL above."""
    if reservoir_ml is not None and reservoir_ml > 20.0:
        return v.DISCREPANCY_LIMIT_ML[40.0]
    return v.DISCREPANCY_LIMIT_ML[20.0]


"""The analysis dataset: one row per implanted patient, with derived times and censoring, for the statistician.

Time zero is the first implant. Times are in days. Conventions (documented in docs/registry.md):

* ``os_days``/``death``: death, or censored at the last date the patient was known alive (last contact, latest
  visit, refill, program, alarm, complication, or a non-death exit date, whichever is latest).
* ``complication_days``/``complication_status``: first complication on or after the implant; status 1 =
  complication, 2 = death first (competing risk), 0 = censored. Same for ``severe_complication_*`` (grade ≥ 3)
  and ``reoperation_*`` (first of: complication treated by reoperation, revision or explant; a replacement or
  revision implant; an explant).
* ``exit_days``/``exit_reason``: end of registry follow-up (any reason); ``exit_status`` 1 if exited, else 0
  with censoring at the last date known alive.
* ``nrs_3m``/``nrs_6m``/``nrs_12m`` (and ``eq5d_index_*``): the follow-up value nearest to day 91/182/365
  within ±45 days.
* ``telephone_contacts``: the telephone visits on or after the first implant (a study that counts the patients
  reached by telephone as followed up).
* ``last_ome_mg_per_day``, ``last_opioid_change``, ``satisfaction``: the last follow-up value reported;
  ``dissatisfaction_reason`` and ``satisfaction_respondent`` come from the visit of that satisfaction;
  ``systemic_opioid_stopped``: 1 if any follow-up recorded the systemic opioid as stopped.
* Lists are ``;``-joined codes, ``none`` when the record says there are none: ``metastasis_sites``,
  ``pain_locations``, ``adjuvant_drugs``; ``complications`` as ``day:kind:grade:action`` (day from the first
  implant); ``reoperations`` as ``day:reason``; ``start_doses_mg_per_day`` as ``drug:dose``.
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import Engine

from openidds.clinic import store
from openidds.clinic import vocabulary as v
from openidds.clinic.database import sessions
from openidds.clinic.errors import RegistryError
from openidds.clinic.record import Record
from openidds.formula_cells import neutralised_frame
from openidds.months import DAYS_PER_MONTH

WINDOW_DAYS = 45
MILESTONES = {"3m": 91, "6m": 182, "12m": 365}
NONE = "none"
_FLAGS = ("wheelchair_or_cart", "pressure_sores", "skin_compromising_lines", "prior_surgery",
          "prior_chemoradiotherapy", "prior_immunotherapy", "prior_pain_procedure")
_AS_IS = ("insurance", "hospital_charge", "out_of_pocket_cost", "currency")
_IMPLANT = ("insertion_level", "catheter_tip_level", "operation_minutes", "total_stay_days", "postop_stay_days")


def _day(value: Any) -> dt.date | None:
    return value.date() if isinstance(value, dt.datetime) else value


def age_on(birth: dt.date | None, on: dt.date) -> int | None:
    """Age in whole years on ``on``."""
    if birth is None:
        return None
    return on.year - birth.year - ((on.month, on.day) < (birth.month, birth.day))


def _nearest(visits: list[Record], target: dt.date, field: str) -> Any:
    best = None
    for visit in visits:
        value = visit.get(field)
        gap = abs((visit.get("visit_date") - target).days)
        if value is not None and gap <= WINDOW_DAYS and (best is None or gap < best[0]):
            best = (gap, value)
    return None if best is None else best[1]


def _flag(value: bool | None) -> int | None:
    return None if value is None else int(value)


def _codes(values: list[str] | None) -> str | None:
    """A list as ``;``-joined codes: ``none`` for an empty list or the code ``none``, ``None`` when nothing was
    recorded."""
    if values is None:
        return None
    return ";".join(values) if values and values != [NONE] else NONE


def _months_before(start: dt.date | None, months: float | None, t0: dt.date) -> float | None:
    """Months from ``start`` to the implant, or the recorded duration when there is no start date."""
    return round((t0 - start).days / DAYS_PER_MONTH, 2) if start is not None else months


def _reoperations(complications: list[Record], implants: list[Record]) -> list[tuple[dt.date, str]]:
    """Each surgery after the first implant with its reason. A complication treated surgically is one surgery
    (reason: its kind); the explant or revision implant that carried out a complication's explant or revision
    (the first on or after its onset) is that same surgery, not another. Any other explant or later implant is
    a surgery of its own (reason: ``explant_<explant reason>`` or the implant kind)."""
    found = [(c.get("onset_date"), c.get("kind")) for c in complications if c.get("action") in v.SURGICAL_ACTIONS]
    pending = {action: sorted(c.get("onset_date") for c in complications if c.get("action") == action)
               for action in ("explant", "revision")}

    def carried_out(action: str, day: dt.date) -> bool:
        onset = next((d for d in pending[action] if d <= day), None)
        if onset is not None:
            pending[action].remove(onset)
        return onset is not None

    for implant in implants:
        day = implant.get("explant_date")
        if day and not carried_out("explant", day):
            found.append((day, f"explant_{implant.get('explant_reason') or 'unrecorded'}"))
    for implant in implants[1:]:
        if not carried_out("revision", implant.get("implant_date")):
            found.append((implant.get("implant_date"), implant.get("kind")))
    return sorted(found)


def _start_program(programs: list[Record], t0: dt.date) -> tuple[str | None, str | None]:
    """The first implant's first program: its drugs (``+``-joined, sorted) and ``drug:dose`` per drug."""
    first = [p for p in programs if p.implant_date == t0]
    if not first:
        return None, None
    start = min(p.get("started_at") for p in first)
    drugs = sorted((p.get("drug"), p.get("daily_dose_mg_per_day")) for p in first if p.get("started_at") == start)
    return "+".join(d for d, _ in drugs), ";".join(f"{d}:{dose:g}" for d, dose in drugs)


def _competing(event: dt.date | None, death: dt.date | None, end: dt.date, t0: dt.date) -> tuple[int, int]:
    if event is not None:
        return (event - t0).days, 1
    if death is not None:
        return (death - t0).days, 2
    return (end - t0).days, 0


def patient_row(records: list[Record]) -> dict[str, Any] | None:
    """The analysis row of one patient, or ``None`` if the patient has no implant."""
    kinds: dict[str, list[Record]] = {}
    for record in records:
        kinds.setdefault(record.spec.name, []).append(record)
    implants = sorted(kinds.get("implants", []), key=lambda r: r.get("implant_date"))
    if not implants or not kinds.get("patients"):
        return None
    patient = kinds["patients"][0]
    exit_ = next(iter(kinds.get("exits", [])), None)
    t0 = implants[0].get("implant_date")
    death = exit_.get("death_date") if exit_ else None
    dates = [_day(r.get(f)) for r in records for f in ("visit_date", "refilled_at", "started_at", "at", "onset_date",
                                                       "resolved_date", "implant_date", "explant_date")
             if r.spec.name != "patients" and r.get(f) is not None]
    dates += [patient.get("last_contact_date")] if patient.get("last_contact_date") else []
    dates += [exit_.get("exit_date")] if exit_ else []
    last_alive = max([t0, *[d for d in dates if d is not None]])
    end = death or last_alive
    complications = sorted((c for c in kinds.get("complications", []) if c.get("onset_date") >= t0),
                           key=lambda c: c.get("onset_date"))
    first_any = next((c.get("onset_date") for c in complications), None)
    first_severe = next((c.get("onset_date") for c in complications if c.get("grade") >= v.SEVERE_GRADE), None)
    surgeries = [c.get("onset_date") for c in complications if c.get("action") in v.SURGICAL_ACTIONS]
    surgeries += [i.get("implant_date") for i in implants[1:]] + [i.get("explant_date") for i in implants
                                                                 if i.get("explant_date")]
    first_surgery = min(surgeries, default=None)
    baseline = sorted((r for r in kinds.get("visits", []) if r.get("visit_type") == "baseline"
                       and r.get("visit_date") <= t0), key=lambda r: r.get("visit_date"))
    follow = sorted((r for r in kinds.get("visits", []) if r.get("visit_type") != "baseline"
                     and r.get("visit_date") >= t0), key=lambda r: r.get("visit_date"))
    base = baseline[-1] if baseline else None
    trials = sorted(kinds.get("screening_trials", []), key=lambda r: r.get("trial_number"))
    start_drug, start_doses = _start_program(kinds.get("programs", []), t0)
    row: dict[str, Any] = {
        "site": patient.patient[0], "patient_id": patient.patient[1], "sex": patient.get("sex"),
        "age_at_implant_years": age_on(patient.get("birth_date"), t0) if patient.get("birth_date")
        else patient.get("age_at_implant_years"),
        "cancer_type": patient.get("cancer_type"), "bmi_kg_per_m2": patient.get("bmi_kg_per_m2"),
        "adl_score": patient.get("adl_score"), "ecog": patient.get("ecog"),
        "implant_reason": patient.get("implant_reason"), "first_implant_date": t0, "implants": len(implants),
        "reservoir_ml": implants[0].get("reservoir_ml"),
        "baseline_nrs": base.get("nrs") if base else None,
        "baseline_ome_mg_per_day": base.get("ome_mg_per_day") if base else None,
        "baseline_eq5d_index": base.get("eq5d_index") if base else None,
        "last_nrs": next((r.get("nrs") for r in reversed(follow) if r.get("nrs") is not None), None),
        "telephone_contacts": sum(r.get("visit_type") == "telephone" for r in follow),
        **{name: _flag(patient.get(name)) for name in _FLAGS},
        **{name: patient.get(name) for name in _AS_IS},
        "metastasis_sites": _codes(patient.get("metastasis_sites")),
        "pain_locations": _codes(patient.get("pain_locations")),
        "adjuvant_drugs": _codes(patient.get("adjuvant_drugs")),
        "cancer_duration_months": _months_before(patient.get("cancer_diagnosis_date"),
                                                 patient.get("cancer_duration_months"), t0),
        "pain_duration_months": _months_before(patient.get("pain_onset_date"), patient.get("pain_duration_months"),
                                               t0),
        "baseline_systemic_opioid": _flag(base.get("systemic_opioid")) if base else None,
        "implant_year": t0.year,
        **{name: implants[0].get(name) for name in _IMPLANT},
        "trial_drug": trials[0].get("drug") if trials else None,
        "trial_dose_mg": trials[0].get("dose_mg") if trials else None,
        "start_drug": start_drug, "start_doses_mg_per_day": start_doses,
        "complications": ";".join(f"{(c.get('onset_date') - t0).days}:{c.get('kind')}:{c.get('grade')}:"
                                  f"{c.get('action')}" for c in complications) or NONE,
        "reoperations": ";".join(f"{(day - t0).days}:{reason}" for day, reason in
                                 _reoperations(complications, implants)) or NONE,
        "last_date_known_alive": last_alive, "death_date": death,
        "os_days": (end - t0).days, "death": int(death is not None),
    }
    for name, days in MILESTONES.items():
        target = t0 + dt.timedelta(days=days)
        row[f"nrs_{name}"] = _nearest(follow, target, "nrs")
        row[f"eq5d_index_{name}"] = _nearest(follow, target, "eq5d_index")
    for name, event in (("complication", first_any), ("severe_complication", first_severe),
                        ("reoperation", first_surgery)):
        row[f"{name}_days"], row[f"{name}_status"] = _competing(event, death, end, t0)
    last = {f: next((r.get(f) for r in reversed(follow) if r.get(f) is not None), None)
            for f in ("ome_mg_per_day", "opioid_change")}
    answered = next((r for r in reversed(follow) if r.get("satisfaction") is not None), None)
    row["screening_trials"] = len(kinds.get("screening_trials", []))
    row["last_ome_mg_per_day"] = last["ome_mg_per_day"]
    row["systemic_opioid_stopped"] = int(any(r.get("opioid_change") == "stopped" for r in follow))
    row["last_opioid_change"] = last["opioid_change"]
    for name in ("satisfaction", "satisfaction_respondent", "dissatisfaction_reason"):
        row[name] = answered.get(name) if answered else None
    row["infection_requiring_surgery"] = int(any(c.get("kind") == "infection" and c.get("action")
                                                 in v.SURGICAL_ACTIONS for c in complications))
    row["exit_reason"] = exit_.get("reason") if exit_ else None
    row["exit_days"] = ((exit_.get("exit_date") if exit_ else last_alive) - t0).days
    row["exit_status"] = int(exit_ is not None)
    return row


def analysis_dataset(engine: Engine) -> pd.DataFrame:
    """One row per implanted patient (see the module's conventions), sorted by site and patient."""
    with sessions(engine)() as session:
        snapshot = store.load(session)
    rows = [row for records in snapshot.by_patient().values() if (row := patient_row(records)) is not None]
    frame = pd.DataFrame(rows)
    if frame.empty:
        return frame
    return frame.sort_values(["site", "patient_id"], ignore_index=True)


def write_dataset(frame: pd.DataFrame, path: Path) -> Path:
    """Write the dataset as CSV or Parquet, by the file's suffix; CSV text cells that a spreadsheet would run as a
    formula are neutralised (:mod:`openidds.formula_cells`)."""
    if path.suffix == ".parquet":
        frame.to_parquet(path, engine="pyarrow", index=False)
    elif path.suffix == ".csv":
        neutralised_frame(frame).to_csv(path, index=False)
    else:
        raise RegistryError("output", str(path), "a .csv or .parquet file")
    return path

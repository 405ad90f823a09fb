"""The column contract of the analysis dataset the report reads (one row per implanted patient).

The names follow the clinic registry's analysis dataset (``openidds.clinic.analysis``); times are whole
days from the first implant. Only ``os_days`` and ``death`` are required: a section whose columns are
absent is left out with a note naming them. The outcomes package may not import the registry, so the few
codes the report interprets (status codes, satisfaction, exit reason) are listed here.

A ``list`` column holds ``;``-joined items (``none`` when the record says there are none): codes, or
``day:kind:grade:action`` complications, ``day:reason`` reoperations and ``drug:dose`` starting doses.
"""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from openidds.errors import OpenIDDSError
from openidds.outcomes import _checks
from openidds.outcomes.data_error import DataError

SATISFACTION = ("very_satisfied", "satisfied", "neutral", "dissatisfied", "very_dissatisfied")
SATISFIED = ("very_satisfied", "satisfied")
DISSATISFIED = ("dissatisfied", "very_dissatisfied")
RESPONDENTS = ("patient", "family")
DISSATISFACTION_REASONS = ("poor_pain_control", "refill_burden", "short_survival", "other")
OPIOID_CHANGES = ("stopped", "reduced", "unchanged", "increased")
NONE = "none"
EXIT_REASONS = ("death", "explant", "therapy_stopped", "transfer_of_care", "lost_to_follow_up", "site_closure",
                "withdrew_consent")


@dataclass(frozen=True)
class Column:
    """One column of the contract: its kind, meaning, the section that uses it and its allowed values."""

    name: str
    kind: str
    label: str
    section: str
    required: bool = False
    minimum: float | None = None
    maximum: float | None = None
    codes: tuple[object, ...] | None = None
    parts: tuple[str, ...] = ()
    """A list column's item fields (``:``-separated); those named ``day``, ``grade`` or ``dose`` are numbers."""


def _score(name: str, label: str, section: str, low: float, high: float | None) -> Column:
    return Column(name, "number", label, section, minimum=low, maximum=high)


def _flag(name: str, label: str, section: str = "cohort") -> Column:
    return Column(name, "code", f"{label}: 1 yes, 0 no", section, codes=(0, 1))


def _list(name: str, label: str, section: str, parts: tuple[str, ...] = ("code",)) -> Column:
    return Column(name, "list", label, section, parts=parts)


def _event(prefix: str, label: str) -> tuple[Column, Column]:
    return (Column(f"{prefix}_days", "days", f"Days from implant to {label}, death or censoring", "complications",
                   minimum=0),
            Column(f"{prefix}_status", "code", f"{label}: 1 event, 2 death first (competing), 0 censored",
                   "complications", codes=(0, 1, 2)))


COLUMNS: tuple[Column, ...] = (
    Column("site", "category", "Site", "cohort"),
    Column("sex", "category", "Sex", "cohort"),
    _score("age_at_implant_years", "Age at implant, years", "cohort", 0, 130),
    Column("cancer_type", "category", "Cancer type", "cohort"),
    _score("bmi_kg_per_m2", "BMI, kg/m²", "cohort", 5, 100),
    _score("adl_score", "ADL score", "cohort", 0, 100),
    Column("ecog", "category", "ECOG performance status", "cohort"),
    _flag("wheelchair_or_cart", "Admitted by wheelchair or cart"),
    _flag("pressure_sores", "Pressure sores"),
    _flag("skin_compromising_lines", "Skin-compromising indwelling lines"),
    _list("metastasis_sites", "Metastasis sites", "cohort"),
    _flag("prior_surgery", "Prior cancer surgery"),
    _flag("prior_chemoradiotherapy", "Prior chemo- or radiotherapy"),
    _flag("prior_immunotherapy", "Prior immunotherapy"),
    _flag("prior_pain_procedure", "Prior interventional pain procedure"),
    _score("cancer_duration_months", "Cancer diagnosis to implant, months", "cohort", 0, None),
    _score("pain_duration_months", "Pain onset to implant, months", "cohort", 0, None),
    _list("pain_locations", "Pain locations", "cohort"),
    _list("adjuvant_drugs", "Adjuvant drugs", "cohort"),
    _flag("baseline_systemic_opioid", "On systemic opioids at baseline"),
    Column("implant_reason", "category", "Reason for implant", "cohort"),
    Column("insurance", "category", "Insurance", "cohort"),
    _score("hospital_charge", "Total hospital charge", "cohort", 0, None),
    _score("out_of_pocket_cost", "Cost paid by the patient", "cohort", 0, None),
    Column("currency", "category", "Currency of the costs (ISO 4217)", "cohort"),
    Column("reservoir_ml", "category", "Pump reservoir, mL", "therapy"),
    _score("implant_year", "Year of the first implant", "therapy", 1900, 2200),
    _score("screening_trials", "Screening trials before the implant", "therapy", 0, None),
    Column("trial_drug", "category", "First screening trial's drug", "therapy"),
    _score("trial_dose_mg", "First screening trial's dose, mg", "therapy", 0, None),
    Column("insertion_level", "category", "Catheter insertion level", "therapy"),
    Column("catheter_tip_level", "category", "Catheter tip level", "therapy"),
    _score("operation_minutes", "Operation time, minutes", "therapy", 0, None),
    _score("total_stay_days", "Total hospital stay, days", "therapy", 0, None),
    _score("postop_stay_days", "Post-operative stay, days", "therapy", 0, None),
    Column("start_drug", "category", "Starting intrathecal drug or mix", "therapy"),
    _list("start_doses_mg_per_day", "Starting dose per drug, mg/day (drug:dose)", "therapy", parts=("drug", "dose")),
    _score("baseline_nrs", "Baseline pain NRS (0–10)", "pain", 0, 10),
    _score("last_nrs", "Last follow-up pain NRS", "pain", 0, 10),
    _score("telephone_contacts", "Telephone visits after the implant", "flow", 0, None),
    _score("nrs_3m", "Pain NRS at 3 months (±45 days)", "pain", 0, 10),
    _score("nrs_6m", "Pain NRS at 6 months (±45 days)", "pain", 0, 10),
    _score("nrs_12m", "Pain NRS at 12 months (±45 days)", "pain", 0, 10),
    _score("baseline_eq5d_index", "Baseline EQ-5D index", "pain", -1, 1),
    _score("eq5d_index_3m", "EQ-5D index at 3 months", "pain", -1, 1),
    _score("eq5d_index_6m", "EQ-5D index at 6 months", "pain", -1, 1),
    _score("eq5d_index_12m", "EQ-5D index at 12 months", "pain", -1, 1),
    _score("baseline_ome_mg_per_day", "Baseline systemic opioids, OME mg/day", "opioids", 0, None),
    _score("last_ome_mg_per_day", "Last follow-up systemic opioids, OME mg/day", "opioids", 0, None),
    Column("systemic_opioid_stopped", "code", "A follow-up recorded the systemic opioid as stopped: 1 yes, 0 no",
           "opioids", codes=(0, 1)),
    Column("last_opioid_change", "code", "Systemic opioid at the last follow-up against baseline", "opioids",
           codes=OPIOID_CHANGES),
    Column("satisfaction", "code", "Satisfaction with the therapy", "satisfaction", codes=SATISFACTION),
    Column("satisfaction_respondent", "code", "Satisfaction reported by", "satisfaction", codes=RESPONDENTS),
    Column("dissatisfaction_reason", "code", "Main reason for dissatisfaction", "satisfaction",
           codes=DISSATISFACTION_REASONS),
    Column("os_days", "days", "Days from implant to death or last date known alive", "survival", required=True,
           minimum=0),
    Column("death", "code", "Died: 1 yes, 0 censored", "survival", required=True, codes=(0, 1)),
    *_event("complication", "first complication"),
    *_event("severe_complication", "first severe complication (grade ≥ 3)"),
    *_event("reoperation", "first reoperation, revision or explant"),
    _list("complications", "Every complication as day:kind:grade:action", "complications",
          parts=("day", "kind", "grade", "action")),
    _list("reoperations", "Every reoperation, revision or explant as day:reason", "complications",
          parts=("day", "reason")),
    Column("infection_requiring_surgery", "code", "Infection requiring surgery: 1 yes, 0 no", "complications",
           codes=(0, 1)),
    Column("exit_days", "days", "Days from implant to the end of follow-up", "exits", minimum=0),
    Column("exit_reason", "code", "Reason follow-up ended (empty while followed)", "exits", codes=EXIT_REASONS),
    Column("exit_status", "code", "Follow-up ended: 1 yes, 0 still followed", "exits", codes=(0, 1)),
)
BY_NAME = {c.name: c for c in COLUMNS}


def absent(frame: pd.DataFrame, names: Sequence[str]) -> list[str]:
    """The columns among ``names`` that the dataset lacks."""
    return [name for name in names if name not in frame.columns]


def check(frame: pd.DataFrame) -> None:
    """Refuse a dataset that breaks the contract: required columns, numbers, ranges and codes.

    Missing values are allowed except in the required columns; a bad value raises ``DataError`` naming
    the column, the rows and the values.
    """
    if len(frame) == 0:
        raise OpenIDDSError("dataset", "no rows", "one row per implanted patient")
    lacking = absent(frame, [c.name for c in COLUMNS if c.required])
    if lacking:
        raise OpenIDDSError("column", lacking[0], f"the analysis dataset's columns, with {', '.join(lacking)}; "
                                                  f"found {list(map(str, frame.columns))}")
    for column in COLUMNS:
        if column.name in frame.columns:
            _check_column(frame[column.name], column)
    if {"exit_status", "exit_reason"} <= set(frame.columns):
        stray = (frame["exit_status"] == 0).to_numpy() & frame["exit_reason"].notna().to_numpy()
        if stray.any():
            raise _error(frame["exit_reason"], stray, "exit_reason", "no exit reason while exit_status is 0 (still "
                                                                      "followed)")


def _check_column(values: pd.Series, column: Column) -> None:
    if column.kind in ("number", "days"):
        x = _checks.numeric(values, column.name, allow_missing=not column.required)
        low = -np.inf if column.minimum is None else column.minimum
        high = np.inf if column.maximum is None else column.maximum
        bad = ~np.isnan(x) & ((x < low) | (x > high))
        if bad.any():
            expected = f">= {low:g}" if high == np.inf else f"values from {low:g} to {high:g}"
            raise _error(values, bad, column.name, expected)
    elif column.kind == "code":
        assert column.codes is not None
        missing = values.isna().to_numpy()
        if column.required and missing.any():
            raise _error(values, missing, column.name, "a value in every row")
        bad = ~missing & ~_matches(values, column.codes)
        if bad.any():
            raise _error(values, bad, column.name, f"one of {', '.join(map(repr, column.codes))} or empty")
    elif column.kind == "list":
        malformed = [v for v in values.dropna().unique() if not _well_formed(v, column.parts)]
        bad = values.isin(malformed).to_numpy()
        if bad.any():
            raise _error(values, bad, column.name, f"'{NONE}' or ';'-separated items {':'.join(column.parts)}")


def _matches(values: pd.Series, codes: tuple[object, ...]) -> np.ndarray:
    """Which values are among ``codes``: numbers match integer codes (1.0 is 1), text matches text codes."""
    numeric = [c for c in codes if isinstance(c, int)]
    if numeric and values.dtype.kind in "iuf":
        return values.isin(numeric).to_numpy()
    text = [c for c in codes if isinstance(c, str)]
    allowed = {v for v in values.dropna().unique()
               if (v in text if isinstance(v, str) else not isinstance(v, bool) and v in numeric)}
    return values.isin(list(allowed)).to_numpy()


_NUMBERS = ("day", "grade", "dose")


def _well_formed(value: object, parts: tuple[str, ...]) -> bool:
    if not isinstance(value, str) or not value:
        return False
    if value == NONE:
        return True
    items = [item.split(":") for item in value.split(";")]
    return all(len(item) == len(parts) and all(item)
               and all(_is_number(field) for field, part in zip(item, parts, strict=True) if part in _NUMBERS)
               for item in items)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def split_items(values: pd.Series) -> list[list[list[str]] | None]:
    """Each row's list as items of ``:``-separated fields: ``[]`` for ``none``, ``None`` when not recorded.
    Each distinct text is split once (rows share the parsed list: read it, do not change it)."""
    parsed = {v: [] if v == NONE else [item.split(":") for item in v.split(";")]
              for v in values.dropna().unique() if isinstance(v, str)}
    return [parsed.get(v) if isinstance(v, str) else None for v in values]


def _error(values: pd.Series, bad: np.ndarray, name: str, expected: str) -> DataError:
    rows, shown = values.index.to_numpy()[bad], values.to_numpy()[bad][:10]
    return DataError(name, [_plain(r) for r in rows], [_plain(v) for v in shown], expected)


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value

"""The column contract of the analysis dataset the report reads (one row per implanted patient).

The names follow the clinic registry's analysis dataset (``openidds.clinic.analysis``); times are whole
days from the first implant. Only ``os_days`` and ``death`` are required: a section whose columns are
absent is left out with a note naming them. The outcomes package may not import the registry, so the few
codes the report interprets (status codes, satisfaction, exit reason) are listed here.
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
RESPONDENTS = ("patient", "family")
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


def _score(name: str, label: str, section: str, low: float, high: float) -> Column:
    return Column(name, "number", label, section, minimum=low, maximum=high)


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
    Column("implant_reason", "category", "Reason for implant", "cohort"),
    Column("reservoir_ml", "category", "Pump reservoir, mL", "cohort"),
    Column("screening_trials", "category", "Screening trials before the implant", "cohort"),
    _score("baseline_nrs", "Baseline pain NRS (0–10)", "pain", 0, 10),
    _score("last_nrs", "Last follow-up pain NRS", "pain", 0, 10),
    _score("nrs_6m", "Pain NRS at 6 months (±45 days)", "pain", 0, 10),
    _score("nrs_12m", "Pain NRS at 12 months (±45 days)", "pain", 0, 10),
    _score("baseline_eq5d_index", "Baseline EQ-5D index", "pain", -1, 1),
    _score("eq5d_index_6m", "EQ-5D index at 6 months", "pain", -1, 1),
    _score("eq5d_index_12m", "EQ-5D index at 12 months", "pain", -1, 1),
    _score("baseline_ome_mg_per_day", "Baseline systemic opioids, OME mg/day", "opioids", 0, None),
    _score("last_ome_mg_per_day", "Last follow-up systemic opioids, OME mg/day", "opioids", 0, None),
    Column("systemic_opioid_stopped", "code", "A follow-up recorded the systemic opioid as stopped: 1 yes, 0 no",
           "opioids", codes=(0, 1)),
    Column("satisfaction", "code", "Satisfaction with the therapy", "satisfaction", codes=SATISFACTION),
    Column("satisfaction_respondent", "code", "Satisfaction reported by", "satisfaction", codes=RESPONDENTS),
    Column("os_days", "days", "Days from implant to death or last date known alive", "survival", required=True,
           minimum=0),
    Column("death", "code", "Died: 1 yes, 0 censored", "survival", required=True, codes=(0, 1)),
    *_event("complication", "first complication"),
    *_event("severe_complication", "first severe complication (grade ≥ 3)"),
    *_event("reoperation", "first reoperation, revision or explant"),
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
        missing = values.isna().to_numpy()
        if column.required and missing.any():
            raise _error(values, missing, column.name, "a value in every row")
        known = np.array([_matches(v, column.codes) for v in values[~missing]], dtype=bool)
        bad = np.zeros(len(values), dtype=bool)
        bad[np.flatnonzero(~missing)[~known]] = True
        if bad.any():
            raise _error(values, bad, column.name, f"one of {', '.join(map(repr, column.codes))} or empty")


def _matches(value: object, codes: tuple[object, ...]) -> bool:
    if isinstance(value, (int, float, np.number)) and not isinstance(value, bool):
        return any(isinstance(c, int) and value == c for c in codes)
    return value in codes


def _error(values: pd.Series, bad: np.ndarray, name: str, expected: str) -> DataError:
    rows, shown = values.index.to_numpy()[bad], values.to_numpy()[bad][:10]
    return DataError(name, [_plain(r) for r in rows], [_plain(v) for v in shown], expected)


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value

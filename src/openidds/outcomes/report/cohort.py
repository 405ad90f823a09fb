"""Cohort and baseline characteristics: who was implanted, how long they were followed, Table 1."""

import numpy as np
import pandas as pd

from openidds.outcomes._checks import sort_key
from openidds.outcomes._frozen import jsonable
from openidds.outcomes.describe import QUANTILES, Categorical, describe_categorical, describe_continuous
from openidds.outcomes.kaplan_meier import kaplan_meier
from openidds.outcomes.report import _format as fmt
from openidds.outcomes.report.columns import BY_NAME
from openidds.outcomes.report.document import Paragraph, Row, Section, Table

#: Continuous baseline variables and their summary, as the seed studies print them.
CONTINUOUS = (("age_at_implant_years", "mean"), ("bmi_kg_per_m2", "mean"), ("adl_score", "mean"),
              ("baseline_nrs", "mean"), ("baseline_eq5d_index", "mean"), ("baseline_ome_mg_per_day", "median"))
CATEGORICAL = ("sex", "cancer_type", "ecog", "implant_reason", "reservoir_ml", "screening_trials", "site")
_BY_FREQUENCY = ("cancer_type",)
_DIGITS = {"baseline_eq5d_index": 2}


def _level(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).replace("_", " ")


def _continuous_row(frame: pd.DataFrame, name: str, style: str) -> tuple[Row, dict]:
    summary = describe_continuous(frame[name], name)
    digits = _DIGITS.get(name, 1)
    value = (summary.mean_sd(digits) if style == "mean" else summary.median_iqr(digits)) if summary.n else fmt.NA
    label = f"{BY_NAME[name].label}, {'mean ± SD' if style == 'mean' else 'median (IQR)'}"
    return Row((label, fmt.keep(value), str(summary.n_missing))), jsonable(summary)


def _categorical_rows(frame: pd.DataFrame, name: str) -> tuple[list[Row], dict]:
    overall = describe_categorical(frame[name], name)
    levels = sorted(overall.levels, key=sort_key)
    if name in _BY_FREQUENCY:
        counts = dict(zip(overall.levels, overall.counts))
        levels = sorted(levels, key=lambda v: (-counts[v], sort_key(v)))
    summary: Categorical = describe_categorical(frame[name], name, levels)
    rows = [Row((f"{BY_NAME[name].label}, n (%)", "", str(summary.n_missing)))]
    rows += [Row((_level(level), fmt.count_pct(count, summary.n), ""), 1)
             for level, count in zip(summary.levels, summary.counts)]
    return rows, {**jsonable(summary), "percents": jsonable(summary.percents)}


def cohort_section(frame: pd.DataFrame, os_months: np.ndarray, death: np.ndarray) -> Section:
    """Numbers of patients, sites and deaths, median follow-up (reverse Kaplan–Meier) and Table 1."""
    n = len(frame)
    deaths = int(death.sum())
    follow_up = kaplan_meier(os_months, death, event=0, censored=1)
    median = follow_up.median
    sites = frame["site"].nunique() if "site" in frame.columns else None
    where = f" at {sites} site{'s' if sites != 1 else ''}" if sites else ""
    if n - deaths == 0:
        follow_text = "Median follow-up is not estimable by reverse Kaplan–Meier: every patient died."
    elif fmt.missing(median.time):
        follow_text = ("Median follow-up (reverse Kaplan–Meier, deaths censored) was not reached"
                       + ("." if fmt.missing(median.lower) else
                          f": its 95% CI starts at {fmt.num(median.lower)} months."))
    else:
        follow_text = (f"Median follow-up was {fmt.num(median.time)} months (95% CI "
                       f"{fmt.ci(median.lower, median.upper)}; reverse Kaplan–Meier, deaths censored).")
    text = (f"{n} patients received an implant{where}. {deaths} ({fmt.pct(deaths / n)}) died during follow-up. "
            f"{follow_text}")
    rows: list[Row] = []
    results: dict = {"n": n, "sites": sites, "deaths": deaths,
                     "follow_up": {**follow_up.to_dict(), "method": "reverse Kaplan-Meier (death censors follow-up)"},
                     "baseline": {}}
    for name, style in CONTINUOUS:
        if name in frame.columns:
            row, summary = _continuous_row(frame, name, style)
            rows.append(row)
            results["baseline"][name] = summary
    for name in CATEGORICAL:
        if name in frame.columns and not (name == "site" and sites == 1):
            more, summary = _categorical_rows(frame, name)
            rows += more
            results["baseline"][name] = summary
    shown = [n for n, _ in CONTINUOUS] + list(CATEGORICAL)
    lacking = [name for name in shown if name not in frame.columns]
    notes = ["Mean ± SD (n − 1), median (IQR) with R type-7 quartiles, or n (%). Percentages are of the patients "
             "with a recorded value; missing values are counted in the last column, not in the percentages.",
             f"Quartiles: {QUANTILES}."]
    if lacking:
        notes.append(f"Not in the dataset, so not shown: {', '.join(lacking)}.")
    table = Table("Baseline characteristics of the implanted patients", ("Characteristic", f"All (n = {n})",
                                                                          "Missing"), tuple(rows), tuple(notes))
    return Section("cohort", "Cohort and baseline characteristics", (Paragraph(text), table), results=results)

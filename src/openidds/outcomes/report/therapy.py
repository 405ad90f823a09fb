"""Therapy and operation (Table 2 of the published studies): trials, catheter, operation, stay, starting drug, year."""

import re

import pandas as pd

from openidds.outcomes.report.characteristics import HEADER_MISSING, Rows, shown_absent
from openidds.outcomes.report.columns import split_items
from openidds.outcomes.report.document import Row, Section, Table

TIP_GROUPS = ("cervical", "T1–T5", "T6–T9", "T10 and below")
_LEVEL = re.compile(r"^([CTLS])(\d{1,2})")


def tip_group(level: object) -> str:
    """The catheter-tip group of a level such as ``T6`` or ``T11/12`` (by its upper vertebra)."""
    match = _LEVEL.match(str(level))
    if match is None:
        return "other"
    region, number = match.group(1), int(match.group(2))
    if region == "C":
        return "cervical"
    if region == "T" and number <= 5:
        return "T1–T5"
    if region == "T" and number <= 9:
        return "T6–T9"
    return "T10 and below"


def _trials(count: float) -> str:
    return str(int(count)) if count < 2 else "2 or more"


def _doses(t: Rows, frame: pd.DataFrame) -> None:
    """Starting dose of each drug among the patients who started with it, alone or in a mix."""
    name = "start_doses_mg_per_day"
    if name not in frame.columns:
        t.absent.append(name)
        t.rows.append(Row(("Starting dose per drug", "not recorded", f"column {name} absent")))
        return
    items = split_items(frame[name])
    by_drug: dict[str, list[float]] = {}
    for row in items:
        for drug, dose in row or []:
            by_drug.setdefault(drug, []).append(float(dose))
    missing = sum(1 for row in items if row is None)
    t.rows.append(Row(("Starting intrathecal dose, mg/day, mean ± SD; median (IQR)", "", str(missing))))
    for drug in sorted(by_drug, key=lambda d: (-len(by_drug[d]), d)):
        part = Rows(pd.DataFrame({"dose": by_drug[drug]}))
        part.continuous("dose", styles=("mean", "median"), digits=2, label="x")
        values = [r.cells[1] for r in part.rows]
        t.rows.append(Row((f"{drug} (n = {len(by_drug[drug])})", f"{values[0]}; {values[1]}", ""), 1))
        t.results[f"start_dose_{drug}"] = part.results["dose"]


def _trial_doses(t: Rows, frame: pd.DataFrame) -> None:
    if not {"trial_drug", "trial_dose_mg"} <= set(frame.columns):
        return
    for drug, part in frame.groupby("trial_drug", sort=True):
        doses = Rows(part)
        doses.continuous("trial_dose_mg", digits=2, label=f"Screening dose of {drug}, mg")
        t.rows += [Row(r.cells, 1) for r in doses.rows]
        t.results[f"trial_dose_{drug}"] = doses.results["trial_dose_mg"]


def table_two(frame: pd.DataFrame) -> Rows:
    t = Rows(frame)
    t.categorical("screening_trials", grouped=_trials, label="Screening trials before the implant")
    t.categorical("trial_drug", by_frequency=True)
    _trial_doses(t, frame)
    t.categorical("insertion_level", by_frequency=True)
    t.categorical("catheter_tip_level", grouped=tip_group, order=(*TIP_GROUPS, "other"),
                  label="Catheter tip group")
    t.continuous("operation_minutes", styles=("mean", "median"), digits=0)
    t.continuous("total_stay_days", styles=("mean", "median"))
    t.continuous("postop_stay_days", styles=("mean", "median"))
    t.categorical("reservoir_ml")
    t.categorical("start_drug", by_frequency=True)
    _doses(t, frame)
    t.categorical("implant_year", label="Implants per year")
    return t


def therapy_section(frame: pd.DataFrame) -> Section:
    """Table 2: how the patients were trialled, operated on and started, and implants per year."""
    t = table_two(frame)
    notes = ("n (%) of the patients with a recorded value, mean ± SD or median (IQR, R type 7); missing values "
             "are counted in the last column.",
             "Screening trial drug and dose: the first trial. Catheter tip group by the tip's vertebral level (T1–T5, "
             "T6–T9, T10 and below; a level such as T9/10 by its upper vertebra). Starting drug: the first "
             "program of the first implant; a mix is listed as its drugs joined by '+', and each drug's dose is "
             "summarised over the patients who started with it, alone or mixed.", *shown_absent(t.absent))
    return Section("therapy", "Therapy and operation",
                   (Table("Screening trials, operation and starting intrathecal therapy",
                          ("Characteristic", f"All (n = {len(frame)})", HEADER_MISSING), tuple(t.rows), notes),),
                   results={**t.results, "not_recorded": t.absent})


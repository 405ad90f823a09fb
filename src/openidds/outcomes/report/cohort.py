"""Cohort and baseline characteristics: who was implanted, how long they were followed, Table 1 in full."""

from collections.abc import Callable

import numpy as np
import pandas as pd

from openidds.months import DAYS_PER_MONTH
from openidds.outcomes._frozen import jsonable
from openidds.outcomes.describe import QUANTILES, describe_continuous
from openidds.outcomes.kaplan_meier import kaplan_meier
from openidds.outcomes.report import _format as fmt
from openidds.outcomes.report.characteristics import HEADER_MISSING, Rows, shown_absent
from openidds.outcomes.report.document import Paragraph, Section, Table

ADL_LOW = 60
OME_BANDS = (200, 500)
_COSTS = ("hospital_charge", "out_of_pocket_cost")


def follow_up_text(os_months: np.ndarray, death: np.ndarray) -> tuple[str, dict]:
    """Median follow-up as a reader expects it: observation time of the survivors (median, IQR), with the
    reverse Kaplan–Meier estimate (deaths censored) when it is reached."""
    survivors = os_months[death == 0]
    reverse = kaplan_meier(os_months, death, event=0, censored=1)
    observed = describe_continuous(survivors, "os_months") if survivors.size else None
    everyone = describe_continuous(os_months, "os_months")
    results = {"survivors_observation_months": None if observed is None else jsonable(observed),
               "death_or_last_contact_months": jsonable(everyone),
               "reverse_kaplan_meier": {**reverse.to_dict(), "method": "reverse Kaplan-Meier (death censors)"}}
    if observed is None:
        text = "Every patient died, so no survivor's follow-up is left to summarise."
    else:
        text = (f"The {observed.n} patients alive at their last contact were followed for a median of "
                f"{fmt.num(observed.median)} months (IQR {fmt.ci(observed.q1, observed.q3)}).")
        median = reverse.median
        if not fmt.missing(median.time):
            text += (f" Median potential follow-up by reverse Kaplan–Meier (deaths censored) was "
                     f"{fmt.num(median.time)} months (95% CI {fmt.ci(median.lower, median.upper)}).")
        else:
            text += (" The reverse Kaplan–Meier median of potential follow-up (deaths censored) is not reached: "
                     "most patients died before their follow-up could end otherwise, so it cannot be estimated.")
    text += (f" Time from implant to death or last contact, all patients: median {fmt.num(everyone.median)} months "
             f"(IQR {fmt.ci(everyone.q1, everyone.q3)}).")
    return text, results


def _costs(table: Rows, frame: pd.DataFrame) -> None:
    if "currency" not in frame.columns:
        for name in _COSTS:
            table.continuous(name, styles=("mean", "median"), digits=0)
        return
    currencies = sorted(frame["currency"].dropna().unique())
    for currency in currencies or [None]:
        part = Rows(frame if currency is None else frame[frame["currency"] == currency])
        for name in _COSTS:
            part.continuous(name, styles=("mean", "median"), digits=0,
                            label=f"{table_label(name)}{f', {currency}' if currency else ''}")
        table.rows += part.rows
        table.absent += [a for a in part.absent if a not in table.absent]
        table.results.update({f"{k}_{currency}" if currency else k: v for k, v in part.results.items()})


def table_label(name: str) -> str:
    return {"hospital_charge": "Total hospital charge", "out_of_pocket_cost": "Cost paid by the patient"}[name]


def _above(limit: float) -> Callable[[np.ndarray], np.ndarray]:
    return lambda x: x > limit


def table_one(frame: pd.DataFrame) -> Rows:
    """Table 1 in the published studies' order: patient, cancer, pain and opioids, reason, insurance, cost."""
    t = Rows(frame)
    t.continuous("age_at_implant_years")
    t.categorical("sex")
    t.continuous("bmi_kg_per_m2")
    t.continuous("adl_score")
    t.flag("adl_score", label=f"ADL score < {ADL_LOW}", test=lambda x: x < ADL_LOW, key="adl_below_60")
    t.categorical("ecog")
    for name in ("wheelchair_or_cart", "pressure_sores", "skin_compromising_lines"):
        t.flag(name)
    t.categorical("cancer_type", by_frequency=True)
    t.continuous("cancer_duration_months", styles=("median",))
    t.multi("metastasis_sites")
    for name in ("prior_surgery", "prior_chemoradiotherapy", "prior_immunotherapy"):
        t.flag(name)
    t.continuous("pain_duration_months", styles=("median",))
    t.multi("pain_locations")
    t.flag("prior_pain_procedure")
    t.continuous("baseline_nrs")
    t.continuous("baseline_eq5d_index", digits=2)
    t.flag("baseline_systemic_opioid")
    t.continuous("baseline_ome_mg_per_day", styles=("median",), digits=0)
    for band in OME_BANDS:
        t.flag("baseline_ome_mg_per_day", label=f"Baseline OME > {band} mg/day", test=_above(band), level=1,
               key=f"baseline_ome_above_{band}")
    t.multi("adjuvant_drugs")
    t.categorical("implant_reason")
    t.categorical("insurance", by_frequency=True)
    _costs(t, frame)
    if "site" in frame.columns and frame["site"].nunique() > 1:
        t.categorical("site")
    return t


def cohort_section(frame: pd.DataFrame, os_months: np.ndarray, death: np.ndarray) -> Section:
    """Numbers of patients, sites and deaths, follow-up (survivors' observation time, reverse KM) and Table 1."""
    n = len(frame)
    deaths = int(death.sum())
    sites = frame["site"].nunique() if "site" in frame.columns else None
    where = f" at {sites} site{'s' if sites != 1 else ''}" if sites else ""
    follow_text, follow = follow_up_text(os_months, death)
    text = f"{n} patients received an implant{where}. {deaths} ({fmt.pct(deaths / n)}) died during follow-up. "
    table = table_one(frame)
    notes = ("Mean ± SD (n − 1), median (IQR) with R type-7 quartiles, or n (%). Percentages are of the patients "
             "with a recorded value; missing values are counted in the last column, not in the percentages.",
             f"Quartiles: {QUANTILES}. Durations in months = days / {DAYS_PER_MONTH:g}. Lists (metastasis "
             "sites, pain locations, adjuvant drugs): a patient may have several, so levels add up to more than "
             "'any'.", *shown_absent(table.absent))
    results = {"n": n, "sites": sites, "deaths": deaths, "follow_up": follow, "baseline": table.results,
               "not_recorded": table.absent}
    return Section("cohort", "Cohort and baseline characteristics",
                   (Paragraph(text + follow_text),
                    Table("Baseline characteristics of the implanted patients",
                          ("Characteristic", f"All (n = {n})", HEADER_MISSING), tuple(table.rows), notes)),
                   results=results)

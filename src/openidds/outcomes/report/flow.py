"""The flow of patients (STROBE item 13): implanted, left out of the follow-up analysis and why, analysed; and
the summary paragraph of the headline numbers."""

import numpy as np
import pandas as pd

from openidds.months import DAYS_PER_MONTH
from openidds.outcomes import _checks
from openidds.outcomes._frozen import jsonable
from openidds.outcomes.describe import describe_continuous
from openidds.outcomes.report import _format as fmt
from openidds.outcomes.report.adverse import EARLY_DAYS
from openidds.outcomes.report.document import Paragraph, Row, Section, Table

ANALYSED = ("baseline_nrs", "last_nrs")


def why_left_out(frame: pd.DataFrame, os_days: np.ndarray, death: np.ndarray) -> pd.Series:
    """For each patient without a baseline and a follow-up NRS, the first reason that applies; None if analysed."""
    before = _checks.numeric(frame["baseline_nrs"], "baseline_nrs", allow_missing=True)
    after = _checks.numeric(frame["last_nrs"], "last_nrs", allow_missing=True)
    exited = (frame["exit_reason"].to_numpy(dtype=object) if "exit_reason" in frame.columns
              else np.full(len(frame), None, dtype=object))
    reasons: list[str | None] = []
    for b, a, days, died, exit_reason in zip(before, after, os_days, death, exited, strict=True):
        if not (np.isnan(b) or np.isnan(a)):
            reasons.append(None)
        elif died and days <= EARLY_DAYS:
            reasons.append(f"died within {EARLY_DAYS} days of the implant")
        elif np.isnan(b):
            reasons.append("no baseline NRS")
        elif isinstance(exit_reason, str):
            reasons.append(f"follow-up ended without a follow-up NRS: {exit_reason.replace('_', ' ')}")
        else:
            reasons.append("no follow-up NRS recorded yet")
    return pd.Series(reasons, index=frame.index, dtype=object)


def flow_section(frame: pd.DataFrame, os_days: np.ndarray, death: np.ndarray) -> Section:
    """Implanted → left out (by reason) → analysed, and the follow-up rate."""
    title = "Patients and follow-up"
    n = len(frame)
    lacking = [c for c in ANALYSED if c not in frame.columns]
    if lacking:
        return Section("flow", title, omitted=f"Omitted: the dataset has no {', '.join(lacking)} column"
                                               f"{'s' if len(lacking) > 1 else ''}, so who was analysed is not "
                                               "recorded.")
    reasons = why_left_out(frame, os_days, death)
    analysed = int(reasons.isna().sum())
    counts = reasons.dropna().value_counts()
    order = sorted(counts.index, key=lambda r: (-counts[r], r))
    rows = [Row(("Implanted", str(n))), Row(("Left out of the follow-up analysis", str(n - analysed))),
            *(Row((reason, str(int(counts[reason]))), 1) for reason in order),
            Row(("Analysed: baseline and follow-up pain NRS", str(analysed)))]
    rate = analysed / n
    text = (f"Of {n} patients implanted, {n - analysed} were left out of the follow-up analysis and {analysed} were "
            f"analysed, a follow-up rate of {fmt.pct(rate)}.")
    results = {"implanted": n, "analysed": analysed, "follow_up_rate": rate,
               "left_out": {r: int(counts[r]) for r in order}}
    reached = telephone_reached(frame)
    contacted = int(reached.sum())
    if contacted:
        months = describe_continuous(os_days[reached] / DAYS_PER_MONTH, "os_months")
        rows.append(Row(("Reached by telephone at least once after the implant", str(contacted))))
        text += (f" {contacted} were reached by telephone at least once after the implant, a telephone follow-up "
                 f"rate of {fmt.pct(contacted / n)}; their time from implant to death or last contact has a median "
                 f"of {fmt.num(months.median)} months (IQR {fmt.ci(months.q1, months.q3)}).")
        results |= {"telephone_contacted": contacted, "telephone_contact_rate": contacted / n,
                    "telephone_contacted_death_or_last_contact_months": jsonable(months)}
    table = Table("Flow of patients (STROBE): implanted, left out of the follow-up analysis and why, analysed",
                  ("Patients", "n"), tuple(rows),
                  ("Analysed: a baseline and at least one follow-up pain NRS (the pairs of the pain results). "
                   "Each patient left out is counted once, under the first reason that applies, in this order: "
                   f"death within {EARLY_DAYS} days of the implant, no baseline NRS, end of follow-up (with its "
                   "exit reason), still followed.", "Follow-up rate = analysed / implanted."
                   + ("" if not contacted else " Telephone follow-up rate = reached by telephone / implanted.")))
    return Section("flow", title, (Paragraph(text), table), results=results)


def telephone_reached(frame: pd.DataFrame) -> np.ndarray:
    """Whether each patient had at least one telephone visit after the implant (nobody, when the dataset does
    not record telephone visits)."""
    if "telephone_contacts" not in frame.columns:
        return np.zeros(len(frame), dtype=bool)
    contacts = _checks.numeric(frame["telephone_contacts"], "telephone_contacts", allow_missing=True)
    return np.nan_to_num(contacts) > 0


def _get(results: dict, *path: str) -> object:
    for key in path:
        if not isinstance(results, dict) or key not in results:
            return None
        results = results[key]
    return results


def summary_section(sections: dict[str, Section]) -> Section:
    """One paragraph of the headline numbers, each as the section that gives it."""
    parts = []
    cohort = sections["cohort"].results
    parts.append(f"{cohort['n']} patients were implanted; {cohort['deaths']} died during follow-up.")
    flow = sections["flow"].results
    if flow:
        parts.append(f"{flow['analysed']} had a baseline and a follow-up pain score (follow-up rate "
                     f"{fmt.pct(flow['follow_up_rate'])}).")
    pain = _get(sections["pain"].results, "last_nrs")
    if isinstance(pain, dict) and "before_mean" in pain:
        parts.append(f"Mean pain NRS fell from {pain['before_mean']:.1f} to {pain['after_mean']:.1f} "
                     f"(n = {pain['n_pairs']}).")
    responders = _get(sections["pain"].results, "responders", "last_nrs", "fall_30_percent")
    if isinstance(responders, dict):
        parts.append(f"{fmt.pct(responders['estimate'])} had a fall of at least 30%.")
    opioids = sections["opioids"].results
    stopped = opioids.get("systemic_opioid_stopped")
    if stopped:
        parts.append(f"{fmt.pct(stopped['estimate'])} stopped systemic opioids.")
    satisfied = sections["satisfaction"].results.get("satisfied")
    if satisfied:
        parts.append(f"{fmt.pct(satisfied['estimate'])} of respondents were satisfied.")
    survival = sections["survival"].results
    median = _get(survival, "median", "time")
    if isinstance(median, float) and not fmt.missing(median):
        parts.append(f"Median overall survival from implant was {median:.2f} months.")
    adverse = _get(sections["complications"].results, "adverse_events")
    if isinstance(adverse, dict):
        parts.append(f"{adverse['events']} adverse events occurred in {adverse['patients']} patients.")
    early = sections["complications"].results.get("died_within_30_days")
    if early is not None:
        parts.append(f"{early} died within {EARLY_DAYS} days of the implant.")
    return Section("summary", "Summary", (Paragraph(" ".join(parts)),))

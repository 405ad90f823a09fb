"""Time-to-event results: overall survival, cumulative incidence of complications, exits from follow-up."""

import numpy as np
import pandas as pd

from openidds.months import DAYS_PER_MONTH
from openidds.outcomes import _checks
from openidds.outcomes.cumulative_incidence import CumulativeIncidence, cumulative_incidence
from openidds.outcomes.figures import cumulative_incidence_figure, kaplan_meier_figure, month_ticks
from openidds.outcomes.kaplan_meier import KaplanMeier
from openidds.outcomes.report import _format as fmt
from openidds.outcomes.report._tables import level_rows
from openidds.outcomes.report.adverse import complication_table, mortality_paragraph, reoperation_table
from openidds.outcomes.report.columns import EXIT_REASONS, absent
from openidds.outcomes.report.document import Block, FigureMaker, Paragraph, Row, Section, Table

SURVIVAL_MONTHS = (3, 6, 12)
INCIDENCE_MONTHS = 12
ENDPOINTS = (("complication", "Any complication"), ("severe_complication", "Severe complication (grade ≥ 3)"),
             ("reoperation", "Reoperation, revision or explant"))


def _median_text(fit: KaplanMeier) -> str:
    q = fit.median
    if fmt.missing(q.time):
        return "was not reached"
    return f"was {q.time:.2f} months (95% CI {fmt.ci(q.lower, q.upper)})"


def survival_section(os_months: np.ndarray, fit: KaplanMeier, make_figure: FigureMaker) -> Section:
    """Kaplan–Meier overall survival from implant: median with CI, survival at 3, 6 and 12 months, figure."""
    at = fit.at(SURVIVAL_MONTHS)
    readouts = "; ".join(f"{t:g} months {fmt.pct(s)} ({fmt.pct_ci(lo, up)})"
                         for t, s, lo, up in zip(at.time, at.survival, at.lower, at.upper, strict=True))
    text = (f"{fit.events} of {fit.n} patients died. Median overall survival from implant {_median_text(fit)}. "
            f"Survival (95% CI): {readouts}.")
    rows = tuple(Row((f"{t:g}", str(r), str(e), fmt.pct(s), fmt.pct_ci(lo, up)))
                 for t, r, e, s, lo, up in zip(at.time, at.n_risk, at.n_event, at.survival, at.lower, at.upper,
                                                   strict=True))
    table = Table("Overall survival from implant (Kaplan–Meier)",
                  ("Months", "At risk", "Deaths so far", "Survival", "95% CI"), rows,
                  (f"Method: {fit.method.describe()}.",
                   f"Time in months = days / {DAYS_PER_MONTH:g}. At risk: patients followed at least that long; "
                   "survival is read at the last death or censoring at or before the time (R summary(fit, times)).",))
    ticks = month_ticks(float(os_months.max()))
    figure = make_figure(lambda: kaplan_meier_figure({"All patients": fit}, risk_times=ticks),
                         "overall-survival", "Overall survival from implant (Kaplan–Meier) with its pointwise 95% "
                         "CI band, censoring marks and the numbers at risk.")
    blocks: tuple[Block, ...] = (Paragraph(text), table) if figure is None else (Paragraph(text), table, figure)
    return Section("survival", "Overall survival", blocks,
                   results=fit.to_dict(SURVIVAL_MONTHS))


def _incidence(frame: pd.DataFrame, variance: str, conf_type: str,
               make_figure: FigureMaker) -> tuple[list[Block], dict, list[str]]:
    """1-year cumulative incidence of each endpoint present, death competing: sentence, table and figure."""
    fits: dict[str, CumulativeIncidence] = {}
    lacking: list[str] = []
    for prefix, label in ENDPOINTS:
        time, status = f"{prefix}_days", f"{prefix}_status"
        missing = absent(frame, [time, status])
        if missing:
            lacking += missing
            continue
        days = _checks.numeric(frame[time], time)
        fits[label] = cumulative_incidence(days / DAYS_PER_MONTH, frame[status], 1, censored=0, competing=[2],
                                           variance=variance, conf_type=conf_type, time_column=time,
                                           status_column=status)
    if not fits:
        return [], {}, lacking
    rows, sentences, results = [], [], {}
    for label, fit in fits.items():
        at = fit.at([INCIDENCE_MONTHS])
        f, lo, up = at.incidence[0], at.lower[0], at.upper[0]
        rows.append(Row((label, str(int(fit.n_event.sum())), str(int(at.n_event[0])), str(int(fit.n_competing.sum())),
                         str(int(at.n_risk[0])), fmt.pct(f), fmt.pct_ci(lo, up))))
        sentences.append(f"{label.lower()} {fmt.pct(f)} (95% CI {fmt.pct_ci(lo, up)})")
        results[label] = fit.to_dict([INCIDENCE_MONTHS])
    method = next(iter(fits.values())).method
    notes = [f"Method: {method.describe()}.",
             f"1 year = {INCIDENCE_MONTHS} months = 365.25 days: events on day 365 count. 'Deaths first' are deaths "
             "before the endpoint (the competing risk); 'At 1 year' counts patients still followed and event-free."]
    if lacking:
        notes.append(f"Not recorded (column absent from the dataset): {', '.join(lacking)}.")
    figure = make_figure(lambda: cumulative_incidence_figure(
        fits, title="Cumulative incidence in the first year, death competing", time_max=INCIDENCE_MONTHS,
        time_ticks=month_ticks(INCIDENCE_MONTHS)), "cumulative-incidence", "Cumulative incidence of the first "
        "complication, severe complication and reoperation over the first year (Aalen–Johansen, death as a "
        "competing risk), one panel each with its pointwise 95% CI band and the numbers at risk beneath; the "
        "incidence axis is shared and ends just above the highest value drawn.")
    blocks: list[Block] = [
        Paragraph(f"The 1-year cumulative incidence, with death before the event as a competing risk, was: "
                  f"{'; '.join(sentences)}."),
        Table("Cumulative incidence of complications at 1 year, death as a competing risk",
              ("Endpoint", "Patients with event", "Events within 1 year", "Deaths first", "At 1 year",
               "1-year incidence", "95% CI"), tuple(rows), tuple(notes))]
    if figure is not None:
        blocks.append(figure)
    return blocks, results, lacking


def complications_section(frame: pd.DataFrame, os_days: np.ndarray, death: np.ndarray, variance: str,
                          conf_type: str, make_figure: FigureMaker) -> Section:
    """Mortality, adverse events by kind and grade, reoperations by reason, 1-year cumulative incidences."""
    title = "Complications, reoperation and early mortality"
    mortality, results = mortality_paragraph(frame, os_days, death)
    blocks: list[Block] = [mortality]
    lacking: list[str] = []
    if "complications" in frame.columns:
        text, table, results["adverse_events"] = complication_table(frame)
        blocks += [text, table]
    else:
        lacking.append("complications")
    if "infection_requiring_surgery" in frame.columns:
        infected = frame["infection_requiring_surgery"].dropna()
        k = int((infected == 1).sum())
        blocks.append(Paragraph(f"Infection requiring surgical intervention: {fmt.count_pct(k, len(infected))} of "
                                f"{len(infected)} patients with a record."))
        results["infection_requiring_surgery"] = {"patients": k, "n": len(infected)}
    if "reoperations" in frame.columns:
        table, results["reoperations"] = reoperation_table(frame)
        blocks.append(table)
    else:
        lacking.append("reoperations")
    incidence, results["cumulative_incidence"], more = _incidence(frame, variance, conf_type, make_figure)
    blocks += incidence
    lacking += more
    if lacking:
        blocks.append(Paragraph(f"Not recorded (column absent from the dataset): {', '.join(lacking)}."))
    results["not_recorded"] = lacking
    return Section("complications", title, tuple(blocks), results=results)


def exits_section(frame: pd.DataFrame) -> Section:
    """Why follow-up ended: each exit reason n (% of exits), and how many remain in follow-up."""
    title = "Exits from follow-up"
    lacking = absent(frame, ["exit_status", "exit_reason"])
    if lacking:
        return Section("exits", title, omitted=f"Omitted: the dataset has no {', '.join(lacking)} column"
                                                f"{'s' if len(lacking) > 1 else ''}.")
    status = _checks.numeric(frame["exit_status"], "exit_status", allow_missing=True)
    reason = frame["exit_reason"]
    exited = status == 1
    n_exit, n_followed, n_unknown = int(exited.sum()), int((status == 0).sum()), int(np.isnan(status).sum())
    rows, counts = level_rows(reason[exited], "exit_reason", EXIT_REASONS)
    text = (f"Follow-up ended for {n_exit} of {len(frame)} patients and continues for {n_followed}"
            f"{f'; {n_unknown} have no exit status' if n_unknown else ''}.")
    if n_exit:
        parts = [f"{level.replace('_', ' ')} {fmt.count_pct(c, n_exit)}" for level, c in
                 zip(counts["levels"], counts["counts"], strict=True) if c]
        text += f" Reasons (% of exits): {'; '.join(parts)}."
    table_rows = (Row(("Follow-up ended", str(n_exit))), *rows, Row(("Still in follow-up", str(n_followed))),
                  *((Row(("Exit status not recorded", str(n_unknown))),) if n_unknown else ()))
    table = Table("Exits from registry follow-up", ("Reason", "Patients, n (% of exits)"), table_rows,
                  ("Percentages are of the patients whose follow-up ended with a recorded reason.",))
    return Section("exits", title, (Paragraph(text), table),
                   results={"exited": n_exit, "followed": n_followed, "exit_status_missing": n_unknown,
                            "reasons": counts})

"""Patient-reported results: pain NRS and EQ-5D against baseline, systemic opioids, satisfaction."""

import pandas as pd

from openidds.outcomes.figures import paired_figure
from openidds.outcomes.report import _format as fmt
from openidds.outcomes.report._tables import (
    PAIRED_HEADER,
    Pair,
    level_rows,
    pair,
    paired_notes,
    paired_row,
    share,
)
from openidds.outcomes.report.columns import RESPONDENTS, SATISFACTION, SATISFIED, absent
from openidds.outcomes.report.document import Block, FigureMaker, Paragraph, Row, Section, Table

_PAIN_ROWS = (("Pain NRS", "baseline_nrs", "last_nrs", "last", "lower"),
              ("Pain NRS", "baseline_nrs", "nrs_6m", "6 months", "lower"),
              ("Pain NRS", "baseline_nrs", "nrs_12m", "12 months", "lower"),
              ("EQ-5D index", "baseline_eq5d_index", "eq5d_index_6m", "6 months", "higher"),
              ("EQ-5D index", "baseline_eq5d_index", "eq5d_index_12m", "12 months", "higher"))
_OME_ROWS = (("Systemic opioids, OME mg/day", "baseline_ome_mg_per_day", "last_ome_mg_per_day", "last", "lower"),)


def _omitted(key: str, title: str, lacking: list[str]) -> Section:
    return Section(key, title, omitted=f"Omitted: the dataset has no {', '.join(lacking)} column"
                                        f"{'s' if len(lacking) > 1 else ''}.")


def _headline(result: Pair, n: int) -> str:
    c = result.comparison
    if c is None:
        return (f"{result.n_pairs} of {n} patients had a baseline and a last follow-up pain NRS; the change was "
                f"{result.reason.removeprefix('not tested: ')}, so it was not tested.")
    t, w = c.t_test, c.signed_rank
    return (f"Of {n} patients, {c.n_pairs} had a baseline and a follow-up pain NRS ({c.n_excluded} without both were "
            f"left out). Mean NRS fell from {c.before_mean:.2f} (SD {c.before_sd:.2f}) to {c.after_mean:.2f} "
            f"(SD {c.after_sd:.2f}), a mean fall of {t.mean_difference:.2f} points (SD {t.sd_difference:.2f}; 95% CI "
            f"{fmt.ci(t.lower, t.upper)}; paired t = {t.statistic:.2f}, df {t.df}, {fmt.p_is(t.p_value)}). "
            f"Wilcoxon signed-rank V = {w.statistic_v:g}, {fmt.p_is(w.p_value)} ({w.method}). The NRS fell in "
            f"{c.improved_exact.successes} of {c.n_pairs} patients ({fmt.pct(c.improved_exact.estimate)}; 95% CI "
            f"{fmt.pct_ci(c.improved_exact.lower, c.improved_exact.upper)} exact Clopper–Pearson, "
            f"{fmt.pct_ci(c.improved_wilson.lower, c.improved_wilson.upper)} Wilson).")


def _paired_table(frame: pd.DataFrame, specs: tuple, caption: str, improved: str, *, summary: str,
                  digits: int) -> tuple[Table | None, dict[str, Pair]]:
    rows, pairs, notes = [], {}, []
    for label, before, after, when, better in specs:
        if before in frame.columns and after in frame.columns:
            result = pair(frame, before, after, better)
            pairs[after] = result
            rows.append(paired_row(label, when, result, summary=summary, digits=digits))
            if result.reason:
                notes.append(f"{label} at {when}: {result.reason}.")
    lacking = sorted({c for spec in specs for c in spec[1:3] if c not in frame.columns})
    if lacking:
        notes.append(f"Not in the dataset, so not shown: {', '.join(lacking)}.")
    if not rows:
        return None, pairs
    values = "mean ± SD" if summary == "mean" else "median (IQR)"
    return Table(caption, PAIRED_HEADER, tuple(rows),
                 (f"Baseline and follow-up values: {values} of the pairs.", *paired_notes(improved), *notes)), pairs


def pain_section(frame: pd.DataFrame, make_figure: FigureMaker) -> Section:
    """NRS before and after (headline, figure) and pain and EQ-5D at 6 and 12 months against baseline."""
    title = "Pain and quality of life"
    blocks: list[Block] = []
    table, pairs = _paired_table(frame, _PAIN_ROWS, "Pain NRS and EQ-5D index against baseline, patients with both "
                                 "values", "pain NRS lower, EQ-5D index higher than at baseline", summary="mean",
                                 digits=2)
    headline = pairs.get("last_nrs")
    if headline is not None:
        blocks.append(Paragraph(_headline(headline, len(frame))))
        if headline.comparison is not None:
            blocks.append(make_figure(paired_figure(headline.before, headline.after, headline.comparison,
                                                    labels=("Baseline", "Last follow-up"), score_label="Pain NRS"),
                                      "nrs-before-after", "Pain NRS at baseline and at the last follow-up, each "
                                      "patient with both values as a line; means with 95% t intervals."))
    if table is not None:
        blocks.append(table)
    if not blocks:
        return _omitted("pain", title, absent(frame, list(dict.fromkeys(c for spec in _PAIN_ROWS for c in spec[1:3]))))
    return Section("pain", title, tuple(blocks), results={after: p.to_dict() for after, p in pairs.items()})


def opioid_section(frame: pd.DataFrame) -> Section:
    """Systemic opioids (OME) at the last follow-up against baseline, and how many stopped them."""
    title = "Systemic opioid reduction"
    names = ["baseline_ome_mg_per_day", "last_ome_mg_per_day", "systemic_opioid_stopped"]
    lacking = absent(frame, names)
    paired = not set(names[:2]) & set(lacking)
    if not paired and "systemic_opioid_stopped" in lacking:
        return _omitted("opioids", title, lacking)
    blocks: list[Block] = []
    results: dict = {}
    if "systemic_opioid_stopped" not in lacking:
        stopped = share(frame["systemic_opioid_stopped"], (1,))
        if stopped is not None:
            missing = len(frame) - stopped.n
            blocks.append(Paragraph(
                f"A follow-up visit recorded the systemic opioid as stopped for {stopped.successes} of {stopped.n} "
                f"patients ({fmt.pct(stopped.estimate)}; 95% CI {fmt.pct_ci(stopped.lower, stopped.upper)}, exact "
                f"Clopper–Pearson); a patient with no such record counts as not stopped"
                f"{f'; {missing} patients have no value' if missing else ''}."))
            results["systemic_opioid_stopped"] = stopped.to_dict()
    if paired:
        table, pairs = _paired_table(frame, _OME_ROWS, "Systemic opioid dose (oral morphine equivalents) at the last "
                                     "follow-up against baseline, patients with both values",
                                     "a lower OME than at baseline", summary="median", digits=0)
        blocks.append(table)
        results["last_ome_mg_per_day"] = pairs["last_ome_mg_per_day"].to_dict()
    return Section("opioids", title, tuple(blocks), results=results)


def satisfaction_section(frame: pd.DataFrame) -> Section:
    """Satisfaction with the therapy: each answer n (%), the share satisfied with its CI, who answered."""
    title = "Satisfaction"
    if "satisfaction" not in frame.columns:
        return _omitted("satisfaction", title, ["satisfaction"])
    rows, counts = level_rows(frame["satisfaction"], "satisfaction", SATISFACTION)
    rows = [Row(("Satisfaction with the therapy", "")), *rows]
    results: dict = {"satisfaction": counts}
    blocks: list[Block] = []
    satisfied = share(frame["satisfaction"], SATISFIED)
    if satisfied is not None:
        blocks.append(Paragraph(
            f"{satisfied.successes} of {satisfied.n} respondents ({fmt.pct(satisfied.estimate)}; 95% CI "
            f"{fmt.pct_ci(satisfied.lower, satisfied.upper)}, exact Clopper–Pearson) were satisfied or very "
            f"satisfied with the therapy; {counts['n_missing']} patients gave no answer."))
        results["satisfied"] = satisfied.to_dict()
    if "satisfaction_respondent" in frame.columns:
        more, who = level_rows(frame["satisfaction_respondent"], "satisfaction_respondent", RESPONDENTS)
        rows += [Row(("Answer given by", "")), *more]
        results["respondent"] = who
    blocks.append(Table("Satisfaction with the therapy", ("Answer", "Patients, n (%)"), tuple(rows),
                        ("Percentages of the patients who answered; 'not recorded' counts the others.",
                         "Satisfied: 'very satisfied' or 'satisfied'.")))
    return Section("satisfaction", title, tuple(blocks), results=results)

"""Patient-reported results: pain NRS and EQ-5D against baseline, systemic opioids, satisfaction."""

import numpy as np
import pandas as pd
from scipy.stats import t as student

from openidds.outcomes import _checks
from openidds.outcomes.describe import describe_continuous
from openidds.outcomes.figures import paired_figure, trajectory_figure
from openidds.outcomes.proportion import Proportion, proportion
from openidds.outcomes.report import _format as fmt
from openidds.outcomes.report._tables import (
    PAIRED_HEADER,
    Pair,
    improved_text,
    level_rows,
    pair,
    paired_notes,
    paired_row,
    share,
)
from openidds.outcomes.report.columns import (
    DISSATISFACTION_REASONS,
    DISSATISFIED,
    RESPONDENTS,
    SATISFACTION,
    SATISFIED,
    absent,
)
from openidds.outcomes.report.document import Block, FigureMaker, Paragraph, Row, Section, Table

_PAIN_ROWS = (("Pain NRS", "baseline_nrs", "last_nrs", "last", "lower"),
              ("Pain NRS", "baseline_nrs", "nrs_3m", "3 months", "lower"),
              ("Pain NRS", "baseline_nrs", "nrs_6m", "6 months", "lower"),
              ("Pain NRS", "baseline_nrs", "nrs_12m", "12 months", "lower"),
              ("EQ-5D index", "baseline_eq5d_index", "eq5d_index_3m", "3 months", "higher"),
              ("EQ-5D index", "baseline_eq5d_index", "eq5d_index_6m", "6 months", "higher"),
              ("EQ-5D index", "baseline_eq5d_index", "eq5d_index_12m", "12 months", "higher"))
_TRAJECTORY = (("Baseline", "baseline_nrs"), ("3 months", "nrs_3m"), ("6 months", "nrs_6m"),
               ("12 months", "nrs_12m"), ("Last follow-up", "last_nrs"))
#: Responder definitions of IMMPACT (Dworkin et al., J Pain 2008): a fall of 30% (moderate) and 50%
#: (substantial) from baseline, and of 2 points on the 0–10 NRS.
RESPONDERS = (("≥ 30% fall", "fall_30_percent"), ("≥ 50% fall", "fall_50_percent"), ("≥ 2-point fall", "fall_2_points"))
LOW_OME_MG_PER_DAY = 100
_OME_ROWS = (("Systemic opioids, OME mg/day", "baseline_ome_mg_per_day", "last_ome_mg_per_day", "last", "lower"),)


def _omitted(key: str, title: str, lacking: list[str]) -> Section:
    return Section(key, title, omitted=f"Omitted: the dataset has no {', '.join(lacking)} column"
                                        f"{'s' if len(lacking) > 1 else ''}.")


def _headline(result: Pair, n: int) -> str:
    c = result.comparison
    if c is None:
        assert result.reason is not None, "a pair without a comparison carries the reason it was not tested"
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


def _ci_text(share: Proportion) -> str:
    return f"{share.successes} of {share.n} ({fmt.pct(share.estimate)}; 95% CI {fmt.pct_ci(share.lower, share.upper)})"


def responders(before: np.ndarray, after: np.ndarray) -> dict[str, Proportion]:
    """Responder shares among the complete pairs: fall ≥ 30% and ≥ 50% of baseline (a baseline of 0 cannot
    fall, so it is not a responder), and fall ≥ 2 points; exact Clopper–Pearson CIs."""
    complete = ~(np.isnan(before) | np.isnan(after))
    first, second = before[complete], after[complete]
    fall = first - second
    n = int(complete.sum())
    hits = {"fall_30_percent": (first > 0) & (fall >= 0.3 * first),
            "fall_50_percent": (first > 0) & (fall >= 0.5 * first), "fall_2_points": fall >= 2}
    return {key: proportion(int(hit.sum()), n, method="clopper-pearson") for key, hit in hits.items()}


def _responder_table(frame: pd.DataFrame) -> tuple[Table | None, dict]:
    rows, results = [], {}
    for label, after in (("Last follow-up", "last_nrs"), ("3 months", "nrs_3m"), ("6 months", "nrs_6m"),
                         ("12 months", "nrs_12m")):
        if not {"baseline_nrs", after} <= set(frame.columns):
            continue
        before = _checks.numeric(frame["baseline_nrs"], "baseline_nrs", allow_missing=True)
        later = _checks.numeric(frame[after], after, allow_missing=True)
        n = int((~(np.isnan(before) | np.isnan(later))).sum())
        if n == 0:
            rows.append(Row((label, "0", *(["—"] * len(RESPONDERS)))))
            continue
        shares = responders(before, later)
        rows.append(Row((label, str(n), *(improved_text(shares[key]) for _, key in RESPONDERS))))
        results[after] = {key: share.to_dict() for key, share in shares.items()}
    if not rows:
        return None, results
    return Table("Pain responders against baseline, patients with both NRS values",
                 ("Follow-up", "Pairs (n)", *(f"{label}, n (%; 95% CI)" for label, _ in RESPONDERS)), tuple(rows),
                 ("Fall = baseline NRS − follow-up NRS. ≥ 30% and ≥ 50%: the fall is at least that share of the "
                  "baseline score (a baseline of 0 cannot fall); ≥ 2 points on the 0–10 scale (IMMPACT, Dworkin et "
                  "al., J Pain 2008). 95% CI exact Clopper–Pearson (= R binom.test).",)), results


def _trajectory(frame: pd.DataFrame, make_figure: FigureMaker) -> tuple[list[Block], dict]:
    """Mean NRS with its 95% t interval at baseline and each follow-up (every patient with a value there)."""
    points = [(label, name) for label, name in _TRAJECTORY if name in frame.columns]
    if len(points) < 2:
        return [], {}
    labels, means, lower, upper, ns = [], [], [], [], []
    for label, name in points:
        summary = describe_continuous(frame[name], name)
        if summary.n < 2:
            continue
        half = student.ppf(0.975, summary.n - 1) * summary.sd / np.sqrt(summary.n)
        labels.append(label)
        means.append(summary.mean)
        lower.append(summary.mean - half)
        upper.append(summary.mean + half)
        ns.append(summary.n)
    if len(labels) < 2:
        return [], {}
    figure = make_figure(lambda: trajectory_figure(labels, means, lower, upper, ns), "nrs-trajectory",
                         "Pain NRS at baseline and at each follow-up: mean with its 95% t interval over every patient "
                         "with a value at that time (n under each point; not only the pairs).")
    blocks: list[Block] = [] if figure is None else [figure]
    return blocks, {"labels": labels, "mean": means, "lower": lower, "upper": upper, "n": ns}


def pain_section(frame: pd.DataFrame, make_figure: FigureMaker) -> Section:
    """NRS before and after (headline, figures), responders, and NRS and EQ-5D at 3, 6 and 12 months."""
    title = "Pain and quality of life"
    blocks: list[Block] = []
    table, pairs = _paired_table(frame, _PAIN_ROWS, "Pain NRS and EQ-5D index against baseline, patients with both "
                                 "values", "pain NRS lower, EQ-5D index higher than at baseline", summary="mean",
                                 digits=2)
    results: dict = {after: p.to_dict() for after, p in pairs.items()}
    headline = pairs.get("last_nrs")
    if headline is not None:
        blocks.append(Paragraph(_headline(headline, len(frame))))
    if table is not None:
        blocks.append(table)
    responder_table, results["responders"] = _responder_table(frame)
    if responder_table is not None:
        blocks.append(responder_table)
    if headline is not None and headline.comparison is not None:
        comparison = headline.comparison
        paired = make_figure(lambda: paired_figure(headline.before.tolist(), headline.after.tolist(), comparison,
                                                   labels=("Baseline", "Last follow-up"), score_label="Pain NRS"),
                             "nrs-before-after", "Pain NRS at baseline and at the last follow-up of the patients "
                             "with both values: each distinct pair of scores as a line, wider the more patients "
                             "share it; means with 95% t intervals.")
        blocks += [] if paired is None else [paired]
    trajectory, results["trajectory"] = _trajectory(frame, make_figure)
    blocks += trajectory
    if not blocks:
        return _omitted("pain", title, absent(frame, list(dict.fromkeys(c for spec in _PAIN_ROWS for c in spec[1:3]))))
    return Section("pain", title, tuple(blocks), results=results)


def _opioid_rows(frame: pd.DataFrame) -> tuple[list[Row], dict]:
    """Stopped, stopped or reduced, percent reduction of OME, and the share below 100 mg OME after implant."""
    rows: list[Row] = []
    results: dict = {}
    if "last_opioid_change" in frame.columns:
        for label, wanted, key in (("Stopped", ("stopped",), "stopped_last"),
                                   ("Stopped or reduced", ("stopped", "reduced"), "stopped_or_reduced")):
            found = share(frame["last_opioid_change"], wanted)
            if found is not None:
                rows.append(Row((f"{label} at the last follow-up, n (%; 95% CI)", improved_text(found),
                                 str(len(frame) - found.n))))
                results[key] = found.to_dict()
    if {"baseline_ome_mg_per_day", "last_ome_mg_per_day"} <= set(frame.columns):
        before = _checks.numeric(frame["baseline_ome_mg_per_day"], "baseline_ome_mg_per_day", allow_missing=True)
        after = _checks.numeric(frame["last_ome_mg_per_day"], "last_ome_mg_per_day", allow_missing=True)
        usable = (before > 0) & ~np.isnan(after)
        reduction = describe_continuous(100 * (before[usable] - after[usable]) / before[usable], "ome_reduction")
        if reduction.n:
            rows.append(Row(("Reduction of systemic OME, % of baseline, median (IQR)", reduction.median_iqr(0),
                             str(len(frame) - reduction.n))))
            results["ome_reduction_percent"] = {"median": reduction.median, "q1": reduction.q1, "q3": reduction.q3,
                                                "n": reduction.n}
    if "last_ome_mg_per_day" in frame.columns:
        after = _checks.numeric(frame["last_ome_mg_per_day"], "last_ome_mg_per_day", allow_missing=True)
        recorded = after[~np.isnan(after)]
        if recorded.size:
            low = proportion(int((recorded < LOW_OME_MG_PER_DAY).sum()), int(recorded.size), method="clopper-pearson")
            rows.append(Row((f"Below {LOW_OME_MG_PER_DAY} mg OME/day at the last follow-up, n (%; 95% CI)",
                             improved_text(low), str(len(frame) - low.n))))
            results["below_100_mg_ome"] = low.to_dict()
    return rows, results


def opioid_section(frame: pd.DataFrame) -> Section:
    """Systemic opioids (OME) at the last follow-up against baseline: stopped, reduced, percent reduction."""
    title = "Systemic opioid reduction"
    names = ["baseline_ome_mg_per_day", "last_ome_mg_per_day", "systemic_opioid_stopped", "last_opioid_change"]
    lacking = absent(frame, names)
    if len(lacking) == len(names):
        return _omitted("opioids", title, lacking)
    blocks: list[Block] = []
    results: dict = {}
    if "systemic_opioid_stopped" not in lacking:
        stopped = share(frame["systemic_opioid_stopped"], (1,))
        if stopped is not None:
            missing = len(frame) - stopped.n
            blocks.append(Paragraph(
                f"At any follow-up visit, the systemic opioid was recorded as stopped for {stopped.successes} of "
                f"{stopped.n} patients ({fmt.pct(stopped.estimate)}; 95% CI "
                f"{fmt.pct_ci(stopped.lower, stopped.upper)}, exact Clopper–Pearson); a patient with no such record "
                f"counts as not stopped{f'; {missing} patients have no value' if missing else ''}. The table below "
                f"gives the status at the last follow-up, over the patients for whom it was recorded."))
            results["systemic_opioid_stopped"] = stopped.to_dict()
    rows, more = _opioid_rows(frame)
    results.update(more)
    if rows:
        blocks.append(Table("Systemic opioids after the implant", ("Measure", "Value", "Not recorded (n)"),
                            tuple(rows),
                            ("Percent reduction = 100 × (baseline OME − last OME) / baseline OME, over the patients "
                             "with a baseline OME above 0 and a last value; positive is a fall. Shares are of the "
                             "patients with a recorded value; 95% CI exact Clopper–Pearson.",
                             *((f"Not recorded (column absent from the dataset): {', '.join(lacking)}.",)
                               if lacking else ()))))
    if not {"baseline_ome_mg_per_day", "last_ome_mg_per_day"} & set(lacking):
        table, pairs = _paired_table(frame, _OME_ROWS, "Systemic opioid dose (oral morphine equivalents) at the last "
                                     "follow-up against baseline, patients with both values",
                                     "a lower OME than at baseline", summary="median", digits=0)
        if table is not None:
            blocks.append(table)
        results["last_ome_mg_per_day"] = pairs["last_ome_mg_per_day"].to_dict()
    return Section("opioids", title, tuple(blocks), results=results)


def _satisfied_by_respondent(frame: pd.DataFrame) -> tuple[list[Row], dict]:
    rows, results = [], {}
    for who in RESPONDENTS:
        answered = frame.loc[frame["satisfaction_respondent"] == who, "satisfaction"]
        found = share(answered, SATISFIED)
        if found is not None:
            rows.append(Row((f"satisfied, answers by the {who}", improved_text(found)), 1))
            results[who] = found.to_dict()
    return rows, results


def satisfaction_section(frame: pd.DataFrame) -> Section:
    """Satisfaction with the therapy: each answer n (%), the share satisfied by who answered, and why not."""
    title = "Satisfaction"
    if "satisfaction" not in frame.columns:
        return _omitted("satisfaction", title, ["satisfaction"])
    rows, counts = level_rows(frame["satisfaction"], "satisfaction", SATISFACTION)
    rows = [Row(("Satisfaction with the therapy", "")), *rows]
    results: dict = {"satisfaction": counts}
    blocks: list[Block] = []
    satisfied = share(frame["satisfaction"], SATISFIED)
    notes = ["Percentages of the patients who answered; 'not recorded' counts the others.",
             "Satisfied: 'very satisfied' or 'satisfied'; 95% CI exact Clopper–Pearson."]
    if satisfied is not None:
        blocks.append(Paragraph(
            f"{satisfied.successes} of {satisfied.n} respondents ({fmt.pct(satisfied.estimate)}; 95% CI "
            f"{fmt.pct_ci(satisfied.lower, satisfied.upper)}, exact Clopper–Pearson) were satisfied or very "
            f"satisfied with the therapy; {counts['n_missing']} patients gave no answer."))
        results["satisfied"] = satisfied.to_dict()
    if "satisfaction_respondent" in frame.columns:
        more, who = level_rows(frame["satisfaction_respondent"], "satisfaction_respondent", RESPONDENTS)
        by_who, results["satisfied_by_respondent"] = _satisfied_by_respondent(frame)
        rows += [Row(("Answer given by", "")), *more, *by_who]
        results["respondent"] = who
    else:
        notes.append("Not recorded (column absent from the dataset): satisfaction_respondent.")
    if "dissatisfaction_reason" in frame.columns:
        unhappy = frame.loc[frame["satisfaction"].isin(DISSATISFIED), "dissatisfaction_reason"]
        more, why = level_rows(unhappy, "dissatisfaction_reason", DISSATISFACTION_REASONS)
        rows += [Row((f"Reason, of the {len(unhappy)} dissatisfied", "")), *more]
        results["dissatisfaction_reason"] = why
    else:
        notes.append("Not recorded (column absent from the dataset): dissatisfaction_reason.")
    blocks.append(Table("Satisfaction with the therapy", ("Answer", "Patients, n (%)"), tuple(rows), tuple(notes)))
    return Section("satisfaction", title, tuple(blocks), results=results)

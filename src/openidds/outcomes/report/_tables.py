"""Table rows shared by the sections: paired before/after comparisons and counts of coded answers."""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from openidds.outcomes import _checks
from openidds.outcomes.describe import describe_categorical, describe_continuous
from openidds.outcomes.paired import PairedComparison, paired_comparison
from openidds.outcomes.proportion import Proportion, proportion
from openidds.outcomes.report import _format as fmt
from openidds.outcomes.report.document import Row

PAIRED_HEADER = ("Outcome", "Follow-up", "Pairs (n)", "Left out", "Baseline", "Follow-up value",
                 "Baseline − follow-up (95% CI)", "Paired t p", "Wilcoxon p", "Improved, n (%; 95% CI)")
SIGN_CONVENTION = ("Difference = baseline − follow-up, as in openidds stats paired and R's t.test(before, after, "
                   "paired = TRUE): positive is a fall (better for pain NRS and opioid dose; for the EQ-5D index, "
                   "where higher is better, a negative difference is the improvement).")
DASH = "—"


@dataclass(frozen=True)
class Pair:
    """A before/after comparison on the patients with both values, or why it was not tested."""

    before: np.ndarray
    after: np.ndarray
    n_pairs: int
    n_excluded: int
    comparison: PairedComparison | None
    reason: str | None

    def to_dict(self) -> dict:
        return self.comparison.to_dict() if self.comparison else {"n_pairs": self.n_pairs, "reason": self.reason}


def pair(frame: pd.DataFrame, before: str, after: str, better: str) -> Pair:
    """Compare ``before`` with ``after``; fewer than 2 pairs, or no change at all, is reported, not tested."""
    first = _checks.numeric(frame[before], before, allow_missing=True)
    second = _checks.numeric(frame[after], after, allow_missing=True)
    complete = ~(np.isnan(first) | np.isnan(second))
    n = int(complete.sum())
    reason = None
    if n < 2:
        reason = f"not tested: {n} patient{'s' if n != 1 else ''} with both values (2 needed)"
    elif np.all(first[complete] == second[complete]):
        reason = "not tested: no patient's value changed"
    comparison = None if reason else paired_comparison(first, second, better=better, before_column=before,
                                                       after_column=after)
    return Pair(first, second, n, len(frame) - n, comparison, reason)


def improved_text(share: Proportion) -> str:
    return f"{share.successes} ({fmt.pct(share.estimate)}; {fmt.pct_ci(share.lower, share.upper)})"


def paired_row(label: str, when: str, result: Pair, *, summary: str = "mean", digits: int = 2) -> Row:
    """One row of a before/after table; the difference is baseline − follow-up (a fall in pain is positive)."""
    complete = ~(np.isnan(result.before) | np.isnan(result.after))
    if summary == "mean":
        values = [fmt.keep(f"{np.mean(x):.{digits}f} ± {np.std(x, ddof=1):.{digits}f}") if x.size > 1 else DASH
                  for x in (result.before[complete], result.after[complete])]
    else:
        values = [describe_continuous(x[complete]).median_iqr(digits) if complete.any() else DASH
                  for x in (result.before, result.after)]
    head = (label, when, str(result.n_pairs), str(result.n_excluded), *values)
    c = result.comparison
    if c is None:
        return Row((*head, DASH, DASH, DASH, DASH))
    t = c.t_test
    change = fmt.keep(f"{fmt.num(t.mean_difference, digits)} ({fmt.ci(t.lower, t.upper, digits)})")
    return Row((*head, change, fmt.pval(t.p_value), fmt.pval(c.signed_rank.p_value), improved_text(c.improved_exact)))


def paired_notes(improved: str) -> tuple[str, ...]:
    return (
        "Patients with both values only (pairs); 'Left out' counts the patients missing one or both values.",
        f"{SIGN_CONVENTION} Mean difference with its 95% t interval; paired t-test; "
        "Wilcoxon signed-rank test with R's defaults (zero differences dropped; exact below 50 pairs without ties, "
        "else normal approximation with tie and continuity correction).",
        f"Improved: {improved}; 95% CI exact Clopper–Pearson (= R binom.test).",
    )


def level_rows(values: pd.Series, column: str, codes: Sequence[object]) -> tuple[list[Row], dict]:
    """n (%) for each code in the given order (percent of recorded values) and a row counting missing values."""
    summary = describe_categorical(values, column, list(codes))
    rows = [Row((str(level).replace("_", " "), fmt.count_pct(count, summary.n)), 1)
            for level, count in zip(summary.levels, summary.counts, strict=True)]
    rows.append(Row(("not recorded", str(summary.n_missing)), 1))
    return rows, {"levels": list(summary.levels), "counts": list(summary.counts), "n": summary.n,
                  "n_missing": summary.n_missing}


def share(values: pd.Series, wanted: Sequence[object]) -> Proportion | None:
    """The share of recorded values that are among ``wanted``, with its Clopper–Pearson CI (None if none recorded)."""
    recorded = values.dropna()
    if recorded.empty:
        return None
    return proportion(int(recorded.isin(list(wanted)).sum()), len(recorded), method="clopper-pearson")

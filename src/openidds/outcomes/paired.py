"""Before/after comparison of a score (e.g. NRS): complete pairs, paired t, signed-rank, share improved."""

from dataclasses import dataclass

import numpy as np

from openidds.errors import OpenIDDSError
from openidds.outcomes import _checks
from openidds.outcomes._frozen import jsonable
from openidds.outcomes.paired_t import PairedT, paired_t
from openidds.outcomes.proportion import Proportion, proportion
from openidds.outcomes.wilcoxon import SignedRank, signed_rank

BETTER = ("lower", "higher")


@dataclass(frozen=True)
class PairedComparison:
    """Everything the published IDDS studies report for a paired score, on the patients who have both values."""

    before_column: str
    after_column: str
    n_pairs: int
    n_excluded: int
    before_mean: float
    before_sd: float
    after_mean: float
    after_sd: float
    t_test: PairedT
    signed_rank: SignedRank
    improved_exact: Proportion
    improved_wilson: Proportion
    better: str

    def to_dict(self) -> dict[str, object]:
        out = {k: getattr(self, k) for k in ("before_column", "after_column", "n_pairs", "n_excluded", "before_mean",
                                             "before_sd", "after_mean", "after_sd", "better")}
        out["improved_definition"] = f"after {'<' if self.better == 'lower' else '>'} before"
        out["t_test"] = self.t_test.to_dict()
        out["signed_rank"] = self.signed_rank.to_dict()
        out["improved"] = [self.improved_exact.to_dict(), self.improved_wilson.to_dict()]
        return jsonable(out)


def paired_comparison(before: object, after: object, *, better: str = "lower", conf_level: float = 0.95,
                      before_column: str = "before", after_column: str = "after") -> PairedComparison:
    """Compare ``before`` with ``after`` on complete pairs; the difference is before − after (R's order).

    ``better`` says which direction is an improvement: ``lower`` for pain scores, ``higher`` for EQ-5D.
    Rows missing either value are left out and counted in ``n_excluded``.
    """
    if better not in BETTER:
        raise OpenIDDSError("better", better, "'lower' or 'higher'")
    first = _checks.numeric(before, before_column, allow_missing=True)
    second = _checks.numeric(after, after_column, allow_missing=True)
    _checks.same_length({before_column: first.shape[0], after_column: second.shape[0]})
    complete = ~(np.isnan(first) | np.isnan(second))
    first, second = first[complete], second[complete]
    difference = first - second
    improved = int(np.count_nonzero(difference > 0 if better == "lower" else difference < 0))
    n = int(complete.sum())
    if n == 0:
        raise OpenIDDSError(f"{before_column}/{after_column}", "no complete pairs",
                            "at least one patient with both values")
    return PairedComparison(
        before_column, after_column, n, int(complete.shape[0] - n),
        float(first.mean()), float(first.std(ddof=1)) if n > 1 else float("nan"),
        float(second.mean()), float(second.std(ddof=1)) if n > 1 else float("nan"),
        paired_t(difference, conf_level=conf_level), signed_rank(difference),
        proportion(improved, n, method="clopper-pearson", conf_level=conf_level),
        proportion(improved, n, method="wilson", conf_level=conf_level), better,
    )

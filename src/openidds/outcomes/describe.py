"""Descriptive tables in the published studies' form: mean ± SD, median (IQR), n (%); missing excluded and counted."""

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from openidds.outcomes import _checks
from openidds.outcomes._frozen import jsonable

QUANTILES = "R type 7 (linear interpolation; numpy 'linear')"
ALL = "All"


@dataclass(frozen=True)
class Continuous:
    """Summary of a numeric column over its non-missing values."""

    variable: str
    n: int
    n_missing: int
    mean: float
    sd: float
    median: float
    q1: float
    q3: float
    minimum: float
    maximum: float
    quantile_type: str = QUANTILES

    def mean_sd(self, digits: int = 1) -> str:
        return f"{self.mean:.{digits}f} ± {self.sd:.{digits}f}"

    def median_iqr(self, digits: int = 1) -> str:
        return f"{self.median:.{digits}f} ({self.q1:.{digits}f}–{self.q3:.{digits}f})"


@dataclass(frozen=True)
class Categorical:
    """Counts per level; percentages are of the non-missing rows."""

    variable: str
    levels: tuple[object, ...]
    counts: tuple[int, ...]
    n: int
    n_missing: int

    @property
    def percents(self) -> tuple[float, ...]:
        return tuple(100 * c / self.n if self.n else float("nan") for c in self.counts)

    def n_percent(self, level: object, digits: int = 1) -> str:
        i = self.levels.index(level)
        return f"{self.counts[i]} ({self.percents[i]:.{digits}f}%)"


@dataclass(frozen=True)
class DescriptiveTable:
    """One summary per variable and group; the last group is everybody (``All``)."""

    groups: tuple[object, ...]
    by: str | None
    summaries: tuple[tuple[Continuous | Categorical, ...], ...]

    def to_dict(self) -> dict[str, object]:
        out = []
        for per_group in self.summaries:
            out.append({"variable": per_group[0].variable,
                        "groups": {str(g): {**jsonable(s), **({"percents": jsonable(s.percents)}
                                                              if isinstance(s, Categorical) else {})}
                                   for g, s in zip(self.groups, per_group, strict=True)}})
        return {"by": self.by, "groups": [str(g) for g in self.groups], "missing": "excluded from n and %, counted",
                "quantiles": QUANTILES, "variables": out}


def describe_continuous(values: object, variable: str = "value") -> Continuous:
    """Mean, SD (n − 1), median, type-7 quartiles, range; non-numeric entries refused, missing counted."""
    x = _checks.numeric(values, variable, allow_missing=True)
    present = x[~np.isnan(x)]
    n = int(present.shape[0])
    if n == 0:
        nan = float("nan")
        return Continuous(variable, 0, int(x.shape[0]), nan, nan, nan, nan, nan, nan, nan)
    q1, median, q3 = (float(v) for v in np.percentile(present, [25, 50, 75], method="linear"))
    sd = float(present.std(ddof=1)) if n > 1 else float("nan")
    return Continuous(variable, n, int(x.shape[0] - n), float(present.mean()), sd, median, q1, q3,
                      float(present.min()), float(present.max()))


def describe_categorical(values: object, variable: str = "value",
                         levels: Sequence[object] | None = None) -> Categorical:
    """Counts of each level (sorted, or as given; a given level may have 0 rows); missing counted apart."""
    series = pd.Series(values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values, dtype=object))
    missing = series.isna()
    counts = series[~missing].value_counts()
    found = [v.item() if isinstance(v, np.generic) else v for v in counts.index]
    order = list(levels) if levels is not None else sorted(found, key=_checks.sort_key)
    if levels is not None:
        _checks.codes(series[~missing], variable, {level: i for i, level in enumerate(order)})
    return Categorical(variable, tuple(order), tuple(int(counts.get(level, 0)) for level in order),
                       int((~missing).sum()), int(missing.sum()))


def describe(frame: pd.DataFrame, *, continuous: Sequence[str] = (), categorical: Sequence[str] = (),
             by: str | None = None, by_levels: Sequence[object] | None = None) -> DescriptiveTable:
    """Table 1: each column summarised overall and, with ``by``, within each group (empty groups refused)."""
    columns = _checks.select_columns(frame, *continuous, *categorical, *([by] if by else []))
    named = dict(zip([*continuous, *categorical], columns, strict=False))  # the last column may be `by`
    if by is None:
        groups: list[object] = [ALL]
        masks = [np.ones(len(frame), dtype=bool)]
    else:
        code, labels = _checks.levels(columns[-1], by, by_levels)
        groups = [*labels, ALL]
        masks = [code == i for i in range(len(labels))] + [np.ones(len(frame), dtype=bool)]
    summaries: list[tuple[Continuous | Categorical, ...]] = []
    for name in continuous:
        summaries.append(tuple(describe_continuous(named[name][m], name) for m in masks))
    for name in categorical:
        overall = describe_categorical(named[name], name)
        summaries.append(tuple(describe_categorical(named[name][m], name, overall.levels) for m in masks))
    return DescriptiveTable(tuple(groups), by, tuple(summaries))

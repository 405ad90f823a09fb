"""Rows of a characteristics table (Table 1, Table 2): a label, the value for all patients, the missing count.

Every row names its summary (mean ± SD, median (IQR), n (%)). A column the dataset lacks gives a row saying
"not recorded" and its name in ``Rows.absent``, so an endpoint is never dropped without a trace.
"""

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, cast

import numpy as np
import pandas as pd

from openidds.outcomes import _checks
from openidds.outcomes._frozen import jsonable
from openidds.outcomes.describe import describe_categorical, describe_continuous
from openidds.outcomes.report import _format as fmt
from openidds.outcomes.report.columns import BY_NAME, split_items
from openidds.outcomes.report.document import Row

NOT_RECORDED = "not recorded"
NONE_RECORDED = "none recorded"
HEADER_MISSING = "Missing"


def level_text(value: object) -> str:
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value).replace("_", " ")


@dataclass
class Rows:
    """Collects the rows of one table, the summaries behind them (for report.json) and the absent columns."""

    frame: pd.DataFrame
    rows: list[Row] = field(default_factory=list)
    results: dict = field(default_factory=dict)
    absent: list[str] = field(default_factory=list)

    def _has(self, name: str, label: str) -> bool:
        if name in self.frame.columns:
            return True
        self.absent.append(name)
        self.rows.append(Row((label, NOT_RECORDED, f"column {name} absent")))
        return False

    def continuous(self, name: str, *, styles: Sequence[str] = ("mean",), digits: int = 1,
                   label: str | None = None) -> None:
        """Mean ± SD and/or median (IQR) of a numeric column."""
        label = label or BY_NAME[name].label
        if not self._has(name, label):
            return
        summary = describe_continuous(self.frame[name], name)
        for style in styles:
            value = ((summary.mean_sd(digits) if style == "mean" else summary.median_iqr(digits)) if summary.n
                     else NONE_RECORDED)
            shown = "mean ± SD" if style == "mean" else "median (IQR)"
            self.rows.append(Row((f"{label}, {shown}", fmt.keep(value), str(summary.n_missing))))
        self.results[name] = jsonable(summary)

    def categorical(self, name: str, *, order: Sequence[object] | None = None, by_frequency: bool = False,
                    label: str | None = None, grouped: Callable[[Any], object] | None = None) -> None:
        """n (%) of each level, percent of the recorded values; ``grouped`` maps a value to its group first."""
        label = label or BY_NAME[name].label
        if not self._has(name, label):
            return
        values = self.frame[name]
        if grouped is not None:
            values = values.map({v: grouped(v) for v in values.dropna().unique()})
        overall = describe_categorical(values, name)
        levels = list(order) if order is not None else sorted(overall.levels, key=_checks.sort_key)
        if by_frequency:
            counts = dict(zip(overall.levels, overall.counts, strict=True))
            levels = sorted(levels, key=lambda v: (-counts.get(v, 0), _checks.sort_key(v)))
        summary = describe_categorical(values, name, levels)
        self.rows.append(Row((f"{label}, n (%)", "", str(summary.n_missing))))
        self.rows += [Row((level_text(level), fmt.count_pct(count, summary.n), ""), 1)
                      for level, count in zip(summary.levels, summary.counts, strict=True)]
        self.results[name] = {**cast(dict, jsonable(summary)), "percents": jsonable(summary.percents)}

    def flag(self, name: str, *, label: str | None = None, test: Callable[[np.ndarray], np.ndarray] | None = None,
             level: int = 0, key: str | None = None) -> None:
        """n (%) of the recorded values that are 1 (or that pass ``test`` on a numeric column)."""
        label = label or BY_NAME[name].label.split(":")[0]
        if not self._has(name, label):
            return
        x = _checks.numeric(self.frame[name], name, allow_missing=True)
        recorded = ~np.isnan(x)
        yes = int((test(x[recorded]) if test else x[recorded] == 1).sum())
        n = int(recorded.sum())
        self.rows.append(Row((f"{label}, n (%)", fmt.count_pct(yes, n), str(len(x) - n)), level))
        self.results[key or name] = {"yes": yes, "n": n, "n_missing": len(x) - n}

    def multi(self, name: str, *, label: str | None = None, order: Sequence[str] | None = None) -> None:
        """A list column: patients with any item, then each item, n (%) of the patients with a record."""
        label = label or BY_NAME[name].label
        if not self._has(name, label):
            return
        column = self.frame[name]
        distinct = column.value_counts()
        parsed = dict(zip(distinct.index, split_items(pd.Series(distinct.index, dtype=object)), strict=True))
        n = int(distinct.sum())
        missing = len(column) - n
        counts: dict[str, int] = {}
        anyone = 0
        for text, patients in distinct.items():
            codes = {item[0] for item in parsed[text] or []}
            anyone += int(patients) if codes else 0
            for code in codes:
                counts[code] = counts.get(code, 0) + int(patients)
        found = sorted(counts, key=lambda c: (-counts[c], c)) if order is None else [*order, *sorted(
            c for c in counts if c not in order)]
        self.rows.append(Row((f"{label}: any, n (%)", fmt.count_pct(anyone, n), str(missing))))
        self.rows += [Row((level_text(code), fmt.count_pct(counts.get(code, 0), n), ""), 1) for code in found]
        self.results[name] = {"any": anyone, "n": n, "n_missing": missing,
                              "counts": {code: counts.get(code, 0) for code in found}}

    def heading(self, label: str) -> None:
        self.rows.append(Row((label, "", "")))


def shown_absent(absent: Sequence[str]) -> tuple[str, ...]:
    """The note naming the columns a table could not show."""
    return (f"Not recorded (column absent from the dataset): {', '.join(absent)}.",) if absent else ()

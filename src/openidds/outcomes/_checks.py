"""Validation of analysis columns: every refusal names the column, the rows and the values."""

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from openidds.errors import OpenIDDSError
from openidds.outcomes.data_error import DataError

_LOOKUP_SPAN = 1 << 16


def _labels(values: object, n: int) -> np.ndarray:
    if isinstance(values, pd.Series):
        return values.index.to_numpy()
    return np.arange(n)


def _fail(values: object, raw: np.ndarray, mask: np.ndarray, column: str, expected: str) -> DataError:
    labels = _labels(values, raw.shape[0])
    bad = np.flatnonzero(mask)
    return DataError(column, [_plain(v) for v in labels[bad]], [_plain(v) for v in raw[bad[:10]]], expected)


def _plain(value: object) -> object:
    return value.item() if isinstance(value, np.generic) else value


def _raw(values: object, column: str) -> np.ndarray:
    raw = values.to_numpy() if isinstance(values, pd.Series) else np.asarray(values)
    if raw.ndim != 1:
        raise OpenIDDSError(column, f"array of shape {raw.shape}", "a one-dimensional column")
    return raw


def numeric(values: object, column: str, *, allow_missing: bool = False) -> np.ndarray:
    """The column as float64; non-numeric entries (and missing ones unless allowed) are refused."""
    raw = _raw(values, column)
    if raw.dtype.kind in "biuf":
        out = raw.astype(np.float64, copy=False)
    else:
        series = pd.Series(raw, dtype=object)
        out = pd.to_numeric(series, errors="coerce").to_numpy(dtype=np.float64)
        not_number = np.isnan(out) & series.notna().to_numpy()
        if not_number.any():
            raise _fail(values, raw, not_number, column, "numbers")
    if np.isinf(out).any():
        raise _fail(values, raw, np.isinf(out), column, "finite numbers")
    if not allow_missing and np.isnan(out).any():
        raise _fail(values, raw, np.isnan(out), column, "a value in every row (drop incomplete rows first)")
    return out


def times(values: object, column: str) -> np.ndarray:
    """Follow-up times: numeric, present, non-negative, at least one row (integer days stay int64)."""
    raw = _raw(values, column)
    out = raw.astype(np.int64, copy=False) if raw.dtype.kind in "biu" else numeric(values, column)
    if out.size == 0:
        raise OpenIDDSError(column, "no rows", "at least one observation")
    negative = out < 0
    if negative.any():
        raise _fail(values, raw, negative, column, "times >= 0")
    return out


def at_most(values: object, column: str, limit: float, expected: str) -> None:
    """Refuse the rows of a numeric column above ``limit`` (a typing error such as 1e300 days), naming them."""
    raw = _raw(values, column)
    if raw.dtype.kind in "biuf":
        above = raw > limit
        if above.any():
            raise _fail(values, raw, above, column, expected)


def codes(values: object, column: str, mapping: Mapping[object, int]) -> np.ndarray:
    """Map each value of a status or group column to its integer code; unknown or missing values are refused."""
    raw = _raw(values, column)
    out = _lookup(raw, mapping)
    if out is None:
        out = np.full(raw.shape[0], -1, dtype=np.int64)
        for value, code in mapping.items():
            out[_equal(raw, value)] = code
    unknown = out < 0
    if unknown.any():
        allowed = ", ".join(repr(v) for v in mapping)
        raise _fail(values, raw, unknown, column, f"one of {allowed}")
    return out


def _lookup(raw: np.ndarray, mapping: Mapping[object, int]) -> np.ndarray | None:
    """Integer columns with integer codes: one table lookup instead of one comparison per code."""
    if raw.dtype.kind not in "biu" or raw.size == 0:
        return None
    keys = [k for k in mapping if isinstance(k, (int, np.integer)) or (isinstance(k, float) and k.is_integer())]
    if not keys:
        return None
    low, high = int(raw.min()), int(raw.max())
    if high - low > _LOOKUP_SPAN:
        return None
    if all(mapping.get(v, -1) == v for v in range(low, high + 1)):
        return raw.astype(np.int64, copy=False)  # the column already holds the codes
    table = np.full(high - low + 1, -1, dtype=np.int64)
    for key in keys:
        if low <= key <= high:
            table[int(key) - low] = mapping[key]
    return table[raw.astype(np.int64, copy=False) - low]


def _integer_range(raw: np.ndarray) -> list[int] | None:
    """Every integer between the smallest and largest value of a small-integer column (None otherwise)."""
    if raw.dtype.kind not in "biu" or raw.size == 0:
        return None
    low, high = int(raw.min()), int(raw.max())
    return list(range(low, high + 1)) if high - low <= _LOOKUP_SPAN else None


def event_codes(status: object, column: str, event: object, censored: object) -> np.ndarray:
    """Status as 0 = censored, 1 = the event; unknown codes refused, and an event code equal to the censoring
    code too."""
    if event == censored:
        raise OpenIDDSError("event", event, "a status code different from the censoring code")
    return codes(status, column, {censored: 0, event: 1})


def cause_codes(status: object, column: str, cause: object, censored: object,
                competing: Sequence[object] | None) -> np.ndarray:
    """Status as 0 = censored, 1 = the cause of interest, 2 = a competing cause; unknown codes refused."""
    if cause == censored:
        raise OpenIDDSError("cause", cause, "a status code different from the censoring code")
    clash = [c for c in competing or () if c in (cause, censored)]
    if clash:
        raise OpenIDDSError("competing", clash[0], "a status code different from the cause "
                            f"({cause!r}) and the censoring code ({censored!r})")
    if competing is not None:
        return codes(status, column, {censored: 0, cause: 1, **{c: 2 for c in competing}})
    raw = _raw(status, column)
    found: Sequence[object] | None = _integer_range(raw)  # values in the range but absent from the column are harmless
    if found is None:
        found = [_plain(c) for c in pd.Series(raw).dropna().unique()]
    others = {c: 2 for c in found if c != cause and c != censored}
    return codes(status, column, {censored: 0, cause: 1, **others})


def _equal(raw: np.ndarray, value: object) -> np.ndarray:
    if raw.dtype.kind in "biuf":
        if isinstance(value, (bool, int, float, np.number)):
            return raw == value
        return np.zeros(raw.shape[0], dtype=bool)
    return np.asarray(pd.Series(raw, dtype=object) == value)


def levels(values: object, column: str, order: Sequence[object] | None = None) -> tuple[np.ndarray, list[object]]:
    """Group codes 0..G-1 and their labels (sorted, or in the order given); empty groups are refused."""
    raw = _raw(values, column)
    missing = pd.isna(pd.Series(raw, dtype=object)).to_numpy()
    if missing.any():
        raise _fail(values, raw, missing, column, "a group in every row")
    found = [_plain(v) for v in pd.unique(raw)]
    labels = sorted(found, key=sort_key) if order is None else list(order)
    if not labels:
        raise OpenIDDSError(column, "no rows", "at least one group with rows")
    group = codes(values, column, {label: i for i, label in enumerate(labels)})
    sizes = np.bincount(group, minlength=len(labels))
    empty = [label for label, size in zip(labels, sizes, strict=True) if size == 0]
    if empty:
        raise OpenIDDSError(column, empty, "groups that have rows (these groups are empty)")
    return group, labels


def groups_to_compare(values: object, column: str, order: Sequence[object] | None,
                      other_lengths: Mapping[str, int]) -> tuple[np.ndarray, list[object]]:
    """``levels`` for a K-sample test: one row per patient across the columns, and at least two groups."""
    group, labels = levels(values, column, order)
    same_length({**other_lengths, column: group.shape[0]})
    if len(labels) < 2:
        raise OpenIDDSError(column, labels, "at least two groups to compare")
    return group, labels


def sort_key(value: object) -> tuple[int, object]:
    return (0, value) if isinstance(value, (int, float)) and not isinstance(value, bool) else (1, str(value))


def same_length(column_lengths: Mapping[str, int]) -> None:
    """Columns analysed together must have one row per patient."""
    if len(set(column_lengths.values())) > 1:
        raise OpenIDDSError("columns", dict(column_lengths), "columns of equal length")


def select_columns(frame: pd.DataFrame, *names: str) -> list[pd.Series]:
    """The named columns of a data frame; a missing column is refused with the columns that exist."""
    absent = [name for name in names if name not in frame.columns]
    if absent:
        raise OpenIDDSError("column", absent[0], f"one of the dataset's columns {list(map(str, frame.columns))}")
    return [frame[name] for name in names]

"""Many naive UTC date-times at once, as whole microseconds since 1970-01-01 (a pump log's events: its clock's
start plus whole seconds), and their ISO 8601 texts written a piece at a time: each distinct day's text is written
once by :mod:`datetime`, each second of the day's once a process (a time with a fraction of a second: each distinct
one's once), and an event's text is its day's and its time's joined. A registry of a thousand pump-years holds
about a million events on a few thousand days at 86,400 possible seconds of a day, so this writes a few thousand
texts instead of a million."""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Callable

import numpy as np
import numpy.typing as npt

EPOCH = dt.datetime(1970, 1, 1)
_MICROSECOND = dt.timedelta(microseconds=1)
_SECOND = dt.timedelta(seconds=1)
_MICROS_PER_SECOND = 1_000_000
_SECONDS_PER_DAY = 86_400
_MICROS_PER_DAY = _SECONDS_PER_DAY * _MICROS_PER_SECOND


def micros(at: dt.datetime) -> int:
    """A naive UTC date-time as whole microseconds since :data:`EPOCH`."""
    return (at - EPOCH) // _MICROSECOND


class UtcTimes:
    """Naive UTC date-times given as whole microseconds since :data:`EPOCH` (an int64 array), each within
    :mod:`datetime`'s years 1 to 9999."""

    def __init__(self, values: npt.NDArray[np.int64]) -> None:
        self._values = np.asarray(values, dtype=np.int64)
        self._days, self._times = np.divmod(self._values, _MICROS_PER_DAY)

    def __len__(self) -> int:
        return len(self._values)

    def datetimes(self) -> list[dt.datetime]:
        """The date-times as :class:`datetime.datetime` objects."""
        return list(map(EPOCH.__add__, map(_MICROSECOND.__mul__, self._values.tolist())))

    def isoformat(self, sep: str = "T", timespec: str = "auto") -> list[str]:
        """Each date-time's ``isoformat(sep, timespec)``, for ``timespec`` "auto" (microseconds when not 0) or
        "microseconds"."""
        if timespec not in ("auto", "microseconds"):
            raise ValueError(f"timespec 'auto' or 'microseconds', not {timespec!r}")
        if not len(self._values):
            return []
        days = _pieces(self._days, lambda day: (EPOCH + dt.timedelta(days=day)).date().isoformat() + sep)
        seconds, fractions = np.divmod(self._times, _MICROS_PER_SECOND)
        if fractions.any():
            times = _pieces(self._times, lambda key: (dt.datetime.min + key * _MICROSECOND).time().isoformat(timespec))
        else:
            times = _seconds_of_day(timespec)[seconds]
        texts: list[str] = (days + times).tolist()
        return texts


@functools.cache
def _seconds_of_day(timespec: str) -> npt.NDArray[np.object_]:
    """The time text of each whole second of a day, 00:00:00 to 23:59:59 (an object array)."""
    if timespec == "microseconds":  # a whole second's: its "auto" text and a zero fraction
        return _seconds_of_day("auto") + ".000000"
    return np.array([(dt.datetime.min + second * _SECOND).time().isoformat(timespec)
                     for second in range(_SECONDS_PER_DAY)], dtype=object)


def _pieces(keys: npt.NDArray[np.int64], text_of: Callable[[int], str]) -> npt.NDArray[np.object_]:
    """``text_of`` each key (an object array), written once per distinct key: from a table of every key from the
    least to the greatest where the keys are that dense, else of the distinct keys."""
    low, high = int(keys.min()), int(keys.max())
    if high - low < len(keys):
        return np.array([text_of(key) for key in range(low, high + 1)], dtype=object)[keys - low]
    distinct, where = np.unique(keys, return_inverse=True)
    return np.array([text_of(key) for key in distinct.tolist()], dtype=object)[where]


def of_seconds(start: dt.datetime, seconds: npt.ArrayLike) -> npt.NDArray[np.int64]:
    """The microseconds of ``start`` (naive UTC) plus each of ``seconds`` (whole seconds)."""
    return np.asarray(seconds, dtype=np.int64) * _MICROS_PER_SECOND + micros(start)


"""Many UTC date-times' ISO texts written a day's and a time of day's text at a time are ``datetime.isoformat``'s
own, for any date-times (whole seconds or not, spread over centuries or crowded into a day), and so are the
date-times themselves; a pump log's times are its clock's start plus whole seconds."""

import datetime as dt

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

from openidds.clinic import utc_times

_TIMES = st.datetimes(min_value=dt.datetime(1, 1, 1), max_value=dt.datetime(9999, 12, 31, 23, 59, 59, 999_999))


def _whole(at: dt.datetime) -> dt.datetime:
    return at.replace(microsecond=0)


@st.composite
def _crowded(draw: st.DrawFn) -> list[dt.datetime]:
    """Date-times within a few days of each other, so that the days and seconds seen are dense."""
    start = draw(st.datetimes(min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2199, 1, 1)))
    offsets = draw(st.lists(st.integers(0, 3 * 86_400), min_size=1, max_size=60))
    return [start + dt.timedelta(seconds=offset) for offset in offsets]


@given(st.one_of(st.lists(_TIMES, max_size=20), st.lists(_TIMES.map(_whole), max_size=20), _crowded(),
                 _crowded().map(lambda ats: list(map(_whole, ats)))))
def test_the_texts_are_datetime_isoformats_own(ats):
    times = utc_times.UtcTimes(np.array([utc_times.micros(at) for at in ats], dtype=np.int64))
    assert len(times) == len(ats)
    assert times.datetimes() == ats
    assert times.isoformat() == [at.isoformat() for at in ats]
    assert times.isoformat(" ", "microseconds") == [at.isoformat(" ", "microseconds") for at in ats]


@given(st.datetimes(min_value=dt.datetime(1970, 1, 1), max_value=dt.datetime(2199, 1, 1)),
       st.lists(st.integers(0, 3660 * 86_400), max_size=20))
def test_a_clocks_start_plus_seconds_is_the_date_time_a_timedelta_gives(start, seconds):
    micros = utc_times.of_seconds(start, seconds)
    assert utc_times.UtcTimes(micros).datetimes() == [start + dt.timedelta(seconds=s) for s in seconds]


def test_only_the_two_timespecs_the_registry_writes_are_asked():
    with pytest.raises(ValueError, match="timespec"):
        utc_times.UtcTimes(np.array([0], dtype=np.int64)).isoformat(timespec="seconds")

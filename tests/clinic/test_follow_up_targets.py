"""Follow-up targets: the dates in a range are those of the full schedule in that range, and the first-implant
date ranges select exactly the patients with one."""

from __future__ import annotations

import datetime as dt

from hypothesis import given
from hypothesis import strategies as st

from openidds.clinic.follow_up import first_implants_with_a_target, targets, targets_between

days = st.integers(min_value=-400, max_value=4000).map(lambda n: dt.timedelta(days=n))


@given(first=st.dates(dt.date(2000, 1, 1), dt.date(2040, 1, 1)), since=days, length=days)
def test_targets_between_are_the_schedules_dates_in_the_range(first: dt.date, since: dt.timedelta,
                                                                length: dt.timedelta) -> None:
    start, end = first + since, first + since + length
    assert targets_between(first, start, end) == [t for t in targets(first, end) if t >= start]


@given(first=st.dates(dt.date(2000, 1, 1), dt.date(2040, 1, 1)), since=days, length=days,
       earlier=st.integers(min_value=0, max_value=3000))
def test_the_first_implant_ranges_select_exactly_the_patients_with_a_target(
        first: dt.date, since: dt.timedelta, length: dt.timedelta, earlier: int) -> None:
    start, end = first + since, first + since + abs(length)
    ranges = first_implants_with_a_target(start, end, first - dt.timedelta(days=earlier))
    assert any(low <= first <= high for low, high in ranges) == bool(targets_between(first, start, end))

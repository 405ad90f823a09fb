"""The rolling 24-hour window (PUMP-CAP-1) against a second-by-second brute force."""

from itertools import accumulate

from hypothesis import given, settings
from hypothesis import strategies as st

from openidds.pump.rolling import RollingDose

DAY = 86_400
pieces = st.lists(st.tuples(st.integers(1, 40_000), st.integers(0, 50)), min_size=1, max_size=12)


def build(history):
    window, t, per_second = RollingDose(0), 0, []
    for length, rate in history:
        window.record(t, t + length, rate)
        per_second.extend([rate] * length)
        t += length
    return window, t, per_second


def brute_window(per_second, s):
    return sum(per_second[max(0, s - DAY):s])


def brute_windows(per_second):
    """W(s) for every s, from prefix sums."""
    prefix = [0, *accumulate(per_second)]
    return [prefix[s] - prefix[max(0, s - DAY)] for s in range(len(per_second) + 1)]


@given(pieces)
def test_window_equals_the_sum_of_the_last_24_hours(history):
    window, end, per_second = build(history)
    for s in {0, end, end // 2, max(end - DAY, 0)}:
        assert window.window(s) == brute_window(per_second, s)


@settings(max_examples=60, deadline=None)
@given(pieces, st.integers(0, 60), st.integers(1, 30_000), st.integers(0, 3_000_000))
def test_first_crossings_are_exact(history, future_rate, horizon, level):
    window, now, per_second = build(history)
    w = brute_windows(per_second + [future_rate] * horizon)
    later = range(now + 1, now + horizon + 1)
    assert window.first_above(now + horizon, future_rate, level) == next((s for s in later if w[s] > level), None)
    assert window.first_at_or_below(now + horizon, future_rate, level) == next(
        (s for s in later if w[s] <= level), None)

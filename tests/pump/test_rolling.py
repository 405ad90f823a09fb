"""The rolling 24-hour window (PUMP-CAP-1), rebuilt from delivery segments, against a second-by-second
brute force."""

from itertools import accumulate

from hypothesis import given, settings
from hypothesis import strategies as st

from openidds.pump.rolling import rolling_dose

DAY = 86_400
# (length in s, mass ticks per second; 0 is a gap)
segments = st.lists(st.tuples(st.integers(1, 40_000), st.integers(0, 50)), min_size=1, max_size=12)


def build(history, drug="d"):
    """Constant-rate pieces as the log gives them (rate 1 tick/s at the mass rate as the concentration; a
    mass rate of 0 is a gap), the history rebuilt from them, the end time, and the brute force: the drug in
    every second."""
    log, t, per_second = [], 0, []
    for length, mass_rate in history:
        if mass_rate:
            log.append((t, t + length, 1, (("a", 3), (drug, mass_rate), ("other", 7))))
        per_second.extend([mass_rate] * length)
        t += length
    return rolling_dose(log, drug, t), t, per_second


def brute_windows(per_second):
    """W(s) for every s, from prefix sums."""
    prefix = [0, *accumulate(per_second)]
    return [prefix[s] - prefix[max(0, s - DAY)] for s in range(len(per_second) + 1)]


@given(segments)
def test_window_equals_the_sum_of_the_last_24_hours(pieces):
    history, end, per_second = build(pieces)
    w = brute_windows(per_second)
    for s in {end, end - 1, end // 2, max(end - DAY, 0)}:
        assert history.window(s) == w[s]


def test_a_drug_not_in_the_segments_has_nothing_delivered():
    history, end, _ = build([(100, 10)], drug="d")
    assert rolling_dose([(0, 100, 2, (("d", 5),))], "x", end).window(end) == 0
    assert history.window(end) == 1000


def test_no_segments_is_an_empty_history():
    assert rolling_dose([], "d", 5000).window(5000) == 0


@settings(max_examples=60, deadline=None)
@given(segments, st.integers(0, 60), st.integers(1, 30_000), st.integers(0, 3_000_000))
def test_first_crossings_are_exact(pieces, future_rate, horizon, level):
    history, now, per_second = build(pieces)
    w = brute_windows(per_second + [future_rate] * horizon)
    later = range(now + 1, now + horizon + 1)
    assert history.first_above(now + horizon, future_rate, level) == next((s for s in later if w[s] > level), None)
    assert history.first_at_or_below(now + horizon, future_rate, level) == next(
        (s for s in later if w[s] <= level), None)

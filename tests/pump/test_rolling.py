"""The rolling 24-hour window's first crossings (PUMP-CAP-1), walked over the log's delivery pieces, against a
second-by-second brute force and against the history the pump built before (kept here as the reference)."""

from bisect import bisect_right
from itertools import accumulate

from hypothesis import given, settings
from hypothesis import strategies as st

from openidds.pump.rolling import _first_in_segment, first_crossing

DAY = 86_400
# (length in s, mass ticks per second; 0 is a gap)
segments = st.lists(st.tuples(st.integers(1, 40_000), st.integers(0, 50)), min_size=1, max_size=12)


class ReferenceHistory:
    """The pump's former answer: the whole last day rebuilt as cumulative sums, walked break by break."""

    def __init__(self, pieces, drug, now_s):
        starts, rates, at = [], [], None
        for start_s, end_s, rate, tip in pieces:
            if at is not None and start_s > at:
                starts.append(at)
                rates.append(0)
            starts.append(start_s)
            rates.append(rate * next((ng for name, ng in tip if name == drug), 0))
            at = end_s
        if at is None:
            starts, rates = [now_s], [0]
        elif now_s > at:
            starts.append(at)
            rates.append(0)
        self.starts, self.rates, self.end_s = starts, rates, now_s
        self.cums = [0, *accumulate(rates[i - 1] * (starts[i] - starts[i - 1]) for i in range(1, len(starts)))]

    def delivered(self, x_s):
        i = bisect_right(self.starts, x_s) - 1
        return 0 if i < 0 else self.cums[i] + self.rates[i] * (x_s - self.starts[i])

    def window(self, t_s):
        return self.delivered(t_s) - self.delivered(t_s - DAY)

    def first(self, end_s, mass_rate, level, above):
        now = self.end_s
        stop = min(end_s, now + DAY)
        u, w = now, self.window(now)
        starts, rates = self.starts, self.rates
        i = bisect_right(starts, u - DAY) - 1
        while u < stop:
            out_rate = rates[i] if i >= 0 else 0
            v = min(stop, starts[i + 1] + DAY if i + 1 < len(starts) else stop)
            slope = mass_rate - out_rate
            s = _first_in_segment(u, v, w, slope, level if above else -level, above)
            if s is not None:
                return s
            u, w, i = v, w + slope * (v - u), i + 1
        return None


def build(history, drug="d"):
    """Constant-rate pieces as the log gives them (rate 1 tick/s at the mass rate as the concentration; a
    mass rate of 0 is a gap), the end time, and the brute force: the drug in every second."""
    log, t, per_second = [], 0, []
    for length, mass_rate in history:
        if mass_rate:
            log.append((t, t + length, 1, (("a", 3), (drug, mass_rate), ("other", 7))))
        per_second.extend([mass_rate] * length)
        t += length
    return log, t, per_second


def brute_windows(per_second):
    """W(s) for every s, from prefix sums."""
    prefix = [0, *accumulate(per_second)]
    return [prefix[s] - prefix[max(0, s - DAY)] for s in range(len(per_second) + 1)]


def crossing(pieces, now, end, future_rate, level, above, drug="d"):
    """first_crossing as the pump asks it: over the pieces that end after now - 24 h, with W(now)."""
    recent = [p for p in pieces if p[1] > now - DAY]
    w_now = ReferenceHistory(pieces, drug, now).window(now)
    return first_crossing(iter(recent), drug, now, w_now, end, future_rate, level, above=above)


@settings(max_examples=60, deadline=None)
@given(segments, st.integers(0, 60), st.integers(1, 30_000), st.integers(0, 3_000_000))
def test_first_crossings_are_exact(pieces, future_rate, horizon, level):
    log, now, per_second = build(pieces)
    w = brute_windows(per_second + [future_rate] * horizon)
    later = range(now + 1, now + horizon + 1)
    assert crossing(log, now, now + horizon, future_rate, level, True) == next(
        (s for s in later if w[s] > level), None)
    assert crossing(log, now, now + horizon, future_rate, level, False) == next(
        (s for s in later if w[s] <= level), None)


@settings(max_examples=200, deadline=None)
@given(segments, st.integers(0, 60), st.integers(1, 200_000), st.integers(0, 3_000_000))
def test_first_crossings_agree_with_the_former_history(pieces, future_rate, horizon, level):
    log, now, _ = build(pieces)
    history = ReferenceHistory(log, "d", now)
    for above in (True, False):
        assert crossing(log, now, now + horizon, future_rate, level, above) == history.first(
            now + horizon, future_rate, level, above)


def test_a_drug_not_in_the_pieces_never_crosses():
    pieces = [(0, 100, 2, (("d", 5),))]
    assert first_crossing(iter(pieces), "x", 100, 0, 200, 0, 0, above=True) is None
    assert first_crossing(iter(pieces), "d", 100, 1000, 200, 0, 999, above=True) == 101


def test_no_pieces_and_no_rate_stay_at_zero():
    assert first_crossing(iter([]), "d", 5000, 0, 9000, 0, 0, above=True) is None
    assert first_crossing(iter([]), "d", 5000, 0, 9000, 3, 0, above=True) == 5001

"""Cumulative drug delivered, and the amount in any rolling 24-hour window.

The pump keeps no history of its own for this: :func:`rolling_dose` builds one from the last 24 hours of
delivery segments in its log, when the 24-hour limit needs an exact answer. The history is a list of pieces
with a constant mass rate (mass ticks per second). The delivered amount
``D(x)`` is piecewise linear, so the window sum ``W(s) = D(s) - D(s - 24 h)`` is piecewise linear too,
with breaks at the present pieces and at past breaks shifted by 24 h: the first second at which it
crosses a level is found exactly by walking those breaks, never by stepping through time.
"""

from bisect import bisect_right

from openidds.pump.lots import Concentrations
from openidds.pump.ticks import SECONDS_PER_DAY as DAY


class RollingDose:
    """Nominal amount of one drug pumped, with the rolling 24-hour sum."""

    __slots__ = ("starts", "cums", "rates", "end_s")

    def __init__(self, starts: list[int], rates: list[int], end_s: int) -> None:
        """Delivery at ``rates[i]`` (mass ticks per second) from ``starts[i]`` to the next start, the last one
        up to ``end_s``; nothing before ``starts[0]`` counts."""
        self.starts, self.rates, self.end_s = starts, rates, end_s
        cums = [0]
        for i in range(1, len(starts)):
            cums.append(cums[-1] + rates[i - 1] * (starts[i] - starts[i - 1]))
        self.cums = cums

    def delivered(self, x_s: int) -> int:
        """D(x): amount delivered up to time x (x at most the end of the history)."""
        i = bisect_right(self.starts, x_s) - 1
        if i < 0:
            return 0
        return self.cums[i] + self.rates[i] * (x_s - self.starts[i])

    def window(self, t_s: int) -> int:
        """W(t): amount delivered in (t - 24 h, t]; ``t`` at most the end of the history."""
        return self.delivered(t_s) - self.delivered(t_s - DAY)

    def first_above(self, end_s: int, mass_rate: int, level: int) -> int | None:
        """The first second s in (now, end] with W(s) > level if ``mass_rate`` is delivered from now."""
        return self._first(end_s, mass_rate, level, above=True)

    def first_at_or_below(self, end_s: int, mass_rate: int, level: int) -> int | None:
        """The first second s in (now, end] with W(s) <= level if ``mass_rate`` is delivered from now."""
        return self._first(end_s, mass_rate, level, above=False)

    def _first(self, end_s: int, mass_rate: int, level: int, *, above: bool) -> int | None:
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


def rolling_dose(pieces: list[tuple[int, int, int, Concentrations]], drug: str, now_s: int) -> RollingDose:
    """The history of ``drug`` up to ``now_s`` from constant-rate pieces as
    :meth:`openidds.pump.events.EventLog.deliveries_since` gives them; nothing is delivered between them."""
    starts, rates, at = [], [], None
    for start_s, end_s, rate, tip in pieces:
        if at is not None and start_s > at:
            starts.append(at)
            rates.append(0)
        starts.append(start_s)
        rates.append(rate * next((ng for name, ng in tip if name == drug), 0))
        at = end_s
    if at is None:
        return RollingDose([now_s], [0], now_s)
    if now_s > at:
        starts.append(at)
        rates.append(0)
    return RollingDose(starts, rates, now_s)


def _first_in_segment(u: int, v: int, w: int, slope: int, level: int, above: bool) -> int | None:
    """The first integer s in (u, v] where the line w + slope (s - u) is above ``level`` (with ``above``), or
    at or below ``-level`` (without: the same question for the mirrored line)."""
    if not above:
        w, slope = -w, -slope
        level -= 1
    if slope > 0:
        s = u + max(1, (level - w) // slope + 1)
    elif w + slope > level:
        s = u + 1
    else:
        return None
    return s if s <= v else None

"""Cumulative drug delivered, and the amount in any rolling 24-hour window.

The history is a list of pieces with a constant mass rate (mass ticks per second). The delivered amount
``D(x)`` is piecewise linear, so the window sum ``W(s) = D(s) - D(s - 24 h)`` is piecewise linear too,
with breaks at the present pieces and at past breaks shifted by 24 h: the first second at which it
crosses a level is found exactly by walking those breaks, never by stepping through time.
"""

from bisect import bisect_right

from openidds.pump.ticks import SECONDS_PER_DAY as DAY


class RollingDose:
    """Nominal amount of one drug pumped, with the rolling 24-hour sum."""

    __slots__ = ("starts", "cums", "rates", "end_s")

    def __init__(self, t_s: int) -> None:
        self.starts = [t_s]
        self.cums = [0]
        self.rates = [0]
        self.end_s = t_s

    def record(self, start_s: int, end_s: int, mass_rate: int) -> None:
        """Append delivery at a constant ``mass_rate`` over [start_s, end_s); pieces must be contiguous."""
        if mass_rate != self.rates[-1]:
            i = len(self.starts) - 1
            self.cums.append(self.cums[i] + self.rates[i] * (start_s - self.starts[i]))
            self.starts.append(start_s)
            self.rates.append(mass_rate)
            if len(self.starts) > 512:
                self._forget(start_s - DAY)
        self.end_s = end_s

    def total(self) -> int:
        """D(now): everything delivered so far."""
        return self.cums[-1] + self.rates[-1] * (self.end_s - self.starts[-1])

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

    def _forget(self, before_s: int) -> None:
        i = bisect_right(self.starts, before_s) - 1
        if i > 0:
            del self.starts[:i], self.cums[:i], self.rates[:i]


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

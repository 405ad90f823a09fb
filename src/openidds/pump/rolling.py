"""The amount of a drug in the rolling 24-hour window, and the first second it crosses a level.

The pump keeps no history of its own for this: its log keeps the delivery rows of the last 24 hours
(:meth:`openidds.pump.events.EventLog.deliveries_since`), as pieces with a constant mass rate (mass ticks per
second). The delivered amount ``D(x)`` is piecewise linear, so the window sum ``W(s) = D(s) - D(s - 24 h)``
is piecewise linear too, with breaks at the present pieces and at past breaks shifted by 24 h: the first
second at which it crosses a level is found exactly by walking those breaks, never by stepping through time.
"""

from collections.abc import Iterable

from openidds.pump.lots import Concentrations
from openidds.pump.ticks import SECONDS_PER_DAY as DAY

Piece = tuple[int, int, int, Concentrations]
"""``(start_s, end_s, rate, tip)``: ``rate * tip[drug]`` mass ticks of each drug per second over [start, end)."""


def first_crossing(pieces: Iterable[Piece], drug: str, now_s: int, window_now: int, end_s: int, mass_rate: int,
                   level: int, *, above: bool) -> int | None:
    """The first second s in (now, end] at which ``drug``'s rolling 24-hour amount W(s) is above ``level``
    (``above``) or at or below it (not ``above``), if ``mass_rate`` is delivered from now on; None if there is
    none.

    ``pieces``: the delivery, oldest first and not overlapping, of every second after ``now - 24 h`` up to
    now (nothing between them; a piece may start before that); ``window_now``: W(now), the amount they hold
    after ``now - 24 h``. They are read only as far as the window's back edge moves by ``end``.
    """
    stop = min(end_s, now_s + DAY)
    u, w = now_s, window_now
    flows = ((start, end, rate * ng) for start, end, rate, tip in pieces for name, ng in tip if name == drug)
    piece = next(flows, None)
    while u < stop:
        if above and w + mass_rate * (stop - u) <= level:
            return None  # W(s) <= W(u) + mass_rate (s - u): what leaves the window only lowers it
        back = u - DAY  # what leaves the window from u on was delivered at back
        while piece is not None and piece[1] <= back:
            piece = next(flows, None)
        if piece is None:
            out_rate, v = 0, stop
        elif piece[0] > back:  # nothing was delivered at back: a gap until the piece
            out_rate, v = 0, min(stop, piece[0] + DAY)
        else:
            out_rate, v = piece[2], min(stop, piece[1] + DAY)
        slope = mass_rate - out_rate
        s = _first_in_segment(u, v, w, slope, level if above else -level, above)
        if s is not None:
            return s
        u, w = v, w + slope * (v - u)
    return None


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

"""Infusion programs and the therapy the clinician programs: program, patient bolus, 24-hour limit.

A program answers one question, :meth:`piece`: from time ``t_s``, which rate holds, until when, and with
what volume budget (a periodic dose stops when its volume has gone). Rates are volume ticks per second
(= nL/day); see :mod:`openidds.pump.ticks`.
"""

from bisect import bisect_right
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import lru_cache

from openidds.errors import OpenIDDSError
from openidds.pump.ticks import (
    SECONDS_PER_DAY,
    SECONDS_PER_WEEK,
    Number,
    mass_ticks,
    number_text,
    rate_ticks_per_s,
    volume_ticks,
)
from openidds.weekday import Weekday

FOREVER_S = 1 << 62
WEEKDAYS = tuple(day.value for day in Weekday)

Piece = tuple[int, int, int | None]
"""(rate in ticks/s, end time in s, volume budget in ticks or None)."""


@dataclass(frozen=True, slots=True)
class Stopped:
    """No delivery (the "stopped pump" mode)."""

    kind = "stopped"

    def piece(self, t_s: int, origin_s_of_week: int) -> Piece:
        return (0, FOREVER_S, None)

    def rates(self) -> tuple[int, ...]:
        return ()

    def describe(self) -> str:
        return "stopped"


@dataclass(frozen=True, slots=True)
class Continuous:
    """Simple continuous infusion at one rate."""

    rate_ml_per_day: Number
    _rate: int = field(init=False, repr=False, compare=False)
    kind = "continuous"

    def __post_init__(self) -> None:
        object.__setattr__(self, "_rate", rate_ticks_per_s("program.rate_ml_per_day", self.rate_ml_per_day))

    def piece(self, t_s: int, origin_s_of_week: int) -> Piece:
        return (self._rate, FOREVER_S, None)

    def rates(self) -> tuple[int, ...]:
        return (self._rate,)

    def describe(self) -> str:
        return f"continuous {number_text(self.rate_ml_per_day)} mL/day"


@dataclass(frozen=True, slots=True)
class FlexStep:
    """From ``start`` (``"HH:MM"``) on the given weekdays (all days when empty), run at this rate."""

    start: str
    rate_ml_per_day: Number
    days: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class Flex:
    """Day-part and weekday steps; each step runs until the next one starts (wrapping round the week)."""

    steps: tuple[FlexStep, ...]
    _offsets: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _rates: tuple[int, ...] = field(init=False, repr=False, compare=False)
    _next: tuple[int, ...] = field(init=False, repr=False, compare=False)  # step i gives way at _next[i + 1]
    kind = "flex"

    def __post_init__(self) -> None:
        if not self.steps:
            raise OpenIDDSError("program.steps", self.steps, "at least one flex step")
        bounds: dict[int, int] = {}
        for i, step in enumerate(self.steps):
            day_s = clock_seconds(f"program.steps[{i}].start", step.start)
            rate = rate_ticks_per_s(f"program.steps[{i}].rate_ml_per_day", step.rate_ml_per_day)
            days = step.days or WEEKDAYS
            for day in days:
                if day not in WEEKDAYS:
                    raise OpenIDDSError(f"program.steps[{i}].days", step.days, f"weekdays from {WEEKDAYS}")
                offset = WEEKDAYS.index(day) * SECONDS_PER_DAY + day_s
                if offset in bounds:
                    raise OpenIDDSError(f"program.steps[{i}].start", step.start,
                                        f"a start that no other step has on {day}")
                bounds[offset] = rate
        offsets = tuple(sorted(bounds))
        object.__setattr__(self, "_offsets", offsets)
        object.__setattr__(self, "_rates", tuple(bounds[o] for o in offsets))
        object.__setattr__(self, "_next", (*offsets, offsets[0] + SECONDS_PER_WEEK))

    def piece(self, t_s: int, origin_s_of_week: int) -> Piece:
        week_s = (t_s + origin_s_of_week) % SECONDS_PER_WEEK
        i = bisect_right(self._offsets, week_s)  # the step that runs now is i - 1 (the week's last before the first)
        return (self._rates[i - 1], t_s - week_s + self._next[i], None)

    def rates(self) -> tuple[int, ...]:
        return tuple(sorted(set(self._rates)))

    def describe(self) -> str:
        return "flex " + ", ".join(
            f"{s.start} {number_text(s.rate_ml_per_day)} mL/day" + (f" ({'/'.join(s.days)})" if s.days else "")
            for s in self.steps)


@dataclass(frozen=True, slots=True)
class Periodic:
    """A dose every ``every_s`` seconds, delivered over ``duration_s``, no flow in between.

    Doses start at ``offset_s`` after Monday 00:00 on the pump clock and every ``every_s`` from there.
    """

    dose_ml: Number
    duration_s: int
    every_s: int
    offset_s: int = 0
    _dose: int = field(init=False, repr=False, compare=False)
    _rate: int = field(init=False, repr=False, compare=False)
    kind = "periodic"

    def __post_init__(self) -> None:
        dose = volume_ticks("program.dose_ml", self.dose_ml, lo="0.000001")
        _whole_seconds("program.every_s", self.every_s, 3600, SECONDS_PER_WEEK)
        _whole_seconds("program.duration_s", self.duration_s, 60, self.every_s - 1)
        _whole_seconds("program.offset_s", self.offset_s, 0, self.every_s - 1)
        object.__setattr__(self, "_dose", dose)
        object.__setattr__(self, "_rate", -(-dose // self.duration_s))

    def piece(self, t_s: int, origin_s_of_week: int) -> Piece:
        phase = (t_s + origin_s_of_week - self.offset_s) % self.every_s
        start = t_s - phase
        if phase < self.duration_s:
            end = start + self.duration_s
            budget = self._dose if phase == 0 else min(self._dose, self._rate * (end - t_s))
            return (self._rate, end, budget)
        return (0, start + self.every_s, None)

    def rates(self) -> tuple[int, ...]:
        return (self._rate,)

    def describe(self) -> str:
        return (f"periodic {number_text(self.dose_ml)} mL over {self.duration_s // 60} min "
                f"every {self.every_s / 3600:g} h from {week_time(self.offset_s)}")


Program = Stopped | Continuous | Flex | Periodic


def program_volume(program: Program, start_s: int, end_s: int, origin_s_of_week: int) -> int:
    """Exact volume ticks the program alone delivers over [start_s, end_s)."""
    total, t = 0, start_s
    while t < end_s:
        rate, piece_end, budget = program.piece(t, origin_s_of_week)
        stop = min(piece_end, end_s)
        amount = rate * (stop - t)
        total += amount if budget is None else min(amount, budget)
        t = stop
    return total


@lru_cache(maxsize=256)
def max_daily_volume(program: Program, origin_s_of_week: int) -> int:
    """The most the program delivers in any 24-hour window (checked at every window that starts or ends
    on a rate change, where the maximum of a piecewise-linear window sum lies)."""
    starts = {0}
    t = 0
    while t < SECONDS_PER_WEEK:
        _, end, _ = program.piece(t, origin_s_of_week)
        end = min(end, SECONDS_PER_WEEK)
        starts.update((end % SECONDS_PER_WEEK, (end - SECONDS_PER_DAY) % SECONDS_PER_WEEK))
        t = end
    return max(program_volume(program, s, s + SECONDS_PER_DAY, origin_s_of_week) for s in starts)


@dataclass(frozen=True, slots=True)
class PatientBolus:
    """Patient-activated bolus: dose, duration, lockout from the start of the last granted bolus
    (never 0, at least the duration) and a maximum number in any 24 hours."""

    dose_ml: Number
    duration_s: int
    lockout_s: int
    max_per_24h: int
    dose_ticks: int = field(init=False, repr=False, compare=False)
    rate: int = field(init=False, repr=False, compare=False)
    """Ticks per second while it runs: the dose over the duration, rounded up."""

    def __post_init__(self) -> None:
        object.__setattr__(self, "dose_ticks", volume_ticks("patient_bolus.dose_ml", self.dose_ml, lo="0.000001", hi=2))
        _whole_seconds("patient_bolus.duration_s", self.duration_s, 60, 4 * 3600)
        object.__setattr__(self, "rate", -(-self.dose_ticks // self.duration_s))
        _whole_seconds("patient_bolus.lockout_s", self.lockout_s, max(self.duration_s, 15 * 60), SECONDS_PER_DAY)
        count = self.max_per_24h
        if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 24:
            raise OpenIDDSError("patient_bolus.max_per_24h", self.max_per_24h, "a whole number from 1 to 24")


@dataclass(frozen=True, slots=True)
class Therapy:
    """What the clinician programs in one atomic step.

    ``max_mg_per_24h`` is the rolling 24-hour limit on each drug delivered from every source (basal and
    all boluses); it must name every drug in the reservoir.
    """

    program: Program
    max_mg_per_24h: Mapping[str, Number]
    patient_bolus: PatientBolus | None = None
    limits_mass: tuple[tuple[str, int], ...] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if not isinstance(self.program, (Stopped, Continuous, Flex, Periodic)):
            raise OpenIDDSError("therapy.program", self.program, "a Stopped, Continuous, Flex or Periodic program")
        limits = tuple(sorted(
            (drug, mass_ticks(f"max_mg_per_24h.{drug}", mg)) for drug, mg in dict(self.max_mg_per_24h).items()))
        for drug, mass in limits:
            if mass == 0:
                raise OpenIDDSError(f"max_mg_per_24h.{drug}", self.max_mg_per_24h[drug], "a limit above 0 mg")
        object.__setattr__(self, "limits_mass", limits)


def clock_seconds(field_name: str, text: str) -> int:
    """``"HH:MM"`` -> seconds after midnight."""
    try:
        hours, minutes = text.split(":")
        h, m = int(hours), int(minutes)
        if len(minutes) != 2 or not (0 <= h < 24 and 0 <= m < 60):
            raise ValueError
    except (ValueError, AttributeError):
        raise OpenIDDSError(field_name, text, "a time of day as HH:MM, 00:00 to 23:59") from None
    return h * 3600 + m * 60


def week_time(s_of_week: int) -> str:
    """Seconds after Monday 00:00 as a weekday and time of day: ``"Mon 02:00"`` (``"Tue 06:30:15"``)."""
    day, s_of_day = divmod(s_of_week, SECONDS_PER_DAY)
    hours, rest = divmod(s_of_day, 3600)
    minutes, seconds = divmod(rest, 60)
    return (f"{WEEKDAYS[day].capitalize()} {hours:02d}:{minutes:02d}" + (f":{seconds:02d}" if seconds else ""))


def _whole_seconds(field_name: str, value: int, lo: int, hi: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or not lo <= value <= hi:
        raise OpenIDDSError(field_name, value, f"whole seconds from {lo} to {hi}")


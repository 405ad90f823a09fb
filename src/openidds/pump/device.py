"""Pump models and the physical description of one implanted system."""

import re
from dataclasses import dataclass, field

from openidds.errors import OpenIDDSError
from openidds.pump.ticks import SECONDS_PER_DAY, Number, rate_ticks_per_s, volume_ticks

SPINAL_LEVEL = re.compile(r"^(C[1-7]|T([1-9]|1[0-2])|L[1-5]|S[1-5])$")
"""A vertebral level, as a catheter's tip level is written (``T6``)."""


@dataclass(frozen=True, slots=True)
class PumpModel:
    """What a pump model can do. ``sources`` says where each number comes from and whether it is verified."""

    name: str
    reservoir_sizes_ml: tuple[int, ...]
    min_rate_ml_per_day: str
    max_rate_ml_per_day: str
    residual_ml: str
    tubing_volume_ml: str
    eri_after_days: int
    eos_after_eri_days: int
    sources: tuple[tuple[str, str], ...] = field(default=())


SYNCHROMED_II = PumpModel(
    name="SynchroMed II",
    reservoir_sizes_ml=(20, 40),
    min_rate_ml_per_day="0.048",
    max_rate_ml_per_day="24",
    residual_ml="1.4",
    tubing_volume_ml="0.25",
    eri_after_days=6 * 365,
    eos_after_eri_days=90,
    sources=(
        ("reservoir_sizes_ml", "[V] 20 or 40 mL; reference pump.md section 1.1"),
        ("min_rate_ml_per_day", "[V] 0.048 mL/day; prialt.com titration page via pump.md section 1.1"),
        ("max_rate_ml_per_day", "[R] unverified: 'often quoted 24 mL/day', pump.md section 7"),
        ("residual_ml", "[R] unverified: modelling assumption, no accessible source"),
        ("tubing_volume_ml", "[R] unverified: modelling assumption, no accessible source"),
        ("eri_after_days", "[V] battery 5-7 years typical; 6 years taken as the middle, pump.md section 1.1"),
        ("eos_after_eri_days", "[V] pump stops about 90 days after ERI; pump.md section 1.1"),
    ),
)

MODELS: dict[str, PumpModel] = {SYNCHROMED_II.name: SYNCHROMED_II}


@dataclass(frozen=True, slots=True)
class Catheter:
    """The intrathecal catheter: length, internal volume and tip level (e.g. ``T6``)."""

    length_cm: int
    volume_ml: str
    tip_level: str

    def __post_init__(self) -> None:
        if isinstance(self.length_cm, bool) or not isinstance(self.length_cm, int) or not 1 <= self.length_cm <= 200:
            raise OpenIDDSError("catheter.length_cm", self.length_cm, "a whole number of cm from 1 to 200")
        volume_ticks("catheter.volume_ml", self.volume_ml, lo="0.000001", hi=2)
        if not isinstance(self.tip_level, str) or not SPINAL_LEVEL.match(self.tip_level):
            raise OpenIDDSError("catheter.tip_level", self.tip_level, "a spinal level such as C7, T6, T10 or L1")


@dataclass(frozen=True, slots=True)
class PumpSpec:
    """One implanted system: model, reservoir size, thresholds, catheter and clock.

    ``clock_origin_s_of_week`` places t_s = 0 on the pump's weekly clock: seconds after Monday 00:00
    (pump local time, no daylight saving), so flex programs know the weekday and time of day.
    ``battery_eri_at_s`` overrides the model's ERI time (to model an older battery or a premature ERI).
    """

    model: PumpModel = SYNCHROMED_II
    reservoir_ml: int = 20
    low_reservoir_ml: Number = 2
    catheter: Catheter = field(default_factory=lambda: Catheter(length_cm=80, volume_ml="0.16", tip_level="T10"))
    clock_origin_s_of_week: int = 0
    battery_eri_at_s: int | None = None

    def __post_init__(self) -> None:
        if self.reservoir_ml not in self.model.reservoir_sizes_ml:
            raise OpenIDDSError("reservoir_ml", self.reservoir_ml,
                                f"one of {self.model.reservoir_sizes_ml} for {self.model.name}")
        volume_ticks("low_reservoir_ml", self.low_reservoir_ml, lo=self.model.residual_ml, hi=self.reservoir_ml)
        origin = self.clock_origin_s_of_week
        if not isinstance(origin, int) or not 0 <= origin < 7 * SECONDS_PER_DAY:
            raise OpenIDDSError("clock_origin_s_of_week", self.clock_origin_s_of_week, "seconds from 0 to 604799")
        eri = self.battery_eri_at_s
        if eri is not None and (not isinstance(eri, int) or eri < 0):
            raise OpenIDDSError("battery_eri_at_s", self.battery_eri_at_s, "a time in whole seconds, at least 0")

    @property
    def capacity_ticks(self) -> int:
        return volume_ticks("reservoir_ml", self.reservoir_ml)

    @property
    def residual_ticks(self) -> int:
        return volume_ticks("residual_ml", self.model.residual_ml)

    @property
    def low_reservoir_ticks(self) -> int:
        return volume_ticks("low_reservoir_ml", self.low_reservoir_ml)

    @property
    def path_ticks(self) -> int:
        """Catheter plus pump tubing: what must be pushed out before a new solution reaches the CSF."""
        return volume_ticks("catheter.volume_ml", self.catheter.volume_ml) + volume_ticks(
            "tubing_volume_ml", self.model.tubing_volume_ml)

    @property
    def min_rate(self) -> int:
        return rate_ticks_per_s("min_rate_ml_per_day", self.model.min_rate_ml_per_day)

    @property
    def max_rate(self) -> int:
        return rate_ticks_per_s("max_rate_ml_per_day", self.model.max_rate_ml_per_day)

    @property
    def eri_at_s(self) -> int:
        if self.battery_eri_at_s is not None:
            return self.battery_eri_at_s
        return self.model.eri_after_days * SECONDS_PER_DAY

    @property
    def eos_at_s(self) -> int:
        return self.eri_at_s + self.model.eos_after_eri_days * SECONDS_PER_DAY

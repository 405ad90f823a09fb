"""What the pump answers: an interrogation snapshot, a bolus decision, a refill report."""

from collections.abc import Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import NamedTuple

from openidds.pump.alarms import Alarm
from openidds.pump.programs import Therapy
from openidds.pump.solution import Solution
from openidds.pump.ticks import decimal_text, ticks_to_ml


@dataclass(frozen=True, slots=True)
class Snapshot:
    """An interrogation as the programmer sees it: nothing here is simulator truth. ``programmed`` and
    ``filled_with`` are the settings themselves (the therapy and the solution the pump was told), for a
    programmer to edit; ``therapy`` and ``solution`` describe them for reading."""

    t_s: int
    therapy: str
    solution: str
    reservoir_ml: Fraction
    battery: str
    eri_at_s: int
    eos_at_s: int
    delivering: str
    bolus: str | None
    alarms: tuple[Alarm, ...]
    log: Sequence[dict]  # the pump's views of the events since the last interrogation (EventLog.pump_views)
    programmed: Therapy | None = None
    filled_with: Solution | None = None

    def to_dict(self) -> dict:
        return {
            "t_s": self.t_s, "therapy": self.therapy, "solution": self.solution,
            "reservoir_ml": decimal_text(self.reservoir_ml, 6), "battery": self.battery,
            "eri_at_s": self.eri_at_s, "eos_at_s": self.eos_at_s, "delivering": self.delivering,
            "bolus": self.bolus, "alarms": [a.to_dict() for a in self.alarms], "log": list(self.log),
        }


class BolusDecision(NamedTuple):
    """The answer to a patient's bolus request, as the bolus device shows it."""

    granted: bool
    reason: str
    left_in_24h: int
    next_allowed_s: int | None


@dataclass(frozen=True, slots=True)
class RefillReport:
    """What the refill withdrew against what the pump expected, what went in and what the reservoir now
    holds (volumes in ticks; ``solution`` as the pump was told it)."""

    withdrawn_ticks: int
    expected_ticks: int
    filled_ticks: int = 0
    reservoir_ticks: int = 0
    solution: str = ""

    @property
    def withdrawn_ml(self) -> Fraction:
        return ticks_to_ml(self.withdrawn_ticks)

    @property
    def expected_ml(self) -> Fraction:
        return ticks_to_ml(self.expected_ticks)

    @property
    def discrepancy_ml(self) -> Fraction:
        """Withdrawn minus expected: positive when more came back than the pump thought (e.g. occlusion)."""
        return ticks_to_ml(self.withdrawn_ticks - self.expected_ticks)

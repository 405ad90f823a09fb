"""The alarm taxonomy, after SynchroMed II: critical (two-tone, therapy stopped or about to stop) and
non-critical (one tone, needs attention)."""

from dataclasses import dataclass
from enum import Enum


class Severity(str, Enum):
    CRITICAL = "critical"
    NON_CRITICAL = "non-critical"


class AlarmKind(str, Enum):
    LOW_RESERVOIR = "low_reservoir"
    EMPTY_RESERVOIR = "empty_reservoir"
    ELECTIVE_REPLACEMENT = "elective_replacement_indicator"
    END_OF_SERVICE = "end_of_service"
    MOTOR_STALL = "motor_stall"
    MRI_EXPOSURE = "mri_exposure"
    MEMORY_ERROR = "memory_error"
    CRITICAL_MEMORY_ERROR = "critical_memory_error"
    BATTERY_RESET = "low_battery_reset"
    DAILY_LIMIT_REACHED = "daily_limit_reached"

    @property
    def severity(self) -> Severity:
        return Severity.NON_CRITICAL if self in _NON_CRITICAL else Severity.CRITICAL


_NON_CRITICAL = frozenset({AlarmKind.LOW_RESERVOIR, AlarmKind.ELECTIVE_REPLACEMENT, AlarmKind.MEMORY_ERROR})


@dataclass(frozen=True, slots=True)
class Alarm:
    """An active alarm: what, since when, and why."""

    kind: AlarmKind
    at_s: int
    reason: str

    @property
    def severity(self) -> Severity:
        return self.kind.severity

    def to_dict(self) -> dict:
        return {"kind": self.kind.value, "severity": self.severity.value, "at_s": self.at_s, "reason": self.reason}

"""Faults a simulation can inject, for testing and teaching. A real pump never receives these."""

from dataclasses import dataclass

from openidds.errors import OpenIDDSError


def _duration(field: str, value: int | None, *, optional: bool) -> None:
    if value is None and optional:
        return
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        none = ", or None for no recovery" if optional else ""
        raise OpenIDDSError(field, value, f"whole seconds, at least 1{none}")


@dataclass(frozen=True, slots=True)
class MotorStall:
    """The motor stops (critical alarm); it runs again after ``duration_s`` (None: never). The pump
    confirms the recovery only at the next interrogation."""

    duration_s: int | None = None

    def __post_init__(self) -> None:
        _duration("motor_stall.duration_s", self.duration_s, optional=True)


@dataclass(frozen=True, slots=True)
class MriExposure:
    """The scanner's field stops the motor for the scan and ``recovery_delay_s`` after it (2-24 h is
    reported); recovery is confirmed only at the next interrogation."""

    duration_s: int
    recovery_delay_s: int = 0

    def __post_init__(self) -> None:
        _duration("mri.duration_s", self.duration_s, optional=False)
        delay = self.recovery_delay_s
        if isinstance(delay, bool) or not isinstance(delay, int) or delay < 0:
            raise OpenIDDSError("mri.recovery_delay_s", self.recovery_delay_s, "whole seconds, at least 0")


@dataclass(frozen=True, slots=True)
class CatheterOcclusion:
    """The catheter is blocked: the pump runs and counts, but nothing leaves the reservoir."""


@dataclass(frozen=True, slots=True)
class CatheterLeak:
    """A catheter leak or disconnection: drug leaves the pump but reaches the tissue, not the CSF."""


@dataclass(frozen=True, slots=True)
class BatteryReset:
    """Low-battery reset: the program is lost and the pump runs at its minimum rate until reprogrammed."""


@dataclass(frozen=True, slots=True)
class SelfTestError:
    """A self-test memory error; a critical one stops delivery until the pump is reprogrammed."""

    critical: bool = False


Fault = MotorStall | MriExposure | CatheterOcclusion | CatheterLeak | BatteryReset | SelfTestError
FAULTS = (MotorStall, MriExposure, CatheterOcclusion, CatheterLeak, BatteryReset, SelfTestError)
"""Every fault type, for checking what a simulation injects."""

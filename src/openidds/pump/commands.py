"""What the clinician programmer and the patient's bolus device can send to the pump."""

from dataclasses import dataclass
from enum import Enum

from openidds.pump.device import Catheter
from openidds.pump.programs import Therapy
from openidds.pump.solution import Solution
from openidds.pump.ticks import Number


class BolusKind(str, Enum):
    CLINICIAN = "clinician"
    PRIMING = "priming"
    BRIDGE = "bridge"
    PATIENT = "patient"


@dataclass(frozen=True, slots=True)
class SetTherapy:
    """Replace program, patient-bolus settings and 24-hour limits in one step; cancels a bolus in progress."""

    therapy: Therapy


@dataclass(frozen=True, slots=True)
class Refill:
    """Withdraw everything retrievable, then fill ``volume_ml`` of ``solution`` (what the pump is told).

    ``actual_solution`` is what really went in when it differs (a compounding error); ``therapy`` is
    programmed in the same step (a concentration change needs a new rate).
    """

    solution: Solution
    volume_ml: Number
    actual_solution: Solution | None = None
    therapy: Therapy | None = None


@dataclass(frozen=True, slots=True)
class StartBolus:
    """A clinician, priming or bridge bolus of ``volume_ml`` over ``duration_s``."""

    kind: BolusKind
    volume_ml: Number
    duration_s: int


@dataclass(frozen=True, slots=True)
class SetLowReservoirAlarm:
    """Program the low-reservoir alarm threshold (mL): above the residual, below the reservoir size."""

    low_reservoir_ml: Number


@dataclass(frozen=True, slots=True)
class CancelBolus:
    """Stop the bolus in progress."""


@dataclass(frozen=True, slots=True)
class RequestPatientBolus:
    """The patient presses the button: the only command the bolus device can send."""


@dataclass(frozen=True, slots=True)
class Interrogate:
    """Read the pump: a snapshot and the log since the last interrogation."""


@dataclass(frozen=True, slots=True)
class ReviseCatheter:
    """A surgical catheter revision: the new catheter starts unprimed; catheter faults are repaired."""

    catheter: Catheter


Command = (SetTherapy | Refill | SetLowReservoirAlarm | StartBolus | CancelBolus | RequestPatientBolus | Interrogate
           | ReviseCatheter)

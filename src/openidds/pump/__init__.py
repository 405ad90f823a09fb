"""The implanted pump: reservoir, catheter, battery, programs, boluses, 24-hour limit, alarms, faults, log."""

from openidds.pump.alarms import Alarm, AlarmKind, Severity
from openidds.pump.commands import (
    BolusKind,
    CancelBolus,
    Command,
    Interrogate,
    Refill,
    RequestPatientBolus,
    ReviseCatheter,
    SetLowReservoirAlarm,
    SetTherapy,
    StartBolus,
)
from openidds.pump.device import MODELS, SYNCHROMED_II, Catheter, PumpModel, PumpSpec
from openidds.pump.events import Event, EventLog, Totals, rebuild_totals
from openidds.pump.faults import (
    BatteryReset,
    CatheterLeak,
    CatheterOcclusion,
    Fault,
    MotorStall,
    MriExposure,
    SelfTestError,
)
from openidds.pump.programs import (
    Continuous,
    Flex,
    FlexStep,
    PatientBolus,
    Periodic,
    Program,
    Stopped,
    Therapy,
    max_daily_volume,
    program_volume,
)
from openidds.pump.pump import CommandRefused, Pump
from openidds.pump.solution import Solution
from openidds.pump.telemetry import BolusDecision, RefillReport, Snapshot

__all__ = [
    "MODELS",
    "SYNCHROMED_II",
    "Alarm",
    "AlarmKind",
    "BatteryReset",
    "BolusDecision",
    "BolusKind",
    "CancelBolus",
    "Catheter",
    "CatheterLeak",
    "CatheterOcclusion",
    "Command",
    "CommandRefused",
    "Continuous",
    "Event",
    "EventLog",
    "Fault",
    "Flex",
    "FlexStep",
    "Interrogate",
    "MotorStall",
    "MriExposure",
    "PatientBolus",
    "Periodic",
    "Program",
    "Pump",
    "PumpModel",
    "PumpSpec",
    "Refill",
    "RefillReport",
    "RequestPatientBolus",
    "ReviseCatheter",
    "SelfTestError",
    "SetLowReservoirAlarm",
    "SetTherapy",
    "Severity",
    "Snapshot",
    "Solution",
    "StartBolus",
    "Stopped",
    "Therapy",
    "Totals",
    "max_daily_volume",
    "program_volume",
    "rebuild_totals",
]

"""The clinician programmer, the refill workflow and arithmetic, priming and bridge boluses, and the
patient's bolus device. Nothing here talks to a real pump; it drives :class:`openidds.pump.Pump`.

A session interrogates the pump, validates an order in drug units against the drug library, the clinic
policy and the pump, shows old and new side by side, needs a recorded confirmation for every soft
finding, and only then sends one command. Every refusal and confirmation is in the session log.
"""

from openidds.programmer.boluses import (
    MIXING_WARNING,
    BolusPlan,
    bridge_bolus,
    path_ticks,
    plan_bolus,
    priming_bolus,
)
from openidds.programmer.catheter_access import (
    CatheterAccessPlan,
    CatheterAccessProcedure,
    plan_catheter_access,
)
from openidds.programmer.conversion import Conversion, convert, plain_decimal
from openidds.programmer.device import PatientBolusDevice, Screen
from openidds.programmer.errors import ProgrammerError, SessionRefused
from openidds.programmer.fill_plan import FillPlan, plan_fill
from openidds.programmer.forecast import RefillForecast, Stability, drawn_down_s, forecast, stability
from openidds.programmer.history import FillRecord, fill_history, first_fill_drugs
from openidds.programmer.orders import (
    BolusOrder,
    ContinuousDose,
    FlexDose,
    FlexDoseStep,
    PeriodicDose,
    StoppedDose,
    TherapyOrder,
    build_therapy,
    concentration,
)
from openidds.programmer.policy import DISCREPANCY_FLOOR_ML, PUMP_ACCURACY_PERCENT, Policy, SourcedFigure
from openidds.programmer.present import (
    dose_unit,
    present_bolus_order,
    present_doses,
    present_forecast,
    present_stability,
)
from openidds.programmer.refill import (
    CHECKLIST,
    Discrepancy,
    Port,
    Prescription,
    RefillRecord,
    RefillWorkflow,
    Trend,
    discrepancy_threshold,
)
from openidds.programmer.review import DrugRow, Finding, Level, assess, figures
from openidds.programmer.session import Fill, LogEntry, ProgrammingSession, Review, State, describe_therapy
from openidds.programmer.state_file import (
    PumpState,
    dump_state,
    load_state,
    new_state,
    state_content,
    to_command,
    to_entry,
)

__all__ = [
    "CHECKLIST",
    "DISCREPANCY_FLOOR_ML",
    "MIXING_WARNING",
    "PUMP_ACCURACY_PERCENT",
    "BolusOrder",
    "BolusPlan",
    "CatheterAccessPlan",
    "CatheterAccessProcedure",
    "ContinuousDose",
    "Conversion",
    "Discrepancy",
    "DrugRow",
    "Fill",
    "FillPlan",
    "FillRecord",
    "Finding",
    "FlexDose",
    "FlexDoseStep",
    "Level",
    "LogEntry",
    "PatientBolusDevice",
    "PeriodicDose",
    "Policy",
    "Port",
    "Prescription",
    "ProgrammerError",
    "ProgrammingSession",
    "PumpState",
    "RefillForecast",
    "RefillRecord",
    "RefillWorkflow",
    "Review",
    "Screen",
    "SessionRefused",
    "SourcedFigure",
    "Stability",
    "State",
    "StoppedDose",
    "TherapyOrder",
    "Trend",
    "assess",
    "bridge_bolus",
    "build_therapy",
    "concentration",
    "convert",
    "describe_therapy",
    "discrepancy_threshold",
    "dose_unit",
    "drawn_down_s",
    "dump_state",
    "figures",
    "fill_history",
    "first_fill_drugs",
    "forecast",
    "load_state",
    "new_state",
    "path_ticks",
    "plain_decimal",
    "plan_bolus",
    "plan_catheter_access",
    "plan_fill",
    "present_bolus_order",
    "present_doses",
    "present_forecast",
    "present_stability",
    "priming_bolus",
    "stability",
    "state_content",
    "to_command",
    "to_entry",
]

"""A programmer state built as a clinic builds it: a new pump's first fill through the refill workflow, its
therapy confirmed by a clinician, the session log kept with the command it sent."""

from __future__ import annotations

import datetime as dt

from openidds.programmer import (
    CHECKLIST,
    BolusOrder,
    ContinuousDose,
    Prescription,
    PumpState,
    RefillWorkflow,
    TherapyOrder,
    new_state,
)

FIRST_FILL_S = 300


def first_filled(start: dt.datetime, *, reservoir_ml: int = 40, drug: str = "morphine",
                 concentration: str = "20 mg/mL", volume_ml: str = "20", dose: str = "2 mg/day",
                 bolus: str | None = "0.2 mg") -> PumpState:
    """A pump whose clock starts at ``start``, filled and programmed 5 minutes later (nurse 'RN Fill',
    physician 'Dr Start')."""
    state = new_state({"start": start.isoformat(), "pump": {
        "reservoir_ml": reservoir_ml, "low_reservoir_ml": "2",
        "catheter": {"length_cm": 80, "volume_ml": "0.16", "tip_level": "T10"}}})
    pump = state.replay()
    workflow = RefillWorkflow(pump, FIRST_FILL_S, "RN Fill", Prescription({drug: concentration}, "Dr Start"))
    workflow.withdraw("0")
    order = TherapyOrder(drug, ContinuousDose(dose), None if bolus is None else BolusOrder(bolus, 600, 7200, 4))
    review = workflow.fill({drug: concentration}, {drug: concentration}, volume_ml, order)
    for finding in review.soft:
        workflow.override(finding.id, "Dr Start", "first fill of the test pump")
    workflow.confirm_checklist("RN Fill", [item for item, _ in CHECKLIST])
    workflow.confirm("Dr Start")
    record = workflow.transmit()
    workflow.complete_observation(record.observe_until_s, "RN Fill", "no signs of overdose")
    return state.with_programmer(workflow.session, "first fill")

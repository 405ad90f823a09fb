"""Programming sessions: interrogate, edit, validate, review, confirm, transmit."""

import gc
import weakref

import pytest

from openidds.drugs import default_library, load_library
from openidds.programmer import (
    CHECKLIST,
    BolusOrder,
    ContinuousDose,
    FlexDose,
    FlexDoseStep,
    Level,
    Policy,
    Prescription,
    ProgrammerError,
    ProgrammingSession,
    RefillWorkflow,
    SessionRefused,
    State,
    TherapyOrder,
)
from openidds.pump import Pump, PumpSpec, RequestPatientBolus

from .conftest import DAY, fill, program, start_order


def unchanged(pump: Pump):
    return pump.state(), len(pump.log)


def test_review_side_by_side(programmed):
    """PROG-REVIEW-1: the review shows old and new daily dose, bolus, 24-hour maximum, change and refill dates."""
    session = ProgrammingSession(programmed, 2 * DAY, "RN A")
    review = session.edit(start_order("3.6 mg/day"))
    row = review.rows[0]
    assert str(row.daily_old) == "3 mg/day" and str(row.daily_new) == "3.6 mg/day"
    assert row.change_percent == 20
    assert str(row.bolus_old) == str(row.bolus_new) == "0.3 mg"
    assert row.max_24h_new > row.max_24h_old
    assert review.old_forecast.due_s > review.new_forecast.due_s > session.at_s
    assert review.to_dict()["rows"][0]["change_percent"] == "20.00"


def test_transmit_sends_one_command(programmed):
    """PROG-ATOMIC-1: nothing reaches the pump before transmit; transmit sends exactly one program command."""
    session = ProgrammingSession(programmed, 2 * DAY, "RN A")
    before = unchanged(programmed)
    session.edit(start_order("3.3 mg/day"))
    session.confirm("Dr B")
    assert unchanged(programmed) == before
    session.transmit()
    new = [e for e in programmed.log.since(before[1]) if e.kind != "delivery"]
    assert [e.kind for e in new] == ["program"]
    assert programmed.therapy.program.rate_ml_per_day == "0.33"
    assert session.state is State.TRANSMITTED


def test_abandoned_session_leaves_pump(programmed):
    """PROG-ATOMIC-1: an abandoned session sends nothing and logs why."""
    session = ProgrammingSession(programmed, 2 * DAY, "RN A")
    before = unchanged(programmed)
    session.edit(start_order("3.3 mg/day"))
    session.confirm("Dr B")
    session.abandon("patient asked to wait")
    assert unchanged(programmed) == before
    assert session.log[-1].kind == "abandoned" and session.log[-1].reason == "patient asked to wait"
    with pytest.raises(ProgrammerError):
        session.transmit()


def test_hard_limit_refused_and_logged(programmed):
    """PROG-HARD-1: above a hard library limit the edit is refused, logged, and nothing reaches the pump."""
    session = ProgrammingSession(programmed, 2 * DAY, "RN A")
    before = unchanged(programmed)
    with pytest.raises(SessionRefused) as error:
        session.edit(start_order("3 mg/day", bolus="1.2 mg"))
    assert error.value.field == "morphine.bolus_dose" and "1 mg" in error.value.expected
    assert session.log[-1].kind == "refused" and "morphine.per_bolus" in str(session.log[-1].data)
    assert session.state is State.OPEN and session.review is None
    assert unchanged(programmed) == before


def test_change_cap_refused(programmed):
    """PROG-CAP-1: a rise above the clinic's cap per session is refused; a configured policy moves the cap."""
    with pytest.raises(SessionRefused, match="rise of at most 30 %"):
        ProgrammingSession(programmed, 2 * DAY, "RN A").edit(start_order("4 mg/day"))
    review = ProgrammingSession(programmed, 2 * DAY, "RN A", policy=Policy(max_increase_percent=50)).edit(
        start_order("4 mg/day"))
    assert [f.level for f in review.findings if f.id == "morphine.change"] == [Level.INFO]


def test_large_decrease_needs_confirmation(programmed):
    """PROG-SOFT-1: a fall above the decrease threshold is a soft finding (withdrawal risk)."""
    review = ProgrammingSession(programmed, 2 * DAY, "RN A").edit(start_order("1.5 mg/day"))
    assert "morphine.change" in [f.id for f in review.soft]


def test_soft_limit_needs_who_and_why(programmed):
    """PROG-SOFT-1: a soft finding blocks confirmation until someone confirms it with a reason; the
    override is logged with who and why."""
    library = load_library(default_library().model_dump_json().replace('"15 mg/day"', '"3.5 mg/day"'))
    session = ProgrammingSession(programmed, 2 * DAY, "RN A", library=library)
    review = session.edit(start_order("3.6 mg/day"))
    assert "morphine.per_day" in [f.id for f in review.soft]
    with pytest.raises(SessionRefused, match="confirmation"):
        session.confirm("Dr B")
    with pytest.raises(ProgrammerError):
        session.override("morphine.per_day", "Dr B", "  ")
    session.override("morphine.per_day", "Dr B", "pain uncontrolled, reviewed with palliative team")
    entry = next(e for e in session.log if e.kind == "override")
    assert entry.who == "Dr B" and "palliative" in entry.reason
    with pytest.raises(SessionRefused, match="per_day_with_boluses"):
        session.confirm("Dr B")
    session.override("morphine.per_day_with_boluses", "Dr B", "boluses included in the review")
    session.confirm("Dr B")
    session.transmit()


def test_unverified_numbers_are_reported(programmed):
    """PROG-UNVERIFIED-1: a finding that relied on an [R] library number says so."""
    review = ProgrammingSession(programmed, 2 * DAY, "RN A").edit(start_order("3.3 mg/day"))
    per_day = next(f for f in review.findings if f.id == "morphine.per_day")
    assert per_day.unverified  # the 15 mg/day soft limit is PACC 2012 [R]
    assert review.relies_on_unverified


def test_mg_mcg_slip_refused(programmed):
    """PROG-UNITS-1: morphine doses must be in mg; 3000 mcg/day is refused, not converted."""
    session = ProgrammingSession(programmed, 2 * DAY, "RN A")
    with pytest.raises(SessionRefused, match="mg/day, the library's dose unit"):
        session.edit(start_order("3000 mcg/day"))


def test_pump_limits_checked_before_sending(programmed):
    """PROG-PUMP-1: a rate the pump would refuse is refused by the session, so the pump never logs a refusal."""
    session = ProgrammingSession(programmed, 2 * DAY, "RN A", policy=Policy(max_increase_percent=1000))
    before = unchanged(programmed)
    with pytest.raises(SessionRefused, match=r"0\.048 to 24"):
        session.edit(TherapyOrder("morphine", ContinuousDose("0.2 mg/day")))
    assert unchanged(programmed) == before


def test_refill_session_sends_nothing_without_a_fill(programmed):
    """A refill workflow whose session was reviewed without a fill (a therapy edit only) sends nothing: the
    session's workflow gate asks for the fill, so the pump is never sent a SetTherapy in place of the Refill."""
    workflow = RefillWorkflow(programmed, 30 * DAY, "RN C", Prescription({"morphine": "10 mg/mL"}, "Dr B"))
    workflow.withdraw(workflow.expected_ml)
    review = workflow.session.edit(start_order("3.3 mg/day"))
    for finding in review.soft:
        workflow.override(finding.id, "Dr B", "test: reviewed")
    workflow.confirm("Dr B")
    workflow.confirm_checklist("RN C", [item for item, _ in CHECKLIST])
    before = unchanged(programmed)
    with pytest.raises(SessionRefused, match="fill"):
        workflow.transmit()
    assert unchanged(programmed) == before
    assert workflow.record is None


def test_stale_session_refused(programmed):
    """PROG-STALE-1: if the pump changed after the interrogation, transmit is refused: interrogate again."""
    session = ProgrammingSession(programmed, 2 * DAY, "RN A")
    session.edit(start_order("3.3 mg/day"))
    session.confirm("Dr B")
    programmed.execute(2 * DAY + 60, RequestPatientBolus())
    with pytest.raises(SessionRefused, match="interrogate again"):
        session.transmit()


def test_flex_program_daily_dose_is_largest_window(programmed):
    """A flex program's daily dose is its largest 24-hour amount, checked like a continuous one."""
    order = TherapyOrder("morphine", FlexDose((FlexDoseStep("07:00", "3.6 mg/day"), FlexDoseStep("22:00", "3 mg/day"))),
                         BolusOrder("0.3 mg", 600, 7200, 4))
    review = ProgrammingSession(programmed, 2 * DAY, "RN A").edit(order)
    row = review.rows[0]
    assert str(row.daily_new) == "3.375 mg/day"  # 15 h at 3.6 + 9 h at 3 over any day


def test_unfilled_pump_refused():
    pump = Pump(PumpSpec())
    with pytest.raises(SessionRefused, match="refill before programming"):
        ProgrammingSession(pump, 0, "RN A").edit(start_order())


def test_initiation_prompts():
    """At initiation the review carries the systemic-opioid prompt and the starting-range check."""
    pump = Pump(PumpSpec())
    fill(pump)
    session = program(pump, 3600, start_order())
    overrides = [e.data["finding"]["id"] for e in session.log if e.kind == "override"]
    assert overrides == ["morphine.starting_dose"]
    assert any(f.id == "morphine.initiation" for f in session.review.findings)


def test_refill_workflow_and_its_session_do_not_keep_each_other(programmed):
    """A refill workflow is freed as soon as it is dropped, without the cycle collector (its session's gate holds it
    weakly); the session it opened then sends nothing."""
    workflow = RefillWorkflow(programmed, 30 * DAY, "RN C", Prescription({"morphine": "10 mg/mL"}, "Dr B"))
    workflow.withdraw(workflow.expected_ml)
    session = workflow.session
    session.edit(start_order("3.3 mg/day"))
    held = weakref.ref(workflow)
    gc.disable()
    try:
        del workflow
        assert held() is None
    finally:
        gc.enable()
    for finding in session.review.soft:
        session.override(finding.id, "Dr B", "test: reviewed")
    session.confirm("Dr B")
    before = unchanged(programmed)
    with pytest.raises(SessionRefused, match="workflow that opened this session is gone"):
        session.transmit()
    assert unchanged(programmed) == before

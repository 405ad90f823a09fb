"""The refill workflow: ordered steps, discrepancy and trend, checks of the fill, checklist, observation."""

from fractions import Fraction

import pytest

from openidds.programmer import (
    CHECKLIST,
    PUMP_ACCURACY_PERCENT,
    Port,
    Prescription,
    ProgrammerError,
    RefillWorkflow,
    SessionRefused,
    discrepancy_threshold,
)
from openidds.programmer.history import FillRecord
from openidds.programmer.refill import Discrepancy
from openidds.pump import CatheterOcclusion, Pump, PumpSpec, Solution
from openidds.pump.ticks import ticks_to_ml

from .conftest import DAY, fill, program, start_order

ALL = [item for item, _ in CHECKLIST]


def same_drug(pump: Pump, at_s: int, withdrawn: Fraction | None = None) -> RefillWorkflow:
    w = RefillWorkflow(pump, at_s, "RN C", Prescription({"morphine": "10 mg/mL"}, "Dr B"))
    w.withdraw(withdrawn if withdrawn is not None else w.expected_ml)
    return w


def finish(w: RefillWorkflow, volume: str = "18", order=None):
    review = w.fill({"morphine": "10 mg/mL"}, {"morphine": "10 mg/mL"}, volume, order)
    for finding in review.soft:
        w.override(finding.id, "Dr B", "test")
    w.confirm("Dr B")
    w.confirm_checklist("RN C", ALL)
    return w.transmit()


def test_golden_threshold():
    """REFILL-DISCREPANCY-1: max(accuracy x pumped, 1 mL for 20 mL / 2 mL for 40 mL) (Maino 2017 [V])."""
    acc = PUMP_ACCURACY_PERCENT["SynchroMed II"]
    assert discrepancy_threshold(20, Fraction(5), acc)[0] == 1
    assert discrepancy_threshold(40, Fraction(5), acc)[0] == 2
    assert discrepancy_threshold(20, Fraction(18), acc)[0] == Fraction(18) * Fraction("0.145")


def test_same_drug_refill_keeps_therapy(programmed):
    """A plain refill: same prescription, same therapy, one Refill command, observation started."""
    therapy = programmed.therapy
    w = same_drug(programmed, 30 * DAY)
    assert not w.discrepancy.flagged
    record = finish(w)
    assert programmed.therapy is therapy
    assert record.report.discrepancy_ml == 0
    assert record.observe_until_s == 30 * DAY + 30 * 60
    assert record.bridge is None
    refills = [e for e in programmed.log if e.kind == "refill"]
    assert len(refills) == 2 and refills[-1].data["fill"] == 18 * 10**6 * DAY


def test_discrepancy_flag_needs_acknowledgement(programmed):
    """REFILL-DISCREPANCY-1: a measured residual 1.5 mL off the expected is flagged; the refill stops until
    someone acknowledges it with what was found."""
    w = RefillWorkflow(programmed, 30 * DAY, "RN C", Prescription({"morphine": "10 mg/mL"}, "Dr B"))
    d = w.withdraw(w.expected_ml + Fraction(3, 2))
    assert d.flagged and d.difference_ml == Fraction(3, 2)
    with pytest.raises(SessionRefused, match="acknowledgement"):
        w.fill({"morphine": "10 mg/mL"}, {"morphine": "10 mg/mL"}, "18")
    w.acknowledge_discrepancy("Dr B", "catheter dye study booked; pump log reviewed")
    finish(w)
    kinds = [e.kind for e in w.session.log]
    assert "discrepancy_acknowledged" in kinds and kinds[-1] == "observation_started"


def measured(pump: Pump, at_s: int) -> Fraction:
    """What the nurse really draws back at ``at_s``: the simulated reservoir's retrievable content."""
    pump.advance(at_s)
    return ticks_to_ml(pump.reservoir_actual_ticks - pump.spec.residual_ticks)


def test_discrepancy_trend_across_refills():
    """REFILL-DISCREPANCY-1, REFILL-TREND-1: a blocked catheter leaves drug behind; the refill measures more
    than the pump expects and flags it; at the next refill the pump's own history shows the earlier flag and
    the trend (two of the last three flagged) is flagged too."""
    pump = Pump(PumpSpec())
    fill(pump)
    program(pump, 3600, start_order(bolus=None))
    finish(same_drug(pump, 20 * DAY, measured(pump, 20 * DAY)))
    pump.inject(25 * DAY, CatheterOcclusion())
    w = same_drug(pump, 40 * DAY, measured(pump, 40 * DAY))
    assert w.discrepancy.flagged and w.discrepancy.difference_ml > 4  # 15 days blocked at 0.3 mL/day
    assert not w.trend.flagged
    w.acknowledge_discrepancy("Dr B", "dye study ordered")
    finish(w)
    w = same_drug(pump, 60 * DAY, measured(pump, 60 * DAY))
    assert [d.flagged for d in w.trend.items] == [False, True, True]
    assert w.trend.repeated and w.needs_acknowledgement


def test_trend_drift_rule():
    """REFILL-TREND-1: three same-direction, growing discrepancies are a trend even under the threshold."""
    from openidds.programmer import Discrepancy, Trend

    def d(diff):
        return Discrepancy(0, Fraction(5), Fraction(5) + Fraction(diff), Fraction(10), Fraction(1), "floor")

    assert Trend((d("0.2"), d("0.4"), d("0.6"))).drifting
    assert not Trend((d("0.2"), d("-0.4"), d("0.6"))).flagged
    assert Trend((d("1.2"), d("0"), d("-1.3"))).repeated


def test_catheter_access_port_refused(programmed):
    """REFILL-PORT-1: the refill workflow cannot reach the catheter access port."""
    w = RefillWorkflow(programmed, 30 * DAY, "RN C", Prescription({"morphine": "10 mg/mL"}, "Dr B"))
    with pytest.raises(SessionRefused, match="catheter access port"):
        w.withdraw("5", port=Port.CATHETER_ACCESS)
    w.withdraw(w.expected_ml)
    with pytest.raises(SessionRefused, match="separate procedure"):
        w.fill({"morphine": "10 mg/mL"}, {"morphine": "10 mg/mL"}, "18", port=Port.CATHETER_ACCESS)


def test_concentration_twice_and_prescription(programmed):
    """REFILL-CHECK-1: the two concentration entries must match, and match the prescription; the
    concentration unit must be the library's (mg/mL for morphine)."""
    w = same_drug(programmed, 30 * DAY)
    before = programmed.state(), len(programmed.log)
    with pytest.raises(SessionRefused, match="same as the first entry"):
        w.fill({"morphine": "10 mg/mL"}, {"morphine": "1 mg/mL"}, "18")
    with pytest.raises(SessionRefused, match="prescription"):
        w.fill({"morphine": "25 mg/mL"}, {"morphine": "25 mg/mL"}, "18")
    with pytest.raises(SessionRefused, match="mg/mL, the library's unit"):
        w.fill({"morphine": "10000 mcg/mL"}, {"morphine": "10000 mcg/mL"}, "18")
    assert (programmed.state(), len(programmed.log)) == before


def test_capacity_refused(programmed):
    """REFILL-CAPACITY-1: a fill above capacity minus the non-retrievable residual is refused before the pump."""
    w = same_drug(programmed, 30 * DAY)
    with pytest.raises(SessionRefused, match=r"at most 18\.6 mL"):
        w.fill({"morphine": "10 mg/mL"}, {"morphine": "10 mg/mL"}, "19")


def test_steps_in_order(programmed):
    """REFILL-ORDER-1: fill before withdrawal, and transmit before the checklist, are refused."""
    w = RefillWorkflow(programmed, 30 * DAY, "RN C", Prescription({"morphine": "10 mg/mL"}, "Dr B"))
    with pytest.raises(SessionRefused, match="withdrawn and measured first"):
        w.fill({"morphine": "10 mg/mL"}, {"morphine": "10 mg/mL"}, "18")
    w.withdraw(w.expected_ml)
    w.fill({"morphine": "10 mg/mL"}, {"morphine": "10 mg/mL"}, "18")
    w.confirm("Dr B")
    w.confirm_checklist("RN C", ALL[:-1])
    with pytest.raises(SessionRefused, match="patient_educated"):
        w.transmit()
    with pytest.raises(SessionRefused):
        w.confirm_checklist("RN C", ["skip_everything"])


def test_concentration_change_needs_new_dose_and_plans_bridge(programmed):
    """A new concentration needs the dose entered again (rates recomputed); a bridge is planned."""
    w = RefillWorkflow(programmed, 30 * DAY, "RN C", Prescription({"morphine": "20 mg/mL"}, "Dr B"))
    w.withdraw(w.expected_ml)
    with pytest.raises(SessionRefused, match="rates must be computed again"):
        w.fill({"morphine": "20 mg/mL"}, {"morphine": "20 mg/mL"}, "18")
    review = w.fill({"morphine": "20 mg/mL"}, {"morphine": "20 mg/mL"}, "18", start_order())
    assert review.conversions[0].pump_text == "0.15"
    assert "morphine.compounded" in [f.id for f in review.soft]  # 20 mg/mL is not a listed presentation
    for finding in review.soft:
        w.override(finding.id, "Dr B", "compounded by the hospital pharmacy, lot 42")
    w.confirm("Dr B")
    w.confirm_checklist("RN C", ALL)
    record = w.transmit()
    assert record.bridge is not None and record.bridge.volume_ml == Fraction(41, 100)
    assert str(programmed.solution.mg_per_ml("morphine")) == "20"


def test_observation_cannot_end_early(programmed):
    """REFILL-OBSERVE-1: the post-refill observation is signed off only after it ends."""
    w = same_drug(programmed, 30 * DAY)
    record = finish(w)
    with pytest.raises(SessionRefused, match="end of the observation"):
        w.complete_observation(record.observe_until_s - 1, "RN C", "fine")
    w.complete_observation(record.observe_until_s, "RN C", "alert, RR 14, no sedation")
    assert w.session.log[-1].kind == "observation_completed"


def test_stability_date_limits_refill(programmed):
    """REFILL-STABILITY-1: morphine is stable 90 days in the pump ([V] library); a low-rate fill is due at
    the stability date, earlier than the volume date."""
    w = same_drug(programmed, 30 * DAY)
    review = w.fill({"morphine": "10 mg/mL"}, {"morphine": "10 mg/mL"}, "18",
                    start_order("1.5 mg/day", bolus=None))
    fc = review.new_forecast
    assert fc.stability.due_s == 30 * DAY + 90 * DAY
    assert fc.volume_due_s > fc.stability.due_s and fc.limited_by == "stability"


def test_ziconotide_first_fill_14_days():
    """REFILL-STABILITY-1: ziconotide's first fill is due within 14 days (Prialt [V] via the library)."""
    from openidds.programmer import ContinuousDose, ProgrammingSession, TherapyOrder
    from openidds.pump import Refill, Solution

    pump = Pump(PumpSpec())
    pump.execute(0, Refill(Solution.of({"ziconotide": "0.025"}), "18.6"))
    session = ProgrammingSession(pump, 600, "RN A")
    review = session.edit(TherapyOrder("ziconotide", ContinuousDose("1.2 mcg/day")))
    assert review.new_forecast.stability.due_s == 14 * DAY
    assert review.new_forecast.due_s == 14 * DAY


def test_withdraw_bad_input(programmed):
    w = RefillWorkflow(programmed, 30 * DAY, "RN C", Prescription({"morphine": "10 mg/mL"}, "Dr B"))
    with pytest.raises(SessionRefused) as error:
        w.withdraw("lots")
    assert error.value.field == "withdrawn_ml"
    with pytest.raises(ProgrammerError):
        w.acknowledge_discrepancy("Dr B", "nothing to acknowledge")


def test_catheter_access_is_its_own_procedure(programmed):
    """REFILL-PORT-1: the catheter-access procedure is separate: it shows the drug in the catheter that an
    injection pushes into the CSF, and needs its own confirmation after aspirating the catheter volume."""
    from openidds.drugs import default_library
    from openidds.programmer import CatheterAccessProcedure, plan_catheter_access
    from openidds.pump import Solution

    plan = plan_catheter_access(programmed.catheter, programmed.solution, Solution.of({"morphine": "1"}), "0.5",
                                default_library())
    assert str(plan.in_catheter["morphine"]) == "1.6 mg"  # 0.16 mL of 10 mg/mL
    assert str(plan.if_not_aspirated["morphine"]) == "2.1 mg"  # plus 0.5 mL of 1 mg/mL
    procedure = CatheterAccessProcedure(plan, "Dr B")
    with pytest.raises(ProgrammerError, match="catheter volume"):
        procedure.confirm("Dr B", "CSF sample for cytology", "0.1")
    procedure.confirm("Dr B", "CSF sample for cytology", "0.2")
    assert procedure.confirmed and [k for k, _, _ in procedure.log] == ["planned", "refused", "confirmed"]
    assert not hasattr(RefillWorkflow, "catheter_access")


def test_withdraw_simulated_uses_the_true_residual_and_says_so(programmed):
    """With no measurement the simulated pump's true retrievable residual is withdrawn, and the log says so."""
    w = RefillWorkflow(programmed, 30 * DAY, "RN C", Prescription({"morphine": "10 mg/mL"}, "Dr B"))
    d = w.withdraw_simulated()
    assert d.withdrawn_ml == measured(programmed, 30 * DAY)
    assert [e.kind for e in w.session.log][-2:] == ["withdrawn_simulated", "withdrawn"]


def test_the_trend_reads_each_past_refill_as_made_afresh():
    """The past refills' discrepancies and fill records are kept for the values last asked (each refill reads
    the ones before it again): the trend's items are those built afresh from the pump's log."""
    pump = Pump(PumpSpec())
    fill(pump)
    program(pump, 3600, start_order(bolus=None))
    for day in (20, 40, 60, 80):
        w = same_drug(pump, day * DAY, measured(pump, day * DAY) + Fraction(day, 100))
        if w.needs_acknowledgement:
            w.acknowledge_discrepancy("Dr B", "checked")
        finish(w)
    w = same_drug(pump, 100 * DAY, measured(pump, 100 * DAY))
    fresh = []
    for event, pumped in pump.log.refills()[0][1:]:
        data = event.data
        record = FillRecord(event.t_s, Solution(tuple(sorted(data["ng_per_ml"].items()))), data["fill"],
                            data["withdrawn"], data["expected_withdrawn"], pumped)
        pumped_ml = ticks_to_ml(pumped)
        threshold, basis = discrepancy_threshold.__wrapped__(pump.spec.reservoir_ml, pumped_ml, w.accuracy)
        fresh.append(Discrepancy(record.t_s, ticks_to_ml(record.expected_ticks), ticks_to_ml(record.withdrawn_ticks),
                                 pumped_ml, threshold, basis))
        assert w.session.fills[len(fresh)] == record
    assert list(w.trend.items[:-1]) == fresh and len(fresh) == 4
    assert [d.difference_ml for d in w.trend.items[:-1]] == [d.difference_ml for d in fresh]

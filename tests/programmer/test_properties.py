"""Property-based tests of the programmer's safety invariants, on real pumps."""

from fractions import Fraction

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from openidds.drugs import default_library
from openidds.programmer import (
    CHECKLIST,
    BolusOrder,
    ContinuousDose,
    Policy,
    Prescription,
    ProgrammerError,
    ProgrammingSession,
    RefillWorkflow,
    SessionRefused,
    Stability,
    TherapyOrder,
    forecast,
    plain_decimal,
    plan_fill,
)
from openidds.pump import (
    AlarmKind,
    Continuous,
    PatientBolus,
    Pump,
    PumpSpec,
    Refill,
    RequestPatientBolus,
    SetTherapy,
    Solution,
    Therapy,
)
from openidds.pump.ticks import TICKS_PER_ML, ticks_to_ml
from openidds.units import Quantity

from .conftest import DAY, fill, program, start_order

LIBRARY = default_library()
LOOSE = Policy(max_increase_percent=Fraction(1000))
SLOW = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@st.composite
def orders(draw):
    drug = draw(st.sampled_from(["morphine", "ziconotide", "baclofen", "bupivacaine"]))
    unit = LIBRARY.drug(drug).dose_unit
    conc = Fraction(draw(st.integers(1, 400)), 10) * (1 if unit == "mg" else 10)  # in unit/mL
    daily = Fraction(draw(st.integers(1, 3000)), 100)
    bolus = draw(st.none() | st.integers(1, 200).map(lambda n: Fraction(n, 100)))
    n = draw(st.integers(1, 6))
    return drug, unit, conc, daily, bolus, n


def mg_per_ml(conc: Fraction, unit: str) -> Fraction:
    return conc if unit == "mg" else conc / 1000


@SLOW
@given(orders())
def test_no_accepted_program_exceeds_a_hard_limit(case):
    """PROG-HARD-1, PROG-PUMP-1: whatever is entered, a program that reaches the pump is within every hard
    limit of the library (checked here from the pump's own therapy), and the pump never refuses it."""
    drug, unit, conc, daily, bolus, n = case
    pump = Pump(PumpSpec())
    solution = Solution.of({drug: mg_per_ml(conc, unit)})
    pump.execute(0, Refill(solution, "18.6"))
    session = ProgrammingSession(pump, 60, "RN A", policy=LOOSE)
    patient = None if bolus is None else BolusOrder(Quantity(bolus, unit), 600, 3600, n)
    try:
        review = session.edit(TherapyOrder(drug, ContinuousDose(Quantity(daily, f"{unit}/day")), patient))
    except SessionRefused:
        return
    for finding in review.soft:
        session.override(finding.id, "Dr B", "property test")
    session.confirm("Dr B")
    session.transmit()
    assert not [e for e in pump.log if e.kind == "refused"]
    entry = LIBRARY.drug(drug)
    therapy = pump.therapy
    per_ml = Quantity(conc, f"{unit}/mL")
    rate = Fraction(therapy.program.rate_ml_per_day)
    day_dose = Quantity(rate * conc, f"{unit}/day")
    hard = entry.limits
    if hard.concentration.hard:
        assert per_ml <= hard.concentration.hard.value
    if hard.per_day.hard:
        assert day_dose <= hard.per_day.hard.value
        if therapy.patient_bolus:
            worst = rate + Fraction(therapy.patient_bolus.dose_ml) * therapy.patient_bolus.max_per_24h
            assert Quantity(worst * conc, f"{unit}/day") <= hard.per_day.hard.value
    if hard.per_bolus.hard and therapy.patient_bolus:
        assert Quantity(Fraction(therapy.patient_bolus.dose_ml) * conc, unit) <= hard.per_bolus.hard.value


@SLOW
@given(st.integers(1, 800), st.sampled_from(["edit", "abandon_confirmed", "bad_unit"]))
def test_refused_or_abandoned_session_leaves_pump_untouched(dose_centi_mg, ending):
    """PROG-ATOMIC-1: after the interrogation, a session that is refused or abandoned at any step leaves
    pump.state() and the pump log exactly as they were."""
    pump = Pump(PumpSpec())
    fill(pump)
    program(pump, 3600, start_order())
    session = ProgrammingSession(pump, 2 * DAY, "RN A")
    before = pump.state(), len(pump.log)
    dose = Fraction(dose_centi_mg, 100)
    try:
        if ending == "bad_unit":
            session.edit(start_order(f"{dose * 1000} mcg/day"))
        review = session.edit(start_order(f"{dose} mg/day"))
        if ending == "abandon_confirmed":
            for finding in review.soft:
                session.override(finding.id, "Dr B", "test")
            session.confirm("Dr B")
        session.abandon("changed my mind")
    except (SessionRefused, ProgrammerError):
        pass
    assert (pump.state(), len(pump.log)) == before


@SLOW
@given(st.integers(1, 250).map(lambda n: Fraction(n, 10)), st.integers(1, 120), st.integers(0, 1))
def test_no_refill_plan_overfills(volume_ml, target_days, big):
    """REFILL-CAPACITY-1: a fill plan never proposes more than capacity minus the residual, and a refill
    workflow never puts more in the pump."""
    spec = PumpSpec(reservoir_ml=40 if big else 20)
    therapy = Therapy(Continuous("0.3"), {"morphine": "10"}, PatientBolus("0.03", 600, 7200, 4))
    plan = plan_fill(spec, therapy, 0, stability=Stability(None, (), False), accuracy=Policy().accuracy(spec),
                     target_days=target_days)
    assert spec.residual_ticks + plan.volume_ml * TICKS_PER_ML <= spec.capacity_ticks
    pump = Pump(spec)
    fill(pump)
    program(pump, 3600, start_order())
    w = RefillWorkflow(pump, 10 * DAY, "RN C", Prescription({"morphine": "10 mg/mL"}, "Dr B"))
    w.withdraw(w.expected_ml)
    try:
        review = w.fill({"morphine": "10 mg/mL"}, {"morphine": "10 mg/mL"}, plain_decimal(volume_ml))
    except SessionRefused:
        assert spec.residual_ticks + volume_ml * TICKS_PER_ML > spec.capacity_ticks
        return
    for finding in review.soft:
        w.override(finding.id, "Dr B", "test")
    w.confirm("Dr B")
    w.confirm_checklist("RN C", [item for item, _ in CHECKLIST])
    w.transmit()
    assert pump.reservoir_estimated_ticks <= spec.capacity_ticks


def low_reservoir_time(pump: Pump) -> int:
    """Run the pump with the patient taking every bolus the moment it is allowed; return when the
    low-reservoir alarm sounds."""
    while True:
        low = [a for a in pump.alarms if a.kind is AlarmKind.LOW_RESERVOIR]
        if low:
            return low[0].at_s
        decision = pump.patient_bolus_status()
        if decision.granted:
            pump.execute(pump.t_s, RequestPatientBolus())
            continue
        nxt = decision.next_allowed_s or pump.t_s + 600  # a bolus in progress lasts 600 s
        pump.advance(max(nxt, pump.t_s + 1))


@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.integers(300, 2000), st.integers(1, 100), st.integers(1, 8), st.integers(1, 12),
       st.integers(30, 120), st.sampled_from([Fraction(0), None]))
def test_refill_date_never_after_low_reservoir_under_maximal_boluses(rate_ml_1000, bolus_ml_1000, n, lockout_h,
                                                                      fill_ml_10, accuracy):
    """REFILL-DATE-1: the volume refill date is never after the moment a real pump, with the patient taking
    every allowed bolus, reaches its low-reservoir threshold (even with a 0 % accuracy margin)."""
    spec = PumpSpec()
    pump = Pump(spec)
    pump.execute(0, Refill(Solution.of({"morphine": "1"}), Fraction(fill_ml_10, 10)))
    bolus = PatientBolus(Fraction(bolus_ml_1000, 1000), 600, max(lockout_h * 3600 // 4, 900), n)
    therapy = Therapy(Continuous(Fraction(rate_ml_1000, 1000)), {"morphine": "100"}, bolus)
    pump.execute(60, SetTherapy(therapy))
    policy = Policy(accuracy_percent=accuracy)
    outlook = forecast(spec, therapy, pump.reservoir_estimated_ticks, 60, stability=Stability(None, (), False),
                       accuracy=policy.accuracy(spec))
    low_at = low_reservoir_time(pump)
    assert outlook.volume_due_s is not None and outlook.volume_due_s <= low_at
    assert ticks_to_ml(pump.reservoir_estimated_ticks) <= 2

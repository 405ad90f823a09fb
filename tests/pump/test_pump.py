"""The pump, one requirement at a time (IDs from docs/safety.md)."""

from fractions import Fraction

import pytest
from tests.pump.builders import MORPHINE_10, filled_pump
from tests.pump.test_stateful import LogChecker

from openidds.errors import OpenIDDSError
from openidds.pump import (
    AlarmKind,
    BatteryReset,
    BolusKind,
    CancelBolus,
    Catheter,
    CatheterLeak,
    CatheterOcclusion,
    CommandRefused,
    Continuous,
    Flex,
    FlexStep,
    Interrogate,
    MotorStall,
    MriExposure,
    PatientBolus,
    Pump,
    PumpSpec,
    Refill,
    RequestPatientBolus,
    ReviseCatheter,
    SelfTestError,
    SetLowReservoirAlarm,
    SetTherapy,
    Solution,
    StartBolus,
    Stopped,
    Therapy,
    rebuild_totals,
)
from openidds.pump.ticks import MASS_TICKS_PER_MG, TICKS_PER_ML, decimal_text, ticks_to_ml, volume_ticks

DAY, HOUR = 86_400, 3_600


def delivered(pump: Pump, start: int = 0, end: int | None = None) -> int:
    return sum(e.data["volume"] for e in pump.log if e.kind == "delivery"
               and e.t_s >= start and (end is None or e.t_s < end))


def test_continuous_delivery_is_the_exact_integral(pump):
    """PUMP-PROGRAM-1, PUMP-CONSERVE-1."""
    pump.advance(10 * DAY + 7)
    assert pump.totals().pumped_estimated == volume_ticks("r", "0.3") * (10 * DAY + 7) // DAY
    t = pump.totals()
    assert t.filled == t.pumped_actual + pump.reservoir_actual_ticks + t.withdrawn


def test_advancing_costs_events_not_time():
    """Advancing a year of continuous delivery with no events is a handful of steps."""
    pump = filled_pump(volume_ml="18", rate="0.048", cap_mg="4")
    pump.advance(300 * DAY)
    assert sum(1 for e in pump.log if e.kind == "delivery") < 5


def test_flex_delivery_follows_day_parts():
    """PUMP-PROGRAM-1."""
    pump = Pump(PumpSpec(clock_origin_s_of_week=0))
    pump.execute(0, Refill(MORPHINE_10, "18"))
    flex = Flex((FlexStep("07:00", "0.48"), FlexStep("19:00", "0.24")))
    pump.execute(0, SetTherapy(Therapy(flex, {"morphine": "8"})))
    pump.advance(DAY)
    assert pump.totals().pumped_estimated == volume_ticks("v", "0.36")
    rates = {e.t_s: e.data["rate"] for e in pump.log if e.kind == "delivery"}
    assert rates == {0: 240_000, 7 * HOUR: 480_000, 19 * HOUR: 240_000}


def test_low_reservoir_alarm_at_the_first_second_at_threshold():
    """PUMP-LOWRES-1."""
    pump = filled_pump(volume_ml="3", rate="0.5", cap_mg="8")  # 4.4 mL in, 2 mL threshold: 2.4 mL at 0.5 mL/day
    pump.advance(10 * DAY)
    alarm = next(e for e in pump.log if e.kind == "alarm" and e.data["alarm"] == "low_reservoir")
    assert alarm.t_s == int(2.4 / 0.5 * DAY) and alarm.data["severity"] == "non-critical"


def test_empty_reservoir_stops_delivery_and_refill_clears_it():
    """PUMP-EMPTY-1, PUMP-RESERVOIR-1, PUMP-STOP-1."""
    pump = filled_pump(volume_ml="1", rate="1", cap_mg="20")
    pump.advance(5 * DAY)
    assert pump.reservoir_estimated_ticks == pump.spec.residual_ticks
    assert AlarmKind.EMPTY_RESERVOIR in {a.kind for a in pump.alarms}
    empty_at = next(e.t_s for e in pump.log if e.kind == "alarm" and e.data["alarm"] == "empty_reservoir")
    assert empty_at == DAY and delivered(pump, empty_at) == 0
    assert pump.delivering == "empty_reservoir"
    pump.execute(5 * DAY, Refill(MORPHINE_10, "5"))
    assert AlarmKind.EMPTY_RESERVOIR not in {a.kind for a in pump.alarms}
    pump.advance(6 * DAY)
    assert delivered(pump, 5 * DAY) == volume_ticks("v", "1")


def test_overfill_is_refused_and_changes_nothing():
    """PUMP-REFILL-1, PUMP-REFUSE-1."""
    pump = filled_pump()
    pump.advance(DAY)
    before, log_length = pump.state(), len(pump.log)
    with pytest.raises(CommandRefused) as error:
        pump.execute(DAY, Refill(MORPHINE_10, "18.7"))
    assert error.value.field == "volume_ml" and "18.600000 mL" in error.value.expected
    assert pump.state() == before
    assert [e.kind for e in pump.log.since(log_length)] == ["refused"]


def test_refill_reports_what_was_withdrawn_against_what_was_expected():
    pump = filled_pump()
    report = pump.execute(10 * DAY, Refill(MORPHINE_10, "10"))
    assert report.withdrawn_ml == report.expected_ml == 18 - 3  # 18 mL in, 0.3 mL/day for 10 days
    assert report.discrepancy_ml == 0


def test_unprimed_catheter_delivers_no_drug_until_pushed_through():
    """PUMP-CATHETER-1: the path starts drug-free; the first 0.41 mL pushed deliver no drug."""
    pump = filled_pump(rate="0.41", cap_mg="8")
    pump.advance(DAY - 1)
    assert pump.drug_locations()["csf"] == {}
    pump.advance(2 * DAY)
    csf_mg = pump.drug_locations()["csf"]["morphine"] / MASS_TICKS_PER_MG
    # one day at 4.1 mg/day of a solution diluted by the 1.4 mL of drug-free factory fluid
    assert csf_mg == pytest.approx(4.1 * 18 / 19.4, abs=1e-9)


def test_concentration_change_arrives_after_the_catheter_volume():
    """PUMP-CATHETER-1: after a change from 10 to 20 mg/mL the old solution arrives first."""
    pump = filled_pump(rate="0.41", cap_mg="30")
    pump.advance(3 * DAY)
    pump.execute(3 * DAY, Refill(Solution.of({"morphine": "20"}), "18"))
    csf_before = pump.drug_locations()["csf"]["morphine"]
    pump.advance(4 * DAY)  # exactly the path volume (0.41 mL) pushed through
    first_day = pump.drug_locations()["csf"]["morphine"] - csf_before
    pump.advance(5 * DAY)
    second_day = pump.drug_locations()["csf"]["morphine"] - csf_before - first_day
    assert first_day / MASS_TICKS_PER_MG == pytest.approx(4.1 * 18 / 19.4, abs=1e-6)  # the old solution
    assert second_day > 1.8 * first_day  # the new, twice as strong, solution


def test_priming_bolus_fills_the_path_and_delivers_no_drug():
    """PUMP-CATHETER-1, PUMP-CAP-1: priming pushes the drug-free fluid out; the pump counts no drug."""
    pump = Pump()
    pump.execute(0, Refill(MORPHINE_10, "18"))
    pump.execute(0, StartBolus(BolusKind.PRIMING, "0.41", 1800))
    pump.advance(1800)
    assert pump.drug_locations()["csf"] == {}
    assert pump.window_mg("morphine") == 0
    assert pump.drug_locations()["path"]["morphine"] > 0


def test_battery_eri_then_eos_then_nothing():
    """PUMP-BATTERY-1, PUMP-STOP-1."""
    pump = filled_pump(spec=PumpSpec(battery_eri_at_s=2 * DAY), rate="0.048", cap_mg="4")
    pump.advance(100 * DAY)
    alarms = {e.data["alarm"]: (e.t_s, e.data["severity"]) for e in pump.log if e.kind == "alarm"}
    assert alarms["elective_replacement_indicator"] == (2 * DAY, "non-critical")
    assert alarms["end_of_service"] == (92 * DAY, "critical")
    assert delivered(pump, 92 * DAY) == 0
    with pytest.raises(CommandRefused, match="end_of_service"):
        pump.execute(100 * DAY, StartBolus(BolusKind.CLINICIAN, "0.01", 600))


def test_rates_outside_the_pump_range_are_refused():
    """PUMP-RATE-1."""
    pump = filled_pump()
    for rate in ("0.047", "24.000001"):
        with pytest.raises(CommandRefused) as error:
            pump.execute(0, SetTherapy(Therapy(Continuous(rate), {"morphine": "300"})))
        assert error.value.field == "program.rate_ml_per_day" and "0.048" in error.value.expected
    with pytest.raises(CommandRefused, match="at least 180 s"):
        pump.execute(0, StartBolus(BolusKind.CLINICIAN, "0.05", 60))


def test_bolus_replaces_basal_and_one_bolus_at_a_time(pump):
    """PUMP-PRECEDENCE-1."""
    pump.execute(HOUR, StartBolus(BolusKind.CLINICIAN, "0.1", 1200))
    assert pump.delivering == "bolus:clinician"
    with pytest.raises(CommandRefused, match="bolus in progress"):
        pump.execute(HOUR + 60, StartBolus(BolusKind.CLINICIAN, "0.1", 1200))
    assert not pump.execute(HOUR + 120, RequestPatientBolus()).granted
    pump.advance(HOUR + 1200)
    assert pump.delivering == "basal"
    segments = [e for e in pump.log if e.kind == "delivery" and e.data["flow"] == "bolus:clinician"]
    assert sum(e.data["volume"] for e in segments) == volume_ticks("v", "0.1")
    assert segments[-1].data["end_s"] == HOUR + 1200


def test_cancel_bolus_and_cancel_without_bolus(pump):
    pump.execute(HOUR, StartBolus(BolusKind.CLINICIAN, "0.1", 1200))
    ended = pump.execute(HOUR + 600, CancelBolus())
    assert ended.data["delivered"] == volume_ticks("v", "0.05")
    with pytest.raises(CommandRefused, match="a bolus in progress"):
        pump.execute(HOUR + 700, CancelBolus())


def test_patient_bolus_lockout_and_count(pump):
    """PUMP-LOCKOUT-1, PUMP-BOLUSCOUNT-1, PUMP-DEVICE-1."""
    answers = [pump.execute(t, RequestPatientBolus()) for t in (0, 3600, 7200, 14_400, 21_600, 28_800)]
    assert [a.granted for a in answers] == [True, False, True, True, True, False]
    assert answers[1].reason == "lockout since the last bolus" and answers[1].next_allowed_s == 7200
    assert answers[5].reason == "4 boluses already in the last 24 h" and answers[5].next_allowed_s == DAY
    status = pump.patient_bolus_status()
    assert (status.granted, status.left_in_24h) == (False, 0)
    assert pump.execute(DAY, RequestPatientBolus()).granted


def test_bolus_status_changes_nothing(pump):
    """PUMP-DEVICE-1: the device's status query is read-only."""
    before, length = pump.state(), len(pump.log)
    status = pump.patient_bolus_status()
    assert status.granted and status.reason == "available" and status.left_in_24h == 4
    assert pump.state() == before and len(pump.log) == length


def test_rolling_limit_falls_to_minimum_rate_and_cancels_the_bolus():
    """PUMP-CAP-1: primed, 4 mg/day basal, limit 6 mg: the third 1 mg bolus reaches it."""
    bolus = PatientBolus("0.1", 1800, 1800, 10)
    pump = filled_pump(rate="0.4", cap_mg="6", bolus=bolus)
    pump.execute(0, StartBolus(BolusKind.PRIMING, "0.41", 1800))
    for k in range(6):
        pump.execute(2 * HOUR + k * HOUR, RequestPatientBolus())
    pump.advance(3 * DAY)
    cap = next(e for e in pump.log if e.kind == "alarm" and e.data["alarm"] == "daily_limit_reached")
    assert cap.data["severity"] == "critical"
    cancelled = [e for e in pump.log if e.kind == "bolus_ended" and e.reason == "cancelled: daily_limit"]
    assert len(cancelled) == 1 and cancelled[0].t_s == cap.t_s
    capped = [e for e in pump.log if e.kind == "delivery" and e.data["flow"] == "daily_limit"]
    assert capped and all(e.data["rate"] == pump.spec.min_rate for e in capped)
    assert any(e.kind == "alarm_cleared" and e.data["alarm"] == "daily_limit_reached" for e in pump.log)
    checker = LogChecker({"morphine": 6 * MASS_TICKS_PER_MG}, pump.spec)
    checker.therapies = {e.seq: pump.therapy for e in pump.log if e.kind == "program"}
    checker.read(pump)
    assert checker.max_window("morphine") <= 6 * MASS_TICKS_PER_MG


def test_limit_counts_the_drug_at_the_catheter_tip():
    """PUMP-CAP-1, PUMP-CATHETER-1: after a change to a weaker solution the stronger one still in the catheter
    is what the patient gets, and what the limit counts."""
    pump = filled_pump(rate="0.41", cap_mg="12", solution=Solution.of({"morphine": "20"}))
    pump.advance(2 * DAY)
    pump.execute(2 * DAY, Refill(MORPHINE_10, "18"))
    pump.advance(3 * DAY)  # one more day: exactly the 0.41 mL of 20 mg/mL left in the path
    assert pump.window_mg("morphine") == pytest.approx(8.2, abs=1e-9)
    assert pump.execute(3 * DAY, Interrogate()).delivering == "basal"


def test_limit_too_low_for_the_program_is_refused():
    """PUMP-CAP-2."""
    pump = Pump()
    pump.execute(0, Refill(MORPHINE_10, "18"))
    with pytest.raises(CommandRefused) as error:
        pump.execute(0, SetTherapy(Therapy(Continuous("0.5"), {"morphine": "5.9"})))
    assert error.value.field == "max_mg_per_24h.morphine" and "5.96" in error.value.expected
    with pytest.raises(CommandRefused, match="a 24-hour limit for morphine"):
        pump.execute(0, SetTherapy(Therapy(Continuous("0.5"), {"clonidine": "1"})))


def test_stopped_pump_delivers_nothing_not_even_a_bolus(pump):
    """PUMP-STOP-1, PUMP-PRECEDENCE-1."""
    pump.execute(HOUR, SetTherapy(Therapy(Stopped(), {"morphine": "8"})))
    with pytest.raises(CommandRefused, match="stopped"):
        pump.execute(HOUR, StartBolus(BolusKind.CLINICIAN, "0.1", 600))
    pump.advance(DAY)
    assert delivered(pump, HOUR) == 0


def test_mri_stops_the_motor_and_recovery_waits_for_interrogation(pump):
    """PUMP-MRI-1, PUMP-STOP-1, PUMP-TELEMETRY-1."""
    pump.inject(HOUR, MriExposure(45 * 60, recovery_delay_s=2 * HOUR))
    pump.advance(HOUR + 45 * 60 + 2 * HOUR)
    assert delivered(pump, HOUR, HOUR + 45 * 60 + 2 * HOUR) == 0
    pump.advance(5 * HOUR)
    assert delivered(pump, HOUR + 45 * 60 + 2 * HOUR) > 0
    assert AlarmKind.MRI_EXPOSURE in {a.kind for a in pump.alarms}
    snapshot = pump.execute(6 * HOUR, Interrogate())
    assert AlarmKind.MRI_EXPOSURE not in {a.kind for a in snapshot.alarms}
    assert any(e.kind == "alarm_cleared" and "confirmed" in e.reason for e in pump.log)


def test_motor_stall_without_recovery_stops_for_good(pump):
    """PUMP-STALL-1, PUMP-STOP-1."""
    pump.inject(HOUR, MotorStall())
    pump.advance(10 * DAY)
    assert delivered(pump, HOUR) == 0
    snapshot = pump.execute(10 * DAY, Interrogate())
    assert AlarmKind.MOTOR_STALL in {a.kind for a in snapshot.alarms}


def test_occlusion_keeps_drug_in_the_reservoir_and_shows_at_refill(pump):
    """PUMP-FAULT-1."""
    pump.inject(DAY, CatheterOcclusion())
    report = pump.execute(11 * DAY, Refill(MORPHINE_10, "10"))
    assert report.discrepancy_ml == 3  # 10 days at 0.3 mL/day never left
    assert pump.totals().pumped_estimated - pump.totals().pumped_actual == 3 * TICKS_PER_ML


def test_leak_sends_drug_to_tissue_not_csf(pump):
    """PUMP-FAULT-1."""
    pump.advance(3 * DAY)
    csf = pump.drug_locations()["csf"]["morphine"]
    pump.inject(3 * DAY, CatheterLeak())
    pump.advance(6 * DAY)
    assert pump.drug_locations()["csf"]["morphine"] == csf
    assert pump.drug_locations()["tissue"]["morphine"] > 0
    pump.execute(6 * DAY, ReviseCatheter(Catheter(length_cm=70, volume_ml="0.14", tip_level="T8")))
    pump.advance(7 * DAY)
    assert pump.drug_locations()["csf"]["morphine"] == csf  # the new catheter is unprimed: 0.39 mL first


def test_battery_reset_runs_minimum_rate_until_reprogrammed(pump):
    """PUMP-RESET-1."""
    pump.inject(HOUR, BatteryReset())
    assert not pump.execute(2 * HOUR, RequestPatientBolus()).granted
    pump.advance(DAY)
    segment = [e for e in pump.log if e.kind == "delivery"][-1]
    assert (segment.data["flow"], segment.data["rate"]) == ("safe_state", pump.spec.min_rate)
    assert AlarmKind.BATTERY_RESET in {a.kind for a in pump.alarms}
    pump.execute(DAY, SetTherapy(Therapy(Continuous("0.3"), {"morphine": "8"})))
    assert AlarmKind.BATTERY_RESET not in {a.kind for a in pump.alarms}


def test_critical_memory_error_stops_until_reprogrammed(pump):
    """PUMP-STOP-1."""
    pump.inject(HOUR, SelfTestError(critical=True))
    pump.advance(DAY)
    assert delivered(pump, HOUR, DAY) == 0
    pump.execute(DAY, SetTherapy(Therapy(Continuous("0.3"), {"morphine": "8"})))
    pump.advance(2 * DAY)
    assert delivered(pump, DAY) == volume_ticks("v", "0.3")
    pump.inject(2 * DAY, SelfTestError(critical=False))
    assert AlarmKind.MEMORY_ERROR in {a.kind for a in pump.alarms}
    pump.advance(3 * DAY)
    assert delivered(pump, 2 * DAY) == volume_ticks("v", "0.3")


def test_time_never_goes_back(pump):
    """PUMP-TIME-1."""
    pump.advance(DAY)
    with pytest.raises(OpenIDDSError, match="at or after the pump clock"):
        pump.execute(DAY - 1, Interrogate())
    for not_seconds in (1.5, True, "90000", float(2 * DAY)):
        with pytest.raises(OpenIDDSError, match="whole seconds"):
            pump.advance(not_seconds)


def test_interrogation_reads_the_log_since_the_last_one_without_simulator_truth(pump):
    """PUMP-TELEMETRY-1."""
    pump.inject(HOUR, CatheterLeak())
    first = pump.execute(DAY, Interrogate())
    assert first.therapy == "continuous 0.3 mL/day" and first.battery == "ok"
    assert first.reservoir_ml == ticks_to_ml(pump.reservoir_estimated_ticks)
    assert first.reservoir_ml == Fraction("19.4") - Fraction("0.3")
    assert all(entry["kind"] != "fault" for entry in first.log)
    assert all("actual" not in entry["data"] and "route" not in entry["data"] for entry in first.log)
    second = pump.execute(2 * DAY, Interrogate())
    assert second.log[0]["seq"] > first.log[-1]["seq"]


def test_an_interrogation_read_later_reads_the_events_it_was_taken_after(pump):
    """The snapshot's log is built when first read: read after the log has grown, it holds the same events
    as when it was taken, from the one before it to its own interrogation."""
    pump.inject(HOUR, CatheterLeak())
    first = pump.execute(DAY, Interrogate())
    taken = len(pump.log)
    eager = pump.log.pump_views(0, taken)
    pump.execute(DAY + HOUR, RequestPatientBolus())
    second = pump.execute(2 * DAY, Interrogate())
    assert first.log == eager and tuple(first.log) == eager and len(first.log) == len(eager)
    assert first.log[-1]["kind"] == "interrogation" and first.log[1:] == eager[1:]
    assert second.log == pump.log.pump_views(taken, len(pump.log))
    assert second.log[-1]["kind"] == "interrogation" and second.log != first.log
    assert first.to_dict()["log"] == list(eager)


def test_unknown_commands_are_refused_and_logged(pump):
    """PUMP-REFUSE-1."""
    with pytest.raises(CommandRefused, match="a pump command"):
        pump.execute(0, "prime the pump")
    assert list(pump.log)[-1].kind == "refused"


def test_log_rebuilds_the_totals_exactly(pump):
    """PUMP-LOG-1."""
    for k in range(20):
        pump.execute(k * 5 * HOUR, RequestPatientBolus())
    pump.execute(4 * DAY, Refill(Solution.of({"morphine": "20"}), "15"))
    pump.advance(8 * DAY)
    assert rebuild_totals(pump.log) == pump.totals()


def test_same_inputs_same_log():
    """PUMP-DETERMINISM-1."""
    def run():
        pump = filled_pump(bolus=PatientBolus("0.03", 600, 7200, 4))
        for k in range(12):
            pump.execute(k * 5 * HOUR, RequestPatientBolus())
        pump.inject(3 * DAY, MriExposure(1800))
        pump.advance(5 * DAY)
        return pump.log.to_json()
    assert run() == run()


def test_low_reservoir_threshold_is_programmable():
    """PUMP-LOWRES-1, PUMP-REFUSE-1: the clinician sets the threshold; out-of-range values are refused."""
    pump = filled_pump(volume_ml="3", rate="0.5", cap_mg="8")  # 4.4 mL in the reservoir
    pump.execute(0, SetLowReservoirAlarm("4"))
    pump.advance(DAY)
    alarm = next(e for e in pump.log if e.kind == "alarm" and e.data["alarm"] == "low_reservoir")
    assert alarm.t_s == int(0.4 / 0.5 * DAY)
    for bad in ("1", "20.5"):
        with pytest.raises(CommandRefused) as error:
            pump.execute(DAY, SetLowReservoirAlarm(bad))
        assert error.value.field == "low_reservoir_ml"
    pump.execute(DAY, SetLowReservoirAlarm("2"))
    assert AlarmKind.LOW_RESERVOIR not in {a.kind for a in pump.alarms}


def test_before_a_therapy_a_priming_bolus_cannot_push_drug_to_the_tip():
    """PUMP-PRIME-1, PUMP-REFUSE-1: with no 24-hour limit yet, priming may push out only the drug-free fluid."""
    pump = Pump()
    pump.execute(0, Refill(MORPHINE_10, "18"))
    free_ml = ticks_to_ml(pump.spec.path_ticks)
    before = pump.state()
    with pytest.raises(CommandRefused) as refused:
        pump.execute(0, StartBolus(BolusKind.PRIMING, decimal_text(free_ml + Fraction(1, 1000), 6), 1800))
    assert refused.value.field == "volume_ml" and "drug-free" in refused.value.expected
    assert pump.state() == before
    pump.execute(0, StartBolus(BolusKind.PRIMING, decimal_text(free_ml, 6), 1800))
    pump.advance(DAY)
    assert pump.drug_locations()["csf"] == {} and pump.totals().nominal == {}
    with pytest.raises(CommandRefused):  # primed: nothing drug-free is left to push
        pump.execute(DAY, StartBolus(BolusKind.PRIMING, "0.01", 60))


@pytest.mark.parametrize("command", [ReviseCatheter(None), ReviseCatheter("T6"), SetTherapy(None),
                                     Refill(MORPHINE_10, "5", actual_solution=0), Refill(MORPHINE_10, "5", therapy=0)])
def test_a_malformed_command_is_refused_before_anything_changes(pump, command):
    """PUMP-REFUSE-2 (for example a catheter revision without a catheter: it used to remove the old one first)."""
    pump.advance(10)
    before, catheter, length = pump.state(), pump.catheter, len(pump.log)
    with pytest.raises(CommandRefused):
        pump.execute(10, command)
    assert pump.state() == before and pump.catheter is catheter
    assert [e.kind for e in pump.log.since(length)] == ["refused"]


def test_an_unknown_fault_is_refused_and_logged(pump):
    """PUMP-REFUSE-2."""
    before, length = pump.state(), len(pump.log)
    with pytest.raises(CommandRefused, match="MotorStall"):
        pump.inject(0, "motor_stall")
    assert pump.state() == before and pump.log.last().data["command"] == "inject"
    assert len(pump.log) == length + 1


def _refills(shared: bool) -> str:
    pump = Pump()
    for k, strength in enumerate(("10", "10", "25", "10")):
        solution = MORPHINE_10 if shared and strength == "10" else Solution.of({"morphine": strength})
        therapy = Therapy(Continuous("0.5"), {"morphine": "40"})
        pump.execute(k * 20 * DAY, Refill(solution, "10", therapy=therapy))
    pump.advance(100 * DAY)
    return pump.log.to_json()


def test_the_log_depends_on_values_not_on_shared_solution_objects():
    """PUMP-DETERMINISM-1: refilling with the same Solution object or a fresh equal one gives one log."""
    assert _refills(shared=True) == _refills(shared=False)

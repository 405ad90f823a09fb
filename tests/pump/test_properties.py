"""Property tests on whole runs: delivery against the programmed integral, the 24-hour limit under
bolus storms, determinism."""

from hypothesis import event, given, settings
from hypothesis import strategies as st
from tests.pump.test_stateful import LogChecker

from openidds.pump import (
    Continuous,
    Flex,
    FlexStep,
    PatientBolus,
    Periodic,
    Pump,
    PumpSpec,
    Refill,
    RequestPatientBolus,
    SetTherapy,
    Solution,
    Therapy,
    program_volume,
)
from openidds.pump.ticks import MASS_TICKS_PER_MG

DAY = 86_400
rates = st.sampled_from(["0.048", "0.1", "0.25", "0.5", "1.2"])
basal_programs = st.one_of(
    st.builds(Continuous, rates),
    st.lists(st.tuples(st.integers(0, 23), rates), min_size=1, max_size=4, unique_by=lambda s: s[0]).map(
        lambda steps: Flex(tuple(FlexStep(f"{h:02d}:00", r) for h, r in steps))),
)
presses = st.lists(st.integers(0, 6 * DAY), max_size=40).map(sorted)


def run(program, bolus, press_times, cap_mg="500", origin=0, strength="10", horizon=7 * DAY):
    pump = Pump(PumpSpec(reservoir_ml=40, clock_origin_s_of_week=origin))
    pump.execute(0, Refill(Solution.of({"morphine": strength}), "38"))
    pump.execute(0, SetTherapy(Therapy(program, {"morphine": cap_mg}, bolus)))
    for t in press_times:
        pump.execute(t, RequestPatientBolus())
    pump.advance(horizon)
    return pump


@settings(max_examples=80, deadline=None)
@given(basal_programs, st.integers(0, 7 * DAY - 1), presses)
def test_delivered_equals_the_programmed_integral(program, origin, press_times):
    """PUMP-PROGRAM-1, PUMP-PRECEDENCE-1: basal runs except while a bolus replaces it, so the pump delivers
    the programmed integral, minus the basal of the bolus intervals, plus the boluses."""
    bolus = PatientBolus("0.05", 900, 3600, 6)
    pump = run(program, bolus, press_times, origin=origin)
    log = list(pump.log)
    starts = [e.t_s for e in log if e.kind == "bolus_started"]
    ends = [e for e in log if e.kind == "bolus_ended"]
    assert len(starts) == len(ends) and all(e.reason == "completed" for e in ends)
    displaced = sum(program_volume(program, s, e.t_s, origin) for s, e in zip(starts, ends, strict=True))
    boluses = sum(e.data["delivered"] for e in ends)
    expected = program_volume(program, 0, 7 * DAY, origin) - displaced + boluses
    assert pump.totals().pumped_estimated == expected


@settings(max_examples=40, deadline=None)
@given(st.sampled_from(["0.01", "0.05"]), st.integers(10, 60), st.integers(2, 12), st.integers(0, 7 * DAY - 1))
def test_periodic_doses_are_exact(dose, minutes, hours, origin):
    """PUMP-PROGRAM-1 for periodic programs: every dose is given whole, and nothing flows in between."""
    program = Periodic(dose, minutes * 60, hours * 3600)
    pump = run(program, None, [], origin=origin)
    assert pump.totals().pumped_estimated == program_volume(program, 0, 7 * DAY, origin)
    segments = [e.data for e in pump.log if e.kind == "delivery"]
    assert all(s["rate"] == program.piece(0, 0)[0] or s["rate"] == 0 for s in segments)


@settings(max_examples=80, deadline=None)
@given(rates, st.lists(st.integers(0, 3 * DAY), min_size=5, max_size=60).map(sorted),
       st.sampled_from(["0.1", "0.3"]), st.sampled_from(["40", "80"]))
def test_bolus_storms_never_pass_the_rolling_limit(rate, press_times, dose, cap_mg):
    """PUMP-CAP-1: whatever the patient presses, the 24-hour amount stays within the limit."""
    bolus = PatientBolus(dose, 1200, 1200, 24)
    pump = run(Continuous(rate), bolus, press_times, cap_mg=cap_mg, strength="25", horizon=4 * DAY)
    checker = LogChecker({"morphine": int(cap_mg) * MASS_TICKS_PER_MG}, pump.spec)
    checker.therapies = {e.seq: pump.therapy for e in pump.log if e.kind == "program"}  # the one therapy
    checker.read(pump)
    assert checker.max_window("morphine") <= int(cap_mg) * MASS_TICKS_PER_MG


def test_the_limit_is_reached_and_released_in_a_storm():
    """PUMP-CAP-1: the storm reaches the limit, the pump falls to its minimum rate and comes back."""
    bolus = PatientBolus("0.3", 1200, 1200, 24)
    pump = run(Continuous("0.3"), bolus, list(range(0, DAY, 1800)), cap_mg="40", strength="25", horizon=4 * DAY)
    kinds = [(e.kind, e.data.get("alarm")) for e in pump.log if e.kind in ("alarm", "alarm_cleared")]
    assert ("alarm", "daily_limit_reached") in kinds and ("alarm_cleared", "daily_limit_reached") in kinds
    assert pump.delivering == "basal"


class ExactOnly(Pump):
    """A pump that checks every step against the 24-hour limit by the exact walk alone."""

    def _steady_below_cap(self, end, rate, tip, volume):
        return False


class CheckedProof(Pump):
    """A pump that takes the steady window's proof only where the exact walk finds the step within the limit,
    and whose bound for the next exact check holds at every step: while the reservoir estimate stays at or
    above it, no drug can pass its trigger level even at the strongest solution."""

    def _step(self, to_s):
        if not self._capped and self._res_est >= self._check_level:
            window = self.log.delivered_since(self.t_s - DAY)
            for drug, (trigger, _, strongest) in self._limits.items():
                assert window.get(drug, 0) + strongest * (self._res_est - self._check_level) <= trigger
        super()._step(to_s)

    def _steady_below_cap(self, end, rate, tip, volume):
        exact = self._cap_time(end, self._mass_per_s(rate, tip, volume))
        proved = super()._steady_below_cap(end, rate, tip, volume)
        assert not proved or exact is None
        event(f"proved {proved}, exact walk {'finds the cap' if exact is not None else 'within'}")
        return proved


@settings(max_examples=60, deadline=None)
@given(rates, st.lists(st.tuples(st.one_of(st.integers(0, 4000), st.integers(0, 2 * DAY)),
                                 st.one_of(st.none(), st.none(), st.none(), rates)), min_size=20, max_size=80),
       st.sampled_from(["0.1", "0.3"]), st.sampled_from(["15", "30", "80"]))
def test_a_steady_window_proves_what_the_exact_check_finds(rate, actions, dose, cap_mg):
    """PUMP-CAP-1: a step whose window is steady (``Pump._steady_below_cap``) is one the exact walk
    (``Pump._cap_time``) finds within the limit, and a pump that never takes that proof runs the same log.
    The patient presses the bolus button (a new rate: the clinician reprograms instead)."""
    logs = []
    for kind in (CheckedProof, ExactOnly):
        pump = kind(PumpSpec(reservoir_ml=40))
        pump.execute(0, Refill(Solution.of({"morphine": "10"}), "38"))
        t = 0
        for gap, new_rate in [(0, rate), *actions]:
            t += gap
            if new_rate is None:
                pump.execute(t, RequestPatientBolus())
            else:
                therapy = Therapy(Continuous(new_rate), {"morphine": cap_mg}, PatientBolus(dose, 1200, 1200, 24))
                pump.execute(t, SetTherapy(therapy))
        pump.advance(t + 2 * DAY)
        logs.append(pump.log.dicts())
    assert logs[0] == logs[1]

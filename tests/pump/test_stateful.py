"""Random sequences of programming, bolus requests, refills, faults and time steps (hypothesis stateful).

After every step the machine checks the pump against what it was told, from the outside: volumes and
drug conserved, nothing below the residual, the log rebuilding the totals, and, reading each new log
event in order with a checker that shares no code with the pump, that nothing was delivered while the
pump had to be stopped, that lockout, bolus count and the rolling 24-hour limit held, and that every basal
segment ran at the programmed rate. A refused command must leave the state untouched.
"""

import os
from bisect import bisect_right
from collections import deque
from fractions import Fraction

import pytest
from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.control import currently_in_test_context
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from openidds.pump import (
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
    Periodic,
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
from openidds.pump.ticks import mass_ticks, volume_ticks

DAY = 86_400
RATES = ["0", "0.048", "0.1", "0.3", "1", "4"]

programs = st.one_of(
    st.builds(Stopped),
    st.builds(Continuous, st.sampled_from(RATES)),
    st.lists(st.tuples(st.integers(0, 23), st.sampled_from(RATES), st.sampled_from([(), ("sat", "sun")])),
             min_size=1, max_size=3, unique_by=lambda s: s[0]).map(
        lambda steps: Flex(tuple(FlexStep(f"{h:02d}:00", r, d) for h, r, d in steps))),
    st.builds(Periodic, st.sampled_from(["0.01", "0.05", "0.2"]), st.integers(10, 60).map(lambda m: m * 60),
              st.integers(2, 12).map(lambda h: h * 3600)),
)
patient_boluses = st.builds(
    lambda dose, duration_min, extra_min, count: PatientBolus(
        dose, duration_min * 60, max(duration_min, 15) * 60 + extra_min * 60, count),
    st.sampled_from(["0.01", "0.1", "0.3"]), st.integers(1, 30), st.integers(0, 120), st.integers(1, 8))
boluses = st.one_of(st.none(), patient_boluses)
steps_s = st.one_of(st.integers(1, 600), st.integers(600, 6 * 3600), st.integers(6 * 3600, 20 * DAY))


_SOLUTION = Solution.of({"morphine": "10"})
_BAD_NUMBERS = st.sampled_from([None, "-1", "-0.5", ".5", "1e-1", "1,5", 0.5, True, "abc", "0", [], "0.0000001"])
malformed_commands = st.one_of(
    st.sampled_from([None, "refill", object(), 3, Stopped()]),  # not a command at all
    st.sampled_from([None, "therapy", 0, Stopped()]).map(SetTherapy),
    st.builds(Refill, st.sampled_from([None, "morphine", {"morphine": "10"}, 0]), st.just("5")),
    st.builds(Refill, st.just(_SOLUTION), _BAD_NUMBERS),
    st.builds(Refill, st.just(_SOLUTION), st.just("5"), st.sampled_from(["x", 0, {"morphine": "1"}])),
    st.builds(Refill, st.just(_SOLUTION), st.just("5"), st.none(), st.sampled_from(["x", 0, Stopped()])),
    st.builds(StartBolus, st.sampled_from([None, "clinician", BolusKind.PATIENT, 1]), st.just("0.1"), st.just(600)),
    st.builds(StartBolus, st.just(BolusKind.CLINICIAN), _BAD_NUMBERS, st.just(600)),
    st.builds(StartBolus, st.just(BolusKind.CLINICIAN), st.just("0.1"), st.sampled_from([None, -60, 0, 59.5, "600"])),
    st.builds(SetLowReservoirAlarm, _BAD_NUMBERS),
    st.sampled_from([None, "T6", 0, _SOLUTION]).map(ReviseCatheter),
)
"""Commands with wrong types, missing (None) fields, negative or malformed numbers, or that are no command."""


def note(text: str) -> None:
    """Report what the runs reached (pytest --hypothesis-show-statistics)."""
    if currently_in_test_context():
        event(text)


class LogChecker:
    """Reads the pump's log in order and checks each event against the rules, knowing only what the test
    told the pump (therapies by the log position they started at, the spec, the 24-hour limits)."""

    def __init__(self, limits_mass: dict[str, int], spec: PumpSpec) -> None:
        self.limits = limits_mass
        self.tubing = spec.path_ticks - volume_ticks("v", spec.catheter.volume_ml)
        self.column: list[list] = [[spec.path_ticks, {}]]  # the catheter, front first: [volume, ng/mL]
        self.seen = 0
        self.therapy = None
        self.therapies: dict[int, Therapy] = {}
        self.origin = 0
        self.filled = self.empty = self.eos = self.motor_stopped = self.critical = False
        self.concentration: dict[str, int] = {}
        self.grants: deque[int] = deque()
        self.segments: list[tuple[int, int, dict[str, int]]] = []
        self._indexed: tuple = (None, None)

    def read(self, pump: Pump) -> None:
        for entry in pump.log.since(self.seen):
            self._check(entry)
        self.seen = len(pump.log)

    def _check(self, event) -> None:
        kind, data = event.kind, event.data
        if kind in ("alarm", "bolus_started", "refused", "bolus_denied"):
            note(f"{kind}: {data.get('alarm') or data.get('kind') or data.get('field') or event.reason}")
        if kind == "refill":
            self.filled, self.empty = True, False
            self.concentration = dict(data["ng_per_ml"])
        elif kind == "catheter_revised":
            self.column = [[self.tubing + volume_ticks("v", data["volume_ml"]), {}]]
        elif kind == "program":
            self.therapy = self.therapies[event.seq]
            self.critical = False
        elif kind == "alarm":
            alarm = data["alarm"]
            self.empty |= alarm == "empty_reservoir"
            self.eos |= alarm == "end_of_service"
            self.critical |= alarm == "critical_memory_error"
        elif kind == "fault":
            if event.reason in ("injected MotorStall", "injected MriExposure"):
                self.motor_stopped = True
            elif event.reason.startswith("motor runs again"):
                self.motor_stopped = False
        elif kind == "bolus_started" and data["kind"] == "patient":
            self._check_patient_bolus(event.t_s)
        elif kind == "delivery" and data["volume"]:
            self._check_delivery(event.t_s, data)

    def _check_patient_bolus(self, t: int) -> None:
        """PUMP-LOCKOUT-1, PUMP-BOLUSCOUNT-1."""
        settings_now = self.therapy.patient_bolus
        if self.grants:
            assert t >= self.grants[-1] + settings_now.lockout_s
        while self.grants and self.grants[0] <= t - DAY:
            self.grants.popleft()
        self.grants.append(t)
        assert len(self.grants) <= settings_now.max_per_24h

    def _check_delivery(self, t: int, data: dict) -> None:
        """PUMP-STOP-1, PUMP-PROGRAM-1, PUMP-PRECEDENCE-1."""
        assert self.filled and not (self.empty or self.eos or self.motor_stopped or self.critical)
        stopped_program = self.therapy is not None and isinstance(self.therapy.program, Stopped)
        assert not stopped_program
        rate, end, volume = data["rate"], data["end_s"], data["volume"]
        assert volume == rate * (end - t) or rate * (end - t - 1) < volume < rate * (end - t)
        if data["flow"] == "basal":
            piece_rate, piece_end, _ = self.therapy.program.piece(t, self.origin)
            assert rate == piece_rate and end <= piece_end
        front = dict(self.column[0][1])
        dose = self._push(volume)
        assert dose == {d: m for d, m in data["dose"].items() if m}  # the drug counted at the catheter tip
        if volume == rate * (end - t) or end - t == 1:
            pieces = [(t, end, dose)]
        else:  # a cut segment: the full rate up to its last second, then what was left
            first = {d: rate * (end - 1 - t) * ng for d, ng in front.items()}
            pieces = [(t, end - 1, first), (end - 1, end, {d: m - first.get(d, 0) for d, m in dose.items()})]
        self.segments.extend(pieces)

    def _push(self, volume: int) -> dict[str, int]:
        """The same volume leaves the catheter tip as enters it: old solution first."""
        column = self.column
        if column[-1][1] == self.concentration:
            column[-1][0] += volume
        else:
            column.append([volume, dict(self.concentration)])
        out: dict[str, int] = {}
        while volume:
            take = min(volume, column[0][0])
            for drug, ng in column[0][1].items():
                out[drug] = out.get(drug, 0) + take * ng
            column[0][0] -= take
            volume -= take
            if column[0][0] == 0:
                column.pop(0)
        return {d: m for d, m in out.items() if m}

    def delivered(self, drug: str, x: int) -> Fraction:
        """Amount of ``drug`` delivered before time ``x``; segments are in time order and do not overlap."""
        starts, cumulative = self._index(drug)
        i = bisect_right(starts, x)
        if i == 0:
            return Fraction(0)
        a, b, masses = self.segments[i - 1]
        mass = masses.get(drug, 0)
        return cumulative[i - 1] + Fraction(mass * (min(x, b) - a), b - a)

    def _index(self, drug: str) -> tuple[list[int], list[int]]:
        """Segment starts and the amount of ``drug`` before each, rebuilt only when segments were added."""
        key = (drug, len(self.segments))
        if self._indexed[0] != key:
            starts, totals, running = [], [], 0
            for a, _, masses in self.segments:
                starts.append(a)
                totals.append(running)
                running += masses.get(drug, 0)
            self._indexed = (key, (starts, totals))
        return self._indexed[1]

    def max_window(self, drug: str) -> Fraction:
        """PUMP-CAP-1: the largest amount in any 24 hours, at every segment edge and edge + 24 h, where the
        piecewise-linear window sum has its extremes."""
        edges = sorted({x for a, b, _ in self.segments for x in (a, b, a + DAY, b + DAY)})
        return max((self.delivered(drug, x) - self.delivered(drug, x - DAY) for x in edges), default=Fraction(0))


class PumpMachine(RuleBasedStateMachine):
    @initialize(
        reservoir_ml=st.sampled_from([20, 40]),
        eri_days=st.sampled_from([None, 1, 30]),
        origin=st.integers(0, 7 * DAY - 1),
        admixture=st.booleans(),
        cap_mg=st.sampled_from(["3", "8", "12", "40"]),
        fill=st.booleans(),
        strength=st.sampled_from(["1", "10"]),
        rate=st.sampled_from(["0.048", "0.2", "0.5"]),
        bolus=patient_boluses,
    )
    def start(self, reservoir_ml, eri_days, origin, admixture, cap_mg, fill, strength, rate, bolus):
        """Half the runs start as a clinic would: filled and programmed with patient boluses."""
        spec = PumpSpec(reservoir_ml=reservoir_ml, clock_origin_s_of_week=origin,
                        battery_eri_at_s=None if eri_days is None else eri_days * DAY)
        self.pump = Pump(spec)
        self.drugs = ("bupivacaine", "morphine") if admixture else ("morphine",)
        self.caps = {drug: cap_mg for drug in self.drugs}
        self.checker = LogChecker({d: mass_ticks("cap", cap_mg) for d in self.drugs}, spec)
        self.checker.origin = origin
        self.filled_mass: dict[str, int] = {}
        if fill:
            self.refill(0, "18", strength, True, Continuous(rate), bolus, False)

    @rule(presses=st.integers(2, 12), gap_min=st.integers(15, 180))
    def bolus_burst(self, presses, gap_min):
        """A patient in pain pressing again and again: reaches lockouts, counts and the 24-hour limit."""
        for _ in range(presses):
            self.patient_bolus(gap_min * 60)

    # ---------------------------------------------------------------- helpers

    def command(self, delay_s: int, command):
        at = self.pump.t_s + delay_s
        self.pump.advance(at)
        self.checker.read(self.pump)
        before, length = self.pump.state(), len(self.pump.log)
        try:
            answer = self.pump.execute(at, command)
        except CommandRefused as refusal:
            assert refusal.field and refusal.expected  # PUMP-REFUSE-1: field, value and expectation named
            assert self.pump.state() == before
            assert [e.kind for e in self.pump.log.since(length)] == ["refused"]
            return None
        return answer, length

    def therapy(self, program, bolus) -> Therapy:
        return Therapy(program, self.caps, bolus)

    # ---------------------------------------------------------------- rules

    @rule(dt=steps_s)
    def advance(self, dt):
        self.pump.advance(self.pump.t_s + dt)

    @rule(days=st.integers(20, 100))
    def advance_months(self, days):
        """Long enough to empty the reservoir or reach the battery's end of service."""
        self.pump.advance(self.pump.t_s + days * DAY)

    @rule(delay=st.integers(0, 3600), program=programs, bolus=boluses)
    def set_therapy(self, delay, program, bolus):
        therapy = self.therapy(program, bolus)
        result = self.command(delay, SetTherapy(therapy))
        if result is not None:
            self.checker.therapies[result[1] + _offset_of_program(self.pump, result[1])] = therapy

    @rule(delay=st.integers(0, 3600), volume=st.sampled_from(["0.5", "5", "18", "38.6", "40"]),
          strength=st.sampled_from(["1", "10", "25"]), with_therapy=st.booleans(), program=programs,
          bolus=boluses, compounding_error=st.booleans())
    def refill(self, delay, volume, strength, with_therapy, program, bolus, compounding_error):
        solution = Solution.of({drug: strength for drug in self.drugs})
        actual = Solution.of({drug: f"{strength}.5" for drug in self.drugs}) if compounding_error else None
        therapy = self.therapy(program, bolus) if with_therapy else None
        result = self.command(delay, Refill(solution, volume, actual, therapy))
        if result is not None:
            for drug, ng in (actual or solution).ng_per_ml:
                self.filled_mass[drug] = self.filled_mass.get(drug, 0) + volume_ticks("v", volume) * ng
            if therapy is not None:
                self.checker.therapies[result[1] + _offset_of_program(self.pump, result[1])] = therapy

    @rule(delay=st.integers(0, 7200))
    def patient_bolus(self, delay):
        result = self.command(delay, RequestPatientBolus())
        decision = result[0]
        assert decision.granted == (decision.reason == "granted")

    @rule(delay=st.integers(0, 3600), kind=st.sampled_from(list(BolusKind)),
          volume=st.sampled_from(["0.01", "0.4", "3"]), minutes=st.integers(1, 240))
    def clinician_bolus(self, delay, kind, volume, minutes):
        self.command(delay, StartBolus(kind, volume, minutes * 60))

    @rule(delay=st.integers(0, 3600), threshold=st.sampled_from(["1", "2", "5", "30"]))
    def low_reservoir_alarm(self, delay, threshold):
        self.command(delay, SetLowReservoirAlarm(threshold))

    @rule(delay=st.integers(0, 600))
    def cancel_bolus(self, delay):
        self.command(delay, CancelBolus())

    @rule(delay=st.integers(0, 3600))
    def interrogate(self, delay):
        snapshot, _ = self.command(delay, Interrogate())
        assert all(entry["kind"] != "fault" and "actual" not in entry["data"] for entry in snapshot.log)

    @rule(delay=st.integers(0, 3600), volume=st.sampled_from(["0.1", "0.3"]))
    def revise_catheter(self, delay, volume):
        self.command(delay, ReviseCatheter(Catheter(length_cm=60, volume_ml=volume, tip_level="T8")))

    @rule(delay=st.integers(0, 3600), command=malformed_commands)
    def malformed_command(self, delay, command):
        """PUMP-REFUSE-2: whatever is malformed in a command, the pump refuses it before changing anything."""
        assert self.command(delay, command) is None

    @rule(delay=st.integers(0, 3600), fault=st.sampled_from([None, "leak", 3, CancelBolus(), Interrogate()]))
    def unknown_fault(self, delay, fault):
        """PUMP-REFUSE-2: an unknown fault is refused and logged like a malformed command."""
        at = self.pump.t_s + delay
        self.pump.advance(at)
        before, length = self.pump.state(), len(self.pump.log)
        with pytest.raises(CommandRefused, match="fault"):
            self.pump.inject(at, fault)
        assert self.pump.state() == before
        assert [e.kind for e in self.pump.log.since(length)] == ["refused"]

    @rule(delay=st.integers(0, 3600), fault=st.one_of(
        st.builds(MotorStall, st.one_of(st.none(), st.integers(60, 3 * DAY))),
        st.builds(MriExposure, st.integers(600, 7200), st.integers(0, 24 * 3600)),
        st.builds(CatheterOcclusion), st.builds(CatheterLeak), st.builds(BatteryReset),
        st.builds(SelfTestError, st.booleans())))
    def fault(self, delay, fault):
        self.pump.inject(self.pump.t_s + delay, fault)

    # ---------------------------------------------------------------- invariants

    @invariant()
    def reservoir_within_bounds(self):
        """PUMP-RESERVOIR-1."""
        spec = self.pump.spec
        assert spec.residual_ticks <= self.pump.reservoir_estimated_ticks <= self.pump.reservoir_actual_ticks
        assert self.pump.reservoir_actual_ticks <= spec.capacity_ticks

    @invariant()
    def conservation(self):
        """PUMP-CONSERVE-1, PUMP-CONSERVE-2, PUMP-LOG-1."""
        totals = self.pump.totals()
        assert totals.filled == totals.pumped_actual + self.pump.reservoir_actual_ticks + totals.withdrawn
        everywhere: dict[str, int] = {}
        for place in self.pump.drug_locations().values():
            for drug, mass in place.items():
                everywhere[drug] = everywhere.get(drug, 0) + mass
        assert {d: m for d, m in everywhere.items() if m} == {d: m for d, m in self.filled_mass.items() if m}
        assert rebuild_totals(self.pump.log) == totals

    @invariant()
    def log_rules(self):
        """PUMP-STOP-1, PUMP-LOCKOUT-1, PUMP-BOLUSCOUNT-1, PUMP-PROGRAM-1, PUMP-CAP-1 (24 hours to now)."""
        self.checker.read(self.pump)
        now = self.pump.t_s
        for drug, cap in self.checker.limits.items():
            assert self.checker.delivered(drug, now) - self.checker.delivered(drug, now - DAY) <= cap

    def teardown(self):
        """PUMP-CAP-1 over the whole run."""
        if hasattr(self, "checker"):
            self.checker.read(self.pump)
            for drug, cap in self.checker.limits.items():
                assert self.checker.max_window(drug) <= cap


def _offset_of_program(pump: Pump, start: int) -> int:
    """Where the accepted command's ``program`` event sits among the events it logged."""
    return next(i for i, e in enumerate(pump.log.since(start)) if e.kind == "program")


PumpMachine.TestCase.settings = settings(
    max_examples=int(os.environ.get("OPENIDDS_STATEFUL_EXAMPLES", "200")), stateful_step_count=40, deadline=None,
    suppress_health_check=[HealthCheck.too_slow])
TestPumpMachine = PumpMachine.TestCase

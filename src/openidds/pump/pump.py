"""The implanted pump: reservoir, fluid path, battery, programs, boluses, 24-hour limit, alarms and log.

The pump is advanced from event to event, never tick by tick: each step runs one constant rate until the
next thing that can change it (a program step, the end of a bolus, a reservoir threshold, the battery,
the motor, the 24-hour limit, or the time asked for). Rate precedence at every instant: stopped or fault,
then the 24-hour limit, then a bolus, then the basal program.

The pump keeps two reservoir volumes: its own estimate (what it has pumped, what telemetry shows) and
the actual content (which differs when a blocked catheter lets nothing out). Every volume is an integer
number of ticks, so ``filled == pumped + in reservoir + withdrawn`` holds exactly at every event; drug
amounts follow from volumes lot by lot (:mod:`openidds.pump.lots`).

Most steps take the plain path: one solution fills the catheter and nothing is blocked or leaking. Such a
step moves the reservoir estimate and appends its log row, nothing else; the lot's outflow, the fluid path
and the counted dose catch up from the estimate when something reads or changes them (:meth:`Pump._sync`).
The 24-hour limit keeps no history of its own either: a cheap bound on the reservoir estimate says when the
limit could be in reach, and only then does the pump read the last 24 hours back from its log.
"""

import re
from bisect import bisect_right
from collections.abc import Callable
from fractions import Fraction
from typing import Any, NoReturn

from openidds.errors import OpenIDDSError
from openidds.pump.alarms import Alarm, AlarmKind
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
from openidds.pump.device import Catheter, PumpSpec
from openidds.pump.events import EventKind, EventLog, PumpViews, Totals
from openidds.pump.faults import (
    FAULTS,
    BatteryReset,
    CatheterLeak,
    CatheterOcclusion,
    Fault,
    MotorStall,
    MriExposure,
)
from openidds.pump.lots import Concentrations, CountedColumn, FluidPath, Lot, add_drug, extend_ranges, sum_ranges
from openidds.pump.programs import FOREVER_S, PatientBolus, Program, Stopped, Therapy, max_daily_volume
from openidds.pump.rolling import first_crossing
from openidds.pump.solution import Solution
from openidds.pump.telemetry import BolusDecision, RefillReport, Snapshot
from openidds.pump.ticks import SECONDS_PER_DAY as DAY
from openidds.pump.ticks import decimal_text, mass_to_mg, number_text, ticks_to_ml, volume_ticks

_DELIVERY, _BOLUS_STARTED, _BOLUS_ENDED = EventKind.DELIVERY, EventKind.BOLUS_STARTED, EventKind.BOLUS_ENDED
"""The hot path's kinds, as module constants (a global read, not an enum attribute lookup)."""
_NAMES = {kind: (kind.value, f"bolus:{kind.value}") for kind in BolusKind}
"""Each bolus kind's name and the flow it drives, as plain strings (enum attributes are slow on a hot path)."""


class CommandRefused(OpenIDDSError):
    """The pump refused a command; the refusal is in the log and nothing else changed."""


class _Bolus:
    __slots__ = ("kind", "name", "source", "rate", "remaining", "volume", "started_s")

    def __init__(self, kind: BolusKind, rate: int, volume: int, started_s: int) -> None:
        self.kind, self.rate, self.remaining, self.volume, self.started_s = kind, rate, volume, volume, started_s
        self.name, self.source = _NAMES[kind]


class Pump:
    """One implanted pump. Time only moves through ``advance``, ``execute`` and ``inject`` (``at_s``)."""

    # Slots, not an instance dict: a pump has more attributes than CPython 3.11 shares between instances'
    # dicts (30), and past that every ``self.x`` on the hot path is a dict lookup.
    __slots__ = (
        "spec", "t_s", "log", "therapy", "solution", "catheter",
        # the device
        "_origin", "_capacity", "_residual", "_low", "_min_rate", "_max_rate", "_eri_at", "_eos_at", "_tubing",
        # programs and boluses
        "_program", "_basal", "_bolus", "_grants",
        # reservoir, lots, fluid path and the pump's counts
        "_lot", "_res_est", "_pumped_est", "_blocked", "_mark", "_plain", "_rows", "_csf", "_path", "_column",
        "_explanted", "_tissue", "_withdrawn_ranges", "_dose", "_filled", "_withdrawn", "_solutions",
        # the 24-hour limit
        "_limits", "_check_level", "_capped",
        # stops, faults, battery and alarms
        "_halt", "_special", "_empty", "_motor_stop_reason", "_motor_resume_at", "_awaiting_confirmation",
        "_critical_memory", "_safe_state", "_occluded", "_leaking", "_alarms", "_eri_done", "_eos_done", "_timer",
        "_stop_level", "_interrogated_seq",
    )

    def __init__(self, spec: PumpSpec | None = None, *, start_s: int = 0) -> None:
        spec = spec or PumpSpec()
        self.spec = spec
        self.t_s = start_s
        self._origin = spec.clock_origin_s_of_week
        self._capacity, self._residual, self._low = spec.capacity_ticks, spec.residual_ticks, spec.low_reservoir_ticks
        self._min_rate, self._max_rate = spec.min_rate, spec.max_rate
        self._eri_at, self._eos_at = spec.eri_at_s, spec.eos_at_s
        self._tubing = spec.path_ticks - volume_ticks("catheter.volume_ml", spec.catheter.volume_ml)
        self.catheter = spec.catheter
        self.log = EventLog()
        self.therapy: Therapy | None = None
        self._program: Program = Stopped()
        self._basal: tuple[int, int, int | None] = (0, start_s, None)
        self._bolus: _Bolus | None = None
        self._grants: list[int] = []  # start times of the patient boluses granted in the last 24 hours
        self.solution: Solution | None = None
        self._lot = Lot(self._residual, {}, ())
        # One concentration tuple per distinct solution: the lots and the column compare solutions by identity
        # (fast), so equal solutions must be the same object whether or not the caller shared one Solution.
        self._solutions: dict[Concentrations, Concentrations] = {}
        self._res_est = self._residual
        self._pumped_est = self._blocked = 0
        self._mark = self._residual  # the reservoir estimate when the lot, path and dose last caught up
        self._plain = False
        self._rows = self.log.rows
        self._csf: list[list] = []
        self._path = FluidPath(spec.path_ticks, self._csf)
        self._column = CountedColumn(spec.path_ticks)
        self._explanted: list[list] = []
        self._tissue: list[list] = []
        self._withdrawn_ranges: list[list] = []
        self._limits: dict[str, tuple[int, int, int]] = {}  # drug: trigger, resume level, strongest ng/mL
        self._check_level = -1  # an exact 24-hour-limit check is due when the estimate falls below this
        self._dose: dict[str, int] = {}
        self._halt: str | None = "not_filled"
        self._special = True  # halted, in safe state or capped: the rate comes from _flow
        self._capped = False
        self._empty = False
        self._motor_stop_reason: str | None = None
        self._motor_resume_at = FOREVER_S
        self._awaiting_confirmation: set[AlarmKind] = set()
        self._critical_memory = False
        self._safe_state = False
        self._occluded = self._leaking = False
        self._alarms: dict[AlarmKind, Alarm] = {}
        self._eri_done = self._eos_done = False
        self._withdrawn = 0
        self._timer = FOREVER_S
        self._stop_level = self._low  # steps stop here: the low threshold until its alarm, then the residual
        self._interrogated_seq = 0
        self._filled = self._residual  # the factory fluid in the residual counts as filled
        self.log.append(start_s, EventKind.IMPLANT, f"{spec.model.name} {spec.reservoir_ml} mL implanted", {
            "factory_fill": self._residual, "model": spec.model.name, "reservoir_ml": spec.reservoir_ml,
            "catheter_volume_ml": number_text(spec.catheter.volume_ml), "tip_level": spec.catheter.tip_level})
        self._update_timer()
        self._settle()

    # ------------------------------------------------------------------ time

    def advance(self, to_s: int) -> None:
        """Run the pump up to ``to_s`` (seconds on the pump clock)."""
        if type(to_s) is not int:  # not a bool, a float or a numpy integer
            raise OpenIDDSError("at_s", to_s, "whole seconds on the pump clock")
        if to_s < self.t_s:
            raise OpenIDDSError("at_s", to_s, f"a time at or after the pump clock, {self.t_s} s")
        while self.t_s < to_s:
            self._step(to_s)  # each step settles the state when it reaches something due

    def _step(self, to_s: int) -> None:
        t = self.t_s
        basal = self._basal
        if t >= basal[1]:
            basal = self._basal = self._program.piece(t, self._origin)
        bolus = self._bolus
        if self._special:
            rate, source, budget = self._flow()
            bolus = None  # a stop, the safe state or the 24-hour limit drives the rate, never a bolus
        elif bolus is not None:
            rate, source, budget = bolus.rate, bolus.source, bolus.remaining
        else:
            rate, source, budget = basal[0], "basal", basal[2]
        due = self._timer  # settle when the step reaches this: the battery, the motor, a level, a bolus's end
        res = self._res_est
        if rate:
            ahead = res - self._stop_level
            if budget is not None and budget < ahead:
                ahead = budget
            drained = t - -ahead // rate
            if drained < due:
                due = drained
        end = to_s if to_s < basal[1] else basal[1]
        if due < end:
            end = due if due > t else t
        if rate:
            tip: Concentrations | None
            if self._plain:
                tip = self._lot.ng_nominal
            else:
                end, tip = self._tip_ahead(t, end, rate)
            volume = rate * (end - t) if end < drained else self._last_volume(rate, end - t, budget)
        else:
            volume, tip, drained = 0, None, FOREVER_S
        limit_event = None
        if res - volume < self._check_level:  # always while capped
            end, limit_event = self._daily_limit_ahead(end, rate, tip, volume)
            if limit_event is not None:
                volume = rate * (end - t) if end < drained else self._last_volume(rate, end - t, budget)
        if volume:
            if self._plain:
                self._res_est = res - volume
                self._rows.append((t, _DELIVERY, source, rate, end, volume, tip))
            else:
                self._deliver(t, end, rate, volume, source, tip)
            if bolus is not None:
                bolus.remaining -= volume
            elif budget is not None:  # a periodic dose
                budget -= volume
                self._basal = (basal[0] if budget else 0, basal[1], budget if budget else None)
        self.t_s = end
        if limit_event is not None:
            limit_event()
            self._settle()
        elif end >= due:
            self._settle()

    def _last_volume(self, rate: int, span_s: int, budget: int | None) -> int:
        """The volume of a step that reaches its reservoir level or its budget: cut inside its last second so
        that it takes no more than the budget or what is above the residual."""
        volume = rate * span_s
        limit = self._res_est - self._residual
        if budget is not None and budget < limit:
            limit = budget
        return volume if volume < limit else limit

    def _tip_ahead(self, t: int, end: int, rate: int) -> tuple[int, Concentrations | None]:
        """While a new solution moves down the tubing and catheter: the step's end, cut where the
        concentration at the tip changes, and that concentration (None for the one second in which it
        changes, which gets a step of its own)."""
        chunks = self._column.chunks
        front_volume, front_ng = chunks[0]
        if len(chunks) == 1 and front_ng is self._lot.ng_nominal:
            return end, front_ng  # one solution fills the column (the pump is off the plain path for a fault)
        if front_volume < rate:
            return t + 1, None
        if front_volume < rate * (end - t):
            end = t + front_volume // rate
        return end, front_ng

    def _mass_per_s(self, rate: int, tip: Concentrations | None, volume: int) -> dict[str, int]:
        """The drug per second that reaches the tip at ``rate`` (what the 24-hour limit counts); with a mixed
        tip, the one-second step's ``volume`` comes out of the column as it stands."""
        if not rate:
            return {}
        if tip is None:
            return self._column.peek(volume)
        return {drug: rate * ng for drug, ng in tip}

    def _flow(self) -> tuple[int, str, int | None]:
        """(rate, what drives it, volume budget) by precedence: stop, safe state, 24-hour limit, bolus, basal."""
        if self._halt:
            return (0, self._halt, None)
        rate, _, budget = self._basal
        if self._safe_state:
            return (self._min_rate, "safe_state", None)
        if self._capped:
            return (min(self._min_rate, rate), "daily_limit", None)
        bolus = self._bolus
        if bolus is not None:
            return (bolus.rate, bolus.source, bolus.remaining)
        return (rate, "basal", budget)

    def _refresh_halt(self) -> None:
        """Recompute why the pump cannot deliver, or runs at less than its program; called wherever one of
        the reasons, the safe state or the 24-hour limit changes."""
        self._halt = self._stop_reason()
        self._special = bool(self._halt or self._safe_state or self._capped)

    def _stop_reason(self) -> str | None:
        if self.solution is None:
            return "not_filled"
        if self._eos_done:
            return "end_of_service"
        if self._critical_memory:
            return "critical_memory_error"
        if self._motor_stop_reason:
            return self._motor_stop_reason
        if self._empty:
            return "empty_reservoir"
        if self._program.kind == "stopped" and self.therapy is not None:
            return "stopped"
        return None

    def _update_timer(self) -> None:
        """The next battery or motor event, kept ready for the hot path."""
        nxt = FOREVER_S
        if not self._eri_done:
            nxt = self._eri_at
        if not self._eos_done:
            nxt = min(nxt, self._eos_at)
        if self._motor_stop_reason:
            nxt = min(nxt, self._motor_resume_at)
        self._timer = nxt

    def _daily_limit_ahead(self, end: int, rate: int, tip: Concentrations | None,
                           volume: int) -> tuple[int, Callable[[], None] | None]:
        """Where the 24-hour limit cuts a step that would run to ``end`` at ``rate`` with ``tip`` (``volume`` in
        all): the step's end and what happens there (enter or leave the limit), or ``end`` and None."""
        if self._capped:
            release_at = self._release_time(end, self._mass_per_s(rate, tip, volume))
            return (end, None) if release_at is None else (release_at, self._release_cap)
        if tip is not None and rate and self._steady_below_cap(end, rate, tip, volume):
            return end, None
        cap_at = self._cap_time(end, self._mass_per_s(rate, tip, volume))
        return (end, None) if cap_at is None else (cap_at, self._enter_cap)

    def _steady_below_cap(self, end: int, rate: int, tip: Concentrations, volume: int) -> bool:
        """Whether the step to ``end`` is proved to stay within the 24-hour limit without walking the window:
        every drug is within its trigger level now, and the seconds leaving the window during the step, all
        of the same solution, each delivered at least ``rate`` (the window then falls or stays level). If so,
        the bound for the next check is set from the amount in the window at ``end``.

        W(s) = W(now) + what the step adds by s - what leaves by s, and the step adds at most ``rate`` ticks a
        second at ``tip`` while at least that leaves each second: W(s) <= W(now) <= trigger for every s in the
        step's first day, as :meth:`_cap_time` would find (after it the window holds the step alone, as at the
        end of that day). At ``end`` the amount is exactly W(now) + ``volume`` - what left.
        """
        t = self.t_s
        steady = self.log.steady_since(t - DAY, min(end, t + DAY) - DAY, tip, rate)
        if steady is None:
            return False
        window_now, leaving = steady
        # a step longer than a day: only its own last day is in the window at its end, every second of it at
        # the full rate but the step's last
        window_end = window_now + volume - leaving if end - t <= DAY else volume - rate * (end - DAY - t)
        ng = dict(tip)
        room = FOREVER_S
        for drug, (trigger, _, strongest) in self._limits.items():
            ng_drug = ng.get(drug, 0)
            if window_now * ng_drug > trigger:
                return False
            if strongest and (trigger - window_end * ng_drug) // strongest < room:
                room = (trigger - window_end * ng_drug) // strongest
        self._check_level = self._res_est - volume - room
        return True

    def _cap_time(self, end: int, mass_rates: dict[str, int]) -> int | None:
        """The last second before any limited drug's rolling 24-hour amount would pass its trigger level.

        Called only when the cheap bound in ``_step`` fails and the window is not steady
        (:meth:`_steady_below_cap`): ``W(s) <= W(t0) + D(s) - D(t0)`` for an earlier
        check time t0, and no solution that can reach the tip is stronger than ``strongest``, so while the
        volume pumped since t0 stays within ``(trigger - W(t0)) // strongest`` for the tightest drug nothing
        can cross. This sets that bound again from ``now``, as the reservoir estimate below which the next
        check is due.
        """
        t, first = self.t_s, None
        span = end - t if end - t < DAY else DAY
        room = FOREVER_S
        in_window = self.log.delivered_since(t - DAY)
        for drug, (trigger, _, strongest) in self._limits.items():
            mass_rate = mass_rates.get(drug, 0)
            w_now = in_window.get(drug, 0)
            if strongest and (trigger - w_now) // strongest < room:
                room = (trigger - w_now) // strongest
            if w_now + mass_rate * span <= trigger:
                continue
            s = first_crossing(self.log.deliveries_since(t - DAY), drug, t, w_now, end, mass_rate, trigger,
                               above=True)
            if s is not None:
                last_safe = max(s - 1, t)
                first = last_safe if first is None else min(first, last_safe)
        self._check_level = self._res_est - room
        return first

    def _release_time(self, end: int, mass_rates: dict[str, int]) -> int | None:
        """The first second at which every limited drug is back at or below its resume level."""
        t = latest = self.t_s
        in_window = self.log.delivered_since(t - DAY)
        for drug, (_, level, _) in self._limits.items():
            w_now = in_window.get(drug, 0)
            if w_now <= level:
                continue
            s = first_crossing(self.log.deliveries_since(t - DAY), drug, t, w_now, end, mass_rates.get(drug, 0),
                               level, above=False)
            if s is None:
                return None
            latest = max(latest, s)
        return latest

    def _below_resume_levels(self) -> bool:
        in_window = self.log.delivered_since(self.t_s - DAY)
        return all(in_window.get(drug, 0) <= level for drug, (_, level, _) in self._limits.items())

    def _deliver(self, t: int, end: int, rate: int, volume: int, source: str, tip: Concentrations | None) -> None:
        """Pump ``volume`` over [t, end) off the plain path: through a column that holds more than one
        solution, into a blocked catheter, or out of a leak; and log the segment."""
        self._sync()
        self._res_est -= volume
        self._pumped_est += volume
        lot = self._lot
        column = self._column
        chunks_before = len(column.chunks)
        dose = column.push(volume, lot.ng_nominal)
        _add(self._dose, dose)
        if len(column.chunks) < chunks_before:
            self._update_limits()
        if self._occluded:
            actual, route = 0, "blocked"
            self._blocked += volume
        else:
            actual, a = volume, lot.drawn
            lot.drawn = a + volume
            if self._leaking:
                route = "tissue"
                extend_ranges(self._tissue, lot, a, a + volume)
            else:
                route = "csf"
                self._path.push(lot, a, a + volume)
        self._mark = self._res_est
        self._plain = self._is_plain()
        self._rows.append((t, _DELIVERY, source, rate, end, volume, tip, actual, route,
                          None if tip is not None else dose))

    def _is_plain(self) -> bool:
        """Whether deliveries can take the plain path: one solution, the reservoir's, fills the counted column
        and the catheter is neither blocked nor leaking; then a delivery only moves volumes, and the path and
        the counted dose follow from the reservoir's outflow (:meth:`_sync`)."""
        chunks = self._column.chunks
        return (not self._occluded and not self._leaking and len(chunks) == 1
                and chunks[0][1] is self._lot.ng_nominal)

    def _sync(self) -> None:
        """Bring the lot's outflow, the pumped count, the fluid path and the counted dose up to the reservoir
        estimate: on the plain path a delivery moves the estimate alone."""
        volume = self._mark - self._res_est
        if volume:
            lot = self._lot
            a = lot.drawn
            lot.drawn = a + volume
            self._pumped_est += volume
            self._path.push(lot, a, a + volume)
            add_drug(self._dose, lot.ng_nominal, volume)
            self._mark = self._res_est

    def _settle(self) -> None:
        """Raise the alarms and end the boluses that the present state calls for."""
        t = self.t_s
        if t >= self._timer:
            self._on_timer(t)
        if self.solution is not None and self._res_est <= self._low:
            if not self._empty and self._res_est <= self._residual:
                self._empty = True
                self._refresh_halt()
                self._raise_alarm(AlarmKind.EMPTY_RESERVOIR, "reservoir empty: delivery has stopped")
            self._raise_alarm(AlarmKind.LOW_RESERVOIR, "reservoir at or below the low-reservoir threshold")
            self._stop_level = self._residual
        bolus = self._bolus
        if bolus is not None:
            if bolus.remaining == 0:
                self._end_bolus("completed")
            else:
                stop = self._halt or ("daily_limit" if self._capped else None) or (
                    "safe_state" if self._safe_state else None)
                if stop:
                    self._end_bolus(f"cancelled: {stop}")

    def _on_timer(self, t: int) -> None:
        if not self._eri_done and t >= self._eri_at:
            self._eri_done = True
            self._raise_alarm(AlarmKind.ELECTIVE_REPLACEMENT, "battery reached its elective replacement indicator")
        if not self._eos_done and t >= self._eos_at:
            self._eos_done = True
            self._raise_alarm(AlarmKind.END_OF_SERVICE, "battery at end of service: delivery has stopped")
        if self._motor_stop_reason and t >= self._motor_resume_at:
            self.log.append(t, EventKind.FAULT, "motor runs again; the pump confirms it at the next interrogation",
                            {"name": "motor_recovered", "after": self._motor_stop_reason})
            self._motor_stop_reason, self._motor_resume_at = None, FOREVER_S
        self._update_timer()
        self._refresh_halt()

    def _enter_cap(self) -> None:
        self._capped = True
        self._check_level = FOREVER_S  # every step looks for the release
        self._refresh_halt()
        self._raise_alarm(AlarmKind.DAILY_LIMIT_REACHED,
                          "rolling 24-hour limit reached: minimum rate until the amount falls back")

    def _release_cap(self) -> None:
        if self._below_resume_levels():
            self._capped = False
            self._check_level = FOREVER_S  # an exact check sets the bound again
            self._refresh_halt()
            self._clear_alarm(AlarmKind.DAILY_LIMIT_REACHED, "rolling 24-hour amount back below the resume level")

    # ------------------------------------------------------------------ commands

    def execute(self, at_s: int, command: Command):
        """Advance to ``at_s`` and carry out one command; invalid or unsafe commands raise
        :class:`CommandRefused` after the refusal is logged, and change nothing else."""
        self.advance(at_s)
        handler = _HANDLERS.get(type(command))
        if handler is None:
            self._refuse(type(command).__name__, "command", command, "a pump command")
        return handler(self, command)

    def inject(self, at_s: int, fault: Fault) -> None:
        """Advance to ``at_s`` and inject a simulated fault."""
        self.advance(at_s)
        t = self.t_s
        name = type(fault).__name__
        if not isinstance(fault, FAULTS):
            self._refuse("inject", "fault", fault, f"one of the faults {', '.join(f.__name__ for f in FAULTS)}")
        if isinstance(fault, MotorStall):
            until = FOREVER_S if fault.duration_s is None else t + fault.duration_s
            self._stop_motor("motor_stall", until, AlarmKind.MOTOR_STALL, "motor stall: delivery has stopped")
        elif isinstance(fault, MriExposure):
            self._stop_motor("mri_exposure", t + fault.duration_s + fault.recovery_delay_s, AlarmKind.MRI_EXPOSURE,
                             "MRI field stopped the motor: interrogate the pump after the scan")
        elif isinstance(fault, CatheterOcclusion):
            self._sync()
            self._occluded, self._plain = True, False
        elif isinstance(fault, CatheterLeak):
            self._sync()
            self._leaking, self._plain = True, False
        elif isinstance(fault, BatteryReset):
            self._safe_state = True
            self._refresh_halt()
            self._raise_alarm(AlarmKind.BATTERY_RESET,
                              "low-battery reset: program lost, minimum rate until reprogrammed")
        else:  # SelfTestError
            if fault.critical:
                self._critical_memory = True
                self._refresh_halt()
                self._raise_alarm(AlarmKind.CRITICAL_MEMORY_ERROR,
                                  "critical memory error: delivery stopped until reprogrammed")
            else:
                self._raise_alarm(AlarmKind.MEMORY_ERROR, "non-critical memory error")
        self.log.append(t, EventKind.FAULT, f"injected {name}", {"name": _snake(name), **_public_fields(fault)})
        self._settle()

    def _stop_motor(self, reason: str, until: int, alarm: AlarmKind, text: str) -> None:
        if self._motor_stop_reason is None or until > self._motor_resume_at:
            self._motor_resume_at = until
        self._motor_stop_reason = reason
        self._update_timer()
        self._refresh_halt()
        self._awaiting_confirmation.add(alarm)
        self._raise_alarm(alarm, text)

    def _refuse(self, command: str, field: str, value: object, expected: str) -> NoReturn:
        error = CommandRefused(field, number_text(value) if isinstance(value, Fraction) else value, expected)
        self.log.append(self.t_s, EventKind.REFUSED, str(error),
                        {"command": _snake(command), "field": field, "expected": expected})
        raise error

    def _set_therapy(self, command: SetTherapy):
        self._check_therapy("SetTherapy", command.therapy, self.solution)
        self._apply_therapy(command.therapy)
        self.log.append(self.t_s, EventKind.PROGRAM, command.therapy.program.describe(), _therapy_data(command.therapy))
        return self.log.last()

    def _check_therapy(self, command: str, therapy: Therapy, solution: Solution | None) -> None:
        if not isinstance(therapy, Therapy):
            self._refuse(command, "therapy", therapy, "a Therapy")
        for rate in therapy.program.rates():
            if rate and not self._min_rate <= rate <= self._max_rate:
                self._refuse(command, "program.rate_ml_per_day", decimal_text(ticks_to_ml(rate * DAY), 6),
                             f"0 or from {self.spec.model.min_rate_ml_per_day} to "
                             f"{self.spec.model.max_rate_ml_per_day} mL/day on {self.spec.model.name}")
        bolus = therapy.patient_bolus
        if bolus is not None and bolus.rate > self._max_rate:
            shortest = -(-bolus.dose_ticks // self._max_rate)
            self._refuse(command, "patient_bolus.duration_s", bolus.duration_s,
                         f"at least {shortest} s for {number_text(bolus.dose_ml)} mL at the maximum rate")
        if solution is None:
            return
        limits = dict(therapy.limits_mass)
        daily = max_daily_volume(therapy.program, self._origin)
        for drug, ng in solution.ng_per_ml:
            if drug not in limits:
                self._refuse(command, "max_mg_per_24h", sorted(limits), f"a 24-hour limit for {drug}")
            needed = (daily + 2 * self._min_rate * DAY) * ng
            if limits[drug] < needed:
                self._refuse(command, f"max_mg_per_24h.{drug}", therapy.max_mg_per_24h[drug],
                             f"at least {decimal_text(mass_to_mg(needed), 6)} mg: the program's largest 24-hour "
                             f"basal amount plus twice the minimum-rate daily amount")

    def _apply_therapy(self, therapy: Therapy) -> None:
        if self._bolus is not None:
            self._end_bolus("cancelled: new therapy programmed")
        self.therapy = therapy
        self._program = therapy.program
        self._basal = therapy.program.piece(self.t_s, self._origin)
        self._safe_state = False
        self._critical_memory = False
        self._refresh_halt()
        self._clear_alarm(AlarmKind.BATTERY_RESET, "reprogrammed")
        self._clear_alarm(AlarmKind.CRITICAL_MEMORY_ERROR, "reprogrammed")
        self._update_limits()

    def _update_limits(self) -> None:
        """Trigger and resume levels of each limited drug (docs/pump.md, "The rolling 24-hour limit").

        The minimum-rate reserve uses the strongest solution that can still reach the tip: the reservoir's
        or any still in the tubing and catheter."""
        self._limits = {}
        self._check_level = -1
        if self.therapy is None or self.solution is None:
            return
        self._check_level = FOREVER_S
        limits = dict(self.therapy.limits_mass)
        daily = max_daily_volume(self._program, self._origin)
        reserve_volume = self._min_rate * DAY
        for drug, ng in self.solution.ng_per_ml:
            strongest = max(ng, self._column.highest(drug))
            trigger = limits[drug] - reserve_volume * strongest
            self._limits[drug] = (trigger, trigger - daily * ng, strongest)

    def _refill(self, command: Refill) -> RefillReport:
        name = "Refill"
        if not isinstance(command.solution, Solution):
            self._refuse(name, "solution", command.solution, "a Solution")
        actual = command.solution if command.actual_solution is None else command.actual_solution
        if not isinstance(actual, Solution):
            self._refuse(name, "actual_solution", command.actual_solution, "a Solution")
        try:
            fill = volume_ticks("volume_ml", command.volume_ml, lo="0.000001")
        except OpenIDDSError as error:
            self._refuse(name, error.field, error.value, error.expected)
        if self._residual + fill > self._capacity:
            room = decimal_text(ticks_to_ml(self._capacity - self._residual), 6)
            self._refuse(name, "volume_ml", command.volume_ml,
                         f"at most {room} mL: a {self.spec.reservoir_ml} mL reservoir keeps "
                         f"{self.spec.model.residual_ml} mL that cannot be withdrawn")
        therapy = self.therapy if command.therapy is None else command.therapy
        if therapy is not None:
            self._check_therapy(name, therapy, command.solution)
        self._sync()
        retrievable = max(self.reservoir_actual_ticks - self._residual, 0)
        expected = max(self._res_est - self._residual, 0)
        old = self._lot
        if retrievable:
            extend_ranges(self._withdrawn_ranges, old, old.drawn, old.drawn + retrievable)
            old.drawn += retrievable
        mass0 = old.remaining()
        for drug, ng in actual.ng_per_ml:
            mass0[drug] = mass0.get(drug, 0) + fill * ng
        self._res_est = old.volume0 - old.drawn + fill
        nominal = self._solutions.setdefault(command.solution.ng_per_ml, command.solution.ng_per_ml)
        self._lot = Lot(self._res_est, mass0, nominal)
        self._mark = self._res_est
        self._plain = self._is_plain()
        self._filled += fill
        self._withdrawn += retrievable
        self.solution = command.solution
        self._empty = False
        self._refresh_halt()
        self._clear_alarm(AlarmKind.EMPTY_RESERVOIR, "refilled")
        if self._res_est > self._low:
            self._clear_alarm(AlarmKind.LOW_RESERVOIR, "refilled")
        self._stop_level = self._low if self._res_est > self._low else self._residual
        self.log.append(self.t_s, EventKind.REFILL, command.solution.describe(), {
            "fill": fill, "withdrawn": retrievable, "expected_withdrawn": expected, "reservoir": self._res_est,
            "ng_per_ml": dict(command.solution.ng_per_ml), "actual_ng_per_ml": dict(actual.ng_per_ml)})
        if command.therapy is not None:
            self._apply_therapy(command.therapy)
            self.log.append(self.t_s, EventKind.PROGRAM, command.therapy.program.describe(),
                            _therapy_data(command.therapy))
        else:
            self._update_limits()
        self._settle()
        return RefillReport(retrievable, expected, fill, self._res_est, command.solution.describe())

    def _set_low_reservoir(self, command: SetLowReservoirAlarm):
        try:
            low = volume_ticks("low_reservoir_ml", command.low_reservoir_ml,
                               lo=self.spec.model.residual_ml, hi=self.spec.reservoir_ml)
        except OpenIDDSError as error:
            self._refuse("SetLowReservoirAlarm", error.field, error.value, error.expected)
        self._low = low
        if self._res_est > low:
            self._clear_alarm(AlarmKind.LOW_RESERVOIR, "threshold lowered below the reservoir volume")
        armed = AlarmKind.LOW_RESERVOIR not in self._alarms and self._res_est > low
        self._stop_level = low if armed else self._residual
        self.log.append(self.t_s, EventKind.LOW_RESERVOIR_THRESHOLD,
                        f"low-reservoir alarm at {number_text(command.low_reservoir_ml)} mL",
                        {"low_reservoir": low})
        self._settle()
        return self.log.last()

    def _start_bolus(self, command: StartBolus):
        name = "StartBolus"
        if not isinstance(command.kind, BolusKind) or command.kind is BolusKind.PATIENT:
            self._refuse(name, "kind", command.kind, "clinician, priming or bridge (patients use RequestPatientBolus)")
        try:
            volume = volume_ticks("volume_ml", command.volume_ml, lo="0.000001")
        except OpenIDDSError as error:
            self._refuse(name, error.field, error.value, error.expected)
        duration = command.duration_s
        if isinstance(duration, bool) or not isinstance(duration, int) or not 60 <= duration <= DAY:
            self._refuse(name, "duration_s", duration, "whole seconds from 60 to 86400")
        rate = -(-volume // duration)
        if rate > self._max_rate:
            self._refuse(name, "duration_s", duration,
                         f"at least {-(-volume // self._max_rate)} s for {number_text(command.volume_ml)} mL "
                         "at the maximum rate")
        if self.therapy is None and command.kind is not BolusKind.PRIMING:
            self._refuse(name, "therapy", None,
                         "a programmed therapy with its 24-hour limit before any bolus but priming")
        if self.therapy is None and volume > self._column.drug_free():
            free = decimal_text(ticks_to_ml(self._column.drug_free()), 6)
            self._refuse(name, "volume_ml", command.volume_ml,
                         f"at most the {free} mL of drug-free fluid in the tubing and catheter: before a therapy "
                         f"sets a 24-hour limit no drug may reach the catheter tip")
        blocked = self._bolus_blocker()
        if blocked:
            self._refuse(name, "pump_state", blocked, "a pump that is delivering with no bolus in progress")
        available = self._res_est - self._residual
        if volume > available:
            self._refuse(name, "volume_ml", command.volume_ml,
                         f"at most the {decimal_text(ticks_to_ml(available), 6)} mL left in the reservoir")
        self._begin_bolus(command.kind, rate, volume, duration)
        return self.log.last()

    def _begin_bolus(self, kind: BolusKind, rate: int, volume: int, duration_s: int) -> None:
        bolus = self._bolus = _Bolus(kind, rate, volume, self.t_s)
        self._rows.append((self.t_s, _BOLUS_STARTED, bolus.name, bolus.name, volume, duration_s, rate))

    def _bolus_blocker(self) -> str | None:
        if self._halt:
            return self._halt
        if self._safe_state:
            return "safe_state"
        if self._capped:
            return "daily_limit"
        if self._bolus is not None:
            return f"{self._bolus.name} bolus in progress"
        return None

    def _cancel_bolus(self, command: CancelBolus):
        if self._bolus is None:
            self._refuse("CancelBolus", "bolus", None, "a bolus in progress")
        self._end_bolus("cancelled by the clinician")
        return self.log.last()

    def _end_bolus(self, outcome: str) -> None:
        bolus = self._bolus
        assert bolus is not None  # called only with a bolus in progress
        self._bolus = None
        self._rows.append((self.t_s, _BOLUS_ENDED, outcome, bolus.name, bolus.volume, bolus.volume - bolus.remaining))

    def patient_bolus_status(self) -> BolusDecision:
        """What the patient's device shows now: whether a bolus would be granted (``granted`` with reason
        ``available``), how many are left in the last 24 hours, and when the next is allowed. Changes nothing."""
        refusal, _, left = self._patient_bolus_check()
        return refusal or BolusDecision(True, "available", left, self.t_s)

    def _patient_bolus_check(self) -> tuple[BolusDecision | None, PatientBolus | None, int]:
        """Why a patient bolus cannot start now (None if it can), the settings, and how many are left."""
        t = self.t_s
        grants = self._grants
        first_recent = bisect_right(grants, t - DAY)  # grants are in time order; older ones no longer count
        recent = len(grants) - first_recent
        settings = self.therapy.patient_bolus if self.therapy is not None and not self._safe_state else None
        if settings is None:
            return BolusDecision(False, "no patient bolus is programmed", 0, None), None, 0
        left = settings.max_per_24h - recent
        if self._special or self._bolus is not None:
            return BolusDecision(False, f"not now: {self._bolus_blocker()}", max(left, 0), None), settings, left
        if recent and t < grants[-1] + settings.lockout_s:
            return BolusDecision(False, "lockout since the last bolus", max(left, 0),
                                 grants[-1] + settings.lockout_s), settings, left
        if left <= 0:
            return BolusDecision(False, f"{settings.max_per_24h} boluses already in the last 24 h", 0,
                                 grants[first_recent - left] + DAY), settings, left
        if settings.dose_ticks > self._res_est - self._residual:
            return BolusDecision(False, "not enough drug left in the reservoir", left, None), settings, left
        return None, settings, left

    def _patient_bolus(self, command: RequestPatientBolus) -> BolusDecision:
        t = self.t_s
        refusal, settings, left = self._patient_bolus_check()
        if refusal is not None:
            self.log.append(t, EventKind.BOLUS_DENIED, refusal.reason,
                            {"left_in_24h": refusal.left_in_24h, "next_allowed_s": refusal.next_allowed_s})
            return refusal
        assert settings is not None  # no refusal means a patient bolus is programmed
        grants = self._grants
        del grants[:bisect_right(grants, t - DAY)]
        grants.append(t)
        self._begin_bolus(BolusKind.PATIENT, settings.rate, settings.dose_ticks, settings.duration_s)
        return BolusDecision(True, "granted", left - 1, t + settings.lockout_s)

    def _interrogate(self, command: Interrogate) -> Snapshot:
        t = self.t_s
        for kind in sorted(self._awaiting_confirmation, key=lambda k: k.value):
            if self._motor_stop_reason is None:
                self._awaiting_confirmation.discard(kind)
                self._clear_alarm(kind, "motor running: recovery confirmed at interrogation")
        self._clear_alarm(AlarmKind.MEMORY_ERROR, "acknowledged at interrogation")
        self.log.append(t, EventKind.INTERROGATION, "programmer read the pump", {})
        log = PumpViews(self.log, self._interrogated_seq, len(self.log))
        self._interrogated_seq = len(self.log)
        return Snapshot(
            t_s=t,
            therapy=self._program.describe() if not self._safe_state else "safe state: minimum rate",
            solution=self.solution.describe() if self.solution else "empty (not filled)",
            reservoir_ml=ticks_to_ml(self._res_est),
            battery="end_of_service" if self._eos_done else "elective_replacement" if self._eri_done else "ok",
            eri_at_s=self._eri_at, eos_at_s=self._eos_at,
            delivering=self._flow()[1],
            bolus=None if self._bolus is None else self._bolus.name,
            alarms=tuple(sorted(self._alarms.values(), key=lambda a: (a.at_s, a.kind.value))),
            log=log,
            programmed=None if self._safe_state else self.therapy,
            filled_with=self.solution,
        )

    def _revise_catheter(self, command: ReviseCatheter):
        if not isinstance(command.catheter, Catheter):
            self._refuse("ReviseCatheter", "catheter", command.catheter, "a Catheter (length_cm, volume_ml, tip_level)")
        self._sync()
        self.catheter = command.catheter
        self._explanted.extend(chunk for chunk in self._path.chunks if chunk[0] is not None)
        path_ticks = self._tubing + volume_ticks("catheter.volume_ml", command.catheter.volume_ml)
        self._path = FluidPath(path_ticks, self._csf)
        self._column = CountedColumn(path_ticks)
        self._occluded = self._leaking = False
        self._plain = False
        self._update_limits()
        self.log.append(self.t_s, EventKind.CATHETER_REVISED, "new catheter, unprimed", {
            "length_cm": command.catheter.length_cm, "volume_ml": number_text(command.catheter.volume_ml),
            "tip_level": command.catheter.tip_level})
        return self.log.last()

    # ------------------------------------------------------------------ alarms and readings

    def _raise_alarm(self, kind: AlarmKind, reason: str) -> None:
        if kind in self._alarms:
            return
        self._alarms[kind] = Alarm(kind, self.t_s, reason)
        self.log.append(self.t_s, EventKind.ALARM, reason, {"alarm": kind.value, "severity": kind.severity.value})

    def _clear_alarm(self, kind: AlarmKind, reason: str) -> None:
        if self._alarms.pop(kind, None) is not None:
            self.log.append(self.t_s, EventKind.ALARM_CLEARED, reason, {"alarm": kind.value})

    @property
    def alarms(self) -> tuple[Alarm, ...]:
        """Active alarms, oldest first."""
        return tuple(sorted(self._alarms.values(), key=lambda a: (a.at_s, a.kind.value)))

    @property
    def reservoir_estimated_ticks(self) -> int:
        return self._res_est

    @property
    def reservoir_actual_ticks(self) -> int:
        self._sync()
        return self._lot.volume0 - self._lot.drawn

    @property
    def capped(self) -> bool:
        return self._capped

    @property
    def delivering(self) -> str:
        """What drives the rate now: ``basal``, ``bolus:<kind>``, ``daily_limit`` or the reason it is stopped."""
        return self._flow()[1]

    def window_mg(self, drug: str) -> float:
        """Nominal amount of ``drug`` in the last 24 hours, in mg (for display)."""
        return float(mass_to_mg(self.log.delivered_since(self.t_s - DAY).get(drug, 0)))

    def totals(self) -> Totals:
        """The pump's own accounts (volumes in ticks, nominal amounts in mass ticks)."""
        self._sync()
        nominal = {drug: mass for drug, mass in self._dose.items() if mass}
        return Totals(self._filled, self._withdrawn, self._pumped_est, self._pumped_est - self._blocked, nominal)

    def drug_locations(self) -> dict[str, dict[str, int]]:
        """Simulator truth: where every nanogram really is, in mass ticks per drug, by place
        (``reservoir``, ``path``, ``csf``, ``tissue``, ``withdrawn``, ``explanted`` with a revised catheter)."""
        self._sync()
        return {
            "reservoir": {d: m for d, m in self._lot.remaining().items() if m},
            "path": self._path.amounts(),
            "csf": sum_ranges(self._csf),
            "tissue": sum_ranges(self._tissue),
            "withdrawn": sum_ranges(self._withdrawn_ranges),
            "explanted": sum_ranges(self._explanted),
        }

    def state(self) -> tuple:
        """Everything a command could change, for checking that a refused command changed nothing."""
        self._sync()
        return (
            self.therapy, self._program, self._basal, None if self._bolus is None else (
                self._bolus.kind, self._bolus.rate, self._bolus.remaining, self._bolus.started_s),
            tuple(self._grants), self.solution, self._res_est, self._lot.volume0, self._lot.drawn, self._low,
            self._capped, self._empty, self._safe_state, self._critical_memory, tuple(self.alarms),
            self._filled, self._withdrawn, self.catheter,
        )


_HANDLERS: dict[type, Callable[[Pump, Any], object]] = {
    SetTherapy: Pump._set_therapy,
    Refill: Pump._refill,
    SetLowReservoirAlarm: Pump._set_low_reservoir,
    StartBolus: Pump._start_bolus,
    CancelBolus: Pump._cancel_bolus,
    RequestPatientBolus: Pump._patient_bolus,
    Interrogate: Pump._interrogate,
    ReviseCatheter: Pump._revise_catheter,
}


def _add(total: dict[str, int], more: dict[str, int]) -> None:
    for drug, mass in more.items():
        total[drug] = total.get(drug, 0) + mass


def _snake(name: str) -> str:
    """``MotorStall`` -> ``motor_stall``: a command's or fault's name on the wire (openidds.pump.wire)."""
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _public_fields(record: object) -> dict:
    return {name: getattr(record, name) for name in getattr(record, "__dataclass_fields__", {})}


def _therapy_data(therapy: Therapy) -> dict:
    bolus = therapy.patient_bolus
    return {
        "program": therapy.program.kind,
        "max_mg_per_24h": {drug: number_text(mg) for drug, mg in sorted(dict(therapy.max_mg_per_24h).items())},
        "patient_bolus": None if bolus is None else {
            "dose_ml": number_text(bolus.dose_ml), "duration_s": bolus.duration_s, "lockout_s": bolus.lockout_s,
            "max_per_24h": bolus.max_per_24h},
    }

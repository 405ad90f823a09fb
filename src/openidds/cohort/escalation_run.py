"""Escalation over a virtual clinic: every alarm of a registry escalated under a policy, answered by simulated
people, to measure the time to acknowledgement and the escalations per 100 pump-months.

The run drives the registry's own escalation path (:mod:`openidds.clinic.escalations`) on a simulated clock:
each alarm of the clinic's alarm record is raised (``raise_alarm``) at the time it went off, as a clinic with
remote monitoring would learn of it; the dispatcher (``dispatch_once``) makes its passes every ``pass_interval``
(a pass where nothing is queued or due does nothing, so only passes with work are made); its transports are
simulated: each notification is delivered or fails with its channel's share of failures, and a person whose
notification was delivered acknowledges (``acknowledge``) with their role's share, after a lognormal delay from
the delivery, per the acknowledgement model (:mod:`openidds.escalation.responders`). An alarm a source closed
(the pump cleared it, a refill) is cleared (``clear``) at that time if nobody acknowledged it first. Each draw
comes from a generator seeded by the run's seed, the replicate, and the alarm, tier, recipient and channel it is
for, so the same seed gives the same table whatever the order of events.

When the model states its refill visits (:class:`openidds.escalation.responders.RefillVisits`), the run plays what
an acknowledged low- or empty-reservoir alarm leads to: a refill visit that many hours after the acknowledgement,
which refills the pump (in the simulation: the registry's records are left as they are). A pump refilled before it
runs empty never raises its empty-reservoir alarm; a refill clears the reservoir alarms still escalating. Each
replicate's empty reservoirs (:mod:`openidds.cohort.empty_reservoirs`) are set against the baseline: the same alarms,
nobody notified, the pump refilled only at its next refill in the record.
"""

from __future__ import annotations

import datetime as dt
import heapq
import sqlite3
import tempfile
import zlib
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from openidds.clinic import escalation_policies, escalations, models
from openidds.clinic.alarms import Resolution
from openidds.clinic.database import connect, with_clock
from openidds.clinic.escalations import DeliveryFailed
from openidds.cohort.bundled import read_toml_file
from openidds.cohort.empty_reservoirs import (
    EmptyReservoirs,
    ReservoirRun,
    empty_reservoirs,
    reservoir_runs,
)
from openidds.cohort.virtual_clinic import (
    PUMP_LOG_FOLDER,
    PUMP_STATE_FOLDER,
    REGISTRY_FOLDER,
    load_clinic,
    play_clinic,
    write_clinic,
)
from openidds.errors import OpenIDDSError
from openidds.escalation import (
    AlarmRaised,
    Audience,
    Channel,
    DeliveryStatus,
    EscalationError,
    LogKind,
    Notification,
    Phase,
    Policy,
    Priority,
    ResponderError,
    Responders,
    parse_responders,
)
from openidds.escalation.responders import RefillVisits
from openidds.pump.alarms import AlarmKind

DAYS_PER_MONTH = 365.25 / 12
"""Pump-months are days over the mean month of the Gregorian calendar."""
SIMULATION_AUTHOR = "openidds alarms simulate"
"""The audit trail's author of the policy a run installs in its throwaway registry."""


class Ending(str, Enum):
    """How an alarm's escalation ended when the run did."""

    ACKNOWLEDGED = "acknowledged"
    CLEARED = "cleared"
    """A source closed the alarm (the pump cleared it, a refill) before anyone acknowledged it."""
    UNANSWERED = "unanswered"
    """Still open when the run ended: nobody acknowledged it (its escalation may be exhausted)."""
    PREVENTED = "prevented"
    """Never raised: a refill visit the run played came before it (an empty reservoir that did not happen)."""


@dataclass(frozen=True, slots=True)
class AlarmOutcome:
    """One alarm's escalation in one replicate: its priority, the tiers it reached, and when (if ever) someone
    acknowledged it."""

    replicate: int
    alarm_id: int
    kind: str
    priority: Priority
    raised_at: dt.datetime
    tiers_reached: int
    """How many tiers were notified (0: cleared while quiet hours held it)."""
    exhausted: bool
    """The last tier's timeout ran out unacknowledged (a logged failure), whatever happened later."""
    ending: Ending
    acknowledged_tier: int | None
    """The escalation's tier when it was acknowledged (the acknowledging person may be of an earlier tier)."""
    minutes_to_acknowledge: float | None


@dataclass(frozen=True, slots=True)
class PriorityDelays:
    """Minutes from raising to acknowledgement of the acknowledged alarms of one priority (R's type 7 quantiles,
    numpy's default)."""

    priority: Priority
    alarms: int
    acknowledged: int
    median: float | None
    q1: float | None
    q3: float | None
    p95: float | None


@dataclass(frozen=True, slots=True)
class EscalationRun:
    """The outcome of every alarm in every replicate (the same clinic's alarms, answered anew), and the summary."""

    outcomes: tuple[AlarmOutcome, ...]
    tier_roles: tuple[str, ...]
    pump_months: float
    """The clinic's pump-months (each replicate observes them once)."""
    escalations: int
    """Tier moves over all replicates: a next tier notified because the one before did not acknowledge in time or
    could not be reached."""
    seed: int
    replicates: int
    pass_interval: dt.timedelta
    refill_visits: RefillVisits | None = None
    """The refill visits the run played (None: none, the model states none)."""
    reservoir_runs: tuple[ReservoirRun, ...] = ()
    """The pumps that ran low or empty (each run of a reservoir between two refills of the record)."""
    empty_reservoirs: tuple[EmptyReservoirs, ...] = ()
    """Per replicate, the pumps that ran empty with the refill visits played."""

    @property
    def raised(self) -> tuple[AlarmOutcome, ...]:
        """The alarms raised (not prevented by a refill visit), every replicate's."""
        return tuple(o for o in self.outcomes if o.ending is not Ending.PREVENTED)

    @property
    def baseline(self) -> EmptyReservoirs:
        """The empty reservoirs without escalation: the same alarms, nobody notified, each pump refilled only at its
        next refill in the record."""
        return empty_reservoirs(self.reservoir_runs, {}, None)

    @property
    def escalations_per_100_pump_months(self) -> float:
        """Tier moves per 100 pump-months, over the pump-months of every replicate."""
        return 100 * self.escalations / (self.pump_months * self.replicates)

    @property
    def alarms_per_100_pump_months(self) -> float:
        """The alarms raised per 100 pump-months (every replicate's pump-months; without refill visits, the clinic's
        alarms, the same in every replicate)."""
        return 100 * len(self.raised) / (self.pump_months * self.replicates)

    @property
    def exhausted(self) -> int:
        return sum(o.exhausted for o in self.outcomes)

    def delays(self) -> list[PriorityDelays]:
        """The time to acknowledgement per priority (most urgent first), among the alarms acknowledged."""
        out = []
        for priority in Priority:
            of = [o for o in self.raised if o.priority is priority]
            minutes = np.array([o.minutes_to_acknowledge for o in of if o.minutes_to_acknowledge is not None])
            q = np.percentile(minutes, [50, 25, 75, 95]).tolist() if minutes.size else [None] * 4
            out.append(PriorityDelays(priority, len(of), int(minutes.size), *q))
        return out

    def acknowledged_at_tier(self) -> list[tuple[int, int]]:
        """Per tier of the policy: how many alarms were acknowledged while at that tier."""
        return [(tier, sum(o.acknowledged_tier == tier for o in self.outcomes)) for tier in range(len(self.tier_roles))]

    def count(self, ending: Ending) -> int:
        return sum(o.ending is ending for o in self.outcomes)

    def summary(self) -> dict[str, Any]:
        """The run's figures as plain values (what ``openidds alarms simulate --json`` prints)."""
        return {
            "seed": self.seed, "replicates": self.replicates, "pass_interval_s": self.pass_interval.total_seconds(),
            "alarms": len(self.raised),
            "time_to_acknowledge_minutes": [
                {"priority": d.priority.value, "alarms": d.alarms, "acknowledged": d.acknowledged,
                 "median": d.median, "q1": d.q1, "q3": d.q3, "p95": d.p95} for d in self.delays()],
            "acknowledged_at_tier": [{"tier": tier, "role": self.tier_roles[tier], "alarms": n}
                                     for tier, n in self.acknowledged_at_tier()],
            **{ending.value: self.count(ending) for ending in Ending},
            "exhausted": self.exhausted, "escalations": self.escalations, "pump_months": self.pump_months,
            "alarms_per_100_pump_months": self.alarms_per_100_pump_months,
            "escalations_per_100_pump_months": self.escalations_per_100_pump_months,
            "quantiles": "R type 7 (numpy's linear), among the acknowledged alarms",
            "empty_reservoirs": self.empty_reservoir_summary(),
        }

    def empty_reservoir_summary(self) -> dict[str, Any] | None:
        """The empty reservoirs with the refill visits played, per replicate and pooled (the mean per replicate and
        the replicates' range), against the baseline; None when the run played no refill visit."""
        if self.refill_visits is None:
            return None
        pooled = {}
        for name, values in (("pumps_empty", [r.pumps_empty for r in self.empty_reservoirs]),
                             ("patients_affected", [r.patients for r in self.empty_reservoirs]),
                             ("pump_hours_without_drug", [r.hours_without_drug for r in self.empty_reservoirs])):
            pooled[name] = {"mean": float(np.mean(values)), "min": float(min(values)), "max": float(max(values))}
        return {
            "refill_visits": self.refill_visits.model_dump(), "reservoir_runs": len(self.reservoir_runs),
            "followed_until": "the earliest of each pump's next refill in the record, its explant, its patient's "
                              "exit and the end of the clinic day",
            "baseline": self.baseline.summary(), "with_escalation": pooled,
            "per_replicate": [r.summary() for r in self.empty_reservoirs],
        }

    def empty_reservoir_table(self) -> tuple[tuple[str, ...], list[tuple[object, ...]]]:
        """Per replicate (the baseline first, its replicate empty) and reservoir run: the hours the pump was empty
        (what ``--out`` writes as empty-reservoirs.csv)."""
        header = ("replicate", "patient", "implant_id", "low_reservoir_at", "empty_at", "model_empty_at",
                  "followed_until", "hours_without_drug")
        rows: list[tuple[object, ...]] = [
            ("" if result.replicate is None else result.replicate, r.patient, r.implant_id, _iso(r.low_at),
             _iso(r.empty_at), _iso(r.model_empty_at), r.followed_until.isoformat(), f"{hours:.3f}")
            for result in (self.baseline, *self.empty_reservoirs)
            for r, hours in zip(self.reservoir_runs, result.hours_by_run, strict=True)]
        return header, rows

    def table(self) -> tuple[tuple[str, ...], list[tuple[object, ...]]]:
        """The outcome of every alarm: a header and one row per alarm (what ``--out`` writes as alarms.csv)."""
        header = ("replicate", "alarm_id", "kind", "priority", "raised_at", "tiers_reached", "exhausted", "ending",
                  "acknowledged_tier", "minutes_to_acknowledge")
        rows: list[tuple[object, ...]] = [(
            o.replicate, o.alarm_id, o.kind, o.priority.value, o.raised_at.isoformat(), o.tiers_reached,
            o.exhausted, o.ending.value, "" if o.acknowledged_tier is None else o.acknowledged_tier,
            "" if o.minutes_to_acknowledge is None else f"{o.minutes_to_acknowledge:.2f}") for o in self.outcomes]
        return header, rows


@dataclass(frozen=True, order=True, slots=True)
class _Event:
    at: dt.datetime
    order: int
    """At the same time: raises, then clears, then acknowledgements, then refill visits; then by alarm."""
    alarm_id: int
    person: str = ""


_RAISE, _CLEAR, _ACK, _REFILL = 0, 1, 2, 3


def load_responders(name_or_path: str | Path) -> Responders:
    """A bundled acknowledgement model by id (``example``) or a model file (``.toml``) by path."""
    text, _ = read_toml_file(name_or_path, "responders", "responders", ResponderError)
    return parse_responders(text)


def load_virtual_clinic(engine: Engine, name_or_path: str | Path) -> dt.date:
    """Create a registry on ``engine`` holding a virtual clinic (a bundled id or a clinic file), its records and
    pump logs imported without any escalation policy; returns its clinic day. The bundled ``example`` clinic is
    imported from its shipped files (the same files, written by the same model), any other one is played first."""
    from openidds.clinic.examples import EXAMPLE_USER, load_clinic_files, load_example

    clinic = load_clinic(name_or_path)
    if name_or_path == "example":
        load_example(engine)
        return clinic.clinic_day
    with tempfile.TemporaryDirectory(prefix="openidds-clinic-") as folder:
        written = Path(folder)
        write_clinic(play_clinic(clinic), written)
        load_clinic_files(engine, written / REGISTRY_FOLDER, written / PUMP_LOG_FOLDER, EXAMPLE_USER,
                          f"virtual clinic {clinic.id}", written / PUMP_STATE_FOLDER)
    return clinic.clinic_day


def pump_months(engine: Engine, until: dt.date) -> float:
    """The months every implant was in place and followed: from its implant date to the earliest of its explant,
    its patient's exit from follow-up and ``until`` (the clinic day)."""
    i, e = models.Implant, models.Exit
    with Session(engine) as session:
        rows = session.execute(select(i.implant_date, i.explant_date, e.exit_date)
                               .outerjoin(e, e.patient_id == i.patient_id)).all()
    days = sum(max(0, (min(d for d in (explant, exit_, until) if d is not None) - start).days)
               for start, explant, exit_ in rows)
    return days / DAYS_PER_MONTH


def run_replicates(registry: Path, policy: Policy, responders: Responders, seed: int, replicates: int,
                   until: dt.date, pass_interval: dt.timedelta = dt.timedelta(seconds=30)) -> EscalationRun:
    """:func:`run_escalation` ``replicates`` times, each on a fresh copy of the SQLite registry file ``registry``
    (a virtual clinic's, loaded without escalations), and pooled: the same alarms, answered anew each time."""
    if replicates < 1:
        raise OpenIDDSError("replicates", replicates, "at least 1 run over the clinic")
    runs = []
    with tempfile.TemporaryDirectory(prefix="openidds-escalation-") as folder:
        for replicate in range(replicates):
            copy = Path(folder) / f"replicate-{replicate}.sqlite"
            with closing(sqlite3.connect(registry)) as source, closing(sqlite3.connect(copy)) as target:
                source.backup(target)
            engine = connect(copy, synchronous=False)  # a throwaway copy: commits need not wait for the disk
            try:
                runs.append(run_escalation(engine, policy, responders, seed, until, pass_interval, replicate))
            finally:
                engine.dispose()
                copy.unlink()
    return EscalationRun(tuple(o for run in runs for o in run.outcomes), runs[0].tier_roles, runs[0].pump_months,
                         sum(run.escalations for run in runs), seed, replicates, pass_interval,
                         responders.refill_visits, runs[0].reservoir_runs,
                         tuple(r for run in runs for r in run.empty_reservoirs))


def run_escalation(engine: Engine, policy: Policy, responders: Responders, seed: int, until: dt.date,
                   pass_interval: dt.timedelta = dt.timedelta(seconds=30), replicate: int = 0) -> EscalationRun:
    """Escalate every alarm of the registry on ``engine`` (a virtual clinic's, loaded without escalations) under
    ``policy``, answered per ``responders``, through ``until`` (the clinic day); the registry keeps every
    escalation, notification and log entry written, with the simulated times. The draws depend on ``seed`` and
    ``replicate``."""
    responders.check_roles(tuple(t.role for t in policy.tiers))
    if pass_interval <= dt.timedelta(0):
        raise OpenIDDSError("pass_interval", pass_interval, "a positive interval between dispatcher passes")
    end = dt.datetime.combine(until + dt.timedelta(days=1), dt.time())
    with Session(engine) as session:
        if session.scalar(select(func.count()).select_from(models.EscalationState)):
            raise OpenIDDSError("registry", "escalations present", "a registry whose alarms were never escalated "
                                "(a virtual clinic loaded without a policy)")
        alarms = session.execute(select(models.ClinicAlarm.id, models.ClinicAlarm.implant_id, models.ClinicAlarm.kind,
                                        models.ClinicAlarm.priority, models.ClinicAlarm.raised_at,
                                        models.ClinicAlarm.resolved_at, models.ClinicAlarm.resolution)
                                 .where(models.ClinicAlarm.raised_at < end).order_by(models.ClinicAlarm.id)).all()
    months = pump_months(engine, until)
    if months <= 0:
        raise OpenIDDSError("registry", f"{months} pump-months", "a clinic with implants followed before the clinic "
                            f"day {until.isoformat()}")
    runs = [] if responders.refill_visits is None else reservoir_runs(
        engine, [(a.id, a.implant_id, a.kind, a.raised_at) for a in alarms], end)
    clock = _Clock(min((a.raised_at for a in alarms), default=end))
    escalation_policies.install_file(engine, policy, SIMULATION_AUTHOR, clock.now, "the run's --policy")
    engine = with_clock(engine, clock)
    sim = _Simulation(engine, policy, responders, (seed, replicate), clock)
    sim.run_of = {alarm_id: n for n, run in enumerate(runs) for alarm_id in run.alarm_ids}
    by_source = {Resolution.CLEARED_BY_PUMP.value, Resolution.RESOLVED_IN_RECORD.value}
    for a in alarms:
        sim.push(_Event(a.raised_at, _RAISE, a.id))
        if a.resolved_at is not None and a.resolution in by_source and a.resolved_at < end:
            sim.push(_Event(a.resolved_at, _CLEAR, a.id))
    sim.run({a.id: (a.kind, Priority(a.priority)) for a in alarms}, end, pass_interval)
    outcomes = tuple(AlarmOutcome(replicate, a.id, a.kind, Priority(a.priority), a.raised_at, 0, False,
                                  Ending.PREVENTED, None, None) if a.id in sim.prevented
                     else _outcome(engine, replicate, a.id) for a in alarms)
    with Session(engine) as session:
        moves = session.scalar(select(func.count()).select_from(models.EscalationLogEntry)
                               .where(models.EscalationLogEntry.kind == LogKind.ESCALATED.value)) or 0
    reservoirs = () if responders.refill_visits is None else (empty_reservoirs(runs, sim.refilled, replicate),)
    return EscalationRun(outcomes, tuple(t.role.value for t in policy.tiers), months, moves, seed, 1, pass_interval,
                         responders.refill_visits, tuple(runs), reservoirs)


class _Clock:
    """The simulated time, read by the registry's audit trail."""

    def __init__(self, start: dt.datetime) -> None:
        self.now = start

    def __call__(self) -> dt.datetime:
        return self.now


class _Simulation:
    def __init__(self, engine: Engine, policy: Policy, responders: Responders, seed: tuple[int, int],
                 clock: _Clock) -> None:
        self.engine, self.policy, self.responders, self.seed, self.clock = engine, policy, responders, seed, clock
        self.events: list[_Event] = []
        self.answered: set[tuple[int, int, str]] = set()
        self.run_of: dict[int, int] = {}
        """The reservoir run (an index) of each low- or empty-reservoir alarm."""
        self.refilled: dict[int, dt.datetime] = {}
        """When a refill visit refilled each reservoir run's pump."""
        self.prevented: set[int] = set()
        """The alarms never raised: their pump was refilled before."""
        self.senders: dict[Channel, Callable[[Notification], None]] = {c: self._send for c in Channel}

    def push(self, event: _Event) -> None:
        heapq.heappush(self.events, event)

    def run(self, kinds: dict[int, tuple[str, Priority]], end: dt.datetime, interval: dt.timedelta) -> None:
        """Apply each event and make each dispatcher pass that has work, in time order, up to ``end``."""
        origin = self.clock.now.replace(hour=0, minute=0, second=0, microsecond=0)
        last_pass = None
        while True:
            work = self._next_pass_work()
            next_pass = None if work is None else _grid(max(work, self.clock.now), origin, interval)
            if next_pass is not None and next_pass == last_pass:  # work a pass left for later: the next pass
                next_pass += interval
            event_at = self.events[0].at if self.events else None
            if event_at is not None and (next_pass is None or event_at <= next_pass):
                event = heapq.heappop(self.events)
                if event.at >= end:
                    break
                self.clock.now = max(self.clock.now, event.at)
                self._apply(event, kinds)
            elif next_pass is not None and next_pass < end:
                self.clock.now = last_pass = next_pass
                escalations.dispatch_once(self.engine, lambda _policy: self.senders, self.clock)
            else:
                break

    def _next_pass_work(self) -> dt.datetime | None:
        """When a dispatcher pass next has work: the earliest queued notification or due escalation."""
        message, state = models.OutboxMessage, models.EscalationState
        with Session(self.engine) as session:
            queued = session.scalar(select(func.min(message.created_at))
                                    .where(message.status == DeliveryStatus.PENDING.value))
            due = session.scalar(select(func.min(state.next_due_at)))
        times = [t for t in (queued, due) if t is not None]
        return min(times) if times else None

    def _apply(self, event: _Event, kinds: dict[int, tuple[str, Priority]]) -> None:
        now = self.clock.now
        run = self.run_of.get(event.alarm_id)
        if event.order == _REFILL:
            self._refill(event.alarm_id, now)
            return
        if event.order == _RAISE:
            if run is not None and run in self.refilled:
                self.prevented.add(event.alarm_id)
                return
            kind, priority = kinds[event.alarm_id]
            escalations.raise_alarm(self.engine, AlarmRaised(event.alarm_id, kind, priority), now)
            return
        if event.alarm_id in self.prevented:
            return
        state = escalations.escalation(self.engine, event.alarm_id)
        if state.phase.closed or state.phase is Phase.ACKNOWLEDGED:
            return
        if event.order == _CLEAR:
            escalations.clear(self.engine, event.alarm_id, "the alarm cleared (the pump's log or the clinic's record)",
                              now)
            return
        escalations.acknowledge(self.engine, event.alarm_id, event.person, now)
        visits = self.responders.refill_visits
        delay = None if visits is None or run is None else visits.after(AlarmKind(kinds[event.alarm_id][0]))
        if delay is not None:
            self.push(_Event(now + delay, _REFILL, event.alarm_id))

    def _refill(self, alarm_id: int, now: dt.datetime) -> None:
        """A refill visit an acknowledgement of ``alarm_id`` led to: the pump of its reservoir run is refilled now
        (the first visit counts), which clears the run's alarms still escalating."""
        run = self.run_of[alarm_id]
        if run in self.refilled:
            return
        self.refilled[run] = now
        for other, of in self.run_of.items():
            if of != run or other in self.prevented:
                continue
            try:
                state = escalations.escalation(self.engine, other)
            except EscalationError:
                continue  # not raised yet: it never will be
            if not state.phase.closed and state.phase is not Phase.ACKNOWLEDGED:
                escalations.clear(self.engine, other, "refilled at the visit the acknowledgement led to", now)

    def _send(self, note: Notification) -> None:
        """A simulated transport: fails with its channel's share; a delivered staff notification may bring its
        person's acknowledgement (once per alarm, tier and person)."""
        draw = self._rng(note.alarm_id, note.tier, note.recipient, 1 + list(Channel).index(note.channel))
        if draw.random() < self.responders.delivery_failures.of(note.channel):
            raise DeliveryFailed(f"simulated {note.channel.value} failure")
        key = (note.alarm_id, note.tier, note.recipient)
        if note.audience is not Audience.STAFF or key in self.answered:
            return
        self.answered.add(key)
        role = self.policy.tiers[note.tier].role
        draw = self._rng(note.alarm_id, note.tier, note.recipient, 0)
        if draw.random() >= self.responders.response(role, note.priority).acknowledge_share:
            return
        delay = self.responders.delay(role, note.priority, self.clock.now, self.policy.zone)
        minutes = float(draw.lognormal(delay.mu, delay.sigma))
        self.push(_Event(self.clock.now + dt.timedelta(minutes=minutes), _ACK, note.alarm_id, note.recipient))

    def _rng(self, alarm_id: int, tier: int, recipient: str, stream: int) -> np.random.Generator:
        return np.random.default_rng([*self.seed, alarm_id, tier, zlib.crc32(recipient.encode()), stream])


def _iso(at: dt.datetime | None) -> str:
    return "" if at is None else at.isoformat()


def _grid(at: dt.datetime, origin: dt.datetime, interval: dt.timedelta) -> dt.datetime:
    """The first pass time at or after ``at``: passes fall every ``interval`` from ``origin``."""
    steps = -((origin - at) // interval)
    return origin + steps * interval


def _outcome(engine: Engine, replicate: int, alarm_id: int) -> AlarmOutcome:
    state = escalations.escalation(engine, alarm_id)
    log = escalations.escalation_log(engine, alarm_id)
    notified = {n.tier for n in escalations.outbox(engine, alarm_id) if n.audience == Audience.STAFF.value}
    acked = state.acknowledged_at
    ending = (Ending.ACKNOWLEDGED if acked is not None else
              Ending.CLEARED if state.phase is Phase.CLEARED else Ending.UNANSWERED)
    return AlarmOutcome(
        replicate, alarm_id, state.kind, state.priority, state.raised_at, len(notified),
        any(e.kind is LogKind.EXHAUSTED for e in log), ending, state.tier if acked is not None else None,
        None if acked is None else (acked - state.raised_at).total_seconds() / 60)

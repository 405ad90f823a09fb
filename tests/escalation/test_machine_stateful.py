"""Stateful property tests of escalation (hypothesis): many alarms, time passing, deliveries and failures,
acknowledgements, duplicates, crashes and restarts.

The model keeps what the registry keeps: each alarm's state as a record (:func:`to_record`) and an outbox that
holds one row per idempotency key, both written together when a step commits. A crash throws away a step that
was computed but not committed; a restart rebuilds every state from its record. The clock wakes at each
escalation's next due time, as the dispatcher does.

Invariants (docs/escalation.md: ESC-NODROP-1, ESC-TIMELY-1, ESC-ONCE-1, ESC-DUP-1): no alarm is dropped (it is
acknowledged, closed, exhausted, or still has a due time); each tier of a high-priority alarm is reached within the
sum of the timeouts of the tiers before it; an exhausted escalation notified every tier and logged its failure;
each notification key is committed exactly once; a duplicate changes nothing.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from typing import Any

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from openidds.escalation import (
    AlarmRaised,
    Audience,
    Channel,
    Contact,
    DeliveryStatus,
    Escalation,
    LogKind,
    Notification,
    Phase,
    Priority,
    Step,
    acknowledge,
    advance,
    clear,
    from_record,
    merge_duplicate,
    raise_alarm,
    record_delivery,
    record_failure,
    to_record,
)

from .policies import example_policy

POLICY = example_policy()
KINDS = {Priority.HIGH: "empty_reservoir", Priority.MEDIUM: "low_reservoir",
         Priority.LOW: "elective_replacement_indicator"}
CONTACTS = (Contact(Channel.EMAIL, "carer@home.example"),)


def _budget(priority: Priority, tiers: int) -> dt.timedelta:
    """The sum of the timeouts of the first ``tiers`` tiers."""
    return sum((t.timeout_minutes.of(priority) for t in POLICY.tiers[:tiers]), dt.timedelta())


class Escalations(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.records: dict[int, dict[str, Any]] = {}
        self.outbox: dict[str, Notification] = {}
        self.status: dict[str, DeliveryStatus] = {}
        self.log: list[Any] = []
        self.committed: Counter[str] = Counter()
        self.now = dt.datetime(2026, 1, 1)

    @initialize(start=st.datetimes(min_value=dt.datetime(2026, 1, 1), max_value=dt.datetime(2026, 12, 31)))
    def start(self, start: dt.datetime) -> None:
        self.now = start.replace(second=0, microsecond=0)

    # --- the registry: state and outbox committed together -------------------------------------------------------

    def state(self, alarm_id: int) -> Escalation:
        return from_record(self.records[alarm_id])

    def commit(self, step: Step) -> None:
        self.records[step.escalation.alarm_id] = to_record(step.escalation)
        for note in step.outbox:
            self.committed[note.key] += 1
            if note.key not in self.outbox:
                self.outbox[note.key], self.status[note.key] = note, DeliveryStatus.PENDING
        self.log += step.log

    def pending(self) -> list[str]:
        return sorted(k for k, s in self.status.items() if s is DeliveryStatus.PENDING)

    # --- rules -----------------------------------------------------------------------------------------------------

    @rule(alarm_id=st.integers(1, 6), priority=st.sampled_from(Priority), contacts=st.booleans())
    def alarm_arrives(self, alarm_id: int, priority: Priority, contacts: bool) -> None:
        if alarm_id in self.records:
            state = self.state(alarm_id)
            alarm = AlarmRaised(alarm_id, state.kind, state.priority, CONTACTS if contacts else ())
            step = merge_duplicate(state, alarm, self.now)
            assert step.escalation == state and step.outbox == ()
        else:
            step = raise_alarm(AlarmRaised(alarm_id, KINDS[priority], priority, CONTACTS if contacts else ()),
                               POLICY, self.now)
        self.commit(step)

    @rule(minutes=st.integers(0, 24 * 60))
    def time_passes(self, minutes: int) -> None:
        """The dispatcher wakes at each due time up to ``now + minutes``, in order."""
        target = self.now + dt.timedelta(minutes=minutes)
        while True:
            due = [(s.next_due, s.alarm_id) for s in map(self.state, self.records)
                   if s.next_due is not None and s.next_due <= target]
            if not due:
                break
            at, alarm_id = min(due)
            self.now = max(self.now, at)
            self.commit(advance(self.state(alarm_id), POLICY, self.now))
        self.now = target

    @precondition(lambda self: self.pending())
    @rule(data=st.data(), delivered=st.booleans())
    def transport_answers(self, data: st.DataObject, delivered: bool) -> None:
        key = data.draw(st.sampled_from(self.pending()))
        note = self.outbox[key]
        state = self.state(note.alarm_id)
        if delivered:
            step = record_delivery(state, key, self.now)
        else:
            step = record_failure(state, key, "connection refused", POLICY, self.now)
        self.status[key] = DeliveryStatus.DELIVERED if delivered else DeliveryStatus.FAILED
        self.commit(step)

    @precondition(lambda self: self.records)
    @rule(data=st.data())
    def someone_acknowledges(self, data: st.DataObject) -> None:
        state = self.state(data.draw(st.sampled_from(sorted(self.records))))
        if state.phase.closed:
            return
        step = acknowledge(state, "nurse_day", self.now)
        assert step.escalation.next_due is None or step.escalation.next_due == state.patient_due_at
        self.commit(step)

    @precondition(lambda self: self.records)
    @rule(data=st.data())
    def alarm_clears(self, data: st.DataObject) -> None:
        state = self.state(data.draw(st.sampled_from(sorted(self.records))))
        if not state.phase.closed:
            self.commit(clear(state, "cleared in the pump log", self.now))

    @precondition(lambda self: self.records)
    @rule(data=st.data())
    def crash_before_commit(self, data: st.DataObject) -> None:
        """A step computed, then the server dies before its transaction commits: nothing of it is kept."""
        state = self.state(data.draw(st.sampled_from(sorted(self.records))))
        advance(state, POLICY, self.now + dt.timedelta(hours=1))

    @rule()
    def restart(self) -> None:
        """Everything in memory is lost; the states are read back from their records."""
        self.records = {alarm_id: to_record(from_record(record)) for alarm_id, record in self.records.items()}

    # --- invariants ------------------------------------------------------------------------------------------------

    @invariant()
    def each_notification_is_committed_once(self) -> None:
        assert all(count == 1 for count in self.committed.values()), self.committed.most_common(3)

    @invariant()
    def no_alarm_is_dropped(self) -> None:
        for state in map(self.state, self.records):
            if state.phase.escalating:
                assert state.due_at is not None and state.due_at > self.now, state

    @invariant()
    def each_tier_is_reached_within_the_timeouts_before_it(self) -> None:
        for state in map(self.state, self.records):
            if state.priority is Priority.HIGH and state.phase.escalating:
                assert state.phase is not Phase.RAISED
                assert state.due_at is not None
                assert state.due_at <= state.raised_at + _budget(Priority.HIGH, state.tier + 1)

    @invariant()
    def every_notified_tier_holds_someone_on_call(self) -> None:
        for state in map(self.state, self.records):
            notified = {n.tier for n in self.outbox.values()
                        if n.alarm_id == state.alarm_id and n.audience is Audience.STAFF}
            if state.phase in (Phase.NOTIFIED, Phase.DELIVERED, Phase.EXHAUSTED):
                assert notified == set(range(state.tier + 1))

    @invariant()
    def an_exhausted_escalation_logged_its_failure(self) -> None:
        for state in map(self.state, self.records):
            if state.phase is Phase.EXHAUSTED:
                assert state.tier == len(POLICY.tiers) - 1
                assert any(e.kind is LogKind.EXHAUSTED and e.alarm_id == state.alarm_id for e in self.log)
                if state.priority is Priority.HIGH:
                    failed = any(e.kind is LogKind.DELIVERY_FAILED and e.alarm_id == state.alarm_id for e in self.log)
                    assert failed or self.now >= state.raised_at + _budget(Priority.HIGH, len(POLICY.tiers))


TestEscalations = Escalations.TestCase
TestEscalations.settings = settings(max_examples=150, stateful_step_count=40, deadline=None,
                                    suppress_health_check=[HealthCheck.too_slow])

"""Stateful property test of the registry's outbox on a real SQLite database (hypothesis): alarms arrive and
arrive again, dispatcher passes run with transports that fail at random, people acknowledge, and the server
restarts (a new engine on the same file, nothing kept in memory).

Invariants (ESC-ONCE-1, ESC-NODROP-1): each tier of each alarm was notified once, with exactly one outbox row per
person on call and channel; an open unacknowledged alarm always has a next due time; nothing stays claimed
after a dispatcher's pass.
"""

from __future__ import annotations

import datetime as dt
import tempfile
from collections import Counter
from pathlib import Path

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule
from sqlalchemy import Engine

from openidds.clinic import connect, escalations, init_registry
from openidds.escalation import AlarmRaised, Channel, LogKind, Notification, Phase, Priority

from .policies import example_policy, installed

POLICY = example_policy()
KINDS = {Priority.HIGH: "empty_reservoir", Priority.MEDIUM: "low_reservoir", Priority.LOW: "memory_error"}


class Outbox(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.folder = tempfile.TemporaryDirectory()
        self.path = Path(self.folder.name) / "registry.sqlite"
        self.engine: Engine = connect(str(self.path))
        init_registry(self.engine)
        installed(self.engine, POLICY)
        self.now = dt.datetime(2026, 12, 1, 11, 0)
        self.alarms: dict[int, Priority] = {}
        self.failing: frozenset[Channel] = frozenset()

    def teardown(self) -> None:
        self.engine.dispose()
        self.folder.cleanup()

    def _send(self, channel: Channel) -> escalations.Sender:
        def send(note: Notification) -> None:
            if channel in self.failing:
                raise escalations.DeliveryFailed("connection refused")
        return send

    @rule(alarm_id=st.integers(1, 4), priority=st.sampled_from(Priority))
    def alarm_arrives(self, alarm_id: int, priority: Priority) -> None:
        priority = self.alarms.setdefault(alarm_id, priority)
        escalations.raise_alarm(self.engine, AlarmRaised(alarm_id, KINDS[priority], priority), self.now)

    @rule(minutes=st.sampled_from([0, 5, 10, 15, 60, 240, 600]),
          failing=st.frozensets(st.sampled_from(Channel), max_size=3))
    def dispatcher_pass(self, minutes: int, failing: frozenset[Channel]) -> None:
        self.now += dt.timedelta(minutes=minutes)
        self.failing = failing
        escalations.dispatch_once(self.engine, lambda _: {c: self._send(c) for c in Channel}, lambda: self.now)
        assert all(r.status != "pending" for r in escalations.outbox(self.engine)), "a pass leaves nothing queued"
        for row in escalations.outbox(self.engine):
            if row.status == "cancelled":
                assert escalations.escalation(self.engine, row.alarm_id).phase is Phase.ACKNOWLEDGED

    @precondition(lambda self: self.alarms)
    @rule(data=st.data())
    def someone_acknowledges(self, data: st.DataObject) -> None:
        alarm_id = data.draw(st.sampled_from(sorted(self.alarms)))
        escalations.acknowledge(self.engine, alarm_id, "nurse_day", self.now)

    @rule()
    def restart(self) -> None:
        self.engine.dispose()
        self.engine = connect(str(self.path))

    @invariant()
    def each_tier_notified_once_per_person_and_channel(self) -> None:
        for alarm_id in self.alarms:
            state = escalations.escalation(self.engine, alarm_id)
            rows = [r for r in escalations.outbox(self.engine, alarm_id) if r.audience == "staff"]
            per_tier = Counter(r.tier for r in rows)
            for tier, count in per_tier.items():
                assert count == len(POLICY.tiers[tier].channels)  # one person on call per role in the example
            notified = Counter(e.reason.split("; tier ")[1].split(" ")[0]
                               for e in escalations.escalation_log(self.engine, alarm_id)
                               if e.kind in (LogKind.NOTIFIED, LogKind.ESCALATED))
            assert all(n == 1 for n in notified.values()), notified
            assert len(notified) == len(per_tier)
            if state.phase.escalating:
                assert state.next_due is not None and state.next_due > self.now
            if state.phase in (Phase.NOTIFIED, Phase.DELIVERED, Phase.EXHAUSTED):
                assert set(per_tier) == set(range(state.tier + 1))


TestOutbox = Outbox.TestCase
TestOutbox.settings = settings(max_examples=15, stateful_step_count=15, deadline=None,
                               suppress_health_check=[HealthCheck.too_slow])

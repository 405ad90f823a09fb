"""The escalation's state and transactional outbox in the registry, on SQLite and PostgreSQL: one notification
per tier across restarts and crashed dispatchers, failures that escalate, acknowledgements that stop, an audit
trail of every attempt (ESC-ONCE-1, ESC-DUP-1, ESC-FAIL-1)."""

from __future__ import annotations

import datetime as dt
import threading
from collections import Counter

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from openidds.clinic import connect, escalations, models, unit_of_work
from openidds.escalation import (
    AlarmRaised,
    Channel,
    Contact,
    EscalationError,
    LogKind,
    Notification,
    Phase,
    Priority,
)

from .policies import example_policy, installed

POLICY = example_policy()
NOON = dt.datetime(2026, 12, 1, 11, 0)
EMPTY = AlarmRaised(41, "empty_reservoir", Priority.HIGH)
OUR_TABLES = {"escalations", "escalation_outbox", "escalation_log", "board_messages", "escalation_policies"}


@pytest.fixture(autouse=True)
def _policy_installed(engine: Engine) -> None:
    installed(engine, POLICY)


class Recorder:
    """Senders that keep what they were given, and fail for the channels told to."""

    def __init__(self, failing: frozenset[Channel] = frozenset()) -> None:
        self.sent: list[Notification] = []
        self.failing = failing

    def senders(self) -> dict[Channel, escalations.Sender]:
        return {channel: self._sender(channel) for channel in Channel}

    def _sender(self, channel: Channel) -> escalations.Sender:
        def send(note: Notification) -> None:
            if channel in self.failing:
                raise escalations.DeliveryFailed(f"{channel.value}: connection refused")
            self.sent.append(note)
        return send


def _clock(at: dt.datetime) -> dt.datetime:
    return at


def _keys_per_tier(engine: Engine, alarm_id: int) -> Counter[int]:
    return Counter(row.tier for row in escalations.outbox(engine, alarm_id) if row.audience == "staff")


def test_the_migration_creates_the_tables_as_the_models_say(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), models.Base.metadata)
    ours = [d for d in diff if any(name in repr(d) for name in OUR_TABLES)]
    assert ours == []


def test_an_alarm_escalates_tier_by_tier_through_the_outbox(engine: Engine) -> None:
    escalations.raise_alarm(engine, EMPTY, NOON)
    rec = Recorder()
    summary = escalations.dispatch_once(engine, lambda _: rec.senders(), lambda: NOON)
    assert (summary.delivered, summary.failed) == (2, 0)
    assert {(n.recipient, n.channel) for n in rec.sent} == {("nurse_day", Channel.BOARD),
                                                             ("nurse_day", Channel.EMAIL)}
    assert escalations.escalation(engine, 41).phase is Phase.DELIVERED
    later = NOON + dt.timedelta(minutes=10)
    escalations.dispatch_once(engine, lambda _: rec.senders(), lambda: later)
    assert {n.recipient for n in rec.sent[2:]} == {"dr_oncall"}
    state = escalations.acknowledge(engine, 41, "dr_oncall", later + dt.timedelta(minutes=2))
    assert state.phase is Phase.ACKNOWLEDGED
    escalations.dispatch_once(engine, lambda _: rec.senders(), lambda: later + dt.timedelta(hours=3))
    assert len(rec.sent) == 5  # nobody after the acknowledgement
    kinds = [e.kind for e in escalations.escalation_log(engine, 41)]
    assert kinds == [LogKind.RAISED, LogKind.NOTIFIED, LogKind.DELIVERED, LogKind.DELIVERED, LogKind.ESCALATED,
                     LogKind.DELIVERED, LogKind.DELIVERED, LogKind.DELIVERED, LogKind.ACKNOWLEDGED]
    with Session(engine) as session:
        audited = Counter(session.scalars(select(models.AuditEntry.table_name)).all())
    assert audited["escalation_outbox"] == 5 + 2 * 5  # each row inserted, claimed, then marked delivered
    assert audited["escalations"] >= 6


def test_a_step_and_its_notifications_commit_or_roll_back_together(engine: Engine) -> None:
    with pytest.raises(RuntimeError), unit_of_work(engine, "nurse_day") as session:
        escalations.raise_in(session, EMPTY, NOON)
        raise RuntimeError("the server stops before the commit")
    assert escalations.outbox(engine) == []
    with pytest.raises(EscalationError, match="raise it first"):
        escalations.escalation(engine, 41)
    with unit_of_work(engine, "nurse_day") as session:
        escalations.raise_in(session, EMPTY, NOON)
        escalations.acknowledge_in(session, 41, "nurse_day", NOON)
    assert escalations.escalation(engine, 41).phase is Phase.ACKNOWLEDGED
    assert len(escalations.outbox(engine, 41)) == 2


def test_a_restart_mid_escalation_notifies_each_tier_once(db_url: str, engine: Engine) -> None:
    escalations.raise_alarm(engine, EMPTY, NOON)
    escalations.dispatch_once(engine, lambda _: Recorder().senders(), lambda: NOON)
    later = NOON + dt.timedelta(minutes=10)
    assert escalations.advance_due(engine, later) == 1
    engine.dispose()
    restarted = connect(db_url)  # the server came back: a new process, nothing in memory
    assert escalations.advance_due(restarted, later) == 0
    escalations.raise_alarm(restarted, EMPTY, later)  # the next interrogation brings it in again
    rec = Recorder()
    escalations.dispatch_once(restarted, lambda _: rec.senders(), lambda: later)
    assert {n.recipient for n in rec.sent} == {"dr_oncall"}
    assert _keys_per_tier(restarted, 41) == Counter({0: 2, 1: 3})
    restarted.dispose()


def test_a_notification_for_an_alarm_already_acknowledged_is_not_sent(engine: Engine) -> None:
    escalations.raise_alarm(engine, AlarmRaised(42, "low_reservoir", Priority.MEDIUM,
                                                (Contact(Channel.EMAIL, "carer@home.example"),)), NOON)
    escalations.raise_alarm(engine, EMPTY, NOON)
    escalations.acknowledge(engine, 42, "nurse_day", NOON)  # before the dispatcher's pass
    rec = Recorder()
    summary = escalations.dispatch_once(engine, lambda _: rec.senders(), lambda: NOON)
    assert sorted((n.alarm_id, n.recipient) for n in rec.sent) == [(41, "nurse_day"), (41, "nurse_day"),
                                                                    (42, "patient")]
    assert summary.delivered == 3
    statuses = Counter(r.status for r in escalations.outbox(engine, 42))
    assert statuses == Counter({"cancelled": 2, "delivered": 1})


def test_a_dispatcher_that_died_mid_send_leaves_its_rows_to_the_next_after_the_lease(engine: Engine) -> None:
    escalations.raise_alarm(engine, EMPTY, NOON)
    claimed = escalations.claim(engine, NOON)  # ... and the process dies before sending
    assert len(claimed) == 2
    assert escalations.claim(engine, NOON + dt.timedelta(minutes=1)) == []
    again = escalations.claim(engine, NOON + escalations.LEASE)
    assert [n.key for n in again] == [n.key for n in claimed]
    for note in again:
        escalations.record_delivery(engine, note.key, NOON + escalations.LEASE)
    escalations.record_delivery(engine, again[0].key, NOON + escalations.LEASE)  # the first dispatcher, late
    rows = escalations.outbox(engine, 41)
    assert [(r.status, r.attempts) for r in rows] == [("delivered", 2), ("delivered", 2)]


def test_a_tier_that_cannot_be_reached_escalates_at_once(engine: Engine) -> None:
    escalations.raise_alarm(engine, EMPTY, NOON)
    rec = Recorder(failing=frozenset({Channel.BOARD, Channel.EMAIL}))
    summary = escalations.dispatch_once(engine, lambda _: rec.senders(), lambda: NOON)
    # tier 0 failed, then tier 1 (board, e-mail failed; the webhook got through)
    assert summary.failed == 4 and summary.delivered == 1
    assert [(n.recipient, n.channel) for n in rec.sent] == [("dr_oncall", Channel.WEBHOOK)]
    state = escalations.escalation(engine, 41)
    assert (state.tier, state.phase) == (1, Phase.DELIVERED)
    failed = [r for r in escalations.outbox(engine, 41) if r.status == "failed"]
    assert len(failed) == 4 and all("connection refused" in (r.last_error or "") for r in failed)


def test_a_sender_that_breaks_is_a_failure_and_the_pass_goes_on(engine: Engine) -> None:
    escalations.raise_alarm(engine, EMPTY, NOON)
    rec = Recorder()
    send = rec.senders()

    def broken(note: Notification) -> None:
        raise ValueError("bad header")

    send[Channel.EMAIL] = broken
    summary = escalations.dispatch_once(engine, lambda _: send, lambda: NOON)
    assert (summary.delivered, summary.failed) == (1, 1)
    failed = [r.last_error for r in escalations.outbox(engine, 41) if r.status == "failed"]
    assert failed == ["ValueError: bad header"]


def test_every_channel_failing_ends_at_the_last_tier_with_a_logged_failure(engine: Engine) -> None:
    escalations.raise_alarm(engine, EMPTY, NOON)
    rec = Recorder(failing=frozenset(Channel))
    escalations.dispatch_once(engine, lambda _: rec.senders(), lambda: NOON)
    state = escalations.escalation(engine, 41)
    assert (state.tier, state.phase) == (2, Phase.EXHAUSTED)
    assert escalations.escalation_log(engine, 41)[-1].kind is LogKind.EXHAUSTED
    assert escalations.acknowledge(engine, 41, "lead", NOON).phase is Phase.ACKNOWLEDGED


def test_a_duplicate_alarm_sends_nothing_more(engine: Engine) -> None:
    escalations.raise_alarm(engine, EMPTY, NOON)
    escalations.raise_alarm(engine, EMPTY, NOON + dt.timedelta(minutes=1))
    assert len(escalations.outbox(engine, 41)) == 2
    with pytest.raises(EscalationError, match="priority='low'"):
        escalations.raise_alarm(engine, AlarmRaised(41, "empty_reservoir", Priority.LOW), NOON)


def test_a_self_clearing_alarm_closes_with_its_reason(engine: Engine) -> None:
    escalations.raise_alarm(engine, EMPTY, NOON)
    state = escalations.clear(engine, 41, "alarm_cleared in the pump log (refilled)", NOON + dt.timedelta(minutes=3))
    assert (state.phase, state.closed_reason) == (Phase.CLEARED, "alarm_cleared in the pump log (refilled)")
    assert escalations.advance_due(engine, NOON + dt.timedelta(hours=1)) == 0
    with pytest.raises(EscalationError, match="raise it first"):
        escalations.acknowledge(engine, 999, "nurse_day", NOON)


def test_two_dispatchers_never_claim_the_same_notification(engine: Engine) -> None:
    for alarm_id in range(1, 21):
        escalations.raise_alarm(engine, AlarmRaised(alarm_id, "motor_stall", Priority.HIGH), NOON)
    claimed: list[list[Notification]] = [[], []]
    start = threading.Barrier(2)

    def run(slot: int) -> None:
        start.wait()
        while batch := escalations.claim(engine, NOON, limit=3):
            claimed[slot] += batch

    threads = [threading.Thread(target=run, args=(i,)) for i in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    keys = [n.key for part in claimed for n in part]
    assert len(keys) == len(set(keys)) == 40
    with Session(engine) as session:
        assert session.scalar(select(func.max(models.OutboxMessage.attempts))) == 1

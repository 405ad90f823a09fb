"""The escalation state machine step by step: tiers, timeouts, quiet hours, failures, duplicates, closing
(ESC-TIMELY-1, ESC-DUP-1)."""

from __future__ import annotations

import datetime as dt

import pytest

from openidds.escalation import (
    AlarmRaised,
    Audience,
    Channel,
    Contact,
    EscalationError,
    LogKind,
    Phase,
    Priority,
    acknowledge,
    advance,
    clear,
    from_record,
    merge_duplicate,
    raise_alarm,
    record_delivery,
    record_failure,
    resolve,
    to_record,
)

from .policies import example_policy

POLICY = example_policy()
NOON = dt.datetime(2026, 12, 1, 11, 0)  # 12:00 in Paris
NIGHT = dt.datetime(2026, 12, 1, 2, 0)  # 03:00 in Paris: quiet hours
EMPTY = AlarmRaised(7, "empty_reservoir", Priority.HIGH)
LOW_RESERVOIR = AlarmRaised(8, "low_reservoir", Priority.MEDIUM, (Contact(Channel.EMAIL, "carer@home.example"),))


def test_a_high_alarm_notifies_the_nurse_then_each_tier_after_its_timeout() -> None:
    step = raise_alarm(EMPTY, POLICY, NOON)
    assert step.escalation.phase is Phase.NOTIFIED
    assert [(n.recipient, n.channel) for n in step.outbox] == [("nurse_day", Channel.BOARD),
                                                                ("nurse_day", Channel.EMAIL)]
    assert step.escalation.due_at == NOON + dt.timedelta(minutes=10)
    assert "escalates to the physician" in step.outbox[0].body
    assert advance(step.escalation, POLICY, NOON + dt.timedelta(minutes=9)).outbox == ()
    tier1 = advance(step.escalation, POLICY, NOON + dt.timedelta(minutes=10))
    assert tier1.escalation.tier == 1
    assert {n.recipient for n in tier1.outbox} == {"dr_oncall"}
    assert tier1.log[-1].kind is LogKind.ESCALATED
    tier2 = advance(tier1.escalation, POLICY, NOON + dt.timedelta(minutes=20))
    assert {n.recipient for n in tier2.outbox} == {"lead"}
    end = advance(tier2.escalation, POLICY, NOON + dt.timedelta(minutes=35))
    assert end.escalation.phase is Phase.EXHAUSTED and end.outbox == ()
    assert end.log[-1].kind is LogKind.EXHAUSTED and "nobody acknowledged" in end.log[-1].reason
    assert end.escalation.next_due is None


def test_a_high_alarm_is_never_held_by_quiet_hours_but_a_medium_one_waits() -> None:
    high = raise_alarm(EMPTY, POLICY, NIGHT)
    assert high.escalation.phase is Phase.NOTIFIED
    assert {n.recipient for n in high.outbox} == {"nurse_night"}
    medium = raise_alarm(LOW_RESERVOIR, POLICY, NIGHT)
    assert medium.escalation.phase is Phase.RAISED and medium.outbox == ()
    morning = dt.datetime(2026, 12, 1, 6, 0)  # 07:00 in Paris
    assert medium.escalation.next_due == morning
    woken = advance(medium.escalation, POLICY, morning)
    assert woken.escalation.phase is Phase.NOTIFIED
    assert {(n.audience, n.recipient) for n in woken.outbox} == {(Audience.STAFF, "nurse_day"),
                                                                  (Audience.PATIENT, "patient")}
    patient = next(n for n in woken.outbox if n.audience is Audience.PATIENT)
    assert patient.address == "carer@home.example" and "book a refill appointment" in patient.body


def test_acknowledging_stops_the_escalation() -> None:
    step = raise_alarm(EMPTY, POLICY, NOON)
    acked = acknowledge(step.escalation, "nurse_day", NOON + dt.timedelta(minutes=4))
    assert acked.escalation.phase is Phase.ACKNOWLEDGED and acked.escalation.next_due is None
    assert advance(acked.escalation, POLICY, NOON + dt.timedelta(hours=5)).outbox == ()
    again = acknowledge(acked.escalation, "nurse_day", NOON + dt.timedelta(minutes=5))
    assert again.escalation == acked.escalation
    done = resolve(acked.escalation, "nurse_day", "refilled", NOON + dt.timedelta(minutes=30))
    assert done.escalation.phase is Phase.RESOLVED
    with pytest.raises(EscalationError, match="an open alarm to acknowledge: it was resolved"):
        acknowledge(done.escalation, "dr_oncall", NOON + dt.timedelta(minutes=31))


def test_an_alarm_acknowledged_after_the_last_tier_is_still_taken() -> None:
    state = raise_alarm(EMPTY, POLICY, NOON).escalation
    for minutes in (10, 20, 35):
        state = advance(state, POLICY, NOON + dt.timedelta(minutes=minutes)).escalation
    assert state.phase is Phase.EXHAUSTED
    assert acknowledge(state, "lead", NOON + dt.timedelta(minutes=50)).escalation.acknowledged_by == "lead"


def test_an_escalation_beyond_a_shortened_policy_ends_with_a_logged_failure() -> None:
    state = raise_alarm(EMPTY, POLICY, NOON).escalation
    for minutes in (10, 20):
        state = advance(state, POLICY, NOON + dt.timedelta(minutes=minutes)).escalation
    assert state.tier == 2
    shorter = example_policy(tiers=[t.model_dump(mode="json") for t in POLICY.tiers[:1]])
    end = advance(state, shorter, NOON + dt.timedelta(minutes=35))
    assert end.escalation.phase is Phase.EXHAUSTED and end.outbox == ()
    assert "no tier is left after tier 2" in end.log[-1].reason


def test_a_tier_whose_every_notification_failed_escalates_at_once() -> None:
    step = raise_alarm(AlarmRaised(9, "motor_stall", Priority.HIGH), POLICY, NOON)
    board, email = (n.key for n in step.outbox)
    failed = record_failure(step.escalation, email, "connection refused", POLICY, NOON)
    assert failed.escalation.tier == 0 and failed.outbox == ()  # the board still holds it
    both = record_failure(failed.escalation, board, "board unavailable", POLICY, NOON)
    assert both.escalation.tier == 1 and {n.recipient for n in both.outbox} == {"dr_oncall"}
    assert [e.kind for e in both.log] == [LogKind.DELIVERY_FAILED, LogKind.ESCALATED]


def test_a_delivery_is_recorded() -> None:
    step = raise_alarm(EMPTY, POLICY, NOON)
    delivered = record_delivery(step.escalation, step.outbox[0].key, NOON)
    assert delivered.escalation.phase is Phase.DELIVERED
    later = record_failure(delivered.escalation, step.outbox[1].key, "timed out", POLICY, NOON)
    assert later.escalation.tier == 0  # one notification arrived: the timeout, not the failure, moves it on


def test_a_duplicate_changes_nothing_and_a_mismatch_is_refused() -> None:
    state = raise_alarm(EMPTY, POLICY, NOON).escalation
    merged = merge_duplicate(state, EMPTY, NOON + dt.timedelta(minutes=3))
    assert merged.escalation == state and merged.outbox == ()
    with pytest.raises(EscalationError, match="alarm 7 priority='medium': expected high"):
        merge_duplicate(state, AlarmRaised(7, "empty_reservoir", Priority.MEDIUM), NOON)


def test_an_alarm_that_clears_by_itself_is_closed_with_its_reason() -> None:
    state = raise_alarm(LOW_RESERVOIR, POLICY, NOON).escalation
    cleared = clear(state, "refilled at the clinic (pump log: alarm_cleared)", NOON + dt.timedelta(minutes=20))
    assert cleared.escalation.phase is Phase.CLEARED
    assert cleared.escalation.closed_reason == "refilled at the clinic (pump log: alarm_cleared)"
    assert cleared.escalation.next_due is None
    with pytest.raises(EscalationError, match="reason"):
        clear(state, " ", NOON)


def test_bad_alarms_are_refused() -> None:
    with pytest.raises(EscalationError, match="naive UTC"):
        raise_alarm(EMPTY, POLICY, NOON.replace(tzinfo=dt.UTC))
    with pytest.raises(EscalationError, match="alarm_id=0"):
        raise_alarm(AlarmRaised(0, "x", Priority.LOW), POLICY, NOON)


def test_a_record_round_trips() -> None:
    state = raise_alarm(LOW_RESERVOIR, POLICY, NIGHT).escalation
    assert from_record(to_record(state)) == state

"""The escalation of one alarm, as a state machine whose steps are pure functions.

raised → notified → delivered → acknowledged → resolved; or, unacknowledged when a tier's timeout runs out (or
every notification of the tier failed), the next tier is notified, tier by tier; after the last tier the
escalation is *exhausted*: a logged failure, and the alarm stays open for anyone to acknowledge. An alarm that
clears by itself is closed with its reason. Each step takes the time (``now``, naive UTC) and returns a
:class:`Step`: the new state, the notifications to write to the outbox, and log entries that say why.

A medium or low alarm due during quiet hours waits for their end (phase ``raised``, or the next tier later);
a high-priority alarm never waits. Patient notices go out with the first tier, outside quiet hours.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, replace
from enum import Enum

from openidds.escalation.channels import Channel
from openidds.escalation.errors import EscalationError
from openidds.escalation.notification import (
    Audience,
    Contact,
    DeliveryStatus,
    Notification,
    patient_key,
    staff_key,
)
from openidds.escalation.policy import Policy
from openidds.escalation.priority import Priority


class Phase(str, Enum):
    RAISED = "raised"
    """Known to the clinic, nobody notified yet: a medium or low alarm waiting for quiet hours to end."""
    NOTIFIED = "notified"
    """The current tier's notifications are in the outbox."""
    DELIVERED = "delivered"
    """A transport accepted one of the current tier's notifications."""
    ACKNOWLEDGED = "acknowledged"
    """Someone accepted responsibility: escalation stops."""
    EXHAUSTED = "exhausted"
    """The last tier did not acknowledge in time: a logged failure; the alarm stays open."""
    RESOLVED = "resolved"
    CLEARED = "cleared"
    """The alarm cleared by itself (a refill, a pump that recovered), with its reason."""

    @property
    def closed(self) -> bool:
        return self in (Phase.RESOLVED, Phase.CLEARED)

    @property
    def escalating(self) -> bool:
        """Whether a timeout still moves it on (nobody has acknowledged and tiers remain)."""
        return self in (Phase.RAISED, Phase.NOTIFIED, Phase.DELIVERED)


class LogKind(str, Enum):
    RAISED = "raised"
    HELD = "held"
    NOTIFIED = "notified"
    PATIENT_NOTIFIED = "patient notified"
    DELIVERED = "delivered"
    DELIVERY_FAILED = "delivery failed"
    ESCALATED = "escalated"
    EXHAUSTED = "exhausted"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"
    CLEARED = "cleared"
    DUPLICATE = "duplicate merged"


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One thing that happened to an escalation, with who (if a person) and why."""

    at: dt.datetime
    alarm_id: int
    kind: LogKind
    reason: str
    who: str | None = None


@dataclass(frozen=True, slots=True)
class AlarmRaised:
    """An alarm as it reaches the clinic: its id in the clinic's alarm record, what it is, how urgent, and the
    patient's or caregiver's contacts (for what they can act on)."""

    alarm_id: int
    kind: str
    priority: Priority
    patient_contacts: tuple[Contact, ...] = ()


@dataclass(frozen=True, slots=True)
class Escalation:
    """Where one alarm's escalation stands. ``deliveries`` are the current tier's staff notifications."""

    alarm_id: int
    kind: str
    priority: Priority
    raised_at: dt.datetime
    phase: Phase
    tier: int
    due_at: dt.datetime | None
    deliveries: tuple[tuple[str, DeliveryStatus], ...] = ()
    patient_contacts: tuple[Contact, ...] = ()
    patient_due_at: dt.datetime | None = None
    acknowledged_by: str | None = None
    acknowledged_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None
    closed_reason: str | None = None

    @property
    def next_due(self) -> dt.datetime | None:
        """The earliest time :func:`advance` has something to do, ``None`` when nothing is waiting."""
        times = [t for t in (self.due_at, self.patient_due_at) if t is not None]
        return None if self.phase.closed or not times else min(times)


@dataclass(frozen=True, slots=True)
class Step:
    """A step's result: the new state, the notifications to send, and why."""

    escalation: Escalation
    outbox: tuple[Notification, ...] = ()
    log: tuple[LogEntry, ...] = ()

    def then(self, step: Step) -> Step:
        """This step followed by ``step`` (which was computed from this step's state)."""
        return Step(step.escalation, self.outbox + step.outbox, self.log + step.log)


def raise_alarm(alarm: AlarmRaised, policy: Policy, now: dt.datetime) -> Step:
    """A new escalation for ``alarm``, reaching the clinic at ``now``: the first tier notified at once, unless a
    medium or low alarm arrives in quiet hours (then it waits for their end)."""
    if now.tzinfo is not None:
        raise EscalationError("now", now.isoformat(), "a naive UTC time (no time zone attached)")
    if alarm.alarm_id <= 0:
        raise EscalationError("alarm_id", alarm.alarm_id, "the alarm record's id, a positive integer")
    notices = policy.patient_notices
    wants_patient = bool(alarm.patient_contacts) and notices is not None and alarm.kind in {
        k.value for k in notices.alarms}
    state = Escalation(alarm.alarm_id, alarm.kind, alarm.priority, now, Phase.RAISED, 0, now,
                       patient_contacts=alarm.patient_contacts if wants_patient else (),
                       patient_due_at=now if wants_patient else None)
    raised = Step(state, log=(LogEntry(now, alarm.alarm_id, LogKind.RAISED,
                                       f"{alarm.priority.value}-priority {alarm.kind} reached the clinic"),))
    return raised.then(advance(state, policy, now))


def merge_duplicate(state: Escalation, alarm: AlarmRaised, now: dt.datetime) -> Step:
    """The same alarm seen again (a second interrogation): the state is unchanged, nobody is notified again. A
    different kind or priority under the same alarm id is refused."""
    for name, mine, theirs in (("kind", state.kind, alarm.kind), ("priority", state.priority, alarm.priority)):
        if mine != theirs:
            raise EscalationError(f"alarm {alarm.alarm_id} {name}", getattr(theirs, "value", theirs),
                                  f"{getattr(mine, 'value', mine)}, as when it was raised (a different alarm needs "
                                  "its own alarm id)")
    return Step(state, log=(LogEntry(now, state.alarm_id, LogKind.DUPLICATE,
                                     f"seen again; escalation unchanged ({state.phase.value})"),))


def advance(state: Escalation, policy: Policy, now: dt.datetime) -> Step:
    """What is due at ``now``: a held alarm's first notification, the next tier after a timeout, or a patient
    notice; nothing when nothing is due. One tier at most per call: the next tier's timer starts at ``now``."""
    step = Step(state)
    if state.patient_due_at is not None and state.patient_due_at <= now and not state.phase.closed:
        step = step.then(_notify_patient(step.escalation, policy, now))
    current = step.escalation
    if not current.phase.escalating or current.due_at is None or current.due_at > now:
        return step
    if current.phase is Phase.RAISED:
        return step.then(_notify_tier(current, policy, 0, now, "raised"))
    return step.then(_escalate(current, policy, now, f"{_tier_name(policy, current.tier)} did not acknowledge in time"))


def record_delivery(state: Escalation, key: str, now: dt.datetime) -> Step:
    """A transport accepted the notification ``key``."""
    log = (LogEntry(now, state.alarm_id, LogKind.DELIVERED, f"{key} delivered"),)
    if dict(state.deliveries).get(key) is not DeliveryStatus.PENDING:
        return Step(state, log=log)
    phase = Phase.DELIVERED if state.phase is Phase.NOTIFIED else state.phase
    return Step(replace(state, phase=phase, deliveries=_with(state.deliveries, key, DeliveryStatus.DELIVERED)),
                log=log)


def record_failure(state: Escalation, key: str, reason: str, policy: Policy, now: dt.datetime) -> Step:
    """A transport refused the notification ``key`` (connection refused, timeout): recorded; when none of the
    current tier's notifications is left pending or delivered, the next tier is notified at once."""
    log = (LogEntry(now, state.alarm_id, LogKind.DELIVERY_FAILED, f"{key}: {reason}"),)
    if dict(state.deliveries).get(key) is not DeliveryStatus.PENDING:
        return Step(state, log=log)
    failed = Step(replace(state, deliveries=_with(state.deliveries, key, DeliveryStatus.FAILED)), log=log)
    current = failed.escalation
    if current.phase.escalating and all(s is DeliveryStatus.FAILED for _, s in current.deliveries):
        return failed.then(_escalate(current, policy, now, f"every notification of tier {current.tier} failed"))
    return failed


def acknowledge(state: Escalation, by: str, now: dt.datetime) -> Step:
    """``by`` accepts the alarm: escalation stops. Acknowledging again changes nothing; a closed alarm is refused."""
    _refuse_closed(state, "acknowledge")
    if state.phase is Phase.ACKNOWLEDGED:
        return Step(state, log=(LogEntry(now, state.alarm_id, LogKind.ACKNOWLEDGED,
                                         f"already acknowledged by {state.acknowledged_by}", by),))
    waited = int((now - state.raised_at).total_seconds() // 60)
    return Step(replace(state, phase=Phase.ACKNOWLEDGED, due_at=None, acknowledged_by=by, acknowledged_at=now),
                log=(LogEntry(now, state.alarm_id, LogKind.ACKNOWLEDGED,
                              f"acknowledged at tier {state.tier} after {waited} min", by),))


def resolve(state: Escalation, by: str, reason: str, now: dt.datetime) -> Step:
    """``by`` closes the alarm (the problem is dealt with), with ``reason``."""
    return _close(state, Phase.RESOLVED, "resolve", reason, now, by)


def clear(state: Escalation, reason: str, now: dt.datetime) -> Step:
    """The alarm cleared by itself (``reason``: the pump's own clearing, a refill): closed, escalation stops."""
    return _close(state, Phase.CLEARED, "clear", reason, now, None)


def _close(state: Escalation, phase: Phase, action: str, reason: str, now: dt.datetime, by: str | None) -> Step:
    _refuse_closed(state, action)
    if not reason.strip():
        raise EscalationError("reason", reason, f"why the alarm is {phase.value} (it is kept in the log)")
    return Step(replace(state, phase=phase, due_at=None, patient_due_at=None, closed_at=now, closed_reason=reason),
                log=(LogEntry(now, state.alarm_id, LogKind(phase.value), reason, by),))


def _refuse_closed(state: Escalation, action: str) -> None:
    if state.phase.closed:
        raise EscalationError(f"alarm {state.alarm_id}", state.phase.value,
                              f"an open alarm to {action}: it was {state.phase.value} at "
                              f"{state.closed_at:%Y-%m-%d %H:%M} UTC ({state.closed_reason})")


def _escalate(state: Escalation, policy: Policy, now: dt.datetime, why: str) -> Step:
    if state.tier >= len(policy.tiers) - 1:  # the last tier (or beyond it, under a policy since shortened)
        return Step(replace(state, phase=Phase.EXHAUSTED, due_at=None),
                    log=(LogEntry(now, state.alarm_id, LogKind.EXHAUSTED,
                                  f"{why}; no tier is left after {_tier_name(policy, state.tier)}: nobody "
                                  "acknowledged, the alarm stays open"),))
    return _notify_tier(state, policy, state.tier + 1, now, why)


def _notify_tier(state: Escalation, policy: Policy, tier: int, now: dt.datetime, why: str) -> Step:
    quiet_end = policy.quiet_until(now)
    if state.priority is not Priority.HIGH and quiet_end is not None:
        return Step(replace(state, due_at=quiet_end),
                    log=(LogEntry(now, state.alarm_id, LogKind.HELD,
                                  f"{why}; {state.priority.value} priority waits for the end of quiet hours "
                                  f"({quiet_end:%Y-%m-%d %H:%M} UTC)"),))
    spec = policy.tiers[tier]
    due = now + spec.timeout_minutes.of(state.priority)
    people = policy.on_call(spec.role, now)
    outbox = tuple(_staff_message(state, policy, tier, person, channel, now, due)
                   for person in people for channel in spec.channels)
    kind = LogKind.NOTIFIED if tier == 0 else LogKind.ESCALATED
    return Step(replace(state, phase=Phase.NOTIFIED, tier=tier, due_at=due,
                        deliveries=tuple((n.key, DeliveryStatus.PENDING) for n in outbox)),
                outbox=outbox,
                log=(LogEntry(now, state.alarm_id, kind,
                              f"{why}; tier {tier} ({spec.role.value}: {', '.join(people)}) notified, acknowledge by "
                              f"{due:%Y-%m-%d %H:%M} UTC"),))


def _notify_patient(state: Escalation, policy: Policy, now: dt.datetime) -> Step:
    quiet_end = policy.quiet_until(now)
    if quiet_end is not None:
        return Step(replace(state, patient_due_at=quiet_end))
    notices = policy.patient_notices
    assert notices is not None  # a patient notice is only ever due under a policy that has them
    action = next(text for kind, text in notices.alarms.items() if kind.value == state.kind)
    outbox = tuple(Notification(patient_key(state.alarm_id, c), state.alarm_id, 0, Audience.PATIENT, "patient",
                                c.channel, c.address, state.priority, now, f"Your pump: {state.kind}",
                                f"Your pump reported {state.kind.replace('_', ' ')}. Please {action}.")
                   for c in state.patient_contacts if c.channel in notices.channels)
    return Step(replace(state, patient_due_at=None), outbox=outbox,
                log=(LogEntry(now, state.alarm_id, LogKind.PATIENT_NOTIFIED,
                              f"{len(outbox)} patient or caregiver notice(s): {action}"),))


def _staff_message(state: Escalation, policy: Policy, tier: int, person: str, channel: Channel, now: dt.datetime,
                   due: dt.datetime) -> Notification:
    spec = policy.tiers[tier]
    address = policy.people[person].address(channel, person)
    assert address is not None  # every address a tier needs is checked when the policy is loaded
    after = (f"Unacknowledged, it escalates to the {policy.tiers[tier + 1].role.value} at {due:%Y-%m-%d %H:%M} UTC."
             if tier + 1 < len(policy.tiers) else
             f"You are the last tier: unacknowledged at {due:%Y-%m-%d %H:%M} UTC, it is logged as a failure.")
    return Notification(
        staff_key(state.alarm_id, tier, person, channel), state.alarm_id, tier, Audience.STAFF, person, channel,
        address, state.priority, now,
        f"[{state.priority.value.upper()}] pump alarm {state.kind} (alarm {state.alarm_id})",
        f"{state.priority.value.capitalize()}-priority alarm {state.kind} (alarm {state.alarm_id}) reached the clinic "
        f"at {state.raised_at:%Y-%m-%d %H:%M} UTC. You are on call as {spec.role.value}: acknowledge it on the "
        f"OpenIDDS alarm board. {after}")


def _with(deliveries: tuple[tuple[str, DeliveryStatus], ...], key: str,
          status: DeliveryStatus) -> tuple[tuple[str, DeliveryStatus], ...]:
    return tuple((k, status if k == key else s) for k, s in deliveries)


def _tier_name(policy: Policy, tier: int) -> str:
    return f"tier {tier} ({policy.tiers[tier].role.value})" if tier < len(policy.tiers) else f"tier {tier}"

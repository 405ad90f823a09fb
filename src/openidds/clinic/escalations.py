"""Alarm escalation in the registry: each alarm's escalation state, the transactional outbox of its notifications,
and the dispatcher that sends them.

Every step of :mod:`openidds.escalation` commits in one transaction with the notifications it decided on (the
outbox, one row per idempotency key: alarm, tier, recipient, channel) and its log entries, so a tier is notified
exactly once even when the server stops mid-escalation: either the state moved on and its notifications are
queued, or neither happened. The dispatcher claims queued rows for a lease (PostgreSQL ``SELECT ... FOR UPDATE
SKIP LOCKED``, so two dispatchers never claim the same row; SQLite: the database's write lock), sends each through
its channel's sender outside any transaction, then records delivery or failure together with the step that
follows (a tier whose every notification failed is escalated at once). A row whose dispatcher died mid-send is
claimed again when its lease ends: transports carry the idempotency key so a receiver can drop the repeat.

Every change is written through :func:`openidds.clinic.unit_of_work`, so the audit trail holds each attempt,
delivery, acknowledgement and escalation with its author and time.

The policy is the registry's (:mod:`openidds.clinic.escalation_policies`): a new escalation runs under the current
version and keeps it to its end (its row names the version); the dispatcher sends through the current version's
transports. The clinic's alarm record follows the escalation once a policy is installed: each new open alarm raises
its escalation, and acknowledging, resolving or the pump's clearing of the alarm acknowledges, resolves or clears
it, each in the alarm's own transaction (:func:`alarm_opened_in` and its siblings). Without a policy the alarm
record escalates nothing.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, func, or_, select
from sqlalchemy.orm import Session

from openidds import escalation as core
from openidds.clinic import escalation_policies, models, store
from openidds.clinic.database import unit_of_work
from openidds.clinic.errors import ConcurrentUpdateError
from openidds.clinic.locking import begin_write
from openidds.errors import OpenIDDSError
from openidds.escalation import Channel, DeliveryStatus, Escalation, EscalationError, Notification, Policy, Step

DISPATCHER = "openidds escalation"
"""The audit trail's author of what the dispatcher writes."""
LEASE = dt.timedelta(minutes=5)
"""How long a claimed outbox row is left to its dispatcher before another may send it again (a pass claims no more
rows than it can send within half of it, each taking at most its transport's timeout)."""

Sender = Callable[[Notification], None]
"""Sends one notification; raises :class:`DeliveryFailed` when its transport refuses or does not answer."""
Senders = Callable[[Policy], Mapping[Channel, Sender]]
"""The sender of each channel, set up from a policy's ``[transports]``."""


class DeliveryFailed(Exception):
    """A transport could not deliver a notification (connection refused, timeout, an error answer)."""


@dataclass(frozen=True, slots=True)
class DispatchSummary:
    """What one pass of the dispatcher did."""

    advanced: int
    delivered: int
    failed: int


def read_policy(path: Path, option: str = "--policy") -> Policy:
    """The clinic's escalation policy file (``.toml`` or ``.json``), refused naming ``option`` when it is missing
    or wrong."""
    from openidds.escalation import PolicyFormat, parse_policy
    from openidds.text_files import read_text

    file_format = PolicyFormat.of_name(path.name)
    if not path.is_file():
        raise OpenIDDSError(option, str(path), "an existing policy file (docs/escalation-policy.toml is an example)")
    return parse_policy(read_text(path, option=None), file_format)


def alarm_opened_in(session: Session, alarm_id: int, kind: str, priority: core.Priority, now: dt.datetime) -> None:
    """A new open alarm of the clinic's record: its escalation starts in the same transaction, if the registry
    holds a policy."""
    if escalation_policies.current_in(session) is not None:
        raise_in(session, core.AlarmRaised(alarm_id, kind, priority), now)


def alarm_acknowledged_in(session: Session, alarm_id: int, by: str, now: dt.datetime) -> None:
    """The alarm was acknowledged on the board: its escalation (if it has one) stops."""
    _follow(session, alarm_id, lambda state: core.acknowledge(state, by, now))


def alarm_resolved_in(session: Session, alarm_id: int, by: str, reason: str, now: dt.datetime) -> None:
    """The alarm was resolved on the board: its escalation (if it has one) is resolved with ``reason``."""
    _follow(session, alarm_id, lambda state: core.resolve(state, by, reason, now))


def alarm_cleared_in(session: Session, alarm_id: int, reason: str, now: dt.datetime) -> None:
    """A source says the alarm ended (the pump cleared it): its escalation (if it has one and is open) closes
    with ``reason``."""
    _follow(session, alarm_id, lambda state: core.clear(state, reason, now))


def _follow(session: Session, alarm_id: int, step_of: Callable[[Escalation], Step]) -> None:
    """Apply ``step_of`` to the alarm's escalation, if one was started and is not closed already."""
    row = _locked(session, alarm_id)
    if row is not None:
        state = core.from_record(row)
        if not state.phase.closed:
            _commit(session, row, step_of(state))


def raise_alarm(engine: Engine, alarm: core.AlarmRaised, now: dt.datetime, user: str = DISPATCHER) -> Escalation:
    """Start escalating ``alarm`` under the registry's current policy; an alarm id already known is merged as a
    duplicate (nothing is sent again, even when two interrogations bring it in at the same moment: the second one
    then finds the first one's row)."""
    try:
        with unit_of_work(engine, user) as session:
            return raise_in(session, alarm, now)
    except ConcurrentUpdateError:
        with unit_of_work(engine, user) as session:
            return raise_in(session, alarm, now)


def raise_in(session: Session, alarm: core.AlarmRaised, now: dt.datetime) -> Escalation:
    """:func:`raise_alarm` within the caller's unit of work (the alarm record and its escalation in one
    transaction)."""
    row = _locked(session, alarm.alarm_id)
    if row is not None:
        return _commit(session, row, core.merge_duplicate(core.from_record(row), alarm, now))
    current = _current(session)
    return _commit(session, None, core.raise_alarm(alarm, current.policy, now), current.number)


def acknowledge(engine: Engine, alarm_id: int, by: str, now: dt.datetime) -> Escalation:
    """``by`` accepts the alarm: its escalation stops."""
    with unit_of_work(engine, by) as session:
        return acknowledge_in(session, alarm_id, by, now)


def acknowledge_in(session: Session, alarm_id: int, by: str, now: dt.datetime) -> Escalation:
    """:func:`acknowledge` within the caller's unit of work."""
    return _apply(session, alarm_id, lambda state: core.acknowledge(state, by, now))


def resolve(engine: Engine, alarm_id: int, by: str, reason: str, now: dt.datetime) -> Escalation:
    """``by`` closes the alarm, with ``reason``."""
    with unit_of_work(engine, by) as session:
        return resolve_in(session, alarm_id, by, reason, now)


def resolve_in(session: Session, alarm_id: int, by: str, reason: str, now: dt.datetime) -> Escalation:
    """:func:`resolve` within the caller's unit of work."""
    return _apply(session, alarm_id, lambda state: core.resolve(state, by, reason, now))


def clear(engine: Engine, alarm_id: int, reason: str, now: dt.datetime, user: str = DISPATCHER) -> Escalation:
    """The alarm cleared by itself: its escalation closes with ``reason``."""
    with unit_of_work(engine, user) as session:
        return clear_in(session, alarm_id, reason, now)


def clear_in(session: Session, alarm_id: int, reason: str, now: dt.datetime) -> Escalation:
    """:func:`clear` within the caller's unit of work."""
    return _apply(session, alarm_id, lambda state: core.clear(state, reason, now))


def escalation(engine: Engine, alarm_id: int) -> Escalation:
    """The escalation of ``alarm_id`` as stored."""
    with Session(engine) as session:
        row = session.scalars(select(models.EscalationState)
                              .where(models.EscalationState.alarm_id == alarm_id)).one_or_none()
        if row is None:
            raise _unknown(alarm_id)
        return core.from_record(row)


def escalation_count(engine: Engine) -> int:
    """How many escalations the registry holds (one per alarm ever escalated): the difference across an import is
    how many it started."""
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(models.EscalationState)) or 0


def escalation_log(engine: Engine, alarm_id: int) -> list[core.LogEntry]:
    """What happened to the escalation of ``alarm_id``, oldest first."""
    log = models.EscalationLogEntry
    with Session(engine) as session:
        rows = session.scalars(select(log).where(log.alarm_id == alarm_id).order_by(log.id)).all()
        return [core.LogEntry(r.at, r.alarm_id, core.LogKind(r.kind), r.reason, r.who) for r in rows]


@dataclass(frozen=True, slots=True)
class Standing:
    """Where an alarm's escalation stands, as the alarm board shows it: its phase, its tier (0 for the first) of
    the ``tiers`` its policy version has, who has it (whoever acknowledged it, else the staff its current tier
    notified) and how long it waited for someone (minutes from its raising to its acknowledgement or closing, else
    to now; None for an alarm raised after that moment, a data error the board shows as such)."""

    phase: core.Phase
    tier: int
    tiers: int
    holders: tuple[str, ...]
    waited_minutes: int | None

    def to_dict(self) -> dict[str, object]:
        return {"phase": self.phase.value, "tier": self.tier, "tiers": self.tiers, "holders": list(self.holders),
                "waited_minutes": self.waited_minutes}


def standings(engine: Engine, alarm_ids: Collection[int], now: dt.datetime) -> dict[int, Standing]:
    """The escalation of each of ``alarm_ids`` that has one, at ``now`` (naive UTC)."""
    state, message = models.EscalationState, models.OutboxMessage
    out: dict[int, Standing] = {}
    with Session(engine) as session:
        for chunk in store.chunks(sorted(set(alarm_ids))):
            rows = [(core.from_record(r), len(_policy_of(session, r).tiers))
                    for r in session.scalars(select(state).where(state.alarm_id.in_(chunk)))]
            notified: dict[tuple[int, int], list[str]] = {}
            for alarm_id, tier, recipient in session.execute(
                    select(message.alarm_id, message.tier, message.recipient)
                    .where(message.alarm_id.in_(chunk), message.audience == core.Audience.STAFF.value)
                    .order_by(message.id)):
                notified.setdefault((alarm_id, tier), []).append(recipient)
            for e, tiers in rows:
                holders = ((e.acknowledged_by,) if e.acknowledged_by else
                           tuple(dict.fromkeys(notified.get((e.alarm_id, e.tier), []))))
                until = e.acknowledged_at or e.closed_at or now
                waited = None if until < e.raised_at else int((until - e.raised_at).total_seconds() // 60)
                out[e.alarm_id] = Standing(e.phase, e.tier, tiers, holders, waited)
    return out


def outbox(engine: Engine, alarm_id: int | None = None) -> list[models.OutboxMessage]:
    """The outbox rows (of one alarm, or all), oldest first."""
    message = models.OutboxMessage
    query = select(message).order_by(message.id)
    if alarm_id is not None:
        query = query.where(message.alarm_id == alarm_id)
    with Session(engine, expire_on_commit=False) as session:
        return list(session.scalars(query).all())


def advance_due(engine: Engine, now: dt.datetime) -> int:
    """Advance every open escalation due at ``now`` (a timeout, the end of quiet hours), each under its own policy
    version; returns how many moved. Each is its own transaction, its row locked (PostgreSQL: skipped when another
    dispatcher holds it)."""
    state = models.EscalationState
    with Session(engine) as session:
        due = session.scalars(select(state.alarm_id).where(state.next_due_at <= now)
                              .order_by(state.next_due_at)).all()
    moved = 0
    for alarm_id in due:
        with unit_of_work(engine, DISPATCHER) as session:
            row = _locked(session, alarm_id, skip_locked=True)
            if row is None or row.next_due_at is None or row.next_due_at > now:
                continue
            _commit(session, row, core.advance(core.from_record(row), _policy_of(session, row), now))
            moved += 1
    return moved


def claim(engine: Engine, now: dt.datetime, limit: int = 100) -> list[Notification]:
    """Claim up to ``limit`` queued notifications for :data:`LEASE` (never one another dispatcher holds). A staff
    notification whose alarm was acknowledged or closed meanwhile is cancelled instead: nobody is paged for an
    alarm someone already took."""
    message, state = models.OutboxMessage, models.EscalationState
    query = (select(message)
             .where(message.status == DeliveryStatus.PENDING.value,
                    or_(message.claimed_until.is_(None), message.claimed_until <= now))
             .order_by(message.id).limit(limit).with_for_update(skip_locked=True))
    taken = select(state.alarm_id).where(state.phase.in_([p.value for p in _TAKEN]))
    with unit_of_work(engine, DISPATCHER) as session:
        begin_write(session.connection())
        while rows := session.scalars(query).all():
            done = set(session.scalars(taken.where(state.alarm_id.in_({row.alarm_id for row in rows}))).all())
            claimed = []
            for row in rows:
                if row.alarm_id in done and row.audience == core.Audience.STAFF.value:
                    row.status, row.last_error = DeliveryStatus.CANCELLED.value, "acknowledged or closed before sending"
                else:
                    row.claimed_until, row.attempts = now + LEASE, row.attempts + 1
                    claimed.append(_notification(row))
            if claimed:
                return claimed
        return []


_TAKEN = (core.Phase.ACKNOWLEDGED, core.Phase.RESOLVED, core.Phase.CLEARED)
"""Phases in which nobody needs paging for the alarm any more."""


def record_delivery(engine: Engine, key: str, now: dt.datetime) -> None:
    """The transport accepted the notification ``key``."""
    _record(engine, key, now, None, lambda state, _: core.record_delivery(state, key, now))


def record_failure(engine: Engine, key: str, reason: str, now: dt.datetime) -> None:
    """The transport refused the notification ``key``; the escalation moves on (under its own policy version) if
    its tier has nobody left."""
    _record(engine, key, now, reason, lambda state, policy: core.record_failure(state, key, reason, policy, now))


def dispatch_once(engine: Engine, senders: Senders, clock: Callable[[], dt.datetime]) -> DispatchSummary:
    """One pass: advance what is due, then send every queued notification through the transports of the
    registry's current policy (``senders`` sets them up) and record how it went. Any error of a sender is recorded
    as the notification's failure (and escalates): a broken transport never stops the pass. Refused with a
    :class:`PolicyError` when no policy is installed."""
    with Session(engine) as session:
        policy = _current(session).policy
    send = senders(policy)
    advanced = advance_due(engine, clock())
    delivered = failed = 0
    while batch := claim(engine, clock(), _batch_size(policy)):
        for note in batch:
            try:
                send[note.channel](note)
            except Exception as exc:
                reason = str(exc) if isinstance(exc, DeliveryFailed) else f"{type(exc).__name__}: {exc}"
                record_failure(engine, note.key, reason, clock())
                failed += 1
            else:
                record_delivery(engine, note.key, clock())
                delivered += 1
        advanced += advance_due(engine, clock())
    return DispatchSummary(advanced, delivered, failed)


def _batch_size(policy: Policy) -> int:
    """As many notifications as the slowest transport can send within half a lease."""
    slowest_s = max(policy.transports.webhook.timeout_s,
                    policy.transports.email.timeout_s if policy.transports.email is not None else 0.0)
    return max(1, int(LEASE.total_seconds() / 2 // slowest_s))


def _record(engine: Engine, key: str, now: dt.datetime, error: str | None,
            step_of: Callable[[Escalation, Policy], Step]) -> None:
    message = models.OutboxMessage
    with unit_of_work(engine, DISPATCHER) as session:
        begin_write(session.connection())
        row = session.scalars(select(message).where(message.idempotency_key == key).with_for_update()).one_or_none()
        if row is None:
            raise EscalationError("notification", key, "a notification in the outbox")
        if row.status != DeliveryStatus.PENDING.value:
            return  # recorded already (a second dispatcher after a lease ran out)
        row.status = (DeliveryStatus.FAILED if error else DeliveryStatus.DELIVERED).value
        row.sent_at, row.last_error, row.claimed_until = (None if error else now), error, None
        state = _locked(session, row.alarm_id)
        if state is not None:
            _commit(session, state, step_of(core.from_record(state), _policy_of(session, state)))


def _apply(session: Session, alarm_id: int, step_of: Callable[[Escalation], Step]) -> Escalation:
    row = _locked(session, alarm_id)
    if row is None:
        raise _unknown(alarm_id)
    return _commit(session, row, step_of(core.from_record(row)))


def _locked(session: Session, alarm_id: int, skip_locked: bool = False) -> models.EscalationState | None:
    """The escalation row of ``alarm_id``, locked for this transaction (SQLite: the database's write lock)."""
    begin_write(session.connection())
    state = models.EscalationState
    return session.scalars(select(state).where(state.alarm_id == alarm_id)
                           .with_for_update(skip_locked=skip_locked)).one_or_none()


def _current(session: Session) -> escalation_policies.PolicyVersion:
    current = escalation_policies.current_in(session)
    if current is None:
        raise core.PolicyError("escalation policy", None, "an installed policy: `openidds alarms install-policy "
                               "FILE`, or the web app's escalation settings")
    return current


def _policy_of(session: Session, row: models.EscalationState) -> Policy:
    """The policy version the escalation was raised under (the current one for an escalation raised before the
    registry kept its policy's versions)."""
    if row.policy_version is None:
        return _current(session).policy
    return escalation_policies.policy_in(session, row.policy_version)


def _commit(session: Session, row: models.EscalationState | None, step: Step,
            policy_version: int | None = None) -> Escalation:
    """Write ``step``: the new state (a new one under ``policy_version``), its outbox rows (one per key, never a
    second) and its log entries."""
    values = core.to_record(step.escalation)
    if row is None:
        session.add(models.EscalationState(**values, policy_version=policy_version))
    else:
        for name, value in values.items():
            if getattr(row, name) != value:
                setattr(row, name, value)
    if step.outbox:
        keys = [n.key for n in step.outbox]
        known = set(session.scalars(select(models.OutboxMessage.idempotency_key)
                                    .where(models.OutboxMessage.idempotency_key.in_(keys))).all())
        session.add_all(_outbox_row(n) for n in step.outbox if n.key not in known)
    session.add_all(models.EscalationLogEntry(alarm_id=e.alarm_id, at=e.at, kind=e.kind.value, reason=e.reason,
                                              who=e.who) for e in step.log)
    return step.escalation


def _outbox_row(note: Notification) -> models.OutboxMessage:
    return models.OutboxMessage(
        idempotency_key=note.key, alarm_id=note.alarm_id, tier=note.tier, audience=note.audience.value,
        recipient=note.recipient, channel=note.channel.value, address=note.address, priority=note.priority.value,
        subject=note.subject, body=note.body, created_at=note.created_at, status=DeliveryStatus.PENDING.value,
        attempts=0)


def _notification(row: models.OutboxMessage) -> Notification:
    return Notification(row.idempotency_key, row.alarm_id, row.tier, core.Audience(row.audience), row.recipient,
                        Channel(row.channel), row.address, core.Priority(row.priority), row.created_at, row.subject,
                        row.body)


def _unknown(alarm_id: int) -> EscalationError:
    return EscalationError("alarm_id", alarm_id, "an alarm whose escalation was started (raise it first)")

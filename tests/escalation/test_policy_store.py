"""The escalation policy in the registry, on SQLite and PostgreSQL: numbered, audited versions; a stale edit is
refused; new alarms escalate under the current version while a running escalation keeps the version it started
with."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openidds.clinic import escalation_policies, escalations, models
from openidds.clinic.errors import ConcurrentUpdateError
from openidds.escalation import AlarmRaised, Channel, Notification, Phase, PolicyError, Priority, policy_from

from .policies import example_data, example_policy

NOON = dt.datetime(2026, 12, 1, 11, 0)  # 12:00 in Paris: no quiet hours
V1 = example_policy()


def _slower_nurse() -> dict[str, object]:
    data = example_data()
    data["tiers"][0]["timeout_minutes"]["high"] = 30
    return data


V2 = policy_from(_slower_nurse())


def _send(engine: Engine, at: dt.datetime) -> list[Notification]:
    sent: list[Notification] = []
    escalations.dispatch_once(engine, lambda _: {c: sent.append for c in Channel}, lambda: at)
    return sent


def test_versions_are_numbered_audited_and_the_highest_is_current(engine: Engine) -> None:
    assert escalation_policies.current(engine) is None
    first = escalation_policies.install(engine, V1, "dr_oncall", NOON, "settings page", based_on=None)
    second = escalation_policies.install(engine, V2, "lead", NOON + dt.timedelta(hours=1), "settings page",
                                         based_on=1)
    assert (first.number, second.number) == (1, 2)
    current = escalation_policies.current(engine)
    assert current is not None and (current.number, current.installed_by, current.policy) == (2, "lead", V2)
    assert [v.number for v in escalation_policies.history(engine)] == [2, 1]
    with Session(engine) as session:
        audit = session.scalars(select(models.AuditEntry)
                                .where(models.AuditEntry.table_name == "escalation_policies")
                                .order_by(models.AuditEntry.id)).all()
    assert [(a.user_name, a.action) for a in audit] == [("dr_oncall", "insert"), ("lead", "insert")]


def test_an_edit_based_on_an_older_version_is_refused_and_writes_nothing(engine: Engine) -> None:
    escalation_policies.install(engine, V1, "dr_oncall", NOON, "settings page", based_on=None)
    escalation_policies.install(engine, V2, "lead", NOON, "settings page", based_on=1)
    with pytest.raises(ConcurrentUpdateError) as caught:
        escalation_policies.install(engine, V1, "dr_oncall", NOON, "settings page", based_on=1)
    assert caught.value.value == "version 1" and "current version 2 (installed by lead" in caught.value.expected
    with pytest.raises(ConcurrentUpdateError):
        escalation_policies.install(engine, V1, "dr_oncall", NOON, "settings page", based_on=None)
    assert [v.number for v in escalation_policies.history(engine)] == [2, 1]


def test_installing_the_same_file_again_adds_no_version(engine: Engine) -> None:
    for _ in range(2):
        escalation_policies.install_file(engine, V1, "lead", NOON, "file escalation-policy.toml")
    escalation_policies.install_file(engine, V2, "lead", NOON, "file slower.toml")
    assert [(v.number, v.source) for v in escalation_policies.history(engine)] == [
        (2, "file slower.toml"), (1, "file escalation-policy.toml")]


def test_a_running_escalation_keeps_the_version_it_started_with(engine: Engine) -> None:
    """Under version 1 the nurse has 10 minutes for a high alarm; version 2, installed while the first alarm
    waits, gives 30. The first alarm still escalates to the physician at 10 minutes; an alarm raised after the edit
    waits 30."""
    escalation_policies.install(engine, V1, "lead", NOON, "settings page", based_on=None)
    escalations.raise_alarm(engine, AlarmRaised(1, "empty_reservoir", Priority.HIGH), NOON)
    escalation_policies.install(engine, V2, "lead", NOON + dt.timedelta(minutes=1), "settings page", based_on=1)
    escalations.raise_alarm(engine, AlarmRaised(2, "motor_stall", Priority.HIGH), NOON + dt.timedelta(minutes=1))
    assert escalations.escalation(engine, 2).due_at == NOON + dt.timedelta(minutes=31)
    _send(engine, NOON + dt.timedelta(minutes=1))
    paged = _send(engine, NOON + dt.timedelta(minutes=10))
    assert {(n.alarm_id, n.tier, n.recipient) for n in paged} == {(1, 1, "dr_oncall")}
    assert escalations.escalation(engine, 2).phase is Phase.DELIVERED
    with Session(engine) as session:
        versions = {alarm_id: version for alarm_id, version in session.execute(
            select(models.EscalationState.alarm_id, models.EscalationState.policy_version))}
    assert versions == {1: 1, 2: 2}
    standing = escalations.standings(engine, [1, 2], NOON + dt.timedelta(minutes=10))
    assert (standing[1].tier, standing[1].tiers) == (1, 3)
    assert (standing[1].waited_minutes, standing[2].waited_minutes) == (10, 9)
    before = escalations.standings(engine, [2], NOON)  # a moment before alarm 2 was raised: no wait, not 0
    assert before[2].waited_minutes is None and before[2].to_dict()["waited_minutes"] is None


def test_nothing_escalates_without_a_policy(engine: Engine) -> None:
    with pytest.raises(PolicyError) as caught:
        escalations.raise_alarm(engine, AlarmRaised(1, "empty_reservoir", Priority.HIGH), NOON)
    assert caught.value.field == "escalation policy" and "an installed policy" in caught.value.expected
    with pytest.raises(PolicyError):
        _send(engine, NOON)


def test_the_migration_keeps_escalations_raised_before_it_and_they_follow_the_current_version(
        engine: Engine) -> None:
    """Migration 0009 down and up again around an escalation stored without a policy version: the row survives,
    and the dispatcher moves it on under the current version."""
    from alembic import command

    from openidds.clinic.database import _alembic_config

    escalation_policies.install(engine, V1, "lead", NOON, "settings page", based_on=None)
    escalations.raise_alarm(engine, AlarmRaised(7, "empty_reservoir", Priority.HIGH), NOON)
    config = _alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.downgrade(config, "0008")
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    with Session(engine) as session:
        row = session.scalars(select(models.EscalationState)).one()
        assert (row.alarm_id, row.policy_version) == (7, None)
    escalation_policies.install(engine, V1, "lead", NOON, "settings page", based_on=None)  # dropped by the downgrade
    escalation_policies.install(engine, V2, "lead", NOON, "file slower.toml", based_on=1)
    sent = _send(engine, NOON + dt.timedelta(minutes=10))  # its queued tier-0 notices, then the timeout it kept
    assert {(n.tier, n.recipient) for n in sent} == {(0, "nurse_day"), (1, "dr_oncall")}
    assert escalations.escalation(engine, 7).tier == 1

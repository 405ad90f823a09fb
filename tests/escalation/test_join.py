"""The clinic's alarm record drives escalation, on SQLite and PostgreSQL: an alarm derived from an imported pump
log raises its escalation in the import's transaction when the registry has a policy; acknowledging the alarm
stops it (no later tier is notified); an alarm the pump clears closes it with its reason."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session
from tests.escalation.policies import example_policy, installed

from openidds.clinic import escalations, import_batch, import_pump_log, read_paths
from openidds.clinic.alarms import AlarmSource, Resolution, acknowledge, resolve
from openidds.clinic.database import with_clock
from openidds.clinic.models import ClinicAlarm
from openidds.escalation import Channel, Notification, Phase

DATA = Path(__file__).resolve().parents[1] / "data" / "clinic"
IMPLANT = dt.date(2022, 9, 1)
DAY = 86400
NOW = dt.datetime(2022, 10, 20, 9, 0)  # 11:00 in Paris: no quiet hours
POLICY = example_policy()


def _log(tmp_path: Path, events: list[dict[str, Any]]) -> Path:
    raw = json.loads((DATA / "pump_log.json").read_text())
    raw["events"] += events
    path = tmp_path / f"log{len(events)}.json"
    path.write_text(json.dumps(raw))
    return path


def _alarm_event(seq: int, days: int, alarm: str, severity: str | None = None) -> dict[str, Any]:
    kind, data = ("alarm", {"alarm": alarm, "severity": severity}) if severity else ("alarm_cleared", {"alarm": alarm})
    return {"seq": seq, "t_s": days * DAY, "kind": kind, "reason": f"{alarm} test", "data": data}


@pytest.fixture
def registry(engine: Engine) -> Engine:
    """The test clinic, its registry carrying the example policy, its clock at :data:`NOW`."""
    import_batch(engine, read_paths([DATA / "good"]), "setup", "good")
    return installed(with_clock(engine, lambda: NOW), POLICY)


def _alarm_id(engine: Engine, kind: str) -> int:
    with Session(engine) as s:
        return s.scalars(select(ClinicAlarm.id).where(ClinicAlarm.kind == kind,
                                                      ClinicAlarm.source == AlarmSource.PUMP_LOG.value)).one()


def _dispatch(engine: Engine, at: dt.datetime) -> list[Notification]:
    sent: list[Notification] = []
    senders = {channel: sent.append for channel in Channel}
    escalations.dispatch_once(engine, lambda _: senders, lambda: at)
    return sent


def test_a_pump_log_alarm_escalates_until_acknowledged(registry: Engine, tmp_path: Path) -> None:
    import_pump_log(registry, _log(tmp_path, [_alarm_event(5, 40, "empty_reservoir", "critical")]), "CJFH", "P001",
                    IMPLANT, "tech")
    alarm_id = _alarm_id(registry, "empty_reservoir")
    raised = escalations.escalation(registry, alarm_id)
    assert (raised.phase, raised.tier, raised.raised_at) == (Phase.NOTIFIED, 0, NOW)
    first = _dispatch(registry, NOW)
    assert {(n.tier, n.recipient) for n in first} == {(0, "nurse_day")}

    with Session(registry) as s:
        version = s.get(ClinicAlarm, alarm_id).version  # type: ignore[union-attr]
    acknowledge(registry, alarm_id, version, "nurse_day", NOW + dt.timedelta(minutes=3))
    taken = escalations.escalation(registry, alarm_id)
    assert (taken.phase, taken.acknowledged_by) == (Phase.ACKNOWLEDGED, "nurse_day")
    assert _dispatch(registry, NOW + dt.timedelta(hours=2)) == []  # long past tier 0's timeout: nobody more paged
    assert {n.tier for n in escalations.outbox(registry, alarm_id)} == {0}

    resolve(registry, alarm_id, version + 1, Resolution.REFILLED, None, "nurse_day", NOW + dt.timedelta(hours=3))
    closed = escalations.escalation(registry, alarm_id)
    assert (closed.phase, closed.closed_reason) == (Phase.RESOLVED, "pump refilled")


def test_an_alarm_the_pump_clears_closes_its_escalation(registry: Engine, tmp_path: Path) -> None:
    raised = [_alarm_event(5, 30, "low_reservoir", "non-critical")]
    import_pump_log(registry, _log(tmp_path, raised), "CJFH", "P001", IMPLANT, "tech")
    alarm_id = _alarm_id(registry, "low_reservoir")
    assert escalations.escalation(registry, alarm_id).phase is Phase.NOTIFIED
    import_pump_log(registry, _log(tmp_path, [*raised, _alarm_event(6, 31, "low_reservoir")]), "CJFH", "P001",
                    IMPLANT, "tech")
    cleared = escalations.escalation(registry, alarm_id)
    assert (cleared.phase, cleared.closed_reason) == (Phase.CLEARED, "cleared by the pump")
    assert _dispatch(registry, NOW + dt.timedelta(hours=5)) == []  # the queued tier-0 notice is cancelled


def test_an_alarm_cleared_in_the_same_log_raises_nothing(registry: Engine, tmp_path: Path) -> None:
    import_pump_log(registry, _log(tmp_path, [_alarm_event(5, 30, "low_reservoir", "non-critical"),
                                              _alarm_event(6, 31, "low_reservoir")]), "CJFH", "P001", IMPLANT, "tech")
    with pytest.raises(escalations.EscalationError):
        escalations.escalation(registry, _alarm_id(registry, "low_reservoir"))


def test_without_a_policy_the_alarm_record_escalates_nothing(engine: Engine, tmp_path: Path) -> None:
    import_batch(engine, read_paths([DATA / "good"]), "setup", "good")
    import_pump_log(engine, _log(tmp_path, [_alarm_event(5, 40, "empty_reservoir", "critical")]), "CJFH", "P001",
                    IMPLANT, "tech")
    assert escalations.outbox(engine) == []
    with pytest.raises(escalations.EscalationError):
        escalations.escalation(engine, _alarm_id(engine, "empty_reservoir"))

"""The clinic's alarm record on SQLite and PostgreSQL: alarms derived from imported pump logs and the clinic's
alarm records, merged when seen twice, closed with their reason when the pump clears them; acknowledge, assign
and resolve audited with who and when, refused on a stale version."""

from __future__ import annotations

import csv
import datetime as dt
import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openidds.clinic import RegistryError, import_batch, import_pump_log, read_paths, unit_of_work
from openidds.clinic.alarms import (
    AlarmChanged,
    AlarmPriority,
    AlarmSource,
    AlarmState,
    AlarmSync,
    Resolution,
    acknowledge,
    assign,
    priority_of,
    report_alarm,
    resolve,
    severity_of,
    sync_alarms,
)
from openidds.clinic.models import AuditEntry, ClinicAlarm, Implant, Patient, PumpEvent
from openidds.clinic.open_alarms import open_alarms
from openidds.pump.alarms import AlarmKind, Severity

IMPLANT = dt.date(2022, 9, 1)
START = dt.datetime(2022, 9, 1, 10, 0)
DAY = 86400
LOW_AT, CLEARED_AT, EMPTY_AT = (START + dt.timedelta(days=n) for n in (30, 31, 40))
NOW = dt.datetime(2022, 10, 20, 9, 0)


def _alarm(seq: int, days: int, alarm: str, severity: str | None) -> dict[str, Any]:
    kind, data = ("alarm", {"alarm": alarm, "severity": severity}) if severity else ("alarm_cleared", {"alarm": alarm})
    return {"seq": seq, "t_s": days * DAY, "kind": kind, "reason": f"{alarm} test", "data": data}


ALARMS = [_alarm(5, 30, "low_reservoir", "non-critical"), _alarm(6, 31, "low_reservoir", None),
          _alarm(7, 40, "empty_reservoir", "critical")]


def _log(data_dir: Path, tmp_path: Path, extra: list[dict[str, Any]], name: str = "log.json") -> Path:
    """P001's test pump log with ``extra`` events appended."""
    raw = json.loads((data_dir / "pump_log.json").read_text())
    raw["events"] += extra
    path = tmp_path / name
    path.write_text(json.dumps(raw))
    return path


@pytest.fixture
def registry(engine: Engine, data_dir: Path) -> Engine:
    import_batch(engine, read_paths([data_dir / "good"]), "setup", "good")
    return engine


def _alarms(engine: Engine) -> dict[str, ClinicAlarm]:
    """P001's alarms by kind but those of the clinic files of the test clinic (one of each kind)."""
    with Session(engine) as s:
        rows = s.scalars(select(ClinicAlarm).join(Implant).join(Patient).where(
            Patient.patient_code == "P001", ClinicAlarm.source != AlarmSource.CLINIC_RECORD.value))
        return {row.kind: row for row in rows}


def _entries(engine: Engine, alarm_id: int) -> list[AuditEntry]:
    with Session(engine) as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.table_name == "clinic_alarms",
                                                       AuditEntry.record_id == alarm_id).order_by(AuditEntry.id)))


def test_priority_follows_iec_60601_1_8():
    assert {kind: priority_of(kind.value, kind.severity) for kind in AlarmKind} == {
        kind: (AlarmPriority.HIGH if kind.severity is Severity.CRITICAL else
               AlarmPriority.MEDIUM if kind is AlarmKind.LOW_RESERVOIR else AlarmPriority.LOW) for kind in AlarmKind}
    assert priority_of("pump_fell_silent", severity_of("pump_fell_silent", None)) is AlarmPriority.HIGH
    assert severity_of("low_reservoir", "non_critical") is Severity.NON_CRITICAL  # the clinic files' spelling


def test_a_pump_log_import_records_each_alarm_once_and_closes_the_cleared_one(registry, data_dir, tmp_path):
    assert import_pump_log(registry, _log(data_dir, tmp_path, ALARMS), "CJFH", "P001", IMPLANT, "tech") == 8
    alarms = _alarms(registry)
    assert set(alarms) == {"low_reservoir", "empty_reservoir"}
    low, empty = alarms["low_reservoir"], alarms["empty_reservoir"]
    assert (low.raised_at, low.state, low.resolution, low.resolved_at, low.resolved_by, low.priority) == (
        LOW_AT, "resolved", Resolution.CLEARED_BY_PUMP.value, CLEARED_AT, "tech", "medium")
    assert (empty.raised_at, empty.state, empty.priority, empty.source, empty.severity) == (
        EMPTY_AT, "open", "high", AlarmSource.PUMP_LOG.value, "critical")
    assert [(e.user_name, e.action) for e in _entries(registry, empty.id)] == [("tech", "insert")]
    [shown] = open_alarms(registry, NOW)
    assert (shown.patient_id, shown.alarm, shown.age_days, shown.state) == ("P001", "empty_reservoir", 8,
                                                                           AlarmState.OPEN)

    # the same log again, and a sync: nothing new, nothing changed
    assert import_pump_log(registry, _log(data_dir, tmp_path, ALARMS), "CJFH", "P001", IMPLANT, "tech") == 0
    assert sync_alarms(registry, "tech") == AlarmSync(0, 0)
    assert {k: (a.id, a.version) for k, a in _alarms(registry).items()} == {k: (a.id, a.version) for k, a in
                                                                           alarms.items()}


def test_the_same_alarm_from_an_interrogation_record_is_merged(registry, data_dir, tmp_path):
    import_pump_log(registry, _log(data_dir, tmp_path, ALARMS), "CJFH", "P001", IMPLANT, "tech")
    before = _alarms(registry)
    folder = tmp_path / "interrogation"
    folder.mkdir()
    with (folder / "alarms.csv").open("w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(["site", "patient_id", "at", "code", "kind", "severity", "source"])
        writer.writerow(["CJFH", "P001", EMPTY_AT.isoformat() + "Z", "empty_reservoir", "alarm", "critical",
                         "programmer"])
        writer.writerow(["CJFH", "P001", (EMPTY_AT + dt.timedelta(days=1)).isoformat() + "Z", "motor_stall", "fault",
                         "critical", "programmer"])
    import_batch(registry, read_paths([folder]), "nurse", "interrogation")
    after = _alarms(registry)
    assert after["empty_reservoir"].id == before["empty_reservoir"].id  # merged: the first source is kept
    assert after["empty_reservoir"].source == AlarmSource.PUMP_LOG.value
    assert (after["motor_stall"].source, after["motor_stall"].priority) == (AlarmSource.INTERROGATION.value, "high")
    assert sync_alarms(registry, "tech") == AlarmSync(0, 0)


def test_the_clinic_files_resolved_alarms_are_recorded_resolved(registry):
    with Session(registry) as s:
        rows = s.scalars(select(ClinicAlarm).order_by(ClinicAlarm.raised_at)).all()
    assert [(r.kind, r.state, r.resolution, r.resolved_at) for r in rows] == [
        ("motor_stall", "resolved", "resolved_in_record", dt.datetime(2022, 11, 3, 8, 0)),
        ("low_reservoir", "resolved", "resolved_in_record", dt.datetime(2022, 12, 8, 9, 30))]
    assert open_alarms(registry, NOW) == []


def test_a_later_log_clears_the_alarm_an_earlier_one_raised(registry, data_dir, tmp_path):
    raised = _log(data_dir, tmp_path, ALARMS[:1], "first.json")
    import_pump_log(registry, raised, "CJFH", "P001", IMPLANT, "tech")
    low = _alarms(registry)["low_reservoir"]
    assert low.state == "open"
    import_pump_log(registry, _log(data_dir, tmp_path, ALARMS[:2], "second.json"), "CJFH", "P001", IMPLANT, "tech2")
    cleared = _alarms(registry)["low_reservoir"]
    assert (cleared.id, cleared.state, cleared.resolution, cleared.resolved_at) == (
        low.id, "resolved", "cleared_by_pump", CLEARED_AT)
    update = _entries(registry, low.id)[-1]
    assert (update.user_name, update.action, update.after["resolution"]) == ("tech2", "update", "cleared_by_pump")


def test_sync_records_the_alarms_of_logs_stored_before(registry):
    with Session(registry) as s, s.begin():
        implant_id = s.scalars(select(Implant.id).join(Patient).where(Patient.patient_code == "P001")).one()
    with unit_of_work(registry, "old import") as s:
        s.add(PumpEvent(implant_id=implant_id, seq=1, at=EMPTY_AT, kind="alarm", reason="",
                        data={"alarm": "empty_reservoir", "severity": "critical"}))
    assert "empty_reservoir" not in _alarms(registry)
    assert sync_alarms(registry, "data manager") == AlarmSync(1, 0)
    assert sync_alarms(registry, "data manager") == AlarmSync(0, 0)
    assert _alarms(registry)["empty_reservoir"].state == "open"


@pytest.fixture
def open_alarm(registry, data_dir, tmp_path) -> ClinicAlarm:
    import_pump_log(registry, _log(data_dir, tmp_path, ALARMS), "CJFH", "P001", IMPLANT, "tech")
    return _alarms(registry)["empty_reservoir"]


def test_acknowledge_assign_and_resolve_are_audited_with_who_and_when(registry, open_alarm):
    t1, t2, t3 = (NOW + dt.timedelta(minutes=n) for n in (1, 5, 50))
    acknowledge(registry, open_alarm.id, 1, "nurse-1", t1)
    assign(registry, open_alarm.id, 2, "physician-1", "nurse-1", t2)
    resolve(registry, open_alarm.id, 3, Resolution.REFILLED, "refilled at the clinic", "physician-1", t3)
    row = _alarms(registry)["empty_reservoir"]
    assert (row.state, row.acknowledged_by, row.acknowledged_at, row.assigned_to, row.assigned_by, row.assigned_at,
            row.resolved_by, row.resolved_at, row.resolution, row.resolution_note) == (
        "resolved", "nurse-1", t1, "physician-1", "nurse-1", t2, "physician-1", t3, "refilled",
        "refilled at the clinic")
    updates = [(e.user_name, e.at, e.after.get("state"), e.source) for e in _entries(registry, open_alarm.id)[1:]]
    assert updates == [("nurse-1", t1, "acknowledged", "alarm board: acknowledge"),
                       ("nurse-1", t2, None, "alarm board: assign"),
                       ("physician-1", t3, "resolved", "alarm board: resolve")]
    assert open_alarms(registry, NOW) == []


def test_an_action_on_a_stale_version_is_refused_naming_who_changed_it(registry, open_alarm):
    resolve(registry, open_alarm.id, 1, Resolution.PATIENT_SEEN, None, "physician-1", NOW)
    with pytest.raises(AlarmChanged) as stale:
        acknowledge(registry, open_alarm.id, 1, "nurse-1", NOW)
    assert "physician-1 at 2022-10-20 09:00 UTC changed it" in str(stale.value)
    with pytest.raises(AlarmChanged) as resolved:
        acknowledge(registry, open_alarm.id, 2, "nurse-1", NOW)
    assert "an alarm that is open to acknowledge" in str(resolved.value)
    assert _alarms(registry)["empty_reservoir"].acknowledged_by is None


def test_resolving_for_other_needs_a_note_and_system_reasons_are_not_for_users(registry, open_alarm):
    with pytest.raises(RegistryError, match="a note saying what was done"):
        resolve(registry, open_alarm.id, 1, Resolution.OTHER, "  ", "nurse-1", NOW)
    with pytest.raises(RegistryError, match="a reason a user gives"):
        resolve(registry, open_alarm.id, 1, Resolution.CLEARED_BY_PUMP, None, "nurse-1", NOW)
    assert _alarms(registry)["empty_reservoir"].version == 1


def test_a_caregiver_report_is_recorded_once(registry, data_dir, tmp_path):
    import_pump_log(registry, _log(data_dir, tmp_path, []), "CJFH", "P001", IMPLANT, "tech")
    heard = dt.datetime(2022, 10, 19, 22, 15)
    first = report_alarm(registry, "CJFH", "P001", AlarmKind.LOW_RESERVOIR, heard, AlarmSource.CAREGIVER_REPORT,
                         "single tone at night", "nurse-1", NOW)
    again = report_alarm(registry, "CJFH", "P001", AlarmKind.LOW_RESERVOIR, heard, AlarmSource.CAREGIVER_REPORT,
                         None, "nurse-1", NOW)
    assert first == again
    row = _alarms(registry)["low_reservoir"]
    assert (row.source, row.priority, row.detail, row.state) == ("caregiver report", "medium", "single tone at night",
                                                                 "open")
    with pytest.raises(RegistryError, match="who reported it"):
        report_alarm(registry, "CJFH", "P001", AlarmKind.LOW_RESERVOIR, heard, AlarmSource.PUMP_LOG, None, "n", NOW)
    with pytest.raises(RegistryError, match="a time not after now"):
        report_alarm(registry, "CJFH", "P001", AlarmKind.LOW_RESERVOIR, NOW + dt.timedelta(hours=1),
                     AlarmSource.PATIENT_REPORT, None, "n", NOW)

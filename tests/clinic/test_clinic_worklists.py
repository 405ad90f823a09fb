"""The clinic's worklists: the follow-up schedule and open alarms (which alarms count as open, and whose)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, select

from openidds.clinic import import_batch, read_paths, unit_of_work
from openidds.clinic import models as m
from openidds.clinic.alarms import sync_alarms
from openidds.clinic.follow_up import follow_ups_due, targets
from openidds.clinic.open_alarms import AlarmSource, open_alarms


def test_follow_up_targets_are_3_6_12_months_then_every_6() -> None:
    first = dt.date(2024, 1, 1)
    assert targets(first, dt.date(2025, 12, 31)) == [dt.date(2024, 4, 1), dt.date(2024, 7, 1), dt.date(2024, 12, 31),
                                                     dt.date(2025, 7, 1), dt.date(2025, 12, 30)]
    assert targets(first, dt.date(2024, 3, 31)) == []


def _add_alarm_events(engine: Engine, patient_code: str, events: list[tuple[str, dict[str, str]]]) -> None:
    with unit_of_work(engine, "test") as session:
        implant_id = session.scalars(select(m.Implant.id).join(m.Patient).where(m.Patient.patient_code == patient_code)
                                     .order_by(m.Implant.implant_date.desc())).first()
        session.add_all(m.PumpEvent(implant_id=implant_id, seq=seq, at=dt.datetime(2023, 5, 1 + seq), kind=kind,
                                    data=data) for seq, (kind, data) in enumerate(events, start=1))
    sync_alarms(engine, "test")  # events written directly, not imported: the alarm record is synced after


def test_open_alarms_are_the_uncleared_ones_of_pumps_in_place(engine: Engine, data_dir) -> None:
    import_batch(engine, read_paths([data_dir / "good"]), "test", source="good")
    _add_alarm_events(engine, "P001", [("alarm", {"alarm": "low_reservoir", "severity": "non-critical"}),
                                       ("alarm", {"alarm": "motor_stall", "severity": "critical"}),
                                       ("alarm_cleared", {"alarm": "motor_stall"}),
                                       ("alarm", {"alarm": "motor_stall", "severity": "critical"})])
    _add_alarm_events(engine, "P002", [("alarm", {"alarm": "end_of_service", "severity": "critical"})])
    alarms = open_alarms(engine, dt.datetime(2023, 5, 31))
    # P002 has left follow-up (death): their pump's alarm needs no action; the motor stall rang again after clearing
    assert [(a.patient_id, a.alarm, a.severity, a.since, a.age_days, a.source) for a in alarms] == [
        ("P001", "motor_stall", "critical", dt.datetime(2023, 5, 5), 26, AlarmSource.PUMP_LOG),
        ("P001", "low_reservoir", "non-critical", dt.datetime(2023, 5, 2), 29, AlarmSource.PUMP_LOG)]


def test_an_unresolved_alarm_record_is_open(engine: Engine, data_dir) -> None:
    import_batch(engine, read_paths([data_dir / "good"]), "test", source="good")
    assert open_alarms(engine, dt.datetime(2023, 5, 31)) == []  # both recorded alarms are resolved
    with unit_of_work(engine, "test") as session:
        resolved = session.scalars(select(m.PumpAlarm).where(m.PumpAlarm.code == "low_reservoir")).one()
        session.add(m.PumpAlarm(implant_id=resolved.implant_id, at=dt.datetime(2023, 5, 20), code="low_reservoir",
                                kind="alarm", severity="non_critical", source="pump"))
    sync_alarms(engine, "test")
    assert [(a.patient_id, a.alarm, a.source) for a in open_alarms(engine, dt.datetime(2023, 5, 31))] == [
        ("P001", "low_reservoir", AlarmSource.CLINIC_RECORD)]


def test_a_visit_within_45_days_meets_a_follow_up(engine: Engine, data_dir) -> None:
    import_batch(engine, read_paths([data_dir / "good"]), "test", source="good")
    due = follow_ups_due(engine, dt.date(2023, 7, 10))
    assert [(f.patient_id, f.target, f.days_left) for f in due] == [("P003", dt.date(2023, 7, 16), 6)]
    with unit_of_work(engine, "test") as session:
        p003 = session.scalars(select(m.Patient).where(m.Patient.patient_code == "P003")).one()
        session.add(m.Visit(patient_id=p003.id, visit_date=dt.date(2023, 6, 5), visit_type="telephone", nrs=3))
    assert follow_ups_due(engine, dt.date(2023, 7, 10)) == []

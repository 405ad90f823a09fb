"""The timeline's patient boluses, one entry per week from the pump's own events (given with their mg, refused by
the pump's reason, dated on the week's first request), and the refill discrepancy trend by the programmer's rule,
on a registry built here."""

from __future__ import annotations

import datetime as dt
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, select
from tests.clinic.course_builders import build_course

from openidds.clinic import models as m
from openidds.clinic import unit_of_work
from openidds.clinic.timeline import EntryKind, patient_timeline
from openidds.pump.ticks import MASS_TICKS_PER_MG

HALF_MG = MASS_TICKS_PER_MG // 2


def _bolus_log(engine: Engine) -> None:
    """The first pump's log of T1/P1 (morphine): two patient boluses on Monday 2023-01-16 and Sunday 2023-01-22
    (one week), one refused by the lockout that Sunday; the next week one bolus late on Sunday 2023-01-29 UTC
    (Monday in Stockholm), one refused by the 24-hour limit; a priming bolus, which is no patient bolus."""
    def bolus(at: dt.datetime) -> list[tuple[dt.datetime, str, str, dict[str, Any]]]:
        return [(at, "bolus_started", "patient", {"kind": "patient", "volume": 1, "duration_s": 600, "rate": 1}),
                (at, "delivery", "bolus:patient", {"flow": "bolus:patient", "rate": 1, "end_s": 600, "volume": 1,
                                                   "dose": {"morphine": HALF_MG}}),
                (at, "bolus_ended", "completed", {"kind": "patient", "volume": 1, "delivered": 1})]

    events = [*bolus(dt.datetime(2023, 1, 16, 10)), *bolus(dt.datetime(2023, 1, 22, 12)),
              (dt.datetime(2023, 1, 22, 13), "bolus_denied", "lockout since the last bolus",
               {"left_in_24h": 2, "next_allowed_s": 1}),
              *bolus(dt.datetime(2023, 1, 29, 23, 30)),
              (dt.datetime(2023, 1, 30, 8), "bolus_denied", "4 boluses already in the last 24 h",
               {"left_in_24h": 0, "next_allowed_s": 2}),
              (dt.datetime(2023, 1, 10, 9), "bolus_started", "priming", {"kind": "priming", "volume": 9}),
              (dt.datetime(2023, 1, 10, 9), "delivery", "bolus:priming", {"flow": "bolus:priming", "dose": {}}),
              (dt.datetime(2023, 1, 11, 9), "delivery", "basal", {"flow": "basal", "dose": {"morphine": HALF_MG}})]
    with unit_of_work(engine, "test") as session:
        implant_id = session.scalars(select(m.Implant.id).where(m.Implant.implant_date == dt.date(2023, 1, 10))).one()
        session.add_all(m.PumpEvent(implant_id=implant_id, seq=seq, at=at, kind=kind, reason=reason, data=data)
                        for seq, (at, kind, reason, data) in enumerate(events, start=1))


def _entries(engine: Engine, kind: EntryKind, zone: str = "UTC") -> list[tuple[str, str, bool]]:
    timeline = patient_timeline(engine, "T1", "P1", identifiers=False, zone=ZoneInfo(zone))
    return [(e.on.isoformat(), e.summary, e.flagged) for e in timeline.entries if e.kind is kind]


def test_patient_boluses_one_entry_a_week(engine: Engine) -> None:
    build_course(engine)
    _bolus_log(engine)
    assert _entries(engine, EntryKind.BOLUSES) == [
        ("2023-01-16", "week of 2023-01-16: 2 given (1 mg morphine); 1 refused: lockout since the last bolus (1)",
         False),
        ("2023-01-29", "week of 2023-01-23: 1 given (0.5 mg morphine)", False),  # dated on its first request
        ("2023-01-30", "week of 2023-01-30: 0 given; 1 refused: 4 boluses already in the last 24 h (1)", False)]


def test_bolus_weeks_are_the_clinics_local_weeks(engine: Engine) -> None:
    build_course(engine)
    _bolus_log(engine)
    weeks = _entries(engine, EntryKind.BOLUSES, "Europe/Stockholm")
    # 2023-01-29 23:30 UTC is Monday 00:30 in Stockholm: that bolus falls in the week of 2023-01-30
    assert [w[:2] for w in weeks] == [
        ("2023-01-16", "week of 2023-01-16: 2 given (1 mg morphine); 1 refused: lockout since the last bolus (1)"),
        ("2023-01-30", "week of 2023-01-30: 1 given (0.5 mg morphine); 1 refused: 4 boluses already in the last "
                       "24 h (1)")]


def test_refills_show_the_discrepancy_trend(engine: Engine) -> None:
    build_course(engine)
    refills = _entries(engine, EntryKind.REFILL)
    assert [flagged for _, _, flagged in refills] == [False, False, False, True, True, False]
    drift = refills[3][1]
    assert drift.endswith("withdrawn 28.5 mL vs expected 30 mL: discrepancy -1.5 mL; discrepancy trend flagged: "
                          "the last three discrepancies grow the same way")
    assert "(over the 1 mL limit: investigate)" in refills[4][1] and "trend" not in refills[4][1]
    assert "discrepancy" not in refills[5][1]  # no residuals recorded

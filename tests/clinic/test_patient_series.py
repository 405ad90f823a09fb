"""The patient plot's series from a registry built here: the programmed daily dose as a step function (ended by the
next program, the pump's replacement and the exit), NRS per visit, refill discrepancies with their limit and the
programmer's trend rule, all in the clinic's time zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from tests.clinic.course_builders import build_course

from openidds.clinic.errors import UnknownRecord
from openidds.clinic.patient_series import patient_series

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def local(*fields: int) -> dt.datetime:
    """A wall time in Stockholm."""
    return dt.datetime(*fields, tzinfo=STOCKHOLM)


def test_doses_step_until_the_next_program_the_replacement_and_the_exit(engine: Engine) -> None:
    build_course(engine)
    series = patient_series(engine, "T1", "P1", STOCKHOLM)
    steps = [(s.drug, s.start, s.end, s.dose_mg_per_day, s.continuous) for s in series.doses]
    assert steps == [
        ("morphine", local(2023, 1, 10, 9), local(2023, 2, 2, 0, 30), 1.0, True),
        # 23:30 UTC is half past midnight the next day in Stockholm (UTC+1 in winter)
        ("bupivacaine", local(2023, 2, 2, 0, 30), local(2023, 3, 1), 2.0, True),
        ("morphine", local(2023, 2, 2, 0, 30), local(2023, 3, 1), 1.5, True),
        # the flex program's recorded daily dose, marked as not continuous, ended by the exit
        ("morphine", local(2023, 3, 1, 13), local(2023, 4, 15), 2.5, False),
    ]
    assert all(s.start.tzinfo is STOCKHOLM for s in series.doses)  # wall times of the clinic's zone...
    assert series.doses[0].to_dict()["start"] == "2023-01-10T08:00:00Z"  # ...written in UTC, as the API does
    assert series.drugs == ["morphine", "bupivacaine"]
    assert series.zone == "Europe/Stockholm"
    assert series.through == local(2023, 4, 15)
    # the clinic's day does not carry an exited patient's series past their exit
    assert patient_series(engine, "T1", "P1", STOCKHOLM, until=dt.date(2023, 7, 1)).through == series.through


def test_nrs_at_each_visit_that_recorded_one(engine: Engine) -> None:
    build_course(engine)
    pain = patient_series(engine, "T1", "P1", STOCKHOLM).pain
    assert [(p.on, p.nrs) for p in pain] == [(dt.date(2023, 1, 5), 8), (dt.date(2023, 2, 10), 3)]


def test_discrepancies_with_each_pumps_limit_and_the_programmers_trend(engine: Engine) -> None:
    build_course(engine)
    points = patient_series(engine, "T1", "P1", STOCKHOLM).discrepancies
    assert [(p.at, p.discrepancy_ml, p.limit_ml, p.flagged) for p in points] == [
        (local(2023, 1, 10, 9), 0.0, 2.0, False),
        (local(2023, 1, 24, 10), -0.5, 2.0, False),
        (local(2023, 2, 7, 10), -1.0, 2.0, False),
        (local(2023, 2, 21, 10), -1.5, 2.0, False),
        (local(2023, 3, 29, 11), 1.5, 1.0, True),  # Stockholm is UTC+2 from 26 March
    ]
    # three growing the same way on the first pump: the drift the trend rule catches under the limit; the new pump
    # starts its own trend, and a refill without residuals is no point
    assert [p.trend for p in points] == [None, None, None, "the last three discrepancies grow the same way", None]


def test_shift_moves_every_time_and_the_label_names_the_patient(engine: Engine) -> None:
    build_course(engine)
    plain = patient_series(engine, "T1", "P1", STOCKHOLM)
    shifted = patient_series(engine, "T1", "P1", STOCKHOLM, shift=dt.timedelta(days=-100), label="R000001")
    assert [s.start for s in shifted.doses] == [s.start - dt.timedelta(days=100) for s in plain.doses]
    assert [p.on for p in shifted.pain] == [p.on - dt.timedelta(days=100) for p in plain.pain]
    assert [p.at for p in shifted.discrepancies] == [p.at - dt.timedelta(days=100) for p in plain.discrepancies]
    assert shifted.label == "R000001" and "T1" not in shifted.summary() and "P1" not in shifted.summary()


def test_summary_gives_the_values_and_an_empty_patient_says_so(engine: Engine) -> None:
    build_course(engine)
    text = patient_series(engine, "T1", "P1", STOCKHOLM).summary()
    assert "morphine mg/day: 1 from 2023-01-10, 1.5 from 2023-02-02, 2.5 (worst 24 h) from 2023-03-01." in text
    assert "NRS: 8 on 2023-01-05, 3 on 2023-02-10." in text
    assert "+1.5 on 2023-03-29 (over the limit)" in text and "trend is flagged" in text
    empty = patient_series(engine, "T1", "P2", until=dt.date(2023, 7, 1))
    assert empty.empty and empty.through is None
    assert empty.summary() == "No pump program, NRS or refill discrepancy recorded for T1/P2."
    assert empty.to_dict() == {"label": "T1/P2", "zone": "UTC", "doses": [], "pain": [], "discrepancies": [],
                               "through": None}


def test_unknown_patient_is_refused(engine: Engine) -> None:
    with pytest.raises(UnknownRecord, match="site and patient ID"):
        patient_series(engine, "T1", "P9")

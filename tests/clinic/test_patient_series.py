"""The patient plot's series from a registry built here: the programmed daily dose as a step function (ended by the
next program, the pump's replacement and the exit), NRS per visit, refill discrepancies with their limit and the
programmer's trend rule, all in the clinic's time zone."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine

from openidds.clinic import models as m
from openidds.clinic import unit_of_work
from openidds.clinic.errors import UnknownRecord
from openidds.clinic.patient_series import patient_series

STOCKHOLM = ZoneInfo("Europe/Stockholm")


def _build(engine: Engine) -> None:
    """T1/P1: a 40 mL pump from 2023-01-10 (morphine, then morphine with bupivacaine), replaced on 2023-03-01 by a
    20 mL pump running flex; three refills of the first pump whose discrepancies drift (each under its 2 mL limit),
    one of the second over its 1 mL limit; visits with NRS 8, 3 and one without; exit on 2023-04-15.
    T1/P2: a patient with nothing but their record."""
    with unit_of_work(engine, "test") as s:
        site = m.Site(code="T1")
        s.add(site)
        s.flush()
        p1 = m.Patient(site_id=site.id, patient_code="P1", sex="female", age_at_implant_years=60)
        s.add_all([p1, m.Patient(site_id=site.id, patient_code="P2", sex="male", age_at_implant_years=70)])
        s.flush()
        first = m.Implant(patient_id=p1.id, implant_date=dt.date(2023, 1, 10), kind="initial", reservoir_ml=40.0)
        second = m.Implant(patient_id=p1.id, implant_date=dt.date(2023, 3, 1), kind="replacement", reservoir_ml=20.0)
        s.add_all([first, second])
        s.flush()
        s.add_all([
            m.PumpProgram(implant_id=first.id, started_at=dt.datetime(2023, 1, 10, 8), drug="morphine",
                          concentration_mg_per_ml=10, daily_dose_mg_per_day=1.0, mode="continuous"),
            m.PumpProgram(implant_id=first.id, started_at=dt.datetime(2023, 2, 1, 23, 30), drug="morphine",
                          concentration_mg_per_ml=10, daily_dose_mg_per_day=1.5, mode="continuous"),
            m.PumpProgram(implant_id=first.id, started_at=dt.datetime(2023, 2, 1, 23, 30), drug="bupivacaine",
                          concentration_mg_per_ml=5, daily_dose_mg_per_day=2.0, mode="continuous"),
            m.PumpProgram(implant_id=second.id, started_at=dt.datetime(2023, 3, 1, 12), drug="morphine",
                          concentration_mg_per_ml=20, daily_dose_mg_per_day=2.5, mode="flex"),
        ])
        s.add_all([
            m.Refill(implant_id=first.id, refilled_at=dt.datetime(2023, 1, 10, 8), volume_added_ml=38,
                     expected_residual_ml=0.0, withdrawn_residual_ml=0.0),
            m.Refill(implant_id=first.id, refilled_at=dt.datetime(2023, 1, 24, 9), volume_added_ml=38,
                     expected_residual_ml=30.0, withdrawn_residual_ml=29.5),
            m.Refill(implant_id=first.id, refilled_at=dt.datetime(2023, 2, 7, 9), volume_added_ml=38,
                     expected_residual_ml=30.0, withdrawn_residual_ml=29.0),
            m.Refill(implant_id=first.id, refilled_at=dt.datetime(2023, 2, 21, 9), volume_added_ml=38,
                     expected_residual_ml=30.0, withdrawn_residual_ml=28.5),
            m.Refill(implant_id=second.id, refilled_at=dt.datetime(2023, 3, 29, 9), volume_added_ml=18,
                     expected_residual_ml=10.0, withdrawn_residual_ml=11.5),
            m.Refill(implant_id=second.id, refilled_at=dt.datetime(2023, 4, 5, 9), volume_added_ml=18),
        ])
        s.add_all([m.Visit(patient_id=p1.id, visit_date=dt.date(2023, 1, 5), visit_type="baseline", nrs=8),
                   m.Visit(patient_id=p1.id, visit_date=dt.date(2023, 2, 10), visit_type="follow_up", nrs=3),
                   m.Visit(patient_id=p1.id, visit_date=dt.date(2023, 3, 10), visit_type="follow_up")])
        s.add(m.Exit(patient_id=p1.id, exit_date=dt.date(2023, 4, 15), reason="lost_to_follow_up"))


def test_doses_step_until_the_next_program_the_replacement_and_the_exit(engine: Engine) -> None:
    _build(engine)
    series = patient_series(engine, "T1", "P1", STOCKHOLM)
    steps = [(s.drug, s.start, s.end, s.dose_mg_per_day, s.continuous) for s in series.doses]
    assert steps == [
        ("morphine", dt.datetime(2023, 1, 10, 9), dt.datetime(2023, 2, 2, 0, 30), 1.0, True),
        # 23:30 UTC is half past midnight the next day in Stockholm (UTC+1 in winter)
        ("bupivacaine", dt.datetime(2023, 2, 2, 0, 30), dt.datetime(2023, 3, 1), 2.0, True),
        ("morphine", dt.datetime(2023, 2, 2, 0, 30), dt.datetime(2023, 3, 1), 1.5, True),
        # the flex program's recorded daily dose, marked as not continuous, ended by the exit
        ("morphine", dt.datetime(2023, 3, 1, 13), dt.datetime(2023, 4, 15), 2.5, False),
    ]
    assert series.drugs == ["morphine", "bupivacaine"]
    assert series.zone == "Europe/Stockholm"
    assert series.through == dt.datetime(2023, 4, 15)


def test_nrs_at_each_visit_that_recorded_one(engine: Engine) -> None:
    _build(engine)
    pain = patient_series(engine, "T1", "P1", STOCKHOLM).pain
    assert [(p.on, p.nrs) for p in pain] == [(dt.date(2023, 1, 5), 8), (dt.date(2023, 2, 10), 3)]


def test_discrepancies_with_each_pumps_limit_and_the_programmers_trend(engine: Engine) -> None:
    _build(engine)
    points = patient_series(engine, "T1", "P1", STOCKHOLM).discrepancies
    assert [(p.at, p.discrepancy_ml, p.limit_ml, p.flagged) for p in points] == [
        (dt.datetime(2023, 1, 10, 9), 0.0, 2.0, False),
        (dt.datetime(2023, 1, 24, 10), -0.5, 2.0, False),
        (dt.datetime(2023, 2, 7, 10), -1.0, 2.0, False),
        (dt.datetime(2023, 2, 21, 10), -1.5, 2.0, False),
        (dt.datetime(2023, 3, 29, 11), 1.5, 1.0, True),  # Stockholm is UTC+2 from 26 March
    ]
    # three growing the same way on the first pump: the drift the trend rule catches under the limit; the new pump
    # starts its own trend, and a refill without residuals is no point
    assert [p.trend for p in points] == [None, None, None, "the last three discrepancies grow the same way", None]


def test_shift_moves_every_time_and_the_label_names_the_patient(engine: Engine) -> None:
    _build(engine)
    plain = patient_series(engine, "T1", "P1", STOCKHOLM)
    shifted = patient_series(engine, "T1", "P1", STOCKHOLM, shift=dt.timedelta(days=-100), label="R000001")
    assert [s.start for s in shifted.doses] == [s.start - dt.timedelta(days=100) for s in plain.doses]
    assert [p.on for p in shifted.pain] == [p.on - dt.timedelta(days=100) for p in plain.pain]
    assert [p.at for p in shifted.discrepancies] == [p.at - dt.timedelta(days=100) for p in plain.discrepancies]
    assert shifted.label == "R000001" and "T1" not in shifted.summary() and "P1" not in shifted.summary()


def test_summary_gives_the_values_and_an_empty_patient_says_so(engine: Engine) -> None:
    _build(engine)
    text = patient_series(engine, "T1", "P1", STOCKHOLM).summary()
    assert "morphine mg/day: 1 from 2023-01-10, 1.5 from 2023-02-02, 2.5 (worst 24 h) from 2023-03-01." in text
    assert "NRS: 8 on 2023-01-05, 3 on 2023-02-10." in text
    assert "+1.5 on 2023-03-29 (over the limit)" in text and "trend is flagged" in text
    empty = patient_series(engine, "T1", "P2")
    assert empty.empty and empty.through is None
    assert empty.summary() == "No pump program, NRS or refill discrepancy recorded for T1/P2."
    assert empty.to_dict() == {"label": "T1/P2", "zone": "UTC", "doses": [], "pain": [], "discrepancies": [],
                               "through": None}


def test_unknown_patient_is_refused(engine: Engine) -> None:
    with pytest.raises(UnknownRecord, match="site and patient ID"):
        patient_series(engine, "T1", "P9")

"""A patient's course built record by record for the timeline and plot tests."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine

from openidds.clinic import models as m
from openidds.clinic import unit_of_work


def build_course(engine: Engine) -> None:
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

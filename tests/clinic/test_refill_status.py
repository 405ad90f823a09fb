"""Refills due by drug stability as well as by the reservoir (the refill status table), on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select, text

from openidds.clinic import check_registry, refills_due, unit_of_work
from openidds.clinic.in_place import in_place
from openidds.clinic.models import Exit, Implant, Patient, PumpProgram, Refill, RefillStatus, Site
from openidds.clinic.queries import DayCount, active_implants, refills_due_by_day
from openidds.clinic.refill_status import DueReason, refresh_refill_status
from openidds.drugs import default_library

TODAY = dt.date(2024, 3, 1)


def _pump(session, code: str, programs: list[tuple[dt.datetime, str, float]],
          refills: list[tuple[dt.datetime, str | None, float | None, dt.date | None]]) -> int:
    patient = Patient(site=session.scalar(select(Site).where(Site.code == "S1")) or Site(code="S1"),
                      patient_code=code, sex="female", age_at_implant_years=60)
    implant = Implant(patient=patient, implant_date=dt.date(2024, 1, 1), kind="initial")
    session.add_all([patient, implant])
    session.flush()
    session.add_all(PumpProgram(implant_id=implant.id, started_at=at, drug=drug, concentration_mg_per_ml=mg_per_ml,
                                daily_dose_mg_per_day=0.001) for at, drug, mg_per_ml in programs)
    session.add_all(Refill(implant_id=implant.id, refilled_at=at, drug=drug, concentration_mg_per_ml=mg_per_ml,
                           volume_added_ml=20.0, next_refill_due=due) for at, drug, mg_per_ml, due in refills)
    session.flush()
    return implant.id


FIRST = dt.datetime(2024, 2, 20, 9)


def _clinic(engine) -> None:
    with unit_of_work(engine, "setup") as s:
        # ziconotide 50 mcg/mL (diluted): first fill 14 days, the reservoir would last 60
        _pump(s, "Z1", [(FIRST, "ziconotide", 0.05)], [(FIRST, "ziconotide", 0.05, dt.date(2024, 4, 20))])
        # its second fill: 40 days diluted, the reservoir 30 days
        _pump(s, "Z2", [(FIRST - dt.timedelta(days=14), "ziconotide", 0.05)],
              [(FIRST - dt.timedelta(days=14), "ziconotide", 0.05, dt.date(2024, 2, 20)),
               (FIRST, "ziconotide", 0.05, dt.date(2024, 3, 21))])
        # morphine + bupivacaine admixture (90 days each): the reservoir comes first; the refill names morphine
        _pump(s, "M1", [(FIRST, "morphine", 10.0), (FIRST, "bupivacaine", 5.0)],
              [(FIRST, "morphine", None, dt.date(2024, 3, 10))])
        # an exited patient's ziconotide pump is not listed
        exited = _pump(s, "X1", [(FIRST, "ziconotide", 0.025)], [(FIRST, "ziconotide", 0.025, None)])
        s.add(Exit(patient_id=s.get(Implant, exited).patient_id, exit_date=dt.date(2024, 2, 25),
                   reason="withdrew_consent"))


def test_a_short_stability_makes_the_refill_due_before_the_reservoir(engine):
    _clinic(engine)
    due = {r.patient_id: r for r in refills_due(engine, TODAY, 30)}
    assert set(due) == {"Z1", "Z2", "M1"}
    z1 = due["Z1"]
    assert (z1.next_refill_due, z1.due_reason, z1.due_by, z1.reservoir_due, z1.stability_due) == (
        dt.date(2024, 3, 5), DueReason.STABILITY, "stability of ziconotide", dt.date(2024, 4, 20), dt.date(2024, 3, 5))
    assert z1.days_left == 4 and z1.to_dict()["due_reason"] == "stability"
    z2 = due["Z2"]  # not a first fill: 40 days, after the reservoir's 30
    assert (z2.next_refill_due, z2.due_by, z2.stability_due) == (
        dt.date(2024, 3, 21), "reservoir", dt.date(2024, 3, 31))
    m1 = due["M1"]  # the admixture's drugs come from the program; both 90 days
    assert (m1.next_refill_due, m1.due_by, m1.stability_due, m1.stability_drug) == (
        dt.date(2024, 3, 10), "reservoir", dt.date(2024, 5, 20), "bupivacaine")
    assert [r.patient_id for r in refills_due(engine, TODAY, 30)] == ["Z1", "M1", "Z2"]
    assert [r.patient_id for r in refills_due(engine, TODAY, 30, offset=1, limit=1)] == ["M1"]
    counts = refills_due_by_day(engine, TODAY, 30)
    assert (counts.overdue, counts.by_day, counts.total) == (
        0, [DayCount(dt.date(2024, 3, 5), 1), DayCount(dt.date(2024, 3, 10), 1), DayCount(dt.date(2024, 3, 21), 1)], 3)
    assert [r.patient_id for r in refills_due(engine, TODAY, 5)] == ["Z1"]  # not due by the reservoir within 5 days


def test_a_program_change_recomputes_the_stability_date(engine):
    _clinic(engine)
    with unit_of_work(engine, "clerk") as s:
        implant = s.scalar(select(Implant.id).join(Patient).where(Patient.patient_code == "M1"))
        s.add(PumpProgram(implant_id=implant, started_at=FIRST, drug="ziconotide", concentration_mg_per_ml=0.025,
                          daily_dose_mg_per_day=0.001))
    m1 = next(r for r in refills_due(engine, TODAY, 30) if r.patient_id == "M1")
    # undiluted Prialt 25 mcg/mL, but a first fill (the pump held no ziconotide before): 14 days
    assert (m1.next_refill_due, m1.due_by) == (dt.date(2024, 3, 5), "stability of ziconotide")


def test_an_exit_or_an_explant_takes_the_pump_off_the_list(engine):
    _clinic(engine)
    with unit_of_work(engine, "clerk") as s:
        z1 = s.scalar(select(Implant).join(Patient).where(Patient.patient_code == "Z1"))
        s.add(Exit(patient_id=z1.patient_id, exit_date=dt.date(2024, 2, 28), reason="transfer_of_care"))
        s.scalar(select(Implant).join(Patient).where(Patient.patient_code == "M1")).explant_date = dt.date(2024, 2, 28)
    assert [r.patient_id for r in refills_due(engine, TODAY, 30)] == ["Z2"]
    assert refills_due_by_day(engine, TODAY, 30).total == 1


def test_refresh_and_sql_rule_agree_with_the_python_rule(engine):
    _clinic(engine)
    with engine.begin() as conn:
        before = conn.execute(select(RefillStatus).order_by(RefillStatus.implant_id)).all()
        conn.execute(text("DELETE FROM refill_status"))
        refresh_refill_status(conn, conn.execute(select(Refill.implant_id)).scalars(), default_library())
        assert conn.execute(select(RefillStatus).order_by(RefillStatus.implant_id)).all() == before
        everyone = select(Patient.id)
        assert set(conn.execute(select(Implant.id).where(in_place(Implant))).scalars()) == active_implants(conn,
                                                                                                       everyone)


def test_registry_check_calls_a_refill_overdue_by_the_date_today_shows(engine):
    """Z1's reservoir lasts to 20 April, but its ziconotide had to be replaced by 5 March."""
    _clinic(engine)
    on = dt.date(2024, 3, 12)
    overdue = {f.record: f.message for f in check_registry(engine, on) if f.rule == "refill-overdue"}
    assert sorted(overdue) == ["implant S1/M1 2024-01-01", "implant S1/Z1 2024-01-01"]
    assert overdue["implant S1/Z1 2024-01-01"].startswith(
        "refill was due 2024-03-05 by the stability of ziconotide (7 days ago)")
    assert overdue["implant S1/M1 2024-01-01"].startswith("refill was due 2024-03-10 by the reservoir (2 days ago)")

"""Everyday questions to the registry: who is followed, which implant is a patient's pump in place, and
which pumps need a refill soon."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, fields
from typing import Any

from sqlalchemy import Connection, Engine, Select, exists, func, select
from sqlalchemy.orm import Session

from openidds.clinic import models
from openidds.clinic.errors import RegistryError, UnknownRecord
from openidds.clinic.in_place import connected
from openidds.clinic.refill_status import DueReason


def patient_by_code(session: Session, site: str, patient_id: str) -> models.Patient:
    """The patient of ``site`` with ``patient_id``; an unknown one is refused, saying what is expected."""
    patient = session.scalars(select(models.Patient).join(models.Site).where(
        models.Site.code == site, models.Patient.patient_code == patient_id)).first()
    if patient is None:
        raise UnknownRecord("patient", f"{site}/{patient_id}", "a patient in the registry (site and patient ID as "
                            "on the patient list)")
    return patient

def _iso(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat() + "Z"
    return value.isoformat() if isinstance(value, dt.date) else value


def _as_json(row: Any) -> dict[str, Any]:
    """A flat dataclass's fields with dates as ISO text (without :func:`dataclasses.asdict`'s deep copy, slow on
    the thousands of rows of a worklist)."""
    return {f.name: _iso(getattr(row, f.name)) for f in fields(row)}


@dataclass(frozen=True)
class ImplantFacts:
    """What decides whether an implant is still in place: its dates and the implant it replaced."""

    implant_id: int
    implant_date: dt.date
    explant_date: dt.date | None
    replaces_implant_id: int | None


def active_implant(implants: Iterable[ImplantFacts], exited: bool) -> int | None:
    """The id of a patient's active implant (the pump in place), or None.

    Only the patient's latest implant can be active: a revision or replacement is a new implant row, so an
    implant is superseded by a later implant of the same patient or by one whose ``replaces_implant_id``
    points at it. The latest is active unless it is explanted, superseded itself, or the patient has left
    follow-up (an exit record). This is the one definition used by ``registry check`` and ``refills-due``.
    """
    own = list(implants)
    if exited or not own:
        return None
    replaced = {i.replaces_implant_id for i in own}
    latest = max(own, key=lambda i: i.implant_date)
    if latest.explant_date is not None or latest.implant_id in replaced:
        return None
    return latest.implant_id


@dataclass(frozen=True)
class RefillDue:
    """An active pump due for a refill by the horizon: ``next_refill_due`` is the earlier of the reservoir date
    (the one its last refill recorded) and the stability date of the solution filled; ``due_reason`` says which,
    ``stability_drug`` which drug's stability sets the stability date (see :mod:`openidds.clinic.refill_status`)."""

    site: str
    patient_id: str
    implant_date: dt.date
    pump_serial: str | None
    last_refill_at: dt.datetime
    next_refill_due: dt.date
    days_left: int
    due_reason: DueReason
    reservoir_due: dt.date | None
    stability_due: dt.date | None
    stability_drug: str | None

    @property
    def due_by(self) -> str:
        """What sets the date, as Today and the calendar say it: ``reservoir`` or ``stability of DRUG``."""
        return f"stability of {self.stability_drug}" if self.due_reason is DueReason.STABILITY else "reservoir"

    def to_dict(self) -> dict[str, Any]:
        return {**_as_json(self), "due_reason": self.due_reason.value}


@dataclass(frozen=True)
class DayCount:
    """How many refills fall due on a day."""

    day: dt.date
    count: int


@dataclass(frozen=True)
class DueDays:
    """How many refills fall due: the overdue ones together, then day by day, and in all."""

    overdue: int
    by_day: list[DayCount]
    total: int

    def to_dict(self) -> dict[str, Any]:
        return {"overdue": self.overdue, "total": self.total,
                "by_day": [{"day": d.day.isoformat(), "count": d.count} for d in self.by_day]}


def active_implants(conn: Connection, patient_ids: Select[Any]) -> set[int]:
    """The ids of the active implants (:func:`active_implant`) of the patients whose ids ``patient_ids`` selects."""
    i, e = models.Implant, models.Exit
    their_implants = (
        select(i.patient_id, i.id, i.implant_date, i.explant_date, i.replaces_implant_id, e.id.is_not(None))
        .outerjoin(e, e.patient_id == i.patient_id).where(i.patient_id.in_(patient_ids))
    )
    implants: dict[int, list[ImplantFacts]] = defaultdict(list)
    exited: set[int] = set()
    for patient_id, implant_id, implant_date, explant_date, replaces, has_exit in conn.execute(their_implants):
        implants[patient_id].append(ImplantFacts(implant_id, implant_date, explant_date, replaces))
        if has_exit:
            exited.add(patient_id)
    return {a for patient_id, own in implants.items() if (a := active_implant(own, patient_id in exited)) is not None}


def active_implant_id(conn: Connection, site: str, patient_id: str) -> int:
    """The id of the patient's pump in place (:func:`active_implant`); refused for an unknown patient or one
    without a pump in place."""
    p, s = models.Patient, models.Site
    patient = conn.scalar(select(p.id).join(s, s.id == p.site_id).where(s.code == site, p.patient_code == patient_id))
    if patient is None:
        raise UnknownRecord("patient", f"{site}/{patient_id}", "a patient in the registry")
    active = active_implants(conn, select(p.id).where(p.id == patient))
    if not active:
        raise RegistryError("patient", f"{site}/{patient_id}", "a patient with a pump in place (this one's is "
                            "explanted or replaced, or the patient has left follow-up)")
    return active.pop()


def _due(today: dt.date, within_days: int, unbooked: bool) -> Select[Any]:
    """The refill status rows of the pumps in place due by ``today + within_days`` (without a live appointment
    after the last refill when ``unbooked``): a range of the index (``in_place``, ``due_on``)."""
    r, a = models.RefillStatus, models.RefillAppointment
    stmt = select().select_from(r).where(r.in_place.is_(True), r.due_on <= today + dt.timedelta(days=within_days))
    if unbooked:
        stmt = stmt.where(~exists().where(a.implant_id == r.implant_id, a.cancelled_at.is_(None),
                                          a.starts_at > r.last_refill_at))
    return stmt


def refills_due(engine: Engine | Connection, today: dt.date, within_days: int = 14, *, unbooked: bool = False,
                offset: int = 0, limit: int | None = None) -> list[RefillDue]:
    """Active implants (:func:`active_implant`) due for a refill by ``today + within_days``, soonest first (then
    by site and patient); overdue pumps have negative ``days_left``. ``unbooked``: only those without an
    appointment booked after their last refill. ``offset`` and ``limit`` give a page of the list.

    One statement on ``refill_status`` (:mod:`openidds.clinic.refill_status`), which holds each pump's due date and
    whether it is in place."""
    r, i, p, s = models.RefillStatus, models.Implant, models.Patient, models.Site
    stmt = (_due(today, within_days, unbooked).join(i, i.id == r.implant_id).join(p, p.id == i.patient_id)
            .join(s, s.id == p.site_id)
            .add_columns(s.code, p.patient_code, i.implant_date, i.serial_number, r.last_refill_at, r.due_on,
                         r.due_reason, r.next_refill_due, r.stability_due, r.stability_drug)
            .order_by(r.due_on, s.code, p.patient_code).offset(offset).limit(limit))
    with connected(engine) as conn:
        return [RefillDue(site, code, day, serial, at, due_on, (due_on - today).days, DueReason(reason), reservoir,
                          stable, drug)
                for site, code, day, serial, at, due_on, reason, reservoir, stable, drug in conn.execute(stmt)]


def refills_due_by_day(engine: Engine | Connection, today: dt.date, within_days: int = 14, *,
                       unbooked: bool = False) -> DueDays:
    """How many of :func:`refills_due` fall due on each day (one grouped statement)."""
    r = models.RefillStatus
    stmt = _due(today, within_days, unbooked).add_columns(r.due_on, func.count()).group_by(r.due_on).order_by(r.due_on)
    with connected(engine) as conn:
        counts = conn.execute(stmt).all()
    return DueDays(sum(n for day, n in counts if day < today), [DayCount(day, n) for day, n in counts if day >= today],
                   sum(n for _, n in counts))


@dataclass(frozen=True)
class PatientRow:
    """One line of the patient list."""

    site: str
    patient_id: str
    sex: str
    cancer_type: str | None
    first_implant: dt.date | None
    implants: int
    status: str
    status_date: dt.date | None

    def to_dict(self) -> dict[str, Any]:
        return _as_json(self)


def patients(engine: Engine, site: str | None = None) -> list[PatientRow]:
    """Every patient (of one site if given) with first implant and follow-up status (active or exit reason)."""
    p, i, s, e = models.Patient, models.Implant, models.Site, models.Exit
    stmt = (
        select(s.code, p.patient_code, p.sex, p.cancer_type, func.min(i.implant_date), func.count(i.id),
               e.reason, e.exit_date, p.last_contact_date)
        .join(s, s.id == p.site_id).outerjoin(i, i.patient_id == p.id).outerjoin(e, e.patient_id == p.id)
        .group_by(s.code, p.patient_code, p.sex, p.cancer_type, e.reason, e.exit_date, p.last_contact_date)
        .order_by(s.code, p.patient_code)
    )
    if site is not None:
        stmt = stmt.where(s.code == site)
    with engine.connect() as conn:
        return [PatientRow(code, pid, sex, cancer, first, n, reason or "active", exit_date or last)
                for code, pid, sex, cancer, first, n, reason, exit_date, last in conn.execute(stmt)]

"""Booked refill appointments (table ``refill_appointments``): a patient's pump in place, when (naive UTC) and
for how long, at the clinic or at home, the clinician who refills it, who booked it and when.

A pump has at most one appointment booked after its last refill (the next refill): book once, then move it.
A cancelled appointment stays in the table with who cancelled it and when, so a calendar that subscribed to it
learns it is cancelled. Moving or cancelling names the version its user saw; an appointment changed since is
refused with :class:`AppointmentChanged`, saying who changed it and when. Every change is audited.
A clinic's booked appointments are imported with :func:`book_all`, under the same rules.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from openidds.clinic import audit, models
from openidds.clinic.database import unit_of_work
from openidds.clinic.errors import ConcurrentUpdateError, RegistryError, UnknownRecord
from openidds.clinic.queries import active_implant_id
from openidds.clinic.validation import check_author

MIN_MINUTES, MAX_MINUTES = 5, 480
"""The shortest and longest appointment (a refill takes about half an hour; a home visit may take a morning)."""
DEFAULT_MINUTES = 30


class VisitPlace(str, Enum):
    """Where a refill is done."""

    CLINIC = "clinic"
    HOME = "home"


class AppointmentChanged(ConcurrentUpdateError):
    """A change to an appointment that was changed (moved, cancelled) since its user saw it."""


@dataclass(frozen=True)
class Appointment:
    """A refill appointment with its patient's site and code (no name) and the implant's date."""

    id: int
    version: int
    site: str
    patient_id: str
    implant_date: dt.date
    starts_at: dt.datetime
    duration_minutes: int
    place: VisitPlace
    clinician: str
    booked_by: str
    booked_at: dt.datetime
    cancelled_by: str | None
    cancelled_at: dt.datetime | None

    @property
    def ends_at(self) -> dt.datetime:
        return self.starts_at + dt.timedelta(minutes=self.duration_minutes)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, value in vars(self).items():
            out[name] = (value.isoformat() + "Z" if isinstance(value, dt.datetime) else
                         value.isoformat() if isinstance(value, dt.date) else
                         value.value if isinstance(value, Enum) else value)
        out["ends_at"] = self.ends_at.isoformat() + "Z"
        return out


def appointments(engine: Engine, start: dt.datetime, end: dt.datetime, clinician: str | None = None,
                 cancelled: bool = False) -> list[Appointment]:
    """Appointments starting in ``[start, end)`` (of ``clinician`` if given; cancelled ones only if
    ``cancelled``), by start time."""
    a, i, p, s = models.RefillAppointment, models.Implant, models.Patient, models.Site
    stmt = (select(a, s.code, p.patient_code, i.implant_date).join(i, i.id == a.implant_id)
            .join(p, p.id == i.patient_id).join(s, s.id == p.site_id)
            .where(a.starts_at >= start, a.starts_at < end).order_by(a.starts_at, s.code, p.patient_code))
    if clinician is not None:
        stmt = stmt.where(a.clinician == clinician)
    if not cancelled:
        stmt = stmt.where(a.cancelled_at.is_(None))
    with Session(engine) as session:
        return [Appointment(r.id, r.version, site, code, day, r.starts_at, r.duration_minutes, VisitPlace(r.place),
                            r.clinician, r.booked_by, r.booked_at, r.cancelled_by, r.cancelled_at)
                for r, site, code, day in session.execute(stmt)]


def _bookable(clinicians: Collection[str]) -> str:
    return f"one who may be booked for refills ({', '.join(clinicians) or 'none yet'})"


def _check(starts_at: dt.datetime, duration_minutes: int, clinician: str) -> None:
    if starts_at.tzinfo is not None:
        raise RegistryError("starts_at", starts_at.isoformat(), "a naive UTC time (the registry's time)")
    if not MIN_MINUTES <= duration_minutes <= MAX_MINUTES:
        raise RegistryError("duration_minutes", duration_minutes, f"{MIN_MINUTES} to {MAX_MINUTES} minutes")
    if not clinician.strip():
        raise RegistryError("clinician", clinician, "the name of the clinician who does the refill")


def book(engine: Engine, site: str, patient_id: str, starts_at: dt.datetime, duration_minutes: int,
         place: VisitPlace, clinician: str, by: str, at: dt.datetime, *, clinicians: Collection[str]) -> int:
    """Book the next refill of the patient's pump in place, by one of ``clinicians`` (those who may be booked
    now); returns the appointment's id. Refused when the pump already has one booked after its last refill (move
    that one instead)."""
    _check(starts_at, duration_minutes, clinician)
    if clinician not in clinicians:
        raise RegistryError("clinician", clinician, _bookable(clinicians))
    with unit_of_work(engine, by, source="refill calendar: book", clock=lambda: at) as session:
        return _book(session, site, patient_id, starts_at, duration_minutes, place, clinician, by, at)


def _book(session: Session, site: str, patient_id: str, starts_at: dt.datetime, duration_minutes: int,
          place: VisitPlace, clinician: str, by: str, at: dt.datetime) -> int:
    a = models.RefillAppointment
    implant_id = active_implant_id(session.connection(), site, patient_id)
    last_refill = session.scalar(select(func.max(models.Refill.refilled_at))
                                 .where(models.Refill.implant_id == implant_id))
    booked = select(a.starts_at).where(a.implant_id == implant_id, a.cancelled_at.is_(None))
    if last_refill is not None:
        booked = booked.where(a.starts_at > last_refill)
    already = session.scalars(booked).first()
    if already is not None:
        raise RegistryError("patient", f"{site}/{patient_id}", "a pump without a refill booked: one is booked at "
                            f"{already.isoformat(sep=' ', timespec='minutes')} UTC (move it instead)")
    row = a(implant_id=implant_id, starts_at=starts_at, duration_minutes=duration_minutes, place=place.value,
            clinician=clinician, booked_by=by, booked_at=at)
    session.add(row)
    session.flush()
    return row.id


@dataclass(frozen=True)
class Booking:
    """An appointment as a clinic's file records it: the patient's site and code (the pump in place), when, how
    long, where, by whom; who booked it and when; who cancelled it and when, if cancelled."""

    site: str
    patient_id: str
    starts_at: dt.datetime
    duration_minutes: int
    place: VisitPlace
    clinician: str
    booked_by: str
    booked_at: dt.datetime
    cancelled_by: str | None = None
    cancelled_at: dt.datetime | None = None


def book_all(engine: Engine, bookings: Sequence[Booking], source: str) -> list[int]:
    """Book a clinic's appointments, and cancel those it cancelled, in one transaction (all or nothing): each
    booking and cancellation in time order, under :func:`book`'s and :func:`cancel`'s rules (but that a file's
    clinician may be anyone named: the clinic's own staff need no account), audited as its user at its time
    (``source`` names the import). Returns the appointments' ids in the order given."""
    for booking in bookings:
        _check(booking.starts_at, booking.duration_minutes, booking.clinician)
        for user in (booking.booked_by, booking.cancelled_by):
            if user is not None:
                check_author(user, source)
        if (booking.cancelled_by is None) != (booking.cancelled_at is None):
            raise RegistryError("cancelled_by", booking.cancelled_by, "a cancelled appointment's canceller and "
                                "time together (or neither)")
        if booking.cancelled_at is not None and booking.cancelled_at < booking.booked_at:
            raise RegistryError("cancelled_at", booking.cancelled_at.isoformat(), "a time at or after the booking "
                                f"({booking.booked_at.isoformat()})")
    if not bookings:
        return []
    steps = sorted([(b.booked_at, 0, n) for n, b in enumerate(bookings)] +
                   [(b.cancelled_at, 1, n) for n, b in enumerate(bookings) if b.cancelled_at is not None])
    ids: dict[int, int] = {}
    with unit_of_work(engine, bookings[0].booked_by, source=source) as session:
        for at, cancelling, n in steps:
            b = bookings[n]
            session.info[audit.USER_KEY] = b.cancelled_by if cancelling else b.booked_by
            session.info[audit.CLOCK_KEY] = lambda at=at: at
            if cancelling:
                _cancel(session, ids[n], 1, b.cancelled_by or "", at)  # booked just now: its first version
                session.flush()
            else:
                ids[n] = _book(session, b.site, b.patient_id, b.starts_at, b.duration_minutes, b.place, b.clinician,
                               b.booked_by, b.booked_at)
    return [ids[n] for n in range(len(bookings))]


def _changing(session: Session, appointment_id: int, seen_version: int, action: str) -> models.RefillAppointment:
    """The appointment to change, refused if it changed since ``seen_version`` or was cancelled."""
    row = session.get(models.RefillAppointment, appointment_id)
    if row is None:
        raise UnknownRecord("appointment", appointment_id, "the id of a refill appointment")
    table = models.RefillAppointment.__tablename__
    if row.version != seen_version:
        raise AppointmentChanged("appointment", f"{appointment_id} version {seen_version}",
                                 f"the appointment as you saw it, but {audit.last_change_text(session, table, row.id)} "
                                 f"changed it since; reload the calendar and {action} again if still needed")
    if row.cancelled_at is not None:
        raise AppointmentChanged("appointment", f"{appointment_id} (cancelled)",
                                 f"an appointment not cancelled (cancelled by {row.cancelled_by})")
    return row


def move(engine: Engine, appointment_id: int, seen_version: int, starts_at: dt.datetime, duration_minutes: int,
         place: VisitPlace, clinician: str, by: str, at: dt.datetime, *, clinicians: Collection[str]) -> None:
    """Change when, where or by whom an appointment is done. A new clinician must be one of ``clinicians`` (those
    who may be booked now); the appointment's own may stay, whoever booked it (a booking loaded from a file, a
    clinician no longer booked)."""
    _check(starts_at, duration_minutes, clinician)
    with unit_of_work(engine, by, source="refill calendar: move", clock=lambda: at) as session:
        row = _changing(session, appointment_id, seen_version, "move it")
        if clinician != row.clinician and clinician not in clinicians:
            raise RegistryError("clinician", clinician, f"the appointment's own clinician ({row.clinician}) or "
                                + _bookable(clinicians))
        row.starts_at, row.duration_minutes, row.place, row.clinician = (starts_at, duration_minutes, place.value,
                                                                         clinician)


def cancel(engine: Engine, appointment_id: int, seen_version: int, by: str, at: dt.datetime) -> None:
    """Cancel an appointment (it stays, marked cancelled, with who and when)."""
    with unit_of_work(engine, by, source="refill calendar: cancel", clock=lambda: at) as session:
        _cancel(session, appointment_id, seen_version, by, at)


def _cancel(session: Session, appointment_id: int, seen_version: int, by: str, at: dt.datetime) -> None:
    row = _changing(session, appointment_id, seen_version, "cancel it")
    row.cancelled_by, row.cancelled_at = by, at

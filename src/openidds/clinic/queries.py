"""Everyday questions to the registry: who is followed, and which pumps need a refill soon."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass
from typing import Any

from sqlalchemy import Engine, func, select

from openidds.clinic import models


def _iso(value: Any) -> Any:
    if isinstance(value, dt.datetime):
        return value.isoformat() + "Z"
    return value.isoformat() if isinstance(value, dt.date) else value


@dataclass(frozen=True)
class RefillDue:
    """An active pump whose last refill set a next-refill date on or before the horizon."""

    site: str
    patient_id: str
    implant_date: dt.date
    pump_serial: str | None
    last_refill_at: dt.datetime
    next_refill_due: dt.date
    days_left: int

    def to_dict(self) -> dict[str, Any]:
        return {k: _iso(v) for k, v in asdict(self).items()}


def refills_due(engine: Engine, today: dt.date, within_days: int = 14) -> list[RefillDue]:
    """Pumps in place (not explanted, patient not exited) due for a refill by ``today + within_days``,
    soonest first; overdue pumps have negative ``days_left``."""
    horizon = today + dt.timedelta(days=within_days)
    r, i, p, s, e = models.RefillStatus, models.Implant, models.Patient, models.Site, models.Exit
    stmt = (
        select(s.code, p.patient_code, i.implant_date, i.serial_number, r.last_refill_at, r.next_refill_due)
        .select_from(r).join(i, i.id == r.implant_id).join(p, p.id == i.patient_id).join(s, s.id == p.site_id)
        .outerjoin(e, e.patient_id == p.id)
        .where(r.next_refill_due <= horizon, i.explant_date.is_(None), e.id.is_(None))
        .order_by(r.next_refill_due, s.code, p.patient_code)
    )
    with engine.connect() as conn:
        return [RefillDue(site, code, day, serial, at, due, (due - today).days)
                for site, code, day, serial, at, due in conn.execute(stmt)]


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
        return {k: _iso(v) for k, v in asdict(self).items()}


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

"""The patient list, a patient's timeline and the series of their plot, as the logged-in user's role may see them."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sqlalchemy import Engine

from openidds.clinic import PatientRow, patients
from openidds.clinic.patient_series import PatientSeries, patient_series
from openidds.clinic.timeline import Timeline, patient_timeline
from openidds.web.roles import Permission, Role, may, require


def patient_list(engine: Engine, role: Role) -> list[PatientRow]:
    """Every patient (site, code, status: no direct identifiers); refused for a role without patient access."""
    require(role, Permission.VIEW_PATIENTS)
    return patients(engine)


def timeline_for(engine: Engine, role: Role, site: str, patient_id: str, zone: dt.tzinfo = dt.UTC) -> Timeline:
    """A patient's timeline, with their names and other identifiers only for a role that may see them; a timed
    event is dated by its date in ``zone`` (the clinic's)."""
    require(role, Permission.VIEW_PATIENTS)
    return patient_timeline(engine, site, patient_id, identifiers=may(role, Permission.VIEW_IDENTIFIERS), zone=zone)


def series_for(engine: Engine, role: Role, site: str, patient_id: str, zone: ZoneInfo, today: dt.date
               ) -> PatientSeries:
    """The series of a patient's plot (dose, NRS, refill discrepancies), times in ``zone`` (the clinic's), running
    to the clinic's ``today`` while the patient has not exited."""
    require(role, Permission.VIEW_PATIENTS)
    return patient_series(engine, site, patient_id, zone, until=today)

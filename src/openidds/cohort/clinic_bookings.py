"""A virtual clinic's refill appointments: each refill of a pump in place booked at the refill before, as a clinic
books them, so that its refill calendar holds the refills done and the ones to come.

At each refill of a pump in place (its first fill at the implant too), the clinic books the next one on the day
the programmer's forecast gives (the refill's ``next_refill_due``), 30 minutes with the patient's own clinician of
the site's staff, at the clinic or, for a share of the patients, at home. An appointment whose refill was done is
the refill itself (it starts when the refill was recorded, which the clinic played on that day); the next refill
after the clinic day's last is booked on a working day (a due day on a weekend moves to the Friday before), at a
time of the clinician's day still free within the clinic's hours. Two things leave a refill due and unbooked:

- **Not booked yet**: for a share of the pumps the next refill was not booked at the last one (the patient books
  it later).
- **Missed**: an appointment that ended before the clinic day's 08:00 without its refill (a patient who missed
  the last contact, :class:`openidds.cohort.virtual_clinic.MissedContacts`) was not kept: its clinician
  cancelled it at its end, and nothing is booked since.

Refills of a pump replaced or explanted, and of a patient who left follow-up, are not booked: a clinic books only
the pump in place (:func:`openidds.clinic.appointments.book`). The draws come from a stream of their own spawned
from the clinic's seed, so booking leaves every other draw of the clinic as it was.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from itertools import pairwise

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, model_validator

from openidds.clinic.appointments import DEFAULT_MINUTES, Booking, VisitPlace
from openidds.cohort.clinic_run import PatientRun
from openidds.errors import OpenIDDSError

DURATION = dt.timedelta(minutes=DEFAULT_MINUTES)
READ_AT = dt.time(8)
"""The time of the clinic day the pumps are read: the registry's now."""
FRIDAY = 4


class RefillBookings(BaseModel):
    """How a virtual clinic books refills: its hours (the clinic's local time), each site's clinicians, and the
    shares of the patients refilled at home and of the pumps whose next refill is not booked yet."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    opens: dt.time
    closes: dt.time
    staff: dict[str, tuple[str, ...]]
    """Each site's clinicians who refill pumps, by site code."""
    home_share: float = Field(ge=0, le=1)
    unbooked_share: float = Field(ge=0, le=1)
    source: str = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> RefillBookings:
        if not self.slots():
            raise ValueError(f"opens {self.opens} and closes {self.closes} must leave a {DEFAULT_MINUTES}-minute "
                             "appointment")
        for site, names in self.staff.items():
            if not names or len(set(names)) != len(names) or not all(n.strip() and len(n) <= 120 for n in names):
                raise ValueError(f"staff of {site}: at least one clinician, names unique, 1 to 120 characters")
        return self

    def slots(self) -> list[dt.time]:
        """The start times of the appointments a clinician's day holds, one after another from opening."""
        day = dt.date(2000, 1, 1)
        start, end = dt.datetime.combine(day, self.opens), dt.datetime.combine(day, self.closes)
        return [(start + k * DURATION).time() for k in range(int((end - start) / DURATION))]


def book_refills(runs: Iterable[PatientRun], bookings: RefillBookings, clinic_day: dt.date,
                 seed: int) -> list[Booking]:
    """The refill appointments of the runs' pumps in place (see the module's docstring), by site, patient and
    start."""
    rng = np.random.default_rng(np.random.SeedSequence(seed).spawn(1)[0])
    now = dt.datetime.combine(clinic_day, READ_AT)
    made: list[Booking] = []
    coming: list[tuple[PatientRun, str, VisitPlace, dt.datetime, dt.date]] = []
    for run in runs:
        if run.course.exit_reason is not None:
            continue
        staff = bookings.staff[run.site]
        clinician = staff[int(rng.integers(len(staff)))]
        place = VisitPlace.HOME if rng.random() < bookings.home_share else VisitPlace.CLINIC
        booked = rng.random() >= bookings.unbooked_share
        serial = run.implants[-1].serial_number
        fills = [row for row in run.rows["refills"] if row["pump_serial"] == serial]
        done = [_utc(row["refilled_at"]) for row in fills]
        made += [Booking(run.site, run.patient_id, at, DEFAULT_MINUTES, place, clinician, clinician, before + DURATION)
                 for before, at in pairwise(done)]
        due = fills[-1].get("next_refill_due")
        if booked and due:
            coming.append((run, clinician, place, done[-1], _working_day(dt.date.fromisoformat(due), done[-1])))
    busy = {(b.clinician, b.starts_at) for b in made}
    for run, clinician, place, last, day in coming:
        free = [t for t in bookings.slots() if (clinician, dt.datetime.combine(day, t)) not in busy]
        if not free:
            raise OpenIDDSError("bookings.staff", clinician, f"a clinician with a free slot on {day} between "
                                f"{bookings.opens} and {bookings.closes} (add staff or hours)")
        starts_at = dt.datetime.combine(day, free[int(rng.integers(len(free)))])
        busy.add((clinician, starts_at))
        missed = starts_at + DURATION <= now
        made.append(Booking(run.site, run.patient_id, starts_at, DEFAULT_MINUTES, place, clinician, clinician,
                            last + DURATION, clinician if missed else None, starts_at + DURATION if missed else None))
    return sorted(made, key=lambda b: (b.site, b.patient_id, b.starts_at))


def _working_day(due: dt.date, last: dt.datetime) -> dt.date:
    """The day a refill due on ``due`` is booked: the Friday before a weekend day, unless that is not after the
    last refill."""
    friday = due - dt.timedelta(days=max(0, due.weekday() - FRIDAY))
    return friday if friday > last.date() else due


def _utc(text: str) -> dt.datetime:
    """A registry row's UTC time (``2025-05-02T10:00:00Z``), naive."""
    return dt.datetime.fromisoformat(text).replace(tzinfo=None)

"""The example clinic's refill appointments: booked at each refill of a pump in place for the next one, shipped with
the example and loaded through the calendar's own rules, so that its calendar shows the refills done, the coming
ones booked, and a few due ones unbooked."""

from __future__ import annotations

import csv
import dataclasses
import datetime as dt
from collections import Counter
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select, text

from openidds.clinic import RegistryError, connect, refills_due
from openidds.clinic import models as m
from openidds.clinic.appointments import Booking, VisitPlace, appointments, book_all
from openidds.clinic.examples import (
    BOOKING_COLUMNS,
    EXAMPLE_APPOINTMENTS,
    EXAMPLE_CUTOFF,
    load_example,
    read_bookings,
    write_bookings,
)
from openidds.cohort.virtual_clinic import ClinicError, load_clinic

BUNDLED = Path(__file__).parents[2] / "src" / "openidds" / "cohort" / "clinics" / "example.toml"
NOW = dt.datetime.combine(EXAMPLE_CUTOFF, dt.time(8))
"""The example's now: its pumps were read at 08:00 on the clinic day."""


def _shipped_rows() -> int:
    with EXAMPLE_APPOINTMENTS.open(newline="", encoding="utf-8") as handle:
        return sum(1 for _ in csv.DictReader(handle))


def test_load_example_books_every_shipped_appointment_on_a_pump_in_place(example: Engine) -> None:
    """Each appointment is on its patient's pump in place: a kept one is a refill of that pump done at its start,
    a live one comes after the pump's last refill (at most one a pump), a cancelled one is a missed one."""
    booked = appointments(example, dt.datetime.min, dt.datetime.max, cancelled=True)
    assert len(booked) == _shipped_rows() == 109
    with example.connect() as conn:
        in_place = {(site, code): implant for site, code, implant in conn.execute(text(
            "select s.code, p.patient_code, r.implant_id from refill_status r join implants i on i.id = r.implant_id "
            "join patients p on p.id = i.patient_id join sites s on s.id = p.site_id where r.in_place"))}
        refills: dict[int, set[dt.datetime]] = {}
        for implant, at in conn.execute(select(m.Refill.implant_id, m.Refill.refilled_at)):
            refills.setdefault(implant, set()).add(at)
        placed = dict(conn.execute(select(m.RefillAppointment.id, m.RefillAppointment.implant_id)).all())
    kept, live, cancelled = [], [], []
    for a in booked:
        implant = in_place[(a.site, a.patient_id)]
        assert placed[a.id] == implant and a.booked_at < a.starts_at and a.duration_minutes == 30
        if a.cancelled_at is not None:
            cancelled.append(a)
        elif a.starts_at in refills[implant]:
            kept.append(a)
        else:
            assert a.starts_at > max(refills[implant])
            live.append(a)
    assert Counter((a.site, a.patient_id) for a in live).most_common(1)[0][1] == 1
    assert len(kept) == sum(len(refills[implant]) - 1 for implant in in_place.values())  # all but the first fill
    assert len(in_place) == 48 and len(live) == 45  # two pumps not booked yet, one appointment missed
    assert all(a.starts_at > NOW for a in live)
    [missed] = cancelled
    assert (missed.site, missed.patient_id) == ("VIRTUAL-01", "S00117")
    assert missed.ends_at <= NOW and missed.cancelled_by == missed.clinician and missed.cancelled_at == missed.ends_at


def test_the_coming_appointments_are_on_working_days_in_clinic_hours_with_the_sites_staff(example: Engine) -> None:
    bookings = load_clinic("example").bookings
    assert bookings is not None
    coming = appointments(example, NOW, dt.datetime.max)
    assert coming
    for a in coming:
        assert a.starts_at.weekday() < 5 and bookings.opens <= a.starts_at.time() and a.ends_at.time() <= \
            bookings.closes
        assert a.clinician in bookings.staff[a.site] and a.booked_by == a.clinician
    assert {a.place for a in coming} == set(VisitPlace)
    assert len({(a.clinician, a.starts_at) for a in coming}) == len(coming)  # nobody booked twice at once


def test_on_the_clinic_day_most_coming_refills_are_booked_and_a_few_are_due_unbooked(example: Engine) -> None:
    """The next four weeks: a refill due and booked for most pumps; two due and not booked yet, and the overdue one
    whose appointment was missed."""
    within = 27
    unbooked = refills_due(example, EXAMPLE_CUTOFF, within, unbooked=True)
    due = refills_due(example, EXAMPLE_CUTOFF, within)
    assert sorted(r.patient_id for r in unbooked) == ["S00071", "S00117", "S00191"]
    assert [r.patient_id for r in unbooked if r.days_left < 0] == ["S00117"]
    booked = appointments(example, NOW, NOW + dt.timedelta(days=within + 1))
    assert len(booked) == len(due) - len(unbooked) == 11


def test_each_booking_and_cancellation_is_audited_as_its_clinician_at_its_time(example: Engine) -> None:
    with example.connect() as conn:
        entries = conn.execute(select(m.AuditEntry.user_name, m.AuditEntry.at, m.AuditEntry.action,
                                      m.AuditEntry.source, m.AuditEntry.record_id)
                               .where(m.AuditEntry.table_name == "refill_appointments")).all()
        cancelled = conn.scalar(select(func.count()).select_from(m.RefillAppointment)
                                .where(m.RefillAppointment.cancelled_at.is_not(None)))
    assert len(entries) == _shipped_rows() + cancelled
    assert {e.source for e in entries} == {"openidds example registry: refill appointments"}
    by_id = {a.id: a for a in appointments(example, dt.datetime.min, dt.datetime.max, cancelled=True)}
    for entry in entries:
        a = by_id[entry.record_id]
        expected = (a.booked_by, a.booked_at) if entry.action == "insert" else (a.cancelled_by, a.cancelled_at)
        assert (entry.user_name, entry.at) == expected


def test_booking_all_keeps_the_rule_of_one_booked_refill_a_pump_and_writes_nothing_when_refused(
        tmp_path: Path) -> None:
    """A second live appointment for a pump that has one is refused as :func:`book` refuses it, and the bookings
    before it in the same call are not written."""
    engine = connect(str(tmp_path / "records.sqlite"))
    load_example(engine, pump_logs=False)  # the records alone: no appointment yet
    nurse = "RN Elm (synthetic)"
    at = dt.datetime(2025, 7, 1, 14, 30)
    first, free = (Booking("VIRTUAL-02", code, at, 30, VisitPlace.CLINIC, nurse, nurse, NOW)
                   for code in ("S00190", "S00191"))
    again = Booking("VIRTUAL-02", "S00190", at + dt.timedelta(days=1), 30, VisitPlace.HOME, nurse, nurse, NOW)
    with pytest.raises(RegistryError, match="one is booked at 2025-07-01 14:30 UTC"):
        book_all(engine, [free, first, again], source="test")
    assert appointments(engine, dt.datetime.min, dt.datetime.max, cancelled=True) == []
    early = dataclasses.replace(free, cancelled_by=nurse, cancelled_at=NOW - dt.timedelta(days=1))
    with pytest.raises(RegistryError, match=r"cancelled_at=.*expected a time at or after the booking"):
        book_all(engine, [first, early], source="test")
    with pytest.raises(RegistryError, match="canceller and time together"):
        book_all(engine, [dataclasses.replace(free, cancelled_by=nurse)], source="test")
    assert appointments(engine, dt.datetime.min, dt.datetime.max, cancelled=True) == []
    assert len(book_all(engine, [free, first], source="test")) == 2
    engine.dispose()


def test_a_file_of_appointments_reads_back_what_was_written_and_a_bad_cell_is_refused(tmp_path: Path) -> None:
    shipped = read_bookings(EXAMPLE_APPOINTMENTS)
    path = tmp_path / "refill_appointments.csv"
    write_bookings(path, shipped)
    assert path.read_bytes() == EXAMPLE_APPOINTMENTS.read_bytes() and read_bookings(path) == shipped
    lines = path.read_text(encoding="utf-8").splitlines()
    assert tuple(lines[0].split(",")) == BOOKING_COLUMNS
    path.write_text("\n".join([lines[0], lines[1].replace("T10:00:00Z", "T10:00:00", 1)]) + "\n", encoding="utf-8")
    with pytest.raises(RegistryError, match=r"refill_appointments\.csv:2: starts_at='2023-11-21T10:00:00': "
                                            "expected a UTC time"):
        read_bookings(path)
    path.write_text("\n".join([lines[0], lines[1].replace(",clinic,", ",ward,")]) + "\n", encoding="utf-8")
    with pytest.raises(RegistryError, match="one of clinic, home"):
        read_bookings(path)


@pytest.mark.parametrize(("old", "new", "message"), [
    ('VIRTUAL-02 = ["RN', 'VIRTUAL-03 = ["RN', "bookings.staff must name the staff of each site"),
    ("closes = 16:30:00", "closes = 08:45:00", "must leave a 30-minute appointment"),
    ('"RN Elm (synthetic)"]', '"RN Dogwood (synthetic)"]', "names unique"),
])
def test_bad_bookings_in_a_clinic_file_are_refused_naming_the_field(tmp_path: Path, old: str, new: str,
                                                                   message: str) -> None:
    source = BUNDLED.read_text(encoding="utf-8")
    assert old in source
    path = tmp_path / "bad.toml"
    path.write_text(source.replace(old, new), encoding="utf-8")
    with pytest.raises(ClinicError, match=message):
        load_clinic(path)

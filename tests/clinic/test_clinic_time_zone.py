"""The clinic's time zone: conversions at both clock changes of Europe/Stockholm, and the stored setting."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import select

from openidds.clinic import time_zone
from openidds.clinic.database import unit_of_work
from openidds.clinic.errors import ConcurrentUpdateError
from openidds.clinic.models import AuditEntry
from openidds.clinic.time_zone import ClinicZone, LocalTimeRefused, TimeZoneRefused

STOCKHOLM = ClinicZone("Europe/Stockholm", 1)
SPRING = dt.date(2026, 3, 29)  # last Sunday of March: 02:00 CET becomes 03:00 CEST
AUTUMN = dt.date(2026, 10, 25)  # last Sunday of October: 03:00 CEST becomes 02:00 CET
NOW = dt.datetime(2026, 11, 30, 12, 0)


@pytest.mark.parametrize(("day", "local", "utc"), [
    (dt.date(2026, 1, 15), dt.time(9, 0), dt.datetime(2026, 1, 15, 8, 0)),  # winter, +01:00
    (dt.date(2026, 7, 15), dt.time(9, 0), dt.datetime(2026, 7, 15, 7, 0)),  # summer, +02:00
    (SPRING, dt.time(1, 59), dt.datetime(2026, 3, 29, 0, 59)),  # last minute before the gap
    (SPRING, dt.time(3, 0), dt.datetime(2026, 3, 29, 1, 0)),  # first minute after it
    (SPRING, dt.time(9, 0), dt.datetime(2026, 3, 29, 7, 0)),
    (AUTUMN, dt.time(1, 59), dt.datetime(2026, 10, 24, 23, 59)),
    (AUTUMN, dt.time(3, 0), dt.datetime(2026, 10, 25, 2, 0)),  # after the repeated hour, +01:00
    (AUTUMN, dt.time(9, 0), dt.datetime(2026, 10, 25, 8, 0)),
])
def test_local_time_to_utc_either_side_of_each_clock_change(day, local, utc):
    assert STOCKHOLM.to_utc(day, local) == utc
    assert STOCKHOLM.local(utc).replace(tzinfo=None) == dt.datetime.combine(day, local)


@pytest.mark.parametrize("minute", [dt.time(2, 0), dt.time(2, 30), dt.time(2, 59)])
def test_a_skipped_time_is_refused_saying_so(minute):
    with pytest.raises(LocalTimeRefused, match="the clocks skip it that day") as refused:
        STOCKHOLM.to_utc(SPRING, minute)
    assert refused.value.field == "time" and refused.value.value == f"2026-03-29 {minute:%H:%M}"


@pytest.mark.parametrize("minute", [dt.time(2, 0), dt.time(2, 30), dt.time(2, 59)])
def test_a_time_lived_twice_is_refused_saying_so(minute):
    with pytest.raises(LocalTimeRefused, match="the clocks pass it twice that day"):
        STOCKHOLM.to_utc(AUTUMN, minute)


def test_a_time_with_an_offset_is_refused():
    with pytest.raises(LocalTimeRefused, match="without an offset, local time in Europe/Stockholm"):
        STOCKHOLM.to_utc(SPRING, dt.time(9, 0, tzinfo=dt.UTC))


def test_the_clinic_day_is_the_local_date():
    beijing = ClinicZone("Asia/Shanghai", 1)
    assert beijing.today(dt.datetime(2026, 11, 30, 16, 30)) == dt.date(2026, 12, 1)
    assert ClinicZone("America/Los_Angeles", 1).today(dt.datetime(2026, 12, 1, 3, 0)) == dt.date(2026, 11, 30)
    assert ClinicZone(time_zone.DEFAULT_ZONE).today(dt.datetime(2026, 11, 30, 23, 59)) == dt.date(2026, 11, 30)


@pytest.mark.parametrize("name", ["Europe/Stokholm", "europe/stockholm", "CET+1", "", " UTC", "../etc/passwd",
                                  "Europe", "Europe/", "zone.tab", "posixrules", "a" * 300, "UTC\x00", "\ud800"])
def test_an_unknown_zone_is_refused_with_a_hint(name):
    with pytest.raises(TimeZoneRefused, match="an IANA time zone name such as Europe/Stockholm") as refused:
        time_zone.zone_named(name)
    assert (refused.value.field, refused.value.value) == ("time_zone", name)


def test_the_setting_defaults_to_utc_is_set_audited_and_refuses_a_stale_change(engine):
    assert time_zone.current(engine) == ClinicZone("UTC", 0)
    first = time_zone.set_zone(engine, "Europe/Stockholm", "ada", NOW, "test", based_on=0)
    assert (first.name, first.version, first.changed_by, first.changed_at) == ("Europe/Stockholm", 1, "ada", NOW)
    assert time_zone.current(engine) == first
    with pytest.raises(ConcurrentUpdateError, match="Europe/Stockholm \\(version 1, set by ada at 2026-11-30 12:00"):
        time_zone.set_zone(engine, "Asia/Shanghai", "bo", NOW, "test", based_on=0)
    second = time_zone.set_zone(engine, "Asia/Shanghai", "bo", NOW, "test", based_on=1)
    assert (second.name, second.version) == ("Asia/Shanghai", 2)
    assert time_zone.set_zone(engine, "Asia/Shanghai", "cy", NOW, "test") == second  # unchanged: nothing written
    with pytest.raises(TimeZoneRefused):
        time_zone.set_zone(engine, "Mars/Olympus", "cy", NOW, "test")
    assert time_zone.current(engine) == second
    with unit_of_work(engine, "reader") as session:
        audited = session.scalars(select(AuditEntry).where(AuditEntry.table_name == "clinic_settings")
                                  .order_by(AuditEntry.id)).all()
    assert [(a.user_name, a.action, (a.after or {}).get("time_zone")) for a in audited] == [
        ("ada", "insert", "Europe/Stockholm"), ("bo", "update", "Asia/Shanghai")]

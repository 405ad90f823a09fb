"""The clinic's own time zone: the one setting that says in which local time its staff read and enter times.

The registry keeps every moment as naive UTC; the clinic's zone (an IANA name such as ``Europe/Stockholm``, read
through :mod:`zoneinfo`) only changes how times are shown and how a time of day typed by a nurse is read. Until one
is set the clinic's zone is UTC. The setting is one row of ``clinic_settings``, changed through the registry's unit
of work (so the audit trail holds who changed it, and when); a change names the setting's version its author saw,
and a change based on an older version is refused with :class:`ConcurrentUpdateError`.

A local time of day on the day the clocks change may not exist (Europe/Stockholm, last Sunday of March: 02:00 to
02:59 is skipped) or may happen twice (last Sunday of October: 02:00 to 02:59 is lived twice): :func:`to_utc`
refuses both with :class:`LocalTimeRefused`, saying which times the day does have, rather than guessing.

A web worker reads the setting through a :class:`ZoneCache`: from the registry at most every
:data:`ZONE_MAX_AGE_S` seconds, and at once after this process changes it with :func:`set_zone`. Another process
(a second worker, the command line) sees a change within that many seconds.
"""

from __future__ import annotations

import datetime as dt
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError, available_timezones

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from openidds.clinic import models
from openidds.clinic.database import unit_of_work
from openidds.clinic.errors import ConcurrentUpdateError, RegistryError
from openidds.clinic.locking import begin_write

DEFAULT_ZONE = "UTC"
"""The clinic's zone until one is set."""
SETTINGS_ROW = 1
"""The id of the one row of ``clinic_settings`` (two first settings made at once: the second is refused)."""
ZONE_MAX_AGE_S = 10.0
"""Seconds a process uses the zone it read before reading it again (:class:`ZoneCache`)."""


class TimeZoneRefused(RegistryError):
    """A time zone name that is not an IANA zone this machine knows."""


class LocalTimeRefused(RegistryError):
    """A local time that does not exist, or exists twice, on its day in the clinic's zone (a clock change)."""


@functools.cache
def _known_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def zone_named(name: str, field: str = "time_zone") -> ZoneInfo:
    """The IANA zone ``name`` (``Europe/Stockholm``), one of the zones this machine's tz database lists;
    :class:`TimeZoneRefused` for any other name (a folder such as ``Europe``, a file path, a misspelling)."""
    if name in _known_zones():
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    raise TimeZoneRefused(field, name, "an IANA time zone name such as Europe/Stockholm, Asia/Shanghai or UTC "
                                       "(region/city, as in the tz database; check its spelling and capitals)")


@dataclass(frozen=True, slots=True)
class ClinicZone:
    """The clinic's time zone setting: its IANA name, the setting's version (0: never set, the default UTC), and
    who last set it and when (naive UTC)."""

    name: str
    version: int = 0
    changed_at: dt.datetime | None = None
    changed_by: str | None = None

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.name)

    @property
    def is_default(self) -> bool:
        return self.version == 0

    def local(self, at_utc: dt.datetime) -> dt.datetime:
        """The naive-UTC moment ``at_utc`` as an aware time in the clinic's zone."""
        return at_utc.replace(tzinfo=dt.UTC).astimezone(self.zone)

    def today(self, now_utc: dt.datetime) -> dt.date:
        """The clinic's date at the naive-UTC moment ``now_utc``."""
        return self.local(now_utc).date()

    def day_start(self, day: dt.date) -> dt.datetime:
        """The naive-UTC moment the local ``day`` begins (its first minute, should the clocks skip midnight)."""
        return dt.datetime.combine(day, dt.time(), tzinfo=self.zone).astimezone(dt.UTC).replace(tzinfo=None)

    def to_utc(self, day: dt.date, time: dt.time, field: str = "time") -> dt.datetime:
        """The naive-UTC moment of the local ``time`` on ``day`` in the clinic's zone; :class:`LocalTimeRefused`
        when the clocks skip it or pass it twice that day."""
        if time.tzinfo is not None:
            raise LocalTimeRefused(field, time.isoformat(), f"a time of day without an offset, local time in "
                                                            f"{self.name}")
        first, second = (dt.datetime.combine(day, time, tzinfo=self.zone).replace(fold=fold) for fold in (0, 1))
        earlier, later = first.utcoffset(), second.utcoffset()
        if earlier != later:
            back = first.astimezone(dt.UTC).astimezone(self.zone)
            if back.replace(tzinfo=None) != first.replace(tzinfo=None):
                raise LocalTimeRefused(field, f"{day.isoformat()} {time:%H:%M}",
                                       f"a time that exists in {self.name}: the clocks skip it that day "
                                       f"(moved forward); choose a time outside the skipped hour")
            raise LocalTimeRefused(field, f"{day.isoformat()} {time:%H:%M}",
                                   f"a time that happens once in {self.name}: the clocks pass it twice that day "
                                   f"(moved back); choose a time outside the repeated hour")
        return first.astimezone(dt.UTC).replace(tzinfo=None)

    def moment(self, at: dt.datetime, field: str = "time") -> dt.datetime:
        """The naive-UTC moment of a date-time that staff typed: one with an offset names its moment itself, one
        without is local time in the clinic's zone (:meth:`to_utc`, refused when the clocks skip it or pass it
        twice)."""
        if at.tzinfo is not None:
            return at.astimezone(dt.UTC).replace(tzinfo=None)
        return self.to_utc(at.date(), at.time(), field)


def current(engine: Engine) -> ClinicZone:
    """The clinic's time zone (UTC, version 0, when never set)."""
    with Session(engine) as session:
        return _current_in(session)


class ZoneCache:
    """The clinic's zone as one process uses it: read from the registry ``engine`` at most every ``max_age_s``
    seconds of the monotonic clock ``ticks``, and again at once after :func:`set_zone` ran in this process (which
    counts its changes in :attr:`changes`). Safe to share between threads: a reader replaces the held value whole."""

    changes: ClassVar[int] = 0
    """How many times :func:`set_zone` changed the setting in this process."""

    def __init__(self, engine: Engine, max_age_s: float = ZONE_MAX_AGE_S,
                 ticks: Callable[[], float] = time.monotonic) -> None:
        self._engine, self._max_age_s, self._ticks = engine, max_age_s, ticks
        self._held: tuple[ClinicZone, float, int] | None = None

    def current(self) -> ClinicZone:
        """The clinic's zone: the one held, unless it is older than the maximum age or this process changed it
        since; else read now."""
        held, now = self._held, self._ticks()
        if held is not None and now - held[1] < self._max_age_s and held[2] == ZoneCache.changes:
            return held[0]
        changes = ZoneCache.changes  # counted before the read: a change committed during it is read again next time
        zone = current(self._engine)
        self._held = (zone, now, changes)
        return zone


def _current_in(session: Session) -> ClinicZone:
    return _zone_of(session.get(models.ClinicSetting, SETTINGS_ROW))


def _zone_of(row: models.ClinicSetting | None) -> ClinicZone:
    if row is None:
        return ClinicZone(DEFAULT_ZONE)
    return ClinicZone(row.time_zone, row.version, row.changed_at, row.changed_by)


def set_zone(engine: Engine, name: str, by: str, now: dt.datetime, source: str,
             based_on: int | None = None) -> ClinicZone:
    """Set the clinic's zone to ``name`` on behalf of ``by`` at ``now`` (naive UTC). ``based_on``: the setting's
    version its author saw (0: never set), a newer one refused with :class:`ConcurrentUpdateError`; ``None``: set
    it whatever it is (a command line, a server's option). Setting the zone it already has writes nothing."""
    zone_named(name)
    with unit_of_work(engine, by, source) as session:
        begin_write(session.connection())
        row = session.get(models.ClinicSetting, SETTINGS_ROW)
        seen = _zone_of(row)
        if based_on is not None and based_on != seen.version:
            raise ConcurrentUpdateError("time_zone", f"version {based_on}", _stale(seen))
        if seen.name == name and not seen.is_default:
            return seen
        if row is None:
            row = models.ClinicSetting(id=SETTINGS_ROW, time_zone=name, changed_at=now, changed_by=by)
            session.add(row)
        else:
            row.time_zone, row.changed_at, row.changed_by = name, now, by
        session.flush()
        changed = _zone_of(row)
    ZoneCache.changes += 1  # after the commit: a cache that reads again now reads the new zone
    return changed


def _stale(seen: ClinicZone) -> str:
    if seen.is_default:
        return "no setting: the clinic's zone is still the default, UTC; reload and apply your change again"
    return (f"the current setting, {seen.name} (version {seen.version}, set by {seen.changed_by} at "
            f"{seen.changed_at:%Y-%m-%d %H:%M} UTC): reload it and apply your change again")

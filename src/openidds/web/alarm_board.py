"""The alarm board's content and actions, as the logged-in user's role may see and do them.

Nurses and physicians acknowledge, assign and resolve alarms and record an alarm a patient or caregiver
reports; a data manager sees the board. Beside each alarm the board shows its escalation (when the registry
escalates alarms): its phase and tier, who has it and how long it has waited. Opening the board reads the user's
messages about the alarms it shows (the unread badge of every page counts the others). Each action names the version of
the alarm its user saw: an alarm changed since is refused with :class:`StaleEdit` (HTTP 409), saying who changed
it and when.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine

from openidds.clinic import alarms
from openidds.clinic.alarms import REPORT_SOURCES, USER_RESOLUTIONS, AlarmState, Resolution
from openidds.clinic.errors import ConcurrentUpdateError
from openidds.clinic.escalations import Standing, standings
from openidds.clinic.open_alarms import AlarmView, alarm_views
from openidds.clinic.time_zone import ClinicZone
from openidds.pump.alarms import AlarmKind
from openidds.web import accounts
from openidds.web.errors import AccountError, InputRefused, StaleEdit
from openidds.web.roles import Permission, Role, require
from openidds.web.transports.board import mark_read

UNRESOLVED = "unresolved"
"""The board's default filter: open and acknowledged alarms."""
_FILTERS = {UNRESOLVED: (AlarmState.OPEN, AlarmState.ACKNOWLEDGED), **{s.value: (s,) for s in AlarmState}}


@dataclass(frozen=True)
class Board:
    """The alarms the filter selects, their escalations (by alarm id, for those that have one), and what the
    actions may name (assignees, resolutions)."""

    alarms: list[AlarmView]
    escalations: dict[int, Standing]
    state: str
    assigned_to: str | None
    assignees: list[str]
    resolutions: tuple[Resolution, ...]

    def to_dict(self) -> dict[str, Any]:
        alarms = [{**a.to_dict(), "escalation": None if a.id not in self.escalations else
                   self.escalations[a.id].to_dict()} for a in self.alarms]
        return {"state": self.state, "assigned_to": self.assigned_to, "alarms": alarms,
                "assignees": self.assignees, "resolutions": [r.value for r in self.resolutions]}


def filters() -> tuple[str, ...]:
    """The board's state filters: unresolved (default), open, acknowledged, resolved."""
    return tuple(_FILTERS)


def assignees(engine: Engine) -> list[str]:
    """The users an alarm may be assigned to: those whose role may act on alarms."""
    return accounts.names_who_may(engine, Permission.ACT_ON_ALARMS)


def board(engine: Engine, role: Role, now: dt.datetime, state: str | None = None,
          assigned_to: str | None = None) -> Board:
    """The board for ``state`` (one of :func:`filters`, default unresolved) and ``assigned_to`` (a user name);
    ``now`` (naive UTC) dates the alarms' ages."""
    require(role, Permission.VIEW_ALARMS)
    state = state or UNRESOLVED
    if state not in _FILTERS:
        raise InputRefused("state", state, f"one of {', '.join(_FILTERS)}")
    assigned_to = assigned_to or None
    if assigned_to is not None:
        try:
            accounts.check_name(assigned_to)
        except AccountError:
            raise InputRefused("assigned_to", assigned_to, f"a user's name (1–{accounts.MAX_NAME_CHARS} printable "
                               "characters), or nothing for everyone's alarms") from None
    views = alarm_views(engine, now, _FILTERS[state], assigned_to)
    return Board(views, standings(engine, [a.id for a in views], now), state, assigned_to, assignees(engine),
                 USER_RESOLUTIONS)


def opened(engine: Engine, user: accounts.SessionUser, now: dt.datetime, at: dt.datetime, state: str | None = None,
           assigned_to: str | None = None) -> Board:
    """The board as ``user`` opens it (:func:`board`): their messages about the alarms it shows are read at ``at``
    (naive UTC), which clears them from the unread badge. Reading is not acknowledging."""
    shown = board(engine, user.role, now, state, assigned_to)
    mark_read(engine, user.name, at, [a.id for a in shown.alarms])
    return shown


@contextlib.contextmanager
def _stale_is_409() -> Iterator[None]:
    """A change refused because the record changed since its user saw it becomes :class:`StaleEdit`."""
    try:
        yield
    except ConcurrentUpdateError as exc:
        raise StaleEdit(exc.field, exc.value, exc.expected) from exc


def acknowledge(engine: Engine, user: accounts.SessionUser, alarm_id: int, version: int, at: dt.datetime) -> None:
    """The user takes the open alarm in hand (as seen at ``version``)."""
    require(user.role, Permission.ACT_ON_ALARMS)
    with _stale_is_409():
        alarms.acknowledge(engine, alarm_id, version, user.name, at)


def assign(engine: Engine, user: accounts.SessionUser, alarm_id: int, version: int, assigned_to: str,
           at: dt.datetime) -> None:
    """The user gives the unresolved alarm (as seen at ``version``) to a user who may act on alarms."""
    require(user.role, Permission.ACT_ON_ALARMS)
    names = assignees(engine)
    if assigned_to not in names:
        raise InputRefused("assigned_to", assigned_to, f"a user who may act on alarms ({', '.join(names)})")
    with _stale_is_409():
        alarms.assign(engine, alarm_id, version, assigned_to, user.name, at)


def resolve(engine: Engine, user: accounts.SessionUser, alarm_id: int, version: int, resolution: str,
            note: str | None, at: dt.datetime) -> None:
    """The user closes the unresolved alarm (as seen at ``version``) for a reason of :data:`USER_RESOLUTIONS`."""
    require(user.role, Permission.ACT_ON_ALARMS)
    reason = next((r for r in USER_RESOLUTIONS if r.value == resolution), None)
    if reason is None:
        raise InputRefused("resolution", resolution, f"one of {', '.join(r.value for r in USER_RESOLUTIONS)}")
    with _stale_is_409():
        alarms.resolve(engine, alarm_id, version, reason, note, user.name, at)


def report(engine: Engine, user: accounts.SessionUser, site: str, patient_id: str, kind: str, heard_at: dt.datetime,
           source: str, detail: str | None, at: dt.datetime, zone: ClinicZone) -> int:
    """Record an alarm a patient or caregiver reports for the patient's pump in place (``heard_at``: local time in
    the clinic's ``zone``, or with its offset); returns its id."""
    require(user.role, Permission.ACT_ON_ALARMS)
    known = {k.value: k for k in AlarmKind}
    if kind not in known:
        raise InputRefused("kind", kind, f"one of the pump's alarms: {', '.join(known)}")
    reporters = {s.value: s for s in REPORT_SOURCES}
    if source not in reporters:
        raise InputRefused("source", source, f"who reported it: {', '.join(reporters)}")
    return alarms.report_alarm(engine, site, patient_id, known[kind], zone.moment(heard_at, "heard_at"),
                               reporters[source], detail, user.name, at)

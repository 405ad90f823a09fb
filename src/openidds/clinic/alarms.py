"""The clinic's alarm record: one row per distinct alarm (table ``clinic_alarms``), whatever showed it.

An alarm reaches the clinic from a pump's imported event log, from an interrogation or an alarm record of the
clinic's files (``pump_alarms``), or from a patient's or caregiver's report. The same alarm seen twice (same
implant, alarm kind and raise time) is one row: :func:`derive_alarms` merges, so running it again changes
nothing. An alarm the pump's log clears (``alarm_cleared``) or the clinic's record resolves is closed with that
reason; one that a user resolved stays resolved.

Priority follows IEC 60601-1-8, which ranks an alarm by the harm that failing to respond can cause and how soon:
the pump's critical alarms (therapy stopped or about to stop) are **high**; a low reservoir is **medium** (left
alone it becomes an empty reservoir and withdrawal within days: a prompt response is needed); the other
non-critical alarms, the elective replacement indicator (about 90 days before the pump stops) and a non-critical
memory error (therapy goes on), are **low** (awareness, a planned response). An alarm whose severity is not
known is ranked high: nobody should wait on a guess.

Each action (acknowledge, assign, resolve) names the version of the alarm its user saw; an alarm changed since
is refused with :class:`AlarmChanged`, saying who changed it and when. Every change is audited in the change's
own transaction. The escalation of an alarm keys its own state on the alarm's ``id``: when the registry holds an
escalation policy (:mod:`openidds.clinic.escalation_policies`), a new open alarm raises its escalation, and
acknowledging, resolving or a source's clearing of the alarm acknowledges, resolves or clears it, in the same
transaction.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from enum import Enum

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openidds.clinic import audit, bulk, escalations, models, store
from openidds.clinic.database import unit_of_work
from openidds.clinic.errors import ConcurrentUpdateError, RegistryError, UnknownRecord
from openidds.clinic.queries import active_implant_id
from openidds.escalation import Priority
from openidds.pump.alarms import AlarmKind, Severity
from openidds.pump.events import EventKind


class AlarmPriority(str, Enum):
    """IEC 60601-1-8 alarm priority (the order the board lists alarms in)."""

    HIGH = "high"
    MEDIUM = "medium"
    LOW = "low"

    @property
    def rank(self) -> int:
        return list(AlarmPriority).index(self)


class AlarmSource(str, Enum):
    """Where the clinic first saw an alarm."""

    PUMP_LOG = "pump log"
    INTERROGATION = "interrogation"
    CLINIC_RECORD = "clinic record"
    PATIENT_REPORT = "patient report"
    CAREGIVER_REPORT = "caregiver report"


REPORT_SOURCES = (AlarmSource.PATIENT_REPORT, AlarmSource.CAREGIVER_REPORT)
"""The sources a user records an alarm from by hand (:func:`report_alarm`)."""


class AlarmState(str, Enum):
    """An alarm's state: open until someone acknowledges it, then acknowledged until it is resolved."""

    OPEN = "open"
    ACKNOWLEDGED = "acknowledged"
    RESOLVED = "resolved"


class Resolution(str, Enum):
    """Why an alarm was resolved; the first two are set by the registry itself, the others by a user."""

    CLEARED_BY_PUMP = "cleared_by_pump"
    RESOLVED_IN_RECORD = "resolved_in_record"
    REFILLED = "refilled"
    REPROGRAMMED = "reprogrammed"
    PATIENT_SEEN = "patient_seen"
    DEVICE_REPLACED = "device_replaced"
    NOT_THIS_PUMP = "not_this_pump"
    OTHER = "other"

    @property
    def label(self) -> str:
        return _RESOLUTION_LABELS[self]


_RESOLUTION_LABELS = {
    Resolution.CLEARED_BY_PUMP: "cleared by the pump",
    Resolution.RESOLVED_IN_RECORD: "resolved in the clinic record",
    Resolution.REFILLED: "pump refilled", Resolution.REPROGRAMMED: "pump reprogrammed",
    Resolution.PATIENT_SEEN: "patient seen, no further action",
    Resolution.DEVICE_REPLACED: "pump replaced or explanted",
    Resolution.NOT_THIS_PUMP: "not an alarm of this pump", Resolution.OTHER: "other (see note)",
}
USER_RESOLUTIONS = tuple(r for r in Resolution if r not in (Resolution.CLEARED_BY_PUMP, Resolution.RESOLVED_IN_RECORD))
"""The reasons a user may give when resolving an alarm."""
MAX_NOTE_CHARS = 2000

_LOW = frozenset({AlarmKind.ELECTIVE_REPLACEMENT.value, AlarmKind.MEMORY_ERROR.value})


def severity_of(kind: str, severity: str | None) -> Severity:
    """The pump's severity as written (``non-critical`` in a log, ``non_critical`` in a clinic file), else the
    alarm kind's own; critical when neither is known."""
    if severity:
        return Severity(severity.replace("_", "-"))
    known = {k.value: k for k in AlarmKind}.get(kind)
    return Severity.CRITICAL if known is None else known.severity


def priority_of(kind: str, severity: Severity) -> AlarmPriority:
    """The IEC 60601-1-8 priority of an alarm (see the module's docstring for why)."""
    if severity is Severity.CRITICAL:
        return AlarmPriority.HIGH
    return AlarmPriority.LOW if kind in _LOW else AlarmPriority.MEDIUM


class AlarmChanged(ConcurrentUpdateError):
    """An action on an alarm that changed since its user saw it (or that its state no longer allows)."""


@dataclass(frozen=True)
class _Seen:
    """An alarm as one source shows it, and when and why it ended if that source says so."""

    implant_id: int
    kind: str
    raised_at: dt.datetime
    severity: Severity
    source: AlarmSource
    detail: str | None
    ended_at: dt.datetime | None
    resolution: Resolution | None

    @property
    def key(self) -> tuple[int, str, dt.datetime]:
        return self.implant_id, self.kind, self.raised_at


def _from_pump_logs(session: Session, implant_ids: list[int]) -> list[_Seen]:
    """The alarms of the implants' stored pump logs: each ``alarm`` event opens one (a repeat while it is open is
    the same alarm), the next ``alarm_cleared`` of its kind ends it."""
    e = models.PumpEvent
    kinds = (EventKind.ALARM.value, EventKind.ALARM_CLEARED.value)
    out: list[_Seen] = []
    for chunk in store.chunks(implant_ids):
        open_now: dict[tuple[int, str], int] = {}
        rows = session.execute(select(e.implant_id, e.at, e.kind, e.reason, e.data)
                               .where(e.implant_id.in_(chunk), e.kind.in_(kinds)).order_by(e.implant_id, e.seq))
        for implant_id, at, kind, reason, data in rows:
            alarm = str(data.get("alarm"))
            key = (implant_id, alarm)
            if kind == EventKind.ALARM.value and key not in open_now:
                open_now[key] = len(out)
                out.append(_Seen(implant_id, alarm, at, severity_of(alarm, data.get("severity")), AlarmSource.PUMP_LOG,
                                 reason or None, None, None))
            elif kind == EventKind.ALARM_CLEARED.value and key in open_now:
                index = open_now.pop(key)
                out[index] = replace(out[index], ended_at=at, resolution=Resolution.CLEARED_BY_PUMP)
    return out


def _from_clinic_records(session: Session, implant_ids: list[int]) -> list[_Seen]:
    """The alarm and fault records of the clinic's files (an interrogation when the programmer logged them)."""
    a = models.PumpAlarm
    out: list[_Seen] = []
    for chunk in store.chunks(implant_ids):
        for implant_id, at, code, severity, source, description, resolved_at in session.execute(
                select(a.implant_id, a.at, a.code, a.severity, a.source, a.description, a.resolved_at)
                .where(a.implant_id.in_(chunk))):
            out.append(_Seen(implant_id, code, at, severity_of(code, severity),
                             AlarmSource.INTERROGATION if source == "programmer" else AlarmSource.CLINIC_RECORD,
                             description, resolved_at, None if resolved_at is None else Resolution.RESOLVED_IN_RECORD))
    return out


@dataclass(frozen=True)
class AlarmSync:
    """What :func:`derive_alarms` did: alarms added to the record, and stored alarms it closed."""

    added: int
    closed: int


_INSERTED = ("implant_id", "kind", "raised_at", "severity", "priority", "source", "detail", "state", "resolved_by",
             "resolved_at", "resolution")


def derive_alarms(session: Session, implant_ids: Collection[int]) -> AlarmSync:
    """Bring the alarm record of the implants in step with their pump logs and alarm records, in the session's
    transaction, as its user: add each alarm not yet recorded, close each open one a source now says has ended.
    Merging is by implant, kind and raise time, so a second run finds nothing to do."""
    ids = sorted(set(implant_ids))
    seen: dict[tuple[int, str, dt.datetime], _Seen] = {}
    for alarm in [*_from_pump_logs(session, ids), *_from_clinic_records(session, ids)]:
        first = seen.setdefault(alarm.key, alarm)
        if first.ended_at is None and alarm.ended_at is not None:
            seen[alarm.key] = replace(first, ended_at=alarm.ended_at, resolution=alarm.resolution)
    c = models.ClinicAlarm
    stored: dict[tuple[int, str, dt.datetime], tuple[int, str]] = {}
    for chunk in store.chunks(ids):
        for alarm_id, implant_id, kind, raised_at, state in session.execute(
                select(c.id, c.implant_id, c.kind, c.raised_at, c.state).where(c.implant_id.in_(chunk))):
            stored[(implant_id, kind, raised_at)] = (alarm_id, state)
    user = session.info[audit.USER_KEY]
    new = [alarm for key, alarm in seen.items() if key not in stored]
    closing = [(stored[key][0], alarm) for key, alarm in seen.items()
               if key in stored and alarm.ended_at is not None and stored[key][1] != AlarmState.RESOLVED.value]
    _insert(session, user, new)
    for alarm_id, alarm in closing:
        row = session.get(models.ClinicAlarm, alarm_id)
        assert row is not None and alarm.resolution is not None
        row.state, row.resolved_by, row.resolved_at = AlarmState.RESOLVED.value, user, alarm.ended_at
        row.resolution = alarm.resolution.value
        escalations.alarm_cleared_in(session, alarm_id, alarm.resolution.label, audit.now_utc(session.info))
    session.flush()
    return AlarmSync(len(new), len(closing))


def _insert(session: Session, user: str, alarms: list[_Seen]) -> None:
    """Insert new alarms in bulk, with their audit entries."""
    if not alarms:
        return
    rows = [(a.implant_id, a.kind, a.raised_at, a.severity.value, priority_of(a.kind, a.severity).value,
             a.source.value, a.detail, AlarmState.OPEN.value if a.ended_at is None else AlarmState.RESOLVED.value,
             None if a.ended_at is None else user, a.ended_at, None if a.resolution is None else a.resolution.value)
            for a in alarms]
    columns = {name: list(values) for name, values in zip(_INSERTED, zip(*rows, strict=True), strict=True)}
    conn = session.connection()
    table = bulk.table_of(models.ClinicAlarm)
    alarm_ids = bulk.insert_columns_with_ids(conn, table, columns, {"version": 1}, ("implant_id", "kind", "raised_at"))
    now = audit.now_utc(session.info)
    audit.write_inserts(conn, user, now, table.name,
                        {"id": alarm_ids, **columns, "version": [1] * len(rows)}, session.info.get(audit.SOURCE_KEY))
    for alarm_id, a in zip(alarm_ids, alarms, strict=True):
        if a.ended_at is None:
            _escalate(session, alarm_id, a.kind, priority_of(a.kind, a.severity), now)


def _escalate(session: Session, alarm_id: int, kind: str, priority: AlarmPriority, now: dt.datetime) -> None:
    """Start the new open alarm's escalation (if the registry has a policy)."""
    escalations.alarm_opened_in(session, alarm_id, kind, Priority(priority.value), now)


def sync_alarms(engine: Engine, user: str, source: str = "alarm sync") -> AlarmSync:
    """:func:`derive_alarms` for every implant with a pump-log alarm or an alarm record (logs and files imported
    before the alarm record existed), in one transaction as ``user``."""
    e, a = models.PumpEvent, models.PumpAlarm
    with unit_of_work(engine, user, source=source) as session:
        ids = set(session.scalars(select(e.implant_id).where(e.kind == EventKind.ALARM.value).distinct()))
        ids |= set(session.scalars(select(a.implant_id).distinct()))
        return derive_alarms(session, ids)


_TABLE = models.ClinicAlarm.__tablename__


def _act(engine: Engine, alarm_id: int, seen_version: int, by: str, at: dt.datetime, action: str,
         change: Callable[[models.ClinicAlarm], None], allowed: Collection[AlarmState],
         follow: Callable[[Session], None] | None = None) -> None:
    """Apply ``change`` to the alarm as ``by`` at ``at``, refused unless it is still at ``seen_version`` and in
    one of the ``allowed`` states; ``follow`` carries the change to the alarm's escalation in the same
    transaction."""
    with unit_of_work(engine, by, source=f"alarm board: {action}", clock=lambda: at) as session:
        row = session.get(models.ClinicAlarm, alarm_id)
        if row is None:
            raise UnknownRecord("alarm", alarm_id, "the id of an alarm on the alarm board")
        if row.version != seen_version:
            by = audit.last_change_text(session, _TABLE, alarm_id)
            raise AlarmChanged("alarm", f"{alarm_id} version {seen_version}",
                               f"the alarm as you saw it, but {by} changed "
                               f"it since (now {row.state}); reload the alarm board and {action} again if still needed")
        if AlarmState(row.state) not in allowed:
            raise AlarmChanged("alarm", f"{alarm_id} ({row.state})",
                               f"an alarm that is {' or '.join(s.value for s in allowed)} to {action} (last changed "
                               f"by {audit.last_change_text(session, _TABLE, alarm_id)})")
        change(row)
        if follow is not None:
            follow(session)


_UNRESOLVED = (AlarmState.OPEN, AlarmState.ACKNOWLEDGED)


def acknowledge(engine: Engine, alarm_id: int, seen_version: int, by: str, at: dt.datetime) -> None:
    """``by`` has seen the open alarm and takes it in hand."""
    def change(row: models.ClinicAlarm) -> None:
        row.state, row.acknowledged_by, row.acknowledged_at = AlarmState.ACKNOWLEDGED.value, by, at
    _act(engine, alarm_id, seen_version, by, at, "acknowledge", change, (AlarmState.OPEN,),
         lambda session: escalations.alarm_acknowledged_in(session, alarm_id, by, at))


def assign(engine: Engine, alarm_id: int, seen_version: int, assignee: str, by: str, at: dt.datetime) -> None:
    """``by`` gives the unresolved alarm to ``assignee`` (a user name the caller has checked)."""
    if not assignee.strip():
        raise RegistryError("assigned_to", assignee, "the name of the user who takes the alarm")
    def change(row: models.ClinicAlarm) -> None:
        row.assigned_to, row.assigned_by, row.assigned_at = assignee, by, at
    _act(engine, alarm_id, seen_version, by, at, "assign", change, _UNRESOLVED)


def resolve(engine: Engine, alarm_id: int, seen_version: int, resolution: Resolution, note: str | None, by: str,
            at: dt.datetime) -> None:
    """``by`` closes the unresolved alarm for ``resolution`` (one of :data:`USER_RESOLUTIONS`; ``other`` needs a
    note saying what was done)."""
    note = (note or "").strip() or None
    if resolution not in USER_RESOLUTIONS:
        reasons = ", ".join(r.value for r in USER_RESOLUTIONS)
        raise RegistryError("resolution", resolution.value, f"a reason a user gives: {reasons}")
    if resolution is Resolution.OTHER and note is None:
        raise RegistryError("note", note, "a note saying what was done, for the reason 'other'")
    if note is not None and len(note) > MAX_NOTE_CHARS:
        raise RegistryError("note", f"<{len(note)} characters>", f"at most {MAX_NOTE_CHARS} characters")

    def change(row: models.ClinicAlarm) -> None:
        row.state, row.resolved_by, row.resolved_at = AlarmState.RESOLVED.value, by, at
        row.resolution, row.resolution_note = resolution.value, note
    reason = resolution.label if note is None else f"{resolution.label}: {note}"
    _act(engine, alarm_id, seen_version, by, at, "resolve", change, _UNRESOLVED,
         lambda session: escalations.alarm_resolved_in(session, alarm_id, by, reason, at))


def report_alarm(engine: Engine, site: str, patient_id: str, kind: AlarmKind, heard_at: dt.datetime,
                 source: AlarmSource, detail: str | None, by: str, at: dt.datetime) -> int:
    """Record an alarm a patient or caregiver reports (what they heard and when) on the patient's pump in place;
    returns the alarm's id. The same alarm already recorded (same pump, kind and time) is not recorded twice:
    its id is returned."""
    if source not in REPORT_SOURCES:
        raise RegistryError("source", source.value, f"who reported it: {', '.join(s.value for s in REPORT_SOURCES)}")
    if heard_at > at:
        raise RegistryError("heard_at", heard_at.isoformat(), f"a time not after now ({at.isoformat()} UTC)")
    with unit_of_work(engine, by, source=f"alarm board: {source.value}", clock=lambda: at) as session:
        implant_id = active_implant_id(session.connection(), site, patient_id)
        c = models.ClinicAlarm
        existing = session.scalars(select(c.id).where(c.implant_id == implant_id, c.kind == kind.value,
                                                      c.raised_at == heard_at)).first()
        if existing is not None:
            return existing
        row = models.ClinicAlarm(implant_id=implant_id, kind=kind.value, raised_at=heard_at,
                                 severity=kind.severity.value, priority=priority_of(kind.value, kind.severity).value,
                                 source=source.value, detail=(detail or "").strip() or None,
                                 state=AlarmState.OPEN.value)
        session.add(row)
        session.flush()
        _escalate(session, row.id, kind.value, priority_of(kind.value, kind.severity), at)
        return row.id


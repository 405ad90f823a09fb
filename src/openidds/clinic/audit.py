"""Audit trail: every insert, update and delete is logged with who, when, before and after.

ORM changes are captured in ``after_flush`` and written on the flush's own connection, so the log entry
commits or rolls back with the change. Bulk imports write their entries with :func:`audit_rows`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from typing import Any

from sqlalchemy import event, inspect, insert
from sqlalchemy.orm import Session

from openidds.clinic.errors import RegistryError
from openidds.clinic.models import AuditEntry

USER_KEY = "user"
SOURCE_KEY = "source"
CLOCK_KEY = "clock"


def now_utc(session_info: Mapping[str, Any]) -> dt.datetime:
    """The audit time: the session's clock if one was given, else the wall clock, as naive UTC."""
    clock = session_info.get(CLOCK_KEY)
    at = clock() if clock is not None else dt.datetime.now(dt.timezone.utc)
    return at.astimezone(dt.timezone.utc).replace(tzinfo=None) if at.tzinfo else at


def audit_rows(
    user: str, at: dt.datetime, action: str, table: str, records: Iterable[tuple[int, Mapping[str, Any] | None,
                                                                               Mapping[str, Any] | None]],
    source: str | None = None,
) -> list[dict[str, Any]]:
    """Audit-log rows for ``(record_id, before, after)`` triples, ready for a bulk INSERT."""
    table = str(table)  # a plain str: SQLAlchemy's quoted_name costs the driver an adapter lookup per row
    return [
        {"at": at, "user_name": user, "action": action, "table_name": table, "record_id": record_id,
         "before": before, "after": after, "source": source}
        for record_id, before, after in records
    ]


def _columns(obj: Any) -> dict[str, Any]:
    mapper = inspect(obj).mapper
    return {c.key: getattr(obj, c.key) for c in mapper.column_attrs}


def _changes(obj: Any) -> tuple[dict[str, Any], dict[str, Any]]:
    state = inspect(obj)
    before: dict[str, Any] = {}
    after: dict[str, Any] = {}
    for attr in state.mapper.column_attrs:
        history = state.attrs[attr.key].history
        if history.has_changes():
            before[attr.key] = history.deleted[0] if history.deleted else None
            after[attr.key] = history.added[0] if history.added else None
    if after and "version" not in after:
        before["version"], after["version"] = obj.version - 1, obj.version
    return before, after


def _after_flush(session: Session, _context: Any) -> None:
    entries: list[dict[str, Any]] = []
    touched = [*session.new, *session.dirty, *session.deleted]
    if not any(not isinstance(o, AuditEntry) for o in touched):
        return
    user = session.info.get(USER_KEY)
    if not user:
        raise RegistryError("user", user, "the name of the person making the change (session.info['user'])")
    at = now_utc(session.info)
    source = session.info.get(SOURCE_KEY)
    for obj in session.new:
        if not isinstance(obj, AuditEntry):
            entries += audit_rows(user, at, "insert", obj.__tablename__, [(obj.id, None, _columns(obj))], source)
    for obj in session.dirty:
        if isinstance(obj, AuditEntry) or not session.is_modified(obj, include_collections=False):
            continue
        before, after = _changes(obj)
        if before or after:
            entries += audit_rows(user, at, "update", obj.__tablename__, [(obj.id, before, after)], source)
    for obj in session.deleted:
        if not isinstance(obj, AuditEntry):
            entries += audit_rows(user, at, "delete", obj.__tablename__, [(obj.id, _columns(obj), None)], source)
    if entries:
        session.connection().execute(insert(AuditEntry), entries)


def install(session_class: type[Session]) -> None:
    """Attach the audit listener to a session class (idempotent)."""
    if not event.contains(session_class, "after_flush", _after_flush):
        event.listen(session_class, "after_flush", _after_flush)

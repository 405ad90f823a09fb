"""Values checked on every write, below the importer: a ``before_flush`` listener runs the import's rules.

Any record added or changed through an ORM session (a script, the web app, a future command) is refused with
the same message as the import gives for the same value: each mapped field is checked by
:func:`openidds.clinic.values.check_value` (type, range, choices, pattern, length), and every other text column
(site code, patient ID, pump event kind) by its column length. SQLite does not enforce ``VARCHAR(n)`` and
PostgreSQL refuses with a driver error, so the length is checked here, the same on both.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from openidds.clinic import values
from openidds.clinic.fields import SPECS, Field
from openidds.clinic.models import AuditEntry, Base

_FIELDS: dict[type[Base], dict[str, Field]] = {spec.model: {f.name: f for f in spec.fields} for spec in SPECS.values()}


def check_record(obj: Any) -> None:
    """Refuse a record whose values break the mapping's rules or overflow their columns."""
    fields = _FIELDS.get(type(obj), {})
    for column in inspect(obj).mapper.columns:
        value = getattr(obj, column.key, None)
        if value is None:
            continue
        f = fields.get(column.key)
        if f is not None:
            values.check_value(f, value)
        elif isinstance(value, str):
            values.check_length(column.key, value, values.column_length(column))


def check_author(user: str, source: str | None) -> None:
    """Refuse an audit user name or source longer than the audit trail's columns."""
    columns = AuditEntry.__table__.c
    values.check_length("user", user, values.column_length(columns.user_name))
    if source is not None:
        values.check_length("source", source, values.column_length(columns.source))


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    for obj in session.new:
        check_record(obj)
    for obj in session.dirty:
        if session.is_modified(obj, include_collections=False):
            check_record(obj)


def install(session_class: type[Session]) -> None:
    """Attach the value checks to a session class (idempotent)."""
    if not event.contains(session_class, "before_flush", _before_flush):
        event.listen(session_class, "before_flush", _before_flush)

"""Deleting a record that others depend on is refused, naming them, so no row ever disappears unaudited.

The schema's foreign keys cascade (``ON DELETE CASCADE``) to keep the database whole, but a cascade at the
database deletes rows the audit trail never sees, and SQLAlchemy would first try to empty the children's
foreign keys (a constraint error). So a ``before_flush`` listener counts, for each record being deleted, the
rows that point at it (those deleted in the same flush excepted) and refuses with their counts: delete them
first, each deletion audited, then the record.
"""

from __future__ import annotations

from collections import defaultdict
from typing import Any

from sqlalchemy import Table, event, func, inspect, select
from sqlalchemy.orm import Session

from openidds.clinic import models
from openidds.clinic.errors import RegistryError

#: Tables whose rows are derived from others and follow them (not audited, never edited).
DERIVED = {models.RefillStatus.__tablename__}


def _label(obj: Any) -> str:
    if isinstance(obj, models.Patient):
        return f"{obj.site.code}/{obj.patient_code}"
    return f"{obj.__tablename__} id {obj.id}"


def _dependants(session: Session, obj: Any, deleting: dict[str, set[int]]) -> dict[str, int]:
    """Rows of other tables that point at ``obj``, by table, apart from rows deleted in this flush."""
    table = models.Base.metadata.tables[obj.__tablename__]
    counts: dict[str, int] = {}
    for child in models.Base.metadata.sorted_tables:
        if child.name in DERIVED:
            continue
        for key in child.foreign_keys:
            if key.column.table is not table:
                continue
            n = _count(session, child, key.parent, obj.id, deleting.get(child.name, set()))
            if n:
                counts[child.name] = counts.get(child.name, 0) + n
    return counts


def _count(session: Session, child: Table, column: Any, parent_id: int, excluded: set[int]) -> int:
    stmt = select(func.count()).select_from(child).where(column == parent_id)
    if excluded:
        stmt = stmt.where(child.c.id.not_in(sorted(excluded)))
    return int(session.execute(stmt).scalar_one())


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    if not session.deleted:
        return
    deleting: dict[str, set[int]] = defaultdict(set)
    for obj in session.deleted:
        deleting[obj.__tablename__].add(obj.id)
    with session.no_autoflush:
        for obj in session.deleted:
            counts = _dependants(session, obj, deleting)
            if counts:
                held = ", ".join(f"{n} in {name}" for name, n in sorted(counts.items()))
                raise RegistryError(f"delete {inspect(obj).mapper.class_.__name__.lower()}", _label(obj),
                                    f"a record nothing depends on; it still has {held}: delete those first "
                                    "(each deletion is audited)")


def install(session_class: type[Session]) -> None:
    """Attach the dependants check to a session class (idempotent)."""
    if not event.contains(session_class, "before_flush", _before_flush):
        event.listen(session_class, "before_flush", _before_flush)

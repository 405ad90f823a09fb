"""Fast bulk writes for imports: one compiled INSERT, values converted by the dialect's own type processors,
sent with the driver's ``executemany`` (SQLAlchemy's per-row parameter machinery is the slow part of a
100,000-row import). The storage format is exactly SQLAlchemy's, so the ORM reads the rows back as usual."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from operator import itemgetter
from typing import Any

from sqlalchemy import Connection, Table, and_, delete, func, insert, select

from openidds.clinic import models
from openidds.clinic.store import chunks


def insert_rows(conn: Connection, table: Table, rows: Sequence[dict[str, Any]]) -> None:
    """INSERT ``rows`` (dicts with the same keys) into ``table`` in one driver-level executemany."""
    if not rows:
        return
    dialect = conn.dialect
    columns = list(rows[0])
    compiled = insert(table).compile(dialect=dialect, column_keys=columns)
    order = list(compiled.positiontup) if compiled.positional else columns
    processors = [(name, proc) for name in order
                  if (proc := table.c[name].type.dialect_impl(dialect).bind_processor(dialect)) is not None]
    getter = itemgetter(*order) if len(order) > 1 else (lambda row: (row[order[0]],))
    params: list[Any] = []
    for row in rows:
        if processors:
            row = dict(row)
            for name, proc in processors:
                if row[name] is not None:
                    row[name] = proc(row[name])
        params.append(getter(row) if compiled.positional else {n: row[n] for n in order})
    conn.exec_driver_sql(str(compiled), params)


def refresh_refill_status(conn: Connection, implant_ids: Iterable[int]) -> None:
    """Recompute the latest refill and next due date of the given implants (see ``models.RefillStatus``)."""
    r, status = models.Refill, models.RefillStatus.__table__
    for chunk in chunks(sorted(set(implant_ids))):
        conn.execute(delete(status).where(status.c.implant_id.in_(chunk)))
        last = (select(r.implant_id, func.max(r.refilled_at).label("last_at")).where(r.implant_id.in_(chunk))
                .group_by(r.implant_id).subquery())
        latest = select(r.implant_id, r.refilled_at, r.next_refill_due).join(
            last, and_(last.c.implant_id == r.implant_id, last.c.last_at == r.refilled_at))
        conn.execute(insert(status).from_select(["implant_id", "last_refill_at", "next_refill_due"], latest))

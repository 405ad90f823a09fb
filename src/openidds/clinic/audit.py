"""Audit trail: every insert, update and delete is logged with who, when, before and after.

ORM changes are captured in ``after_flush`` and written on the flush's own connection, so the log entry
commits or rolls back with the change; every entry is sealed into a hash chain as it is written
(:mod:`openidds.clinic.audit_chain`). Bulk imports write theirs with :func:`write_inserts`, which encodes
the records' non-null values column by column (:func:`encode_payloads`: the text the ``after`` column's own
JSON type would write, at a fraction of the cost for 100,000 records). Data leaving the registry (an export, a
download) is an entry too (:func:`record_export`): who, when, what kind, and each file's size and SHA-256.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import math
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from enum import Enum
from itertools import repeat
from json.encoder import encode_basestring_ascii
from typing import Any

from sqlalchemy import Connection, Engine, event, insert, inspect, select
from sqlalchemy.orm import Session

from openidds.clinic import audit_chain, bulk, validation
from openidds.clinic.errors import RegistryError
from openidds.clinic.models import JSON_ENCODER, AuditEntry

USER_KEY = "user"
SOURCE_KEY = "source"
CLOCK_KEY = "clock"


class AuditAction(str, Enum):
    """What an audit entry records: a change to a record (insert, update, delete), or data that left the
    registry (export: a file written or downloaded)."""

    INSERT = "insert"
    UPDATE = "update"
    DELETE = "delete"
    EXPORT = "export"


EXPORT_TABLE = "registry"
"""The ``table_name`` of an export entry: an export reads the registry, not one record (``record_id`` 0)."""


def now_utc(session_info: Mapping[str, Any]) -> dt.datetime:
    """The audit time: the session's clock if one was given, else the wall clock, as naive UTC."""
    clock = session_info.get(CLOCK_KEY)
    at = clock() if clock is not None else dt.datetime.now(dt.UTC)
    return at.astimezone(dt.UTC).replace(tzinfo=None) if at.tzinfo else at


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


_HASHABLE = {str, float, bool, dt.date, dt.datetime}


def _json_value(value: Any) -> str:
    """``JSON_ENCODER.encode(value)``, without its machinery for the common scalar types."""
    kind = type(value)
    if kind is str:
        return encode_basestring_ascii(value)
    if kind is int or (kind is float and math.isfinite(value)):
        return repr(value)
    if kind is dt.date or kind is dt.datetime:
        return '"' + value.isoformat() + '"'
    return JSON_ENCODER.encode(value)


def _encoded_column(prefix: str, values: list[Any]) -> list[str]:
    """``prefix`` + JSON of each value ("" for ``None``): whole numbers directly, other values once per
    distinct value when they repeat and share one type (so ``1.0`` and ``True`` are never confused)."""
    def one(value: Any) -> str:
        return "" if value is None else prefix + _json_value(value)

    kinds = set(map(type, values)) - {type(None)}
    if kinds == {int}:
        return ["" if v is None else prefix + repr(v) for v in values]
    if len(kinds) > 1 or not kinds <= _HASHABLE:
        return [one(v) for v in values]
    distinct = dict.fromkeys(values)
    if len(distinct) * 2 > len(values):
        return [one(v) for v in values]
    encoded = {value: one(value) for value in distinct}
    return list(map(encoded.__getitem__, values))


def encode_payloads(columns: Mapping[str, Sequence[Any]], encoded: Collection[str] = ()) -> list[str]:
    """The JSON text of each row's non-null values, for rows given column by column: for row ``i``, exactly
    ``JSON_ENCODER.encode({k: v[i] for k, v in columns.items() if v[i] is not None})``. The columns named in
    ``encoded`` hold each value's JSON text (``JSON_ENCODER``'s) already, or None."""
    pieces = [[f"{prefix}{text}" if text is not None else "" for text in values] if name in encoded
              else _encoded_column(prefix, list(values))
              for name, values in columns.items() for prefix in ["," + encode_basestring_ascii(name) + ":"]]
    if pieces and "" not in pieces[0]:  # the first column is never null: it opens each object
        pieces[0] = ["{" + piece[1:] for piece in pieces[0]]
        return list(map("".join, zip(*pieces, repeat("}"))))
    return ["{" + "".join(parts)[1:] + "}" for parts in zip(*pieces, strict=True)]


def write_inserts(conn: Connection, user: str, at: dt.datetime, table: str, columns: Mapping[str, Sequence[Any]],
                  source: str | None = None, encoded: Collection[str] = ()) -> None:
    """Audit entries for records just bulk-inserted, given column by column (``columns`` holds every stored
    column, ``id`` included): one entry per record whose ``after`` holds its non-null columns (a column it
    does not name was null), encoded by :func:`encode_payloads` (``encoded``: columns given as JSON text)."""
    if not columns or not columns["id"]:
        return
    audit_chain.hold_chain(conn)
    common = {"at": at, "user_name": user, "action": "insert", "table_name": str(table), "before": None,
              "source": source}
    stored, ids = bulk.insert_block(conn, bulk.table_of(AuditEntry),
                                    {"record_id": columns["id"], "after": encode_payloads(columns, encoded)}, common,
                                    encoded=("before", "after"))
    if ids is None:
        audit_chain.seal(conn, len(columns["id"]))
        return
    audit_chain.seal_block(conn, ids, stored["record_id"], stored["after"],
                           [bulk.stored_value(conn, bulk.table_of(AuditEntry), name, common[name])
                            for name in ("at", "user_name", "action", "table_name", "before", "source")])


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
        conn = session.connection()
        audit_chain.hold_chain(conn)
        conn.execute(insert(AuditEntry), entries)
        audit_chain.seal(conn, len(entries))


def install(session_class: type[Session]) -> None:
    """Attach the audit listener, and the refusal of any change to the trail, to a session class (idempotent)."""
    audit_chain.install(session_class)
    if not event.contains(session_class, "after_flush", _after_flush):
        event.listen(session_class, "after_flush", _after_flush)


def last_change(session: Session, table: str, record_id: int) -> tuple[str, dt.datetime] | None:
    """Who made the latest audited change to record ``record_id`` of ``table``, and when (naive UTC); ``None``
    for a record the trail does not know."""
    row = session.execute(select(AuditEntry.user_name, AuditEntry.at)
                          .where(AuditEntry.table_name == table, AuditEntry.record_id == record_id)
                          .order_by(AuditEntry.id.desc()).limit(1)).first()
    return None if row is None else (row.user_name, row.at)


def last_change_text(session: Session, table: str, record_id: int) -> str:
    """:func:`last_change` as a refusal tells a user their view is stale: "NAME at YYYY-MM-DD HH:MM UTC"
    ("nobody" for a record without audit entries)."""
    change = last_change(session, table, record_id)
    return "nobody" if change is None else f"{change[0]} at {change[1].isoformat(sep=' ', timespec='minutes')} UTC"


@dataclass(frozen=True)
class ExportedFile:
    """A file that left the registry: its name, size and SHA-256 (hex)."""

    name: str
    size_bytes: int
    sha256: str

    @classmethod
    def of(cls, name: str, data: bytes) -> ExportedFile:
        return cls(name, len(data), hashlib.sha256(data).hexdigest())


def record_export(engine: Engine, user: str, at: dt.datetime, kind: str, files: Sequence[ExportedFile],
                  source: str) -> None:
    """Audit an export: one entry (action ``export``) naming ``user``, the time ``at`` (stored as naive UTC),
    the export's ``kind`` and each file's name, size and SHA-256, sealed into the chain in its own transaction."""
    validation.check_author(user, source)
    if at.tzinfo is not None:
        at = at.astimezone(dt.UTC).replace(tzinfo=None)
    after = {"kind": kind, "files": [{"name": f.name, "size_bytes": f.size_bytes, "sha256": f.sha256}
                                     for f in files]}
    with engine.begin() as conn:
        audit_chain.hold_chain(conn)
        conn.execute(insert(AuditEntry), audit_rows(user, at, AuditAction.EXPORT.value, EXPORT_TABLE,
                                                    [(0, None, after)], source))
        audit_chain.seal(conn, 1)


def audit_entries(engine: Engine, action: AuditAction | None = None, limit: int = 50) -> list[AuditEntry]:
    """The newest ``limit`` entries of the audit trail (of ``action`` only, when given), newest first."""
    if limit < 1:
        raise RegistryError("limit", limit, "a number of entries of at least 1")
    stmt = select(AuditEntry).order_by(AuditEntry.id.desc()).limit(limit)
    if action is not None:
        stmt = stmt.where(AuditEntry.action == action.value)
    with Session(engine) as session:
        entries = list(session.scalars(stmt))
        session.expunge_all()
    return entries

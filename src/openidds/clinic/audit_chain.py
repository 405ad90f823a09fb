"""The audit trail is append-only and sealed by a hash chain, so an edited, deleted or forged entry is found.

* Each audit entry gets a seal in ``audit_chain``: ``hash = SHA-256(previous hash + canonical content)``, where
  the content is the JSON array ``[id, at, user_name, action, table_name, record_id, before, after, source]``
  of the entry as stored (``at`` in ISO 8601, ``before``/``after`` as their stored JSON text) and the previous
  hash is the seal of the entry sealed before it (64 zeros for the first). The registry seals its entries in
  the transaction that writes them, right after writing them.
* :func:`verify_audit_chain` recomputes every hash: a changed entry, a deleted one (its successor no longer
  follows) or one inserted outside the registry (no seal) is reported by id. Deleting the newest entries with
  their seals leaves a shorter chain that is whole: compare ``head`` with a copy kept elsewhere.
* Through the registry's sessions, audit entries and seals can be neither changed nor deleted (nor written
  by hand); on PostgreSQL a trigger (migration 0003) refuses UPDATE and DELETE of both tables to any SQL.
* Writers take turns on the chain: SQLite holds its write lock for the transaction; PostgreSQL takes a
  transaction-level advisory lock before writing audit entries, so entry ids and the chain follow commit order.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from hashlib import sha256
from json.encoder import encode_basestring_ascii
from typing import Any

from sqlalchemy import Connection, Engine, Integer, String, Text, event, func, select, type_coerce
from sqlalchemy.orm import Mapped, ORMExecuteState, Session, mapped_column

from openidds.clinic import bulk
from openidds.clinic.errors import RegistryError
from openidds.clinic.findings import Finding
from openidds.clinic.models import AuditEntry, Base

GENESIS = "0" * 64
_ENCODER = json.JSONEncoder(separators=(",", ":"))
#: Key of the PostgreSQL advisory lock that orders writers of the audit trail ("OIDA").
ADVISORY_LOCK_KEY = 0x4F494441
_READ_CHUNK = 20000


class AuditSeal(Base):
    """The hash sealing one audit entry into the chain (see the module's description)."""

    __tablename__ = "audit_chain"
    entry_id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    hash: Mapped[str] = mapped_column(String(64))


_ENTRIES = Base.metadata.tables[AuditEntry.__tablename__]
_SEALS = Base.metadata.tables[AuditSeal.__tablename__]
_CONTENT = select(_ENTRIES.c.id, type_coerce(_ENTRIES.c.at, String), _ENTRIES.c.user_name, _ENTRIES.c.action,
                  _ENTRIES.c.table_name, _ENTRIES.c.record_id, type_coerce(_ENTRIES.c.before, Text),
                  type_coerce(_ENTRIES.c.after, Text), _ENTRIES.c.source)
_PROTECTED = {AuditEntry.__tablename__, AuditSeal.__tablename__}


@functools.lru_cache(maxsize=4096)
def iso_time(at: str | dt.datetime) -> str:
    """ISO 8601 of an entry's time as the driver returns it unprocessed (SQLite: text; PostgreSQL: datetime);
    text that is no date-time is hashed as it is (and so breaks the seal it was not sealed with)."""
    if not isinstance(at, str):
        return at.isoformat()
    try:
        return dt.datetime.fromisoformat(at).isoformat()
    except ValueError:
        return at


_SCALAR_JSON = {str: encode_basestring_ascii, int: int.__repr__, type(None): lambda _: "null"}
"""The JSON text of an entry's values by their type, as :data:`_ENCODER` writes them."""


def json_array(values: list[Any]) -> str:
    """``_ENCODER.encode(values)``, without its machinery when every value is a str, an int or None."""
    try:
        return "[" + ",".join([_SCALAR_JSON[type(value)](value) for value in values]) + "]"
    except KeyError:
        return _ENCODER.encode(values)


def entry_hash(previous: str, row: tuple[Any, ...]) -> str:
    """The seal of an entry given as ``(id, at, user_name, action, table_name, record_id, before, after,
    source)`` (stored form) after the seal ``previous``."""
    content = json_array([row[0], iso_time(row[1]), *row[2:]])
    return sha256((previous + content).encode()).hexdigest()


def hold_chain(conn: Connection) -> None:
    """Take turns on the chain until the transaction ends (PostgreSQL advisory lock; SQLite's write lock is
    already held by any transaction that writes)."""
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(ADVISORY_LOCK_KEY)))


def _head(conn: Connection) -> tuple[int, str]:
    """The newest sealed entry's id and seal (``0`` and :data:`GENESIS` when nothing is sealed)."""
    row = conn.execute(select(_SEALS.c.entry_id, _SEALS.c.hash).order_by(_SEALS.c.entry_id.desc()).limit(1)).first()
    return (0, GENESIS) if row is None else (row[0], row[1])


def seal(conn: Connection, count: int | None = None) -> int:
    """Seal the newest ``count`` unsealed entries (all unsealed ones when ``None``, as the migration does) after
    the chain's head; returns how many were sealed. Call with the chain held (:func:`hold_chain`)."""
    last_id, previous = _head(conn)
    rows = conn.execute(_CONTENT.where(_ENTRIES.c.id > last_id).order_by(_ENTRIES.c.id)).all()
    if count is not None:
        rows = rows[len(rows) - count:] if count else []
    hashes = []
    for row in rows:
        previous = entry_hash(previous, tuple(row))
        hashes.append(previous)
    if hashes:
        bulk.insert_columns(conn, _SEALS, {"entry_id": [row[0] for row in rows], "hash": hashes})
    return len(hashes)


def seal_block(conn: Connection, ids: range, record_ids: Sequence[int], afters: Sequence[str],
               common: Sequence[Any]) -> None:
    """Seal entries just written with the ids ``ids`` (the newest, in one block), given as stored: their
    ``record_ids`` and ``after`` texts, and the values they share, ``(at, user_name, action, table_name, before,
    source)``. The same seals as :func:`seal` (``seal(conn, len(ids))``), computed from the values written
    instead of read back. Call with the chain held (:func:`hold_chain`)."""
    at, user_name, action, table_name, before, source = common
    _, previous = _head(conn)
    middle = json_array([iso_time(at), user_name, action, table_name])[1:-1]
    before_text, source_text = json_array([before])[1:-1], json_array([source])[1:-1]
    hashes = []
    for entry_id, record_id, after in zip(ids, record_ids, afters, strict=True):
        if type(record_id) is not int or type(after) is not str:
            content = json_array([entry_id, iso_time(at), user_name, action, table_name, record_id, before, after,
                                  source])
        else:
            content = (f"[{entry_id},{middle},{record_id},{before_text},{encode_basestring_ascii(after)},"
                       f"{source_text}]")
        previous = sha256((previous + content).encode()).hexdigest()
        hashes.append(previous)
    if hashes:
        bulk.insert_columns(conn, _SEALS, {"entry_id": list(ids), "hash": hashes})


@dataclass
class ChainReport:
    """What :func:`verify_audit_chain` found: entries checked, the newest seal, and any break, by entry."""

    entries: int = 0
    head: str = GENESIS
    findings: list[Finding] = field(default_factory=list)

    @property
    def whole(self) -> bool:
        return not self.findings


def _entries_with_seals(conn: Connection) -> Iterator[tuple[tuple[Any, ...], str | None]]:
    last = 0
    while True:
        stmt = (select(*_CONTENT.selected_columns, _SEALS.c.hash)
                .outerjoin(_SEALS, _SEALS.c.entry_id == _ENTRIES.c.id)
                .where(_ENTRIES.c.id > last).order_by(_ENTRIES.c.id).limit(_READ_CHUNK))
        rows = conn.execute(stmt).all()
        if not rows:
            return
        for row in rows:
            yield tuple(row[:-1]), row[-1]
        last = rows[-1][0]


def verify_audit_chain(engine: Engine) -> ChainReport:
    """Recompute the hash chain over the whole audit trail and report every entry that breaks it, and every
    imported pump log whose events no longer match the digest its entry sealed
    (:func:`openidds.clinic.audit_pump_logs.verify_pump_logs`)."""
    report = ChainReport()
    previous = GENESIS
    with engine.connect() as conn:
        for row, stored in _entries_with_seals(conn):
            report.entries += 1
            where = f"audit entry {row[0]}"
            if stored is None:
                report.findings.append(Finding("audit-chain", where, "entry has no seal: it was written outside "
                                               "the registry"))
                continue
            if entry_hash(previous, row) != stored:
                report.findings.append(Finding("audit-chain", where, "entry does not match its seal: it, or the "
                                               "entry sealed before it, was changed or deleted"))
            previous = stored
        orphans = conn.execute(select(_SEALS.c.entry_id).where(
            ~select(_ENTRIES.c.id).where(_ENTRIES.c.id == _SEALS.c.entry_id).exists())).scalars().all()
    report.findings += [Finding("audit-chain", f"audit entry {i}", "sealed entry is missing: it was deleted")
                        for i in orphans]
    from openidds.clinic.audit_pump_logs import verify_pump_logs  # it reads entries as this module seals them

    report.findings += verify_pump_logs(engine)
    report.head = previous
    return report


def _refuse(what: str, detail: Any) -> RegistryError:
    return RegistryError(what, detail, "no change: the audit trail is append-only and written by the registry "
                         "itself (entries are never edited, deleted or added by hand)")


def _before_flush(session: Session, _context: Any, _instances: Any) -> None:
    for group, verb in ((session.new, "add"), (session.dirty, "edit"), (session.deleted, "delete")):
        for obj in group:
            if isinstance(obj, AuditEntry | AuditSeal):
                raise _refuse(f"{verb} {obj.__tablename__}", obj.id if isinstance(obj, AuditEntry) else obj.entry_id)


def _do_orm_execute(state: ORMExecuteState) -> None:
    if state.is_update or state.is_delete:
        table = getattr(state.statement, "table", None)
        if getattr(table, "name", None) in _PROTECTED:
            raise _refuse("update" if state.is_update else "delete", getattr(table, "name", None))


def install(session_class: type[Session]) -> None:
    """Refuse changes to the audit trail through sessions of ``session_class`` (idempotent)."""
    if not event.contains(session_class, "before_flush", _before_flush):
        event.listen(session_class, "before_flush", _before_flush)
    if not event.contains(session_class, "do_orm_execute", _do_orm_execute):
        event.listen(session_class, "do_orm_execute", _do_orm_execute)

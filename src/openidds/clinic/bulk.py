"""Fast bulk writes for imports: one compiled INSERT, values converted column by column by the dialect's own
type processors, sent with the driver's ``executemany`` (SQLAlchemy's per-row parameter machinery is the slow
part of a 100,000-row import). The storage format is exactly SQLAlchemy's, so the ORM reads the rows back as
usual."""

from __future__ import annotations

import contextlib
import datetime as dt
import gc
from collections.abc import Collection, Iterable, Iterator, Mapping, Sequence
from itertools import chain, repeat
from typing import Any

from sqlalchemy import Connection, Date, DateTime, Dialect, Table, bindparam, func, insert, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.types import TypeEngine

from openidds.clinic import models
from openidds.clinic.store import chunks


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """Pause Python's cycle collector while building many small acyclic objects (records, rows): it would
    otherwise rescan every live record over and over as their number grows. Restored on exit."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def table_of(model: type[models.Base]) -> Table:
    """The Table a model class is mapped to (SQLAlchemy types ``model.__table__`` as any FromClause)."""
    return models.Base.metadata.tables[model.__tablename__]


def _converted(proc: Any, values: list[Any], memoise: bool) -> list[Any]:
    """``proc`` applied to each value but ``None``; once per distinct value when ``memoise`` (dates repeat)."""
    if not memoise:
        return [None if v is None else proc(v) for v in values]
    memo = dict.fromkeys(values)
    for value in memo:
        memo[value] = None if value is None else proc(value)
    return list(map(memo.__getitem__, values))


_PROBES = (dt.datetime(2001, 2, 3, 4, 5, 6, 7), dt.datetime(1999, 12, 31, 23, 59, 59))


def stores_iso_text(sql_type: TypeEngine[Any], dialect: Dialect) -> bool:
    """Whether the dialect stores a naive date-time of ``sql_type`` as its ``isoformat(" ", "microseconds")`` text
    (SQLite's default storage format, checked on probe values)."""
    proc = sql_type.dialect_impl(dialect).bind_processor(dialect)
    return (proc is not None and isinstance(sql_type, DateTime)
            and all(proc(probe) == probe.isoformat(" ", "microseconds") for probe in _PROBES))


def _bind_processor(sql_type: TypeEngine[Any], dialect: Dialect) -> Any:
    """The dialect's bind processor of ``sql_type``; for a date-time type that :func:`stores_iso_text`, that text
    written by ``datetime.isoformat`` itself, which is several times faster, and every other value still through
    the dialect's processor."""
    proc = sql_type.dialect_impl(dialect).bind_processor(dialect)
    if proc is None or not stores_iso_text(sql_type, dialect):
        return proc

    def iso_text(value: Any) -> Any:
        if type(value) is dt.datetime and value.tzinfo is None:
            return value.isoformat(" ", "microseconds")
        return proc(value)

    return iso_text


def insert_columns(conn: Connection, table: Table, columns: Mapping[str, Sequence[Any]],
                   constants: Mapping[str, Any] | None = None, encoded: Collection[str] = (), copy: bool = False
                   ) -> dict[str, list[Any]]:
    """INSERT rows given column by column (``columns``: one value per row; ``constants``: one value for every
    row) in one driver-level executemany; returns ``columns`` as sent (stored form). Columns named in
    ``encoded`` already hold their stored form (e.g. JSON text) and skip the type's bind processor.

    With ``copy``, on PostgreSQL through psycopg 3, the same rows are sent by ``COPY ... FROM STDIN`` instead
    (:func:`_copy_rows`), which PostgreSQL takes in far less time than as many INSERTs, and on SQLite by an
    executemany of an INSERT of many rows (:func:`_insert_many_rows`); elsewhere, or when the INSERT would fill a
    column not given (an ORM default), by executemany of the single-row INSERT."""
    constants = constants or {}
    n = len(next(iter(columns.values()))) if columns else 0
    if not n:
        return {}
    dialect = conn.dialect
    names = [*columns, *constants]
    compiled = insert(table).compile(dialect=dialect, column_keys=names)
    positions = compiled.positiontup if compiled.positional else None
    order = names if positions is None else list(positions)
    stored_columns: list[Any] = []
    for name in order:
        sql_type = table.c[name].type
        if name in constants:
            value = constants[name]
            stored_columns.append(repeat(value if name in encoded else stored_value(conn, table, name, value), n))
        else:
            proc = None if name in encoded else _bind_processor(sql_type, dialect)
            values = list(columns[name])
            stored_columns.append(values if proc is None else
                                  _converted(proc, values, isinstance(sql_type, Date | DateTime)))
    params: list[Any] = list(zip(*stored_columns, strict=True))
    if copy and dialect.name == "postgresql" and dialect.driver == "psycopg" and set(compiled.params) == set(order):
        _copy_rows(conn, table, order, params)
    elif copy and dialect.name == "sqlite" and set(compiled.params) == set(order):
        _insert_many_rows(conn, table, order, params, str(compiled))
    else:
        if not compiled.positional:
            params = [dict(zip(order, row, strict=True)) for row in params]
        conn.exec_driver_sql(str(compiled), params)
    return {name: column for name, column in zip(order, stored_columns, strict=True) if name in columns}


_ROWS_PER_INSERT = 50
"""Rows per INSERT of :func:`_insert_many_rows`: SQLite takes rows by fifty in about three quarters of the CPU time
it takes them one by one (an executemany of a million pump events), and more per statement gain nothing more."""


def _insert_many_rows(conn: Connection, table: Table, names: Sequence[str], rows: Sequence[Sequence[Any]],
                      one_row: str) -> None:
    """``rows`` (values of the columns ``names`` in their stored form) into ``table``, in the order given, by the
    driver's executemany of one INSERT of :data:`_ROWS_PER_INSERT` rows (multi-row VALUES, positional
    parameters), the rows left over by ``one_row``, the single-row INSERT of the same columns."""
    per_insert = _ROWS_PER_INSERT
    many = insert(table).values([{name: bindparam(f"{name}__{i}") for name in names} for i in range(per_insert)])
    compiled = many.compile(dialect=conn.dialect)
    in_order = [f"{name}__{i}" for i in range(per_insert) for name in names]
    whole = len(rows) - len(rows) % per_insert
    if whole and compiled.positiontup == in_order:
        values = iter(chain.from_iterable(rows[:whole]))
        conn.exec_driver_sql(str(compiled), list(zip(*[values] * len(in_order), strict=True)))
        rows = rows[whole:]
    if rows:
        conn.exec_driver_sql(one_row, rows)


def _copy_rows(conn: Connection, table: Table, names: Sequence[str], rows: Iterable[Sequence[Any]]) -> None:
    """``rows`` (values of the columns ``names``, as psycopg would bind them) into ``table`` by ``COPY ... FROM
    STDIN``, on the connection's own transaction: psycopg writes each value as its parameter would be sent. A
    refusal is raised as SQLAlchemy raises an INSERT's (e.g. :class:`sqlalchemy.exc.IntegrityError`)."""
    quote = conn.dialect.identifier_preparer
    statement = (f"COPY {quote.format_table(table)} ({', '.join(quote.quote(name) for name in names)}) "
                 "FROM STDIN")
    dbapi_error = conn.dialect.loaded_dbapi.Error
    cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
    try:
        with cursor.copy(statement) as copy:
            for row in rows:
                copy.write_row(row)
    except dbapi_error as error:
        raise DBAPIError.instance(statement, None, error, dbapi_error, dialect=conn.dialect) from error
    finally:
        cursor.close()


def stored_value(conn: Connection, table: Table, name: str, value: Any) -> Any:
    """``value`` as column ``name`` stores it: through the dialect's bind processor of its type."""
    proc = table.c[name].type.dialect_impl(conn.dialect).bind_processor(conn.dialect)
    return value if proc is None or value is None else proc(value)


def insert_rows(conn: Connection, table: Table, rows: Sequence[Mapping[str, Any]],
                encoded: Collection[str] = ()) -> None:
    """:func:`insert_columns` for rows given as dicts with the same keys."""
    if rows:
        insert_columns(conn, table, {name: [row[name] for row in rows] for name in rows[0]}, encoded=encoded)


def insert_block(conn: Connection, table: Table, columns: Mapping[str, Sequence[Any]],
                 constants: Mapping[str, Any] | None = None, encoded: Collection[str] = (), copy: bool = False
                 ) -> tuple[dict[str, list[Any]], range | None]:
    """:func:`insert_columns`, and the new rows' ids in order when they are known without reading them back.

    On SQLite, inside the write transaction that the INSERT holds, a new row's id is one more than the largest
    id in the table (sqlite.org/autoinc.html), so the ids are the block after the largest id read before the
    INSERT; the block is verified (count, min and max of the new ids). Elsewhere, or if the block is not exactly
    that, the ids are None."""
    sqlite = conn.dialect.name == "sqlite"
    before = conn.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one() if sqlite else 0
    stored = insert_columns(conn, table, columns, constants, encoded, copy)
    n = len(next(iter(columns.values()), ()))
    if sqlite and n:
        block = conn.execute(select(func.count(), func.min(table.c.id), func.max(table.c.id))
                             .where(table.c.id > before)).one()
        if tuple(block) == (n, before + 1, before + n):
            return stored, range(before + 1, before + n + 1)
    return stored, None


def insert_columns_with_ids(conn: Connection, table: Table, columns: Mapping[str, Sequence[Any]],
                            constants: Mapping[str, Any], key_columns: Sequence[str],
                            encoded: Collection[str] = (), copy: bool = False) -> list[int]:
    """:func:`insert_block`, then the new rows' ids in order: where the block is not known, looked up by
    ``key_columns`` (in ``columns``, parent id first)."""
    stored, block = insert_block(conn, table, columns, constants, encoded, copy)
    if block is not None:
        return list(block)
    if not stored:
        return []
    ids = _stored_ids(conn, table, key_columns, set(columns[key_columns[0]]))
    return [ids[key] for key in zip(*(stored[c] for c in key_columns), strict=True)]


def _stored_ids(conn: Connection, table: Table, key_columns: Sequence[str], parent_ids: Iterable[int]
                ) -> dict[tuple[Any, ...], int]:
    """Ids of the rows of ``table`` under the given parents (``key_columns[0]``), keyed by the stored form of
    their key columns (as :func:`insert_rows` sends them), read without result processing."""
    parent = key_columns[0]
    out: dict[tuple[Any, ...], int] = {}
    for chunk in chunks(sorted(set(parent_ids))):
        stmt = select(table.c.id, *(table.c[c] for c in key_columns)).where(table.c[parent].in_(chunk))
        compiled = stmt.compile(dialect=conn.dialect, compile_kwargs={"render_postcompile": True})
        params = compiled.construct_params()
        positions = compiled.positiontup if compiled.positional else None
        args = params if positions is None else tuple(params[name] for name in positions)
        for record_id, *key in conn.exec_driver_sql(str(compiled), args):
            out[tuple(key)] = record_id
    return out

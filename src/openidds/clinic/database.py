"""Opening a registry: an SQLite file by default, PostgreSQL (or any SQLAlchemy URL) for a multi-user clinic.

Schema changes go through the Alembic migrations shipped in ``openidds/clinic/migrations``; :func:`init_registry`
runs them programmatically, so no ``alembic.ini`` is needed.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import re
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError, DBAPIError, IntegrityError, NoSuchModuleError, OperationalError
from sqlalchemy.orm import Session, sessionmaker
from sqlalchemy.orm.exc import StaleDataError

from openidds.clinic import audit, consistency, deletion, models, pg_connection, validation
from openidds.clinic.errors import ConcurrentUpdateError, RegistryError
from openidds.clinic.refill_status import implants_of, refresh_refill_status

DEFAULT_PATH = "openidds-registry.sqlite"
DIALECTS = ("sqlite", "postgresql")
"""The databases a registry lives in."""
_URL_EXAMPLE = "an SQLite file path or a URL such as postgresql+psycopg://user:password@host:5432/registry"
_PASSWORD = re.compile(r"(://[^:/@]*:).*@")
_MIGRATIONS = Path(__file__).with_name("migrations")


class RegistrySession(Session):
    """A session whose flushes check every value and the cross-record rules of every patient they change, refuse
    deleting a record others depend on, and write the audit trail; set ``info['user']`` before changing anything."""


validation.install(RegistrySession)
consistency.install(RegistrySession)
deletion.install(RegistrySession)
audit.install(RegistrySession)


@event.listens_for(RegistrySession, "after_flush")
def _refresh_refill_status(session: Session, _context: Any) -> None:
    objects = (*session.new, *session.dirty, *session.deleted)
    changed = {obj.implant_id for obj in objects if isinstance(obj, models.Refill | models.PumpProgram)}
    patients = {obj.patient_id for obj in objects if isinstance(obj, models.Implant | models.Exit)}
    if patients:
        changed |= implants_of(session.connection(), patients)
    if changed:
        refresh_refill_status(session.connection(), changed)


def masked(db: str | Path | URL) -> str:
    """``db`` as a refusal may show it: a URL's password as ``***`` (percent-encoded or not)."""
    if isinstance(db, URL):
        return db.render_as_string(hide_password=True)
    return _PASSWORD.sub(r"\1***@", str(db))


def database_url(db: str | Path) -> str:
    """The SQLAlchemy URL for ``db``: a URL as given, or a file path made into an SQLite URL. A URL that does
    not parse, or names a database other than SQLite or PostgreSQL, is refused (its password masked)."""
    text = str(db)
    if "://" not in text:
        return f"sqlite:///{Path(text).expanduser().resolve()}"
    try:
        url = make_url(text)
    except (ArgumentError, ValueError):
        raise RegistryError("--db", masked(text), _URL_EXAMPLE) from None
    if url.get_backend_name() not in DIALECTS:
        raise RegistryError("--db", masked(url), f"a database OpenIDDS keeps a registry in ({', '.join(DIALECTS)}): "
                            + _URL_EXAMPLE)
    return text


#: The execution option of an engine made by :func:`with_clock`.
_CLOCK_OPTION = "openidds_audit_clock"


def with_clock(engine: Engine, clock: Callable[[], dt.datetime]) -> Engine:
    """The engine again (same connections), its units of work stamping their audit entries with ``clock()``
    instead of the wall clock, so that a registry written twice from the same data is the same byte for byte
    (a simulated cohort); a clock passed to :func:`unit_of_work` itself still wins."""
    return engine.execution_options(**{_CLOCK_OPTION: clock})


def _sqlite_pragmas(dbapi_connection: Any, _record: Any, synchronous: bool = True) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.execute("PRAGMA cache_size=-65536")
    if not synchronous:
        cursor.execute("PRAGMA synchronous=OFF")
        cursor.execute("PRAGMA journal_mode=MEMORY")
    cursor.close()


def connect(db: str | Path = DEFAULT_PATH, *, synchronous: bool = True) -> Engine:
    """An engine on the registry at ``db`` (path or URL); SQLite gets foreign keys and a busy timeout, PostgreSQL
    connections that keep their prepared statements across the rollback ending each read (:mod:`.pg_connection`).

    The database is opened once here, so a server that does not answer, a wrong password, a missing driver or
    a file that is not a database is refused now, with the URL's password masked.

    ``synchronous=False`` (SQLite only): commits do not wait for the disk and the rollback journal is kept in
    memory, for a file that nobody opens while it is being written and that is discarded if its writer fails
    (a registry written whole into a temporary file, synced once and renamed into place; a throwaway). The
    file's bytes are the same either way."""
    url = make_url(database_url(db))
    shown = masked(db)
    try:
        engine = create_engine(url)
    except (NoSuchModuleError, ImportError) as exc:
        raise RegistryError("--db", shown, f"a database whose driver is installed ({exc})") from None
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", functools.partial(_sqlite_pragmas, synchronous=synchronous))
    elif engine.dialect.driver == "psycopg":
        event.listen(engine, "do_connect", pg_connection.open_connection)
    try:
        with engine.connect():
            pass
    except DBAPIError as exc:
        detail = str(exc.orig).strip().splitlines()[0] if str(exc.orig).strip() else type(exc.orig).__name__
        if url.password:  # wherever it stands whole: a short password must not mask a word it is part of
            detail = re.sub(rf"(?<![0-9A-Za-z]){re.escape(str(url.password))}(?![0-9A-Za-z])", "***", detail)
        engine.dispose()
        raise RegistryError("--db", shown, f"a registry database that opens ({detail}); check the path, "
                            "or that the server runs and the user and password are right") from None
    return engine


def _alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_MIGRATIONS))
    # configparser reads '%' as interpolation: a percent-encoded password is written with '%%'
    config.set_main_option("sqlalchemy.url", engine.url.render_as_string(hide_password=False).replace("%", "%%"))
    return config


def init_registry(engine: Engine) -> str:
    """Create or upgrade the registry schema to the newest migration; returns the revision reached."""
    if current_revision(engine) == head_revision():
        return head_revision()
    config = _alembic_config(engine)
    with engine.begin() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
    return head_revision()


def new_sqlite_registry(path: Path) -> None:
    """Fill the new, empty file ``path`` with an empty SQLite registry at the newest migration: a copy of one
    migrated once per process, so that many throwaway registries (a cohort's replicates) run the migrations once.
    A file that holds anything already is refused."""
    if path.stat().st_size:
        raise RegistryError("registry file", str(path), "a new, empty file to write an empty registry into")
    path.write_bytes(_migrated_sqlite())


@functools.cache
def _migrated_sqlite() -> bytes:
    """The bytes of an empty SQLite registry migrated to the newest revision (in a throwaway file whose commits
    need not wait for the disk)."""
    with tempfile.TemporaryDirectory(prefix="openidds-template-") as folder:
        path = Path(folder) / "registry.sqlite"
        engine = connect(path, synchronous=False)
        try:
            init_registry(engine)
        finally:
            engine.dispose()
        return path.read_bytes()


@functools.cache
def head_revision() -> str:
    """The newest migration shipped with this package."""
    script = ScriptDirectory(str(_MIGRATIONS))
    head = script.get_current_head()
    assert head is not None
    return head


def current_revision(engine: Engine) -> str | None:
    """The migration the database is at, ``None`` for an empty database."""
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def require_current(engine: Engine) -> None:
    """Refuse to work on a database that is not initialised at the newest migration."""
    revision = current_revision(engine)
    if revision != head_revision():
        raise RegistryError("database revision", revision,
                            f"{head_revision()} (run `openidds registry init` first)")


def sessions(engine: Engine) -> sessionmaker[RegistrySession]:
    """A session factory whose sessions audit their changes."""
    return sessionmaker(engine, class_=RegistrySession, expire_on_commit=False)


#: SQLSTATEs of a transaction PostgreSQL aborted for another one: serialization_failure, deadlock_detected.
_RETRYABLE = {"40001", "40P01"}
_UNIQUE_VIOLATION = "23505"  # SQLSTATE unique_violation (PostgreSQL); SQLite says "UNIQUE constraint failed"


def _unique_violation(exc: IntegrityError) -> bool:
    """Whether the constraint broken is a unique key (another user saved the same record meanwhile)."""
    return getattr(exc.orig, "sqlstate", None) == _UNIQUE_VIOLATION or "UNIQUE constraint" in str(exc.orig)


@contextlib.contextmanager
def unit_of_work(engine: Engine, user: str, source: str | None = None,
                 clock: Callable[[], Any] | None = None) -> Iterator[RegistrySession]:
    """One transaction as ``user``: commits at the end, rolls back everything on error. Audit entries get the
    time ``clock()`` gives (a naive time is UTC), else the engine's (:func:`with_clock`), else the wall clock.

    A stale record (another user saved it first), or a new record whose natural key another user saved
    meanwhile, raises :class:`ConcurrentUpdateError` and nothing is written; any other broken constraint is a
    :class:`RegistryError` naming it; an SQLite registry still locked by another writer after the busy timeout,
    or a PostgreSQL transaction aborted for another one (deadlock, serialization), raises
    :class:`ConcurrentUpdateError` too.
    """
    validation.check_author(user, source)
    clock = clock or engine.get_execution_options().get(_CLOCK_OPTION)
    session = sessions(engine)()
    session.info.update({audit.USER_KEY: user, audit.SOURCE_KEY: source, audit.CLOCK_KEY: clock})
    try:
        yield session
        session.commit()
    except StaleDataError as exc:
        session.rollback()
        raise ConcurrentUpdateError("record", str(exc),
                                    "the version you read; reload it and apply your change again") from exc
    except IntegrityError as exc:
        session.rollback()
        detail = str(exc.orig).splitlines()[0]
        if _unique_violation(exc):
            raise ConcurrentUpdateError("record", detail,
                                        "a new record nobody else saved meanwhile; run the change again") from exc
        raise RegistryError("record", detail, "values the schema's constraints accept (nothing was written)") from exc
    except OperationalError as exc:
        session.rollback()
        if "database is locked" not in str(exc.orig) and getattr(exc.orig, "sqlstate", None) not in _RETRYABLE:
            raise
        raise ConcurrentUpdateError("registry", "busy", "no other change in the way (another user's change to the "
                                    "same records was being written); run the change again") from exc
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()

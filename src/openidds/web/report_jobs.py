"""Building the study report outside the request: a build is a row of the registry's ``report_jobs`` table
(migration ``0011``), run by a thread of the server process that took the request.

Every worker reads the same rows, so any worker answers the page's polling. A build moves queued → running →
done (with its dataset's SHA-256; the report is then kept by :mod:`openidds.web.reports`) or failed (with its
error). While a process holds a build it writes the row's heartbeat every :data:`HEARTBEAT` (a thread of its
own, from the moment the build is queued); a build whose heartbeat is older than :data:`STALE_AFTER` (its process
ended: a crash, a restart) or that has run longer than :data:`BUILD_LIMIT` is marked failed when next read, so a
build is never left "running" forever. One build runs at a time in the registry: asking while one is queued or
running gives that one (requests take turns to ask: two at once never start two builds).
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from enum import Enum
from typing import Any

from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    Integer,
    MetaData,
    Row,
    String,
    Table,
    Text,
    and_,
    func,
    insert,
    select,
    update,
)
from sqlalchemy.exc import SQLAlchemyError

from openidds.clinic.errors import UnknownRecord
from openidds.clinic.locking import begin_write
from openidds.errors import OpenIDDSError
from openidds.web.reports import build_report
from openidds.web.roles import Permission, Role, require

HEARTBEAT = dt.timedelta(seconds=5)
"""How often the process that holds a build writes its heartbeat."""
STALE_AFTER = dt.timedelta(seconds=60)
"""A queued or running build without a heartbeat for this long has lost its process: it is marked failed."""
BUILD_LIMIT = dt.timedelta(minutes=10)
"""A build running longer than this is marked failed (the report of a 10,000-patient registry takes seconds)."""

BUILDS_LOCK_KEY = 0x4F495250
"""Key of the PostgreSQL advisory lock that lets one request at a time start a build ("OIRP")."""

metadata = MetaData()
jobs_table = Table(
    "report_jobs", metadata,
    Column("id", Integer, primary_key=True),
    Column("requested_by", String(120), nullable=False),
    Column("requested_at", DateTime, nullable=False),
    Column("state", String(10), nullable=False, index=True),
    Column("runner", String(255)),
    Column("started_at", DateTime),
    Column("heartbeat_at", DateTime, nullable=False),
    Column("finished_at", DateTime),
    Column("dataset_sha256", String(64)),
    Column("error", Text),
)


class JobState(str, Enum):
    """Where a report build stands."""

    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"

    @property
    def finished(self) -> bool:
        return self in (JobState.DONE, JobState.FAILED)


_UNFINISHED = (JobState.QUEUED.value, JobState.RUNNING.value)


@dataclass(frozen=True)
class ReportJob:
    """One build of the study report: who asked and when (times in UTC, with their zone), its state, and its result
    (the dataset's SHA-256 when done, the error when failed)."""

    id: int
    requested_by: str
    requested_at: dt.datetime
    state: JobState
    runner: str | None
    started_at: dt.datetime | None
    heartbeat_at: dt.datetime
    finished_at: dt.datetime | None
    dataset_sha256: str | None
    error: str | None


Clock = Callable[[], dt.datetime]
_pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="openidds-report")
"""This process's builder: one build at a time (a build is CPU work; the registry runs one at a time anyway)."""


def _runner() -> str:
    return f"{socket.gethostname()} pid {os.getpid()}"[:255]


def _take_turns(conn: Connection) -> None:
    """Hold the builds' lock until the transaction ends, so two requests at once never both start a build
    (SQLite: its write lock; PostgreSQL: a transaction-level advisory lock)."""
    begin_write(conn)
    if conn.dialect.name == "postgresql":
        conn.execute(select(func.pg_advisory_xact_lock(BUILDS_LOCK_KEY)))


def _fail_lost(engine: Engine, now: dt.datetime) -> None:
    """Mark failed the builds whose process stopped writing their heartbeat, and those running too long."""
    lost = and_(jobs_table.c.state.in_(_UNFINISHED), jobs_table.c.heartbeat_at < now - STALE_AFTER)
    slow = and_(jobs_table.c.state == JobState.RUNNING.value, jobs_table.c.started_at < now - BUILD_LIMIT)
    with engine.begin() as conn:
        conn.execute(update(jobs_table).where(lost).values(
            state=JobState.FAILED.value, finished_at=now,
            error=f"the build stopped without finishing: the server process building it wrote no sign of life for "
                  f"{STALE_AFTER.total_seconds():g} seconds (it ended or was restarted); build the report again"))
        conn.execute(update(jobs_table).where(slow).values(
            state=JobState.FAILED.value, finished_at=now,
            error=f"the build ran longer than {BUILD_LIMIT.total_seconds() / 60:g} minutes and was given up; "
                  "build the report again, and tell the server's administrator if it happens again"))


def _job(row: Row[Any]) -> ReportJob:
    values: dict[str, Any] = {k: v.replace(tzinfo=dt.UTC) if isinstance(v, dt.datetime) else v
                              for k, v in row._mapping.items()}
    values["state"] = JobState(values["state"])
    return ReportJob(**values)


def report_job(engine: Engine, role: Role, job_id: int, now: dt.datetime) -> ReportJob:
    """The build ``job_id`` as it stands at ``now`` (a lost one marked failed first); 404 for an unknown id."""
    require(role, Permission.BUILD_REPORT)
    _fail_lost(engine, now)
    with engine.connect() as conn:
        row = conn.execute(select(jobs_table).where(jobs_table.c.id == job_id)).first()
    if row is None:
        raise UnknownRecord("report build", job_id, "a build of the report that was started: build the report")
    return _job(row)


def latest_job(engine: Engine, role: Role, now: dt.datetime) -> ReportJob | None:
    """The registry's newest build, as it stands at ``now`` (none before the first)."""
    require(role, Permission.BUILD_REPORT)
    _fail_lost(engine, now)
    with engine.connect() as conn:
        row = conn.execute(select(jobs_table).order_by(jobs_table.c.id.desc()).limit(1)).first()
    return None if row is None else _job(row)


def start_build(engine: Engine, user: str, role: Role, clock: Clock) -> ReportJob:
    """Start building the report for ``user`` in this process and return at once; while a build is queued or
    running (by anyone) that build is returned instead of starting another."""
    require(role, Permission.BUILD_REPORT)
    now = clock()
    _fail_lost(engine, now)
    with engine.begin() as conn:
        _take_turns(conn)
        running = conn.execute(select(jobs_table).where(jobs_table.c.state.in_(_UNFINISHED))
                               .order_by(jobs_table.c.id).limit(1)).first()
        if running is not None:
            return _job(running)
        job_id = conn.execute(insert(jobs_table).values(requested_by=user, requested_at=now,
                                                        state=JobState.QUEUED.value, heartbeat_at=now)
                              .returning(jobs_table.c.id)).scalar_one()
    stop = threading.Event()
    threading.Thread(target=_heartbeat, args=(engine, job_id, clock, stop), daemon=True,
                     name=f"openidds-report-heartbeat-{job_id}").start()
    _pool.submit(_build, engine, job_id, role, clock, stop)
    return report_job(engine, role, job_id, now)


def _heartbeat(engine: Engine, job_id: int, clock: Clock, stop: threading.Event) -> None:
    """Write the build's heartbeat every :data:`HEARTBEAT` until ``stop`` is set."""
    while not stop.wait(HEARTBEAT.total_seconds()):
        try:
            with engine.begin() as conn:
                conn.execute(update(jobs_table).where(jobs_table.c.id == job_id, jobs_table.c.state.in_(_UNFINISHED))
                             .values(heartbeat_at=clock()))
        except SQLAlchemyError:  # the registry is out of reach: the build is then reported lost, as it should be
            return


def _finish(engine: Engine, job_id: int, now: dt.datetime, **values: object) -> None:
    """Record the build's end, unless it was already marked failed (lost or too long)."""
    with engine.begin() as conn:
        conn.execute(update(jobs_table).where(jobs_table.c.id == job_id, jobs_table.c.state == JobState.RUNNING.value)
                     .values(finished_at=now, **values))


def _build(engine: Engine, job_id: int, role: Role, clock: Clock, stop: threading.Event) -> None:
    """Run the build ``job_id``: running, then done with the dataset's SHA-256 or failed with the error."""
    try:
        now = clock()
        with engine.begin() as conn:
            conn.execute(update(jobs_table)
                         .where(jobs_table.c.id == job_id, jobs_table.c.state == JobState.QUEUED.value)
                         .values(state=JobState.RUNNING.value, started_at=now, heartbeat_at=now, runner=_runner()))
        try:
            report = build_report(engine, role)
        except OpenIDDSError as exc:  # a dataset the report refuses, e.g. no implanted patient yet
            _finish(engine, job_id, clock(), state=JobState.FAILED.value, error=str(exc))
        except Exception as exc:  # any failure is the build's result, shown to who asked
            _finish(engine, job_id, clock(), state=JobState.FAILED.value,
                    error=f"the build failed ({type(exc).__name__}: {exc}); tell the server's administrator")
        else:
            _finish(engine, job_id, clock(), state=JobState.DONE.value, dataset_sha256=report.dataset_sha256)
    finally:
        stop.set()


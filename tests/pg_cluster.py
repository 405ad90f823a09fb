"""A throwaway PostgreSQL 15 server for the tests and the benchmarks: created in a temporary folder, started on a
free loopback port and removed afterwards. If it cannot start, the caller gets the server's own message.

Each cluster lives in a folder ``openidds-pg-<pid>-<random>`` of the temporary directory, ``<pid>`` the process
that started it. The cluster is stopped and its folder removed when its ``with`` block ends, at the interpreter's
exit (a Ctrl-C's KeyboardInterrupt unwinds to both), and on SIGTERM (a run stopped by a timeout), whose default
action would end the process with no clean-up; the SIGTERM and SIGINT handlers pass each signal on to the
handlers installed before them (:func:`_on_signal`). A run killed outright (SIGKILL, a crash) cannot clean up:
each start first stops and removes the clusters of such runs (:func:`sweep_dead_clusters`).
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

PG_BIN = Path("/usr/lib/postgresql/15/bin")
PREFIX = "openidds-pg-"
_FOLDER = re.compile(re.escape(PREFIX) + r"(\d+)-[a-z0-9_]+")
"""The name of a cluster folder of ours: the starting process's id, then mkdtemp's random part."""
_NOT_RUNNING = 3
"""``pg_ctl status``'s exit code when no server runs in the data folder."""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def server_user() -> str | None:
    """The user the server runs as: ``postgres`` when run as root (PostgreSQL refuses root), else ourselves."""
    return "postgres" if os.geteuid() == 0 else None


def _as_owner(args: list[str], owner: str | None) -> list[str]:
    return ["runuser", "-u", owner, "--", *args] if owner else args


def _run(args: list[str], what: str, log: Path | None = None) -> None:
    result = subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    if result.returncode != 0:
        server_log = log.read_text() if log is not None and log.exists() else ""
        raise RuntimeError(f"PostgreSQL {what} failed ({result.returncode}): {result.stdout}\n{result.stderr}\n"
                           f"{server_log}")


def _pg_ctl(data: Path, owner: str | None, *args: str) -> list[str]:
    return _as_owner([str(PG_BIN / "pg_ctl"), "-D", str(data), *args], owner)


@dataclass(frozen=True)
class _Cluster:
    root: Path
    owner: str | None
    started_by: int
    """The process that started the cluster: only it stops it (a forked child inherits the list, not the duty)."""


_live: dict[Path, _Cluster] = {}
"""The clusters this process started and has not stopped yet."""
_lock = threading.RLock()
"""Re-entrant: a signal handler runs in the main thread, maybe while that thread holds the lock."""
_previous: dict[int, Callable[[int, FrameType | None], object] | int | None] = {}


def _discard(root: Path) -> None:
    """Stop the cluster in ``root`` (if this process started it and has not stopped it yet) and remove its
    folder."""
    with _lock:
        cluster = _live.pop(root, None)
    if cluster is None or cluster.started_by != os.getpid():
        return
    try:
        if (root / "data" / "postmaster.pid").exists():
            _run(_pg_ctl(root / "data", cluster.owner, "-m", "immediate", "-w", "stop"), "stop")
    finally:
        shutil.rmtree(root, ignore_errors=True)


def _discard_all() -> None:
    for root in list(_live):
        _discard(root)


def _on_signal(signum: int, frame: FrameType | None) -> None:
    """Do what the signal did before, stopping this process's clusters if that ends the process with no Python
    clean-up: a Python handler is called (Python's SIGINT handler raises KeyboardInterrupt, and the unwinding
    ``with`` blocks or ``atexit`` stop the clusters; a handler that carries on keeps them); an ignored signal stays
    ignored; for the default action (SIGTERM's: end the process at once) the clusters are stopped, then the
    default is reinstalled and the signal raised again, so the process ends as the signal says."""
    previous = _previous.get(signum)
    if callable(previous):
        previous(signum, frame)
    elif previous != signal.SIG_IGN:
        _discard_all()
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)


def _install_teardown() -> None:
    """Stop the clusters on SIGTERM and SIGINT (installed once; a forked child inherits it). Signal handlers can
    be set only in the main thread: from another thread, the exit alone is covered (``atexit``)."""
    if threading.current_thread() is not threading.main_thread():
        return
    for signum in (signal.SIGTERM, signal.SIGINT):
        if signal.getsignal(signum) is not _on_signal:
            _previous[signum] = signal.signal(signum, _on_signal)


atexit.register(_discard_all)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # another user's process
        return True
    return True


def sweep_dead_clusters() -> list[Path]:
    """Stop and remove the clusters of runs that ended without cleaning up: the folders named as ours in the
    temporary directory, owned by the server's user, whose starting process is gone. Returns the folders
    removed; a server that will not stop is an error naming its folder."""
    owner = server_user()
    uid = pwd.getpwnam(owner).pw_uid if owner else os.geteuid()
    removed = []
    for root in sorted(Path(tempfile.gettempdir()).glob(PREFIX + "*")):
        found = _FOLDER.fullmatch(root.name)
        if found is None or not root.is_dir() or root.stat().st_uid != uid or _alive(int(found[1])):
            continue
        data = root / "data"
        if (data / "postmaster.pid").exists():
            subprocess.run(_pg_ctl(data, owner, "-m", "immediate", "-w", "stop"), capture_output=True,
                           stdin=subprocess.DEVNULL, timeout=120)
            status = subprocess.run(_pg_ctl(data, owner, "status"), capture_output=True, text=True,
                                    stdin=subprocess.DEVNULL, timeout=120)
            if status.returncode != _NOT_RUNNING:
                raise RuntimeError(f"PostgreSQL left running by a dead run in {root} did not stop: "
                                   f"{status.stdout}{status.stderr}; stop it with pg_ctl -D {data} stop")
        shutil.rmtree(root, ignore_errors=True)
        removed.append(root)
    return removed


@contextlib.contextmanager
def throwaway_server() -> Iterator[str]:
    """Start a PostgreSQL 15 cluster in a temporary folder on a free loopback port (trust authentication,
    no fsync) and yield its URL (psycopg 3, user ``postgres``, who may create databases); stop and remove it on
    exit (see the module's note for exits by signal). Run as root, the server runs as the ``postgres`` user."""
    sweep_dead_clusters()
    _install_teardown()
    owner = server_user()
    root = Path(tempfile.mkdtemp(prefix=f"{PREFIX}{os.getpid()}-"))
    with _lock:
        _live[root] = _Cluster(root, owner, os.getpid())
    data, sockets, log = root / "data", root / "sock", root / "server.log"
    try:
        sockets.mkdir()
        if owner:
            shutil.chown(root, owner)
            shutil.chown(sockets, owner)
        port = _free_port()
        _run(_as_owner([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync",
                        "-E", "UTF8", "--locale=C"], owner), "initdb")
        options = f"-p {port} -k {sockets} -h 127.0.0.1 -c fsync=off -c synchronous_commit=off " \
                  "-c full_page_writes=off"
        _run(_pg_ctl(data, owner, "-l", str(log), "-o", options, "-w", "-t", "60", "start"), "start", log)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        _discard(root)

"""A throwaway PostgreSQL 15 server for the tests and the benchmarks: created in a temporary folder, started on a
free loopback port and removed afterwards. If it cannot start, the caller gets the server's own message."""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

PG_BIN = Path("/usr/lib/postgresql/15/bin")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _as_owner(args: list[str], owner: str | None) -> list[str]:
    return ["runuser", "-u", owner, "--", *args] if owner else args


def _run(args: list[str], what: str, log: Path | None = None) -> None:
    result = subprocess.run(args, capture_output=True, text=True, stdin=subprocess.DEVNULL, timeout=120)
    if result.returncode != 0:
        server_log = log.read_text() if log is not None and log.exists() else ""
        raise RuntimeError(f"PostgreSQL {what} failed ({result.returncode}): {result.stdout}\n{result.stderr}\n"
                           f"{server_log}")


@contextlib.contextmanager
def throwaway_server() -> Iterator[str]:
    """Start a PostgreSQL 15 cluster in a temporary folder on a free loopback port (trust authentication,
    no fsync) and yield its URL (psycopg 3, user ``postgres``, who may create databases); stop and remove it on
    exit. Run as root, the server runs as the ``postgres`` user."""
    owner = "postgres" if os.geteuid() == 0 else None
    root = Path(tempfile.mkdtemp(prefix="openidds-pg-"))
    data, sockets, log = root / "data", root / "sock", root / "server.log"
    sockets.mkdir()
    if owner:
        shutil.chown(root, owner)
        shutil.chown(sockets, owner)
    port = _free_port()
    started = False
    try:
        _run(_as_owner([str(PG_BIN / "initdb"), "-D", str(data), "-U", "postgres", "-A", "trust", "--no-sync",
                        "-E", "UTF8", "--locale=C"], owner), "initdb")
        options = f"-p {port} -k {sockets} -h 127.0.0.1 -c fsync=off -c synchronous_commit=off " \
                  "-c full_page_writes=off"
        _run(_as_owner([str(PG_BIN / "pg_ctl"), "-D", str(data), "-l", str(log), "-o", options, "-w", "-t", "60",
                        "start"], owner), "start", log)
        started = True
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        if started:
            _run(_as_owner([str(PG_BIN / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "stop"], owner), "stop")
        shutil.rmtree(root, ignore_errors=True)

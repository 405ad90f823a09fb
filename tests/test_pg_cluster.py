"""The throwaway PostgreSQL cluster is never left running: its starter stops it on SIGTERM, on SIGINT and at exit,
and the next start stops and removes the cluster of a starter killed outright. Real clusters, started by real
child processes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from sqlalchemy import make_url
from tests.pg_cluster import PREFIX, server_user, sweep_dead_clusters, throwaway_server

ROOT = Path(__file__).resolve().parents[1]
HOLD = """
import sys, time
from tests.pg_cluster import throwaway_server
{enter}
print(url, flush=True)
{wait}
"""
IN_BLOCK = "cluster = throwaway_server()\nurl = cluster.__enter__()"
"""Enter the cluster's ``with`` block and never leave it: only the exit handlers can stop the cluster."""


def _start(wait: str) -> tuple[subprocess.Popen[str], str, Path]:
    """A child process that starts a cluster and then runs ``wait``; its URL and its folder."""
    child = subprocess.Popen([sys.executable, "-c", HOLD.format(enter=IN_BLOCK, wait=wait)], cwd=ROOT,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.PIPE, text=True)
    assert child.stdout is not None
    url = child.stdout.readline().strip()
    assert url.startswith("postgresql+psycopg://"), child.communicate(timeout=60)
    [folder] = Path(tempfile.gettempdir()).glob(f"{PREFIX}{child.pid}-*")
    assert _answers(url)
    return child, url, folder


def _answers(url: str) -> bool:
    """Whether a server accepts a connection at ``url``."""
    try:
        with psycopg.connect(make_url(url).set(drivername="postgresql").render_as_string(hide_password=False),
                             connect_timeout=5):
            return True
    except psycopg.OperationalError:
        return False


@pytest.fixture
def child_processes() -> Iterator[list[subprocess.Popen[str]]]:
    """Children to kill if a test fails half-way (their clusters are swept by the next start)."""
    children: list[subprocess.Popen[str]] = []
    yield children
    for child in children:
        if child.poll() is None:
            child.kill()
            child.wait(timeout=60)


def test_the_next_start_stops_the_cluster_of_a_starter_killed_outright(
        child_processes: list[subprocess.Popen[str]]) -> None:
    child, url, folder = _start("time.sleep(600)")
    child_processes.append(child)
    child.kill()  # SIGKILL: no handler runs
    child.wait(timeout=60)
    assert folder.is_dir() and _answers(url)  # left running by the dead run
    with throwaway_server() as fresh:
        assert not folder.exists() and not _answers(url)
        assert _answers(fresh)


@pytest.mark.parametrize(("signum", "wait", "exit_code"), [
    (signal.SIGTERM, "time.sleep(600)", -signal.SIGTERM),  # the default action then ends the process
    (signal.SIGINT, "try:\n    time.sleep(600)\nexcept KeyboardInterrupt:\n    sys.exit(130)", 130),  # Ctrl-C
])
def test_a_signal_stops_the_cluster_and_then_acts_as_before(
        child_processes: list[subprocess.Popen[str]], signum: int, wait: str, exit_code: int) -> None:
    child, url, folder = _start(wait)
    child_processes.append(child)
    child.send_signal(signum)
    assert child.wait(timeout=120) == exit_code, child.communicate()
    assert not folder.exists() and not _answers(url)


def test_a_normal_exit_stops_the_cluster_left_open(child_processes: list[subprocess.Popen[str]]) -> None:
    child, url, folder = _start("sys.stdin.readline()")  # then the script ends, its with block still open
    child_processes.append(child)
    _, errors = child.communicate("go on\n", timeout=120)
    assert child.returncode == 0, errors
    assert not folder.exists() and not _answers(url)


def test_the_sweep_leaves_every_folder_not_of_a_dead_run_of_ours(tmp_path: Path) -> None:
    gone = subprocess.Popen(["true"])
    gone.wait()
    tmp = Path(tempfile.gettempdir())
    dead, live, other = (tmp / f"{PREFIX}{gone.pid}-tidy1234", tmp / f"{PREFIX}{os.getpid()}-tidy1234",
                         tmp / f"{PREFIX}tidy{gone.pid}")  # the last as an older start named it: no pid
    owner = server_user()
    try:
        for folder in (dead, live, other):
            folder.mkdir()
            if owner:
                shutil.chown(folder, owner)
        assert dead in sweep_dead_clusters()
        assert not dead.exists() and live.is_dir() and other.is_dir()
    finally:
        for folder in (dead, live, other):
            shutil.rmtree(folder, ignore_errors=True)

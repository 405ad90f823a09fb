"""Web benchmark: a 10,000-patient clinic on a throwaway PostgreSQL 15 server, served by ``openidds web serve``
with 2 workers on 127.0.0.1, loaded by a script logged in as a nurse: the Today page, the refill calendar's week of
the clinic day, patient timelines and their plots (the SVG drawn on every request: the load script sends no ETag),
with GET /static/app.css (a file served without the registry) as the peer measured in the same run.

The clinic: bench_registry's synthetic cohort (1 implant, 10 visits, 6 refills each; about 1 pump in 6 due for a
refill within 14 days) plus, on every 10th pump, an imported event log with a low-reservoir alarm later cleared, and
on every 100th an empty-reservoir alarm still open (the clinic's alarm record synced from those logs). Each page
gets ``--requests`` requests from ``--concurrency`` clients at once (each on its own keep-alive connection), after a
warm-up. Prints p50, p95 and max per page and
each page's p50 / the peer's p50, and the CPU time the server spent per request (its workers', and the PostgreSQL
backends' of the bench database, read from /proc: a figure the machine's other load barely changes, unlike the
times); target: p95 < 100 ms (issue 12). Asserts nothing about time.

Run from the repository root: ``python -m benchmarks.bench_web`` (``--patients N`` for a smaller clinic).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
from benchmarks.bench_registry import TODAY, write_cohort
from sqlalchemy import Engine, create_engine, insert, make_url, select, text
from tests.pg_cluster import throwaway_server

from openidds.clinic import connect, import_batch, init_registry, read_paths
from openidds.clinic import models as m
from openidds.clinic.alarms import sync_alarms
from openidds.web import Role
from openidds.web.accounts import add_user
from openidds.web.calendar import week_label

NURSE, NURSE_PASSWORD = "nina", "bench nurse passphrase"
STARTUP_S = 180
"""Seconds the server's workers may take to answer at start (each imports the app: slow on a loaded machine)."""


def build_clinic(url: str, patients: int) -> list[str]:
    """The clinic in the registry at ``url``; returns the patients' page paths."""
    engine = connect(url)
    init_registry(engine)
    with tempfile.TemporaryDirectory() as folder:
        write_cohort(Path(folder), patients)
        import_batch(engine, read_paths([Path(folder)]), "bench", source="bench")
    with engine.begin() as conn:
        implants = conn.execute(select(m.Implant.id).order_by(m.Implant.id)).scalars().all()
        first = dt.datetime.combine(TODAY, dt.time(8)) - dt.timedelta(days=30)
        events = [(first, "alarm", {"alarm": "low_reservoir", "severity": "non-critical"}),
                  (first + dt.timedelta(days=1), "alarm_cleared", {"alarm": "low_reservoir"}),
                  (first + dt.timedelta(days=20), "alarm", {"alarm": "empty_reservoir", "severity": "critical"})]
        conn.execute(insert(m.PumpEvent), [
            {"implant_id": implant_id, "seq": seq, "at": at, "kind": kind, "reason": "bench log", "data": data}
            for n, implant_id in enumerate(implants) if n % 10 == 0
            for seq, (at, kind, data) in enumerate(events[:3 if n % 100 == 0 else 2], 1)])
        conn.execute(text("ANALYZE"))
        codes = conn.execute(select(m.Site.code, m.Patient.patient_code).join(m.Patient.site)).all()
    sync_alarms(engine, "bench")
    add_user(engine, NURSE, Role.NURSE, NURSE_PASSWORD, dt.datetime.now(dt.UTC).replace(tzinfo=None), "bench")
    engine.dispose()
    return [f"/patients/{site}/{code}" for site, code in codes]


def serve(url: str, port: int, workers: int, log: Path) -> subprocess.Popen[bytes]:
    """``openidds web serve`` on the registry, answering on 127.0.0.1:``port``; its output goes to ``log``. A port
    another server holds is refused first (else the load would measure that server)."""
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError as exc:
            raise RuntimeError(f"127.0.0.1:{port} is in use ({exc}): choose another port with --port") from None
    with log.open("wb") as output:
        server = subprocess.Popen([str(Path(sys.executable).with_name("openidds")), "web", "serve", "--db", url,
                                   "--port", str(port), "--workers", str(workers), "--today", TODAY.isoformat()],
                                  stdout=output, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if server.poll() is not None:
            raise RuntimeError(f"the server stopped at start: {log.read_text()[-2000:]}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/login").status_code == 200:
                return server
        except httpx.TransportError:
            time.sleep(0.2)
    server.kill()
    raise RuntimeError(f"the server did not answer within {STARTUP_S} s: {log.read_text()[-2000:]}")


def logged_in(base: str) -> httpx.Cookies:
    """The session cookie of the nurse, logged in through the log-in form."""
    with httpx.Client(base_url=base) as client:
        form = client.get("/login").text
        token = re.search(r'name="csrf_token" value="([^"]+)"', form)
        assert token, form
        done = client.post("/login", data={"name": NURSE, "password": NURSE_PASSWORD, "csrf_token": token.group(1)})
        assert done.status_code == 303, done.text
        return client.cookies


def load(base: str, cookies: httpx.Cookies, paths: list[str], concurrency: int) -> list[float]:
    """The paths requested by ``concurrency`` clients at once, each client on its own keep-alive connection
    requesting every ``concurrency``-th path one after the other; each request's time in ms."""

    def client_run(first: int) -> list[float]:
        timings = []
        with httpx.Client(base_url=base, cookies=cookies, timeout=60) as client:
            for path in paths[first::concurrency]:
                start = time.perf_counter()
                response = client.get(path)
                timings.append((time.perf_counter() - start) * 1000)
                assert response.status_code == 200, (path, response.status_code, response.text[:300])
        return timings

    with ThreadPoolExecutor(concurrency) as pool:
        return [t for timings in pool.map(client_run, range(concurrency)) for t in timings]


def percentile(values: list[float], q: float) -> float:
    return statistics.quantiles(values, n=100, method="inclusive")[round(q) - 1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200, help="measured requests per page")
    parser.add_argument("--concurrency", type=int, default=4, help="clients requesting at once")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--port", type=int, default=8765)
    args = parser.parse_args()
    rng = random.Random(1)
    with throwaway_server() as server_url:
        admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
        name = f"openidds_bench_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        url = make_url(server_url).set(database=name).render_as_string(hide_password=False)
        start = time.perf_counter()
        timelines = build_clinic(url, args.patients)
        print(f"clinic: {args.patients} patients on PostgreSQL 15, built in {time.perf_counter() - start:.0f} s; "
              f"clinic day {TODAY}")
        log = Path(tempfile.mkdtemp(prefix="openidds-bench-web-")) / "server.log"
        server = serve(url, args.port, args.workers, log)
        try:
            base = f"http://127.0.0.1:{args.port}"
            cookies = logged_in(base)
            week = f"/calendar?week={week_label(TODAY)}"
            pages = {"Today (/today)": ["/today"], f"refill calendar, a week ({week})": [week],
                     "patient timeline (/patients/SITE/ID)": timelines,
                     "patient plot (/patients/SITE/ID/plot.svg)": [f"{path}/plot.svg" for path in timelines],
                     "peer: GET /static/app.css": ["/static/app.css"]}
            print(f"load: {args.requests} requests per page, {args.concurrency} clients at once, "
                  f"{args.workers} workers; load average before {_load()}")
            results, cpu = {}, {}
            for page, paths in pages.items():
                chosen = [rng.choice(paths) for _ in range(args.requests + 2 * args.concurrency)]
                load(base, cookies, chosen[:2 * args.concurrency], args.concurrency)  # warm-up
                before = _server_cpu_ms(server.pid, admin, name)
                results[page] = load(base, cookies, chosen[2 * args.concurrency:], args.concurrency)
                after = _server_cpu_ms(server.pid, admin, name)
                cpu[page] = tuple((after[k] - before.get(k, 0.0)) / args.requests for k in ("app", "postgres"))
            peer = statistics.median(results["peer: GET /static/app.css"])
            for page, timings in results.items():
                p50 = statistics.median(timings)
                print(f"{page}: p50 {p50:.1f} ms, p95 {percentile(timings, 95):.1f} ms, max {max(timings):.1f} ms; "
                      f"p50 / peer p50 = {p50 / peer:.1f}; CPU per request: app {cpu[page][0]:.1f} ms, "
                      f"PostgreSQL {cpu[page][1]:.1f} ms")
            print(f"target: p95 < 100 ms; load average after {_load()}")
        except Exception:
            print(f"the server's log: {log}")
            raise
        finally:
            server.terminate()
            server.wait(30)
            admin.dispose()


def _cpu_ms(pid: int) -> float:
    """The CPU time (user and system) process ``pid`` has used, in ms; 0 for a process that has ended."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except FileNotFoundError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) * 1000 / os.sysconf("SC_CLK_TCK")


def _descendants(pid: int) -> list[int]:
    """The processes ``pid`` started, and theirs (the server's supervisor, its workers)."""
    children = [int(c) for task in Path(f"/proc/{pid}/task").iterdir()
                for c in (task / "children").read_text().split()]
    return children + [d for child in children for d in _descendants(child)]


def _server_cpu_ms(server_pid: int, admin: Engine, database: str) -> dict[str, float]:
    """CPU ms used so far by the server's processes (``app``) and by the PostgreSQL backends connected to
    ``database`` (``postgres``: the workers' pooled connections)."""
    with admin.connect() as conn:
        backends = conn.execute(text("SELECT pid FROM pg_stat_activity WHERE datname = :name"),
                                {"name": database}).scalars().all()
    return {"app": sum(_cpu_ms(p) for p in [server_pid, *_descendants(server_pid)]),
            "postgres": sum(_cpu_ms(p) for p in backends)}


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" (1/5/15 min, {os.cpu_count()} CPUs)"


if __name__ == "__main__":
    main()

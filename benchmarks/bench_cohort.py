"""How long one virtual-cohort replicate takes, and where the time goes.

    python benchmarks/bench_cohort.py                                  # seed000, 200 patients
    taskset -c 0 python benchmarks/bench_cohort.py --study seed002 --patients 1403   # seed 002, one core
    taskset -c 0 python -m benchmarks.bench_cohort --study seed002 --patients 1403 --postgresql  # into PostgreSQL
    python benchmarks/bench_cohort.py --study seed002 --patients 1403 --workers 2    # on both cores

Phases, as ``openidds cohort run`` writes a registry: drawing the patients and playing them through the pump and
programmer; parsing the registry rows; the one ``import_batch``; the one ``import_pump_logs`` of every log (which
exports each pump's log as a wire log when it reaches it, and writes the events a block of logs at a time). Prints
the process's CPU seconds per phase (the machine may be shared: CPU time, not wall time, is what a replicate costs),
pump events and pump-years simulated per CPU second, and the ratio of the replicate to its peer run in the same
process: the plain ``sqlite3`` way of storing the same pump events (:func:`plain_sqlite`). ``--postgresql`` writes
the replicate into a throwaway PostgreSQL server instead of SQLite (the pump events sent by COPY). ``--workers N``
runs N replicates at once in a pool of N processes (``openidds.cohort.replicates``, replicate i with child i of the
seed's ``SeedSequence``) and prints each one's CPU seconds and the wall time of the whole pool. ``--step-share``
only plays the patients and says how much of that is the pump's stepping. ``--validate N`` runs what ``openidds
cohort validate STUDY --replicates N --workers W`` runs (N replicates of the study at its own size, each simulated
into a throwaway registry and measured through the report; with ``--pump-logs`` the pumps' logs stored too, as
``validate --pump-logs`` does) and prints its wall time and the CPU seconds of the process and its workers, per
replicate too; with ``--in-process`` it runs the replicates one after another in its own process, as one worker
does, and prints each one's CPU seconds and the part of them Python's cycle collector took:

    python benchmarks/bench_cohort.py --validate 20 --workers 2      # seed000 on both cores
    taskset -c 0 python benchmarks/bench_cohort.py --validate 10 --workers 1
    taskset -c 0 python benchmarks/bench_cohort.py --validate 30 --in-process  # one worker's replicates in turn
    taskset -c 0 python benchmarks/bench_cohort.py --validate 30 --in-process --pump-logs  # the logs stored too

Asserts nothing about time.
"""

import argparse
import contextlib
import cProfile
import gc
import json
import pstats
import resource
import sqlite3
import tempfile
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from functools import partial
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, make_url, text

from openidds.clinic import connect, import_batch, init_registry
from openidds.clinic.bulk import collector_paused
from openidds.clinic.database import with_clock
from openidds.clinic.pump_log import PumpLogImport, import_pump_logs
from openidds.cohort.params import load_params
from openidds.cohort.replicates import child_seeds, map_replicates, run_replicates
from openidds.cohort.replicates import replicate as run_replicate
from openidds.cohort.simulate import USER, exported_logs, play, registry_batch, simulate, written_at
from openidds.cohort.study import load_study
from openidds.pump import Pump

SECONDS_PER_YEAR = 86_400 * 365.25


@dataclass(frozen=True)
class Replicate:
    """What one replicate cost: CPU seconds per phase, and what it simulated."""

    cpu_s: dict[str, float]
    wall_s: float
    events: dict[str, int]
    pump_years: float
    plain_sqlite_cpu_s: float
    """The peer: the CPU seconds the plain ``sqlite3`` way takes to store the same events (:func:`plain_sqlite`)."""

    @property
    def total_cpu_s(self) -> float:
        return sum(self.cpu_s.values())


class StepClock:
    """While in use, times every ``Pump.advance`` (the pump's stepping from event to event, where all its
    per-step work happens): the share of a replicate a compiled step could speed up."""

    def __init__(self) -> None:
        self.cpu_s = 0.0
        self.calls = 0

    def __enter__(self) -> "StepClock":
        self._advance = advance = Pump.advance

        def timed(pump: Pump, to_s: int) -> None:
            start = time.process_time()
            try:
                advance(pump, to_s)
            finally:
                self.cpu_s += time.process_time() - start
                self.calls += 1

        Pump.advance = timed
        return self

    def __exit__(self, *_: object) -> None:
        Pump.advance = self._advance


def replicate(study_id: str, params_file: str | None, patients: int, seed: int | np.random.SeedSequence,
              db_url: str | None = None) -> Replicate:
    """One replicate written into a throwaway SQLite registry (or the empty registry at ``db_url``), phase by
    phase."""
    study = load_study(study_id)
    params = load_params(params_file or study.id)
    cpu: dict[str, float] = {}
    wall = time.perf_counter()

    def phase(name: str, start: float) -> None:
        cpu[name] = time.process_time() - start

    with collector_paused(), tempfile.TemporaryDirectory(prefix="bench-cohort-") as folder:  # as simulate runs
        start = time.process_time()
        runs = play(study, params, seed, patients)
        phase("play (pump + programmer)", start)
        start = time.process_time()
        batch = registry_batch(runs)
        phase("parse registry rows", start)
        engine = connect(db_url or str(Path(folder) / "bench.sqlite"))
        init_registry(engine)
        clocked = with_clock(engine, lambda: written_at(runs))
        start = time.process_time()
        import_batch(clocked, batch, USER, source="bench")
        phase("import_batch (all records)", start)
        start = time.process_time()
        import_pump_logs(clocked, exported_logs(runs), USER, source="bench")
        phase("export + import_pump_logs", start)
        engine.dispose()
        wall = time.perf_counter() - wall
        plain = plain_sqlite(exported_logs(runs), Path(folder) / "plain.sqlite")
    events = Counter(str(e.kind) for run in runs for implanted in run.implants for e in implanted.pump.log)
    pump_s = sum(i.pump.t_s - i.start_s for run in runs for i in run.implants)
    return Replicate(cpu, wall, dict(events), pump_s / SECONDS_PER_YEAR, plain)


def plain_sqlite(logs: list[PumpLogImport], path: Path) -> float:
    """The peer of a replicate, run in the same process: the CPU seconds that the plain way with Python's own
    ``sqlite3`` takes to store the replicate's pump events, each log already exported: one row per event of the
    registry's ``pump_events`` columns as the registry stores them in SQLite (tests check the rows are the same):
    its time from the log's clock (``PumpLog.at``) as ISO 8601 text, its ``data`` by ``json.dumps``, the implant
    ids numbered in the logs' order as a new registry numbers them; sent by ``executemany`` in one transaction,
    with no check, audit entry or digest. The ratio of the replicate to it moves less than the seconds do when the
    machine slows."""
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE pump_events (id INTEGER PRIMARY KEY, implant_id INTEGER NOT NULL, seq INTEGER NOT "
                 "NULL, at TEXT NOT NULL, kind TEXT NOT NULL, reason TEXT NOT NULL, data TEXT NOT NULL, version "
                 "INTEGER NOT NULL, UNIQUE (implant_id, seq))")
    insert = "INSERT INTO pump_events (implant_id, seq, at, kind, reason, data, version) VALUES (?, ?, ?, ?, ?, ?, 1)"
    cpu = 0.0
    for implant_id, item in enumerate(logs, start=1):
        log = item.parsed()[0]
        assert log is not None
        start = time.process_time()
        conn.executemany(insert, [(implant_id, e.seq, log.at(e.t_s).isoformat(" ", "microseconds"), e.kind.value,
                                   e.reason, json.dumps(e.data)) for e in log.events])
        cpu += time.process_time() - start
    start = time.process_time()
    conn.commit()
    cpu += time.process_time() - start
    conn.close()
    return cpu


@contextlib.contextmanager
def postgresql_registry() -> Iterator[str]:
    """The URL of a new, empty database on a throwaway PostgreSQL server (``tests/pg_cluster.py``), removed after.
    The server runs in its own processes: their CPU seconds are not the benchmark's. Run from the repository root
    as ``python -m benchmarks.bench_cohort --postgresql``, so that ``tests`` is importable."""
    from tests.pg_cluster import throwaway_server

    with throwaway_server() as server_url:
        admin = create_engine(server_url, isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text('CREATE DATABASE "openidds_bench_cohort"'))
        admin.dispose()
        yield make_url(server_url).set(database="openidds_bench_cohort").render_as_string(hide_password=False)


def cpu_s() -> float:
    """CPU seconds (user and system) of this process and of its children that have ended."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


class CollectorClock:
    """While in use, the CPU seconds Python's cycle collector takes (its passes, timed by ``gc.callbacks``)."""

    def __init__(self) -> None:
        self.cpu_s = 0.0
        self._start = 0.0

    def _callback(self, phase: str, _info: dict) -> None:
        if phase == "start":
            self._start = time.process_time()
        else:
            self.cpu_s += time.process_time() - self._start

    def __enter__(self) -> "CollectorClock":
        gc.callbacks.append(self._callback)
        return self

    def __exit__(self, *_: object) -> None:
        gc.callbacks.remove(self._callback)


def validate_in_process(study_id: str, params_file: str | None, replicates: int, seed: int, pump_logs: bool) -> None:
    """What one local worker of ``openidds cohort validate`` runs, in this process: its heap frozen once, then the
    replicates one after another, each one's CPU seconds printed with the cycle collector's part of them."""
    study = load_study(study_id)
    params = load_params(params_file or study.id)
    gc.collect()
    gc.freeze()  # as a local worker does once started
    total = time.process_time()
    with CollectorClock() as collector:
        for i, child in enumerate(child_seeds(seed, replicates)):
            cpu, collected = time.process_time(), collector.cpu_s
            run_replicate(partial(simulate, pump_logs=pump_logs), study, params, child)
            print(f"  replicate {i}: {time.process_time() - cpu:.2f} CPU s, of which the cycle collector "
                  f"{collector.cpu_s - collected:.2f}", flush=True)
    total = time.process_time() - total
    print(f"validate {study.id}{' --pump-logs' * pump_logs}: {replicates} replicates in this process: "
          f"{total:.1f} CPU s ({total / replicates:.2f} per replicate), the cycle collector "
          f"{collector.cpu_s:.1f} CPU s ({100 * collector.cpu_s / total:.0f} %)")


def validate(study_id: str, params_file: str | None, replicates: int, seed: int, workers: int | None,
             pump_logs: bool) -> None:
    """Time ``openidds cohort validate``'s replicates (the pool's workers end with it, so their CPU is counted)."""
    study = load_study(study_id)
    params = load_params(params_file or study.id)
    cpu, wall = cpu_s(), time.perf_counter()
    measured = run_replicates(partial(simulate, pump_logs=pump_logs), study, params, seed, replicates, workers=workers)
    cpu, wall = cpu_s() - cpu, time.perf_counter() - wall
    assert len(measured) == replicates
    count = workers or "one per core"
    print(f"validate {study.id}{' --pump-logs' * pump_logs}: {replicates} replicates on {count} workers: "
          f"{wall:.1f} s wall, {cpu:.1f} CPU s "
          f"({cpu / replicates:.2f} CPU s and {wall / replicates:.2f} s wall per replicate)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default="seed000")
    parser.add_argument("--params", default=None)
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=None,
                        help="run this many replicates at once, one per worker process")
    parser.add_argument("--step-share", action="store_true",
                        help="only play the patients, timing the pump's stepping (Pump.advance) apart")
    parser.add_argument("--profile", type=int, default=None, metavar="N",
                        help="only play the patients under cProfile; print the N functions with most cumulative time")
    parser.add_argument("--postgresql", action="store_true",
                        help="write the replicate into a throwaway PostgreSQL server's registry, not SQLite")
    parser.add_argument("--validate", type=int, default=None, metavar="N",
                        help="time `openidds cohort validate STUDY --replicates N` (with --workers)")
    parser.add_argument("--in-process", action="store_true",
                        help="with --validate: run the replicates one after another in this process, as one worker "
                             "does, printing each one's CPU seconds and the cycle collector's")
    parser.add_argument("--pump-logs", action="store_true",
                        help="with --validate: store every pump's log in each replicate's registry, as "
                             "`openidds cohort validate --pump-logs` does")
    args = parser.parse_args()
    if args.validate is not None:
        if args.in_process:
            validate_in_process(args.study, args.params, args.validate, args.seed, args.pump_logs)
        else:
            validate(args.study, args.params, args.validate, args.seed, args.workers, args.pump_logs)
        return
    print(f"{args.study}: {args.patients} patients, seed {args.seed}")
    if args.profile is not None:
        study = load_study(args.study)
        params = load_params(args.params or study.id)
        with collector_paused(), cProfile.Profile() as profile:  # as simulate plays them
            play(study, params, args.seed, args.patients)
        pstats.Stats(profile).sort_stats("cumulative").print_stats(args.profile)
        return
    if args.step_share:
        study = load_study(args.study)
        params = load_params(args.params or study.id)
        start = time.process_time()
        with StepClock() as steps:
            play(study, params, args.seed, args.patients)
        total = time.process_time() - start
        print(f"  play {total:.2f} CPU s, of which the pump's stepping (Pump.advance, {steps.calls} calls) "
              f"{steps.cpu_s:.2f} CPU s ({100 * steps.cpu_s / total:.1f} %)")
        return
    if args.workers is None:
        with contextlib.ExitStack() as stack:
            db_url = stack.enter_context(postgresql_registry()) if args.postgresql else None
            one = replicate(args.study, args.params, args.patients, args.seed, db_url)
        total = one.total_cpu_s
        for name, value in one.cpu_s.items():
            print(f"  {name:36s} {value:7.2f} CPU s  {100 * value / total:5.1f} %")
        print(f"  {'total':36s} {total:7.2f} CPU s  ({one.wall_s:.2f} s wall)")
        events = Counter(one.events)
        print(f"pump events: {sum(events.values())} "
              f"({', '.join(f'{k} {n}' for k, n in events.most_common(4))})")
        print(f"pump-years: {one.pump_years:.1f}, {one.pump_years / total:.1f} per CPU second")
        print(f"peer: the plain sqlite3 way stores the same pump events in {one.plain_sqlite_cpu_s:.2f} CPU s; "
              f"the replicate costs {total / one.plain_sqlite_cpu_s:.1f}× that, its export + import_pump_logs "
              f"{one.cpu_s['export + import_pump_logs'] / one.plain_sqlite_cpu_s:.1f}×")
        return
    start = time.perf_counter()
    done = map_replicates(partial(replicate, args.study, args.params, args.patients), args.seed, args.workers,
                          workers=args.workers)
    wall = time.perf_counter() - start
    for i, one in enumerate(done):
        print(f"  replicate {i}: {one.total_cpu_s:7.2f} CPU s, {one.pump_years:.1f} pump-years "
              f"({one.pump_years / one.total_cpu_s:.1f} per CPU second), "
              f"{one.total_cpu_s / one.plain_sqlite_cpu_s:.1f}× the peer (plain sqlite3 "
              f"{one.plain_sqlite_cpu_s:.2f})")
    years = sum(one.pump_years for one in done)
    print(f"{len(done)} replicates on {args.workers} workers: {wall:.2f} s wall "
          f"({wall / len(done):.2f} s per replicate), {years / wall:.1f} pump-years per wall second")


if __name__ == "__main__":
    main()

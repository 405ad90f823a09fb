"""Registry benchmark: import 10,000 patients with 10 visits and 6 refills each into SQLite, then list the
refills due in the next 14 days across the 10,000 pumps.

Targets (issue 4): import ≤ 10 s, refills-due query ≤ 50 ms. Run: ``python benchmarks/bench_registry.py``
(``--patients N`` for a smaller run, ``--repeat N`` imports to take the best of). Prints wall and CPU time and
the machine's load average (other jobs share it); asserts nothing about time.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import os
import random
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from sqlalchemy import create_engine, func, select

from openidds.clinic import connect, import_batch, init_registry, read_paths
from openidds.clinic.models import Refill
from openidds.clinic.queries import refills_due

TODAY = dt.date(2025, 6, 1)


def write_cohort(directory: Path, n: int, seed: int = 1) -> int:
    """CSV files of ``n`` synthetic patients (1 implant, 10 visits, 6 refills each); returns the row count."""
    rng = random.Random(seed)
    files = {name: (directory / f"{name}.csv").open("w", newline="") for name in
             ("patients", "implants", "visits", "refills")}
    w = {name: csv.writer(handle) for name, handle in files.items()}
    w["patients"].writerow(["site", "patient_id", "birth_date", "sex", "cancer_type", "cancer_diagnosis_date",
                            "pain_locations", "bmi_kg_per_m2", "adl_score"])
    w["implants"].writerow(["site", "patient_id", "implant_date", "kind", "reservoir_ml", "serial_number"])
    w["visits"].writerow(["site", "patient_id", "visit_date", "visit_type", "nrs", "eq5d_version", "eq5d_mobility",
                          "eq5d_self_care", "eq5d_usual_activities", "eq5d_pain_discomfort",
                          "eq5d_anxiety_depression", "ome_mg_per_day"])
    w["refills"].writerow(["site", "patient_id", "pump_serial", "refilled_at", "drug", "concentration_mg_per_ml",
                           "volume_added_ml", "expected_residual_ml", "withdrawn_residual_ml", "next_refill_due"])
    rows = 0
    for k in range(n):
        site, pid = f"S{k % 20:02d}", f"P{k:06d}"
        implant = TODAY - dt.timedelta(days=230 + rng.randrange(20))
        w["patients"].writerow([site, pid, (implant - dt.timedelta(days=365 * rng.randint(30, 85))).isoformat(),
                                rng.choice(("female", "male")), rng.choice(("lung", "breast", "colorectal")),
                                (implant - dt.timedelta(days=rng.randint(60, 900))).isoformat(),
                                "back;abdomen", f"{rng.uniform(15, 30):.1f}", rng.randint(20, 100)])
        w["implants"].writerow([site, pid, implant.isoformat(), "initial", 40, f"SN{k:07d}"])
        for v in range(10):
            day = implant + dt.timedelta(days=-5 if v == 0 else 28 * v)
            w["visits"].writerow([site, pid, day.isoformat(), "baseline" if v == 0 else "follow_up",
                                  rng.randint(0, 10), "5L", *(rng.randint(1, 5) for _ in range(5)),
                                  rng.randint(0, 400)])
        refill_days = [implant + dt.timedelta(days=45 * r + 1) for r in range(6)]
        for r, day in enumerate(refill_days):
            at = dt.datetime.combine(day, dt.time(10, 0))
            due = refill_days[r + 1] if r < 5 else TODAY + dt.timedelta(days=rng.randint(-3, 90))
            w["refills"].writerow([site, pid, f"SN{k:07d}", at.isoformat() + "Z", "morphine", 10, 38,
                                   f"{rng.uniform(2, 10):.1f}", f"{rng.uniform(2, 10):.1f}", due.isoformat()])
        rows += 1 + 1 + 10 + 6
    for handle in files.values():
        handle.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--patients", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=3, help="imports into fresh files; the best is reported")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp)
        rows = write_cohort(folder, args.patients)
        print(f"load average before: {_load()}")
        walls, cpus = [], []
        for run in range(args.repeat):
            engine = connect(folder / f"bench{run}.sqlite")
            init_registry(engine)
            wall, cpu = time.perf_counter(), time.process_time()
            batch = read_paths([folder])
            summary = import_batch(engine, batch, "bench", "bench")
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
            assert sum(summary.inserted.values()) == rows
            if run < args.repeat - 1:
                engine.dispose()
        elapsed = min(walls)
        print(f"import: {args.patients} patients, {rows} records (CSV parse + checks + write + audit), "
              f"best of {args.repeat}: wall {elapsed:.2f} s = {rows / elapsed:,.0f} records/s, CPU {min(cpus):.2f} s "
              f"(target ≤ 10 s); runs wall {' '.join(f'{w:.2f}' for w in walls)}, "
              f"CPU {' '.join(f'{c:.2f}' for c in cpus)}")
        wall, cpu = time.perf_counter(), time.process_time()
        again = import_batch(engine, read_paths([folder]), "bench", "bench")
        print(f"re-import of the same files: wall {time.perf_counter() - wall:.2f} s, CPU "
              f"{time.process_time() - cpu:.2f} s, {sum(again.inserted.values())} inserted")
        start = time.perf_counter()
        peer = create_engine(f"sqlite:///{folder / 'peer.sqlite'}")
        for name in ("patients", "implants", "visits", "refills"):
            pd.read_csv(folder / f"{name}.csv").to_sql(name, peer, index=False, chunksize=5000)
        peer_s = time.perf_counter() - start
        print(f"peer: pandas read_csv + to_sql of the same rows (no checks, no links, no audit): {peer_s:.2f} s; "
              f"registry import (best) / peer = {elapsed / peer_s:.1f}")
        ours = _median_ms(lambda: refills_due(engine, TODAY, 14))
        due = refills_due(engine, TODAY, 14)
        print(f"refills-due (14 days, {args.patients} pumps): {len(due)} pumps due, median {ours:.1f} ms over 20 runs "
              "(target ≤ 50 ms)")
        naive = select(Refill.implant_id, func.max(Refill.refilled_at)).group_by(Refill.implant_id)
        with engine.connect() as conn:
            peer_ms = _median_ms(lambda: conn.execute(naive).all())
        print(f"peer: GROUP BY over all {6 * args.patients} refills for the latest one per pump alone: "
              f"{peer_ms:.1f} ms; refills-due / peer = {ours / peer_ms:.2f}")
        print(f"load average after: {_load()}")
        engine.dispose()
        peer.dispose()


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg()) + f" (1/5/15 min, {os.cpu_count()} CPUs)"


def _median_ms(run: Callable[[], object], repeat: int = 20) -> float:
    run()
    timings = []
    for _ in range(repeat):
        start = time.perf_counter()
        run()
        timings.append((time.perf_counter() - start) * 1000)
    return statistics.median(timings)


if __name__ == "__main__":
    main()

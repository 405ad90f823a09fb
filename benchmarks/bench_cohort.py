"""How long one virtual-cohort replicate takes, and where the time goes.

    python benchmarks/bench_cohort.py                      # seed000, 200 patients
    python benchmarks/bench_cohort.py --patients 1403      # a seed 002-sized replicate

Phases, as ``openidds cohort run`` writes a registry: drawing the patients and playing them through the pump
and programmer; parsing the registry rows; the one ``import_batch``; exporting each pump's log as a wire log;
the one ``import_pump_logs`` of every log. Prints seconds per phase, pump events and pump-years per second;
asserts nothing about time. Pin it to one core with ``taskset -c 0``.
"""

import argparse
import tempfile
import time
from collections import Counter
from pathlib import Path

from openidds.clinic import connect, import_batch, init_registry
from openidds.clinic.database import with_clock
from openidds.clinic.pump_log import PumpLogImport, import_pump_logs
from openidds.cohort.clinic_run import SITE
from openidds.cohort.params import load_params
from openidds.cohort.simulate import USER, play, pump_logs, registry_batch, written_at
from openidds.cohort.study import load_study


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--study", default="seed000")
    parser.add_argument("--params", default=None)
    parser.add_argument("--patients", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    study = load_study(args.study)
    params = load_params(args.params or study.id)
    seconds: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="bench-cohort-") as folder:
        start = time.perf_counter()
        runs = play(study, params, args.seed, args.patients)
        seconds["play (pump + programmer)"] = time.perf_counter() - start
        start = time.perf_counter()
        batch = registry_batch(runs)
        seconds["parse registry rows"] = time.perf_counter() - start
        engine = connect(str(Path(folder) / "bench.sqlite"))
        init_registry(engine)
        clocked = with_clock(engine, lambda: written_at(runs))
        start = time.perf_counter()
        import_batch(clocked, batch, USER, source="bench")
        seconds["import_batch (all records)"] = time.perf_counter() - start
        start = time.perf_counter()
        logs = [PumpLogImport(log, SITE, run.patient_id, day) for run in runs for day, log in pump_logs(run)]
        seconds["export pump logs (wire objects)"] = time.perf_counter() - start
        start = time.perf_counter()
        import_pump_logs(clocked, logs, USER, source="bench")
        seconds["import_pump_logs (one transaction)"] = time.perf_counter() - start
        engine.dispose()
    total = sum(seconds.values())
    events = Counter(e.kind for run in runs for e in run.pump.log)
    pump_years = sum(run.pump.t_s for run in runs) / 86_400 / 365.25
    print(f"{study.id}: {args.patients} patients, seed {args.seed}")
    for name, value in seconds.items():
        print(f"  {name:36s} {value:7.2f} s  {100 * value / total:5.1f} %")
    print(f"  {'total':36s} {total:7.2f} s")
    print(f"pump events: {sum(events.values())} ({', '.join(f'{k} {n}' for k, n in events.most_common(4))})")
    print(f"pump-years: {pump_years:.1f}, {pump_years / total:.1f} per second")


if __name__ == "__main__":
    main()

"""The study report of N synthetic patients: CPU and wall time of building it and of rendering every file.

    python benchmarks/bench_report.py                # N = 100,000 (target: <= 10 s of CPU)
    python benchmarks/bench_report.py --n 10000

The dataset is the bundled example registry's analysis dataset (``openidds report --example``: the 220 synthetic
patients of the example virtual clinic imported into a temporary SQLite registry), resampled with replacement to
N rows with a fixed seed, each row a new patient ID. Every column of the report's contract is present, so every
section, table and figure is made. Prints the best of ``--repeat`` runs for each step, and the step that takes
the most.
"""

import argparse
import cProfile
import pstats
import time

import numpy as np
import pandas as pd

from openidds.cli.report import _example
from openidds.outcomes.report import study_report


def dataset(n: int, seed: int) -> pd.DataFrame:
    example = _example()
    rows = np.random.default_rng(seed).integers(0, len(example), n)
    frame = example.iloc[rows].reset_index(drop=True)
    frame["patient_id"] = [f"B{i:07d}" for i in range(1, n + 1)]
    frame.index = pd.RangeIndex(1, n + 1)
    return frame


def timed(step) -> tuple[float, float, object]:
    wall, cpu = time.perf_counter(), time.process_time()
    out = step()
    return time.process_time() - cpu, time.perf_counter() - wall, out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--profile", action="store_true", help="print the 15 functions with the most CPU time")
    args = parser.parse_args()
    frame = dataset(args.n, args.seed)
    print(f"dataset: {len(frame):,} patients x {frame.shape[1]} columns (example registry resampled, seed "
          f"{args.seed})")
    best: dict[str, tuple[float, float]] = {}
    for _ in range(args.repeat):
        cpu, wall, report = timed(lambda: study_report(frame))
        best["build (statistics, tables, figures)"] = min(best.get("build (statistics, tables, figures)",
                                                                   (np.inf, np.inf)), (cpu, wall))
        cpu, wall, files = timed(report.files)
        best["render (HTML, PDF, JSON, PNG, SVG, CSV)"] = min(best.get("render (HTML, PDF, JSON, PNG, SVG, CSV)",
                                                                       (np.inf, np.inf)), (cpu, wall))
    total_cpu = sum(c for c, _ in best.values())
    total_wall = sum(w for _, w in best.values())
    for step, (cpu, wall) in best.items():
        print(f"{step:42s} CPU {cpu:6.2f} s   wall {wall:6.2f} s")
    print(f"{'report of ' + format(args.n, ',') + ' patients':42s} CPU {total_cpu:6.2f} s   wall {total_wall:6.2f} s"
          f"   ({len(files)} files, {sum(map(len, files.values())) / 1e6:.1f} MB)")
    if args.profile:
        profile = cProfile.Profile()
        profile.runcall(lambda: study_report(frame).files())
        pstats.Stats(profile).sort_stats("cumulative").print_stats(15)


if __name__ == "__main__":
    main()

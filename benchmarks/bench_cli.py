"""How fast the `openidds` command answers: wall and CPU time of a fresh process, as a user starts it.

    python benchmarks/bench_cli.py             # 10 runs of each command, best and median
    python benchmarks/bench_cli.py --runs 3    # quick run

Each command runs in its own subprocess (``--help`` of the command and of `program`, and the programmer's
steps `program show` and a review-only `program set` on a pump state file made first); the peer is a bare
``python -c pass``, the floor every Python command pays. CPU is user + system time of the child. Then
``python -X importtime`` of ``openidds --help`` and of ``openidds program show`` is summed by top-level
package: what is left to import. Prints figures; asserts nothing about time.
"""

import argparse
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from collections import defaultdict
from pathlib import Path

OPENIDDS = str(Path(sys.executable).with_name("openidds"))
FILL = ["--nurse", "RN C", "--prescribed", "morphine=10 mg/mL", "--prescriber", "Dr B",
        "--concentration", "morphine=10 mg/mL", "--concentration-again", "morphine=10 mg/mL"]


def timed(argv: list[str]) -> tuple[float, float]:
    """Wall and CPU seconds of one run of ``argv`` (its output discarded; a failure stops the benchmark)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    return wall, (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)


def pump_state(folder: Path) -> Path:
    """A pump state file of the demo's first morning: implant fill, priming bolus, 3 mg/day with boluses."""
    path = folder / "pump.json"
    steps = [["init", path, "--start", "2026-01-05T08:00"],
             ["refill", path, "--at", "2026-01-05T08:05", *FILL, "--volume-ml", "18.6", "--checklist-done",
              "--confirm"],
             ["bolus", path, "--at", "2026-01-05T08:10", "--clinician", "Dr B", "--kind", "priming", "--confirm"],
             ["set", path, "--at", "2026-01-05T09:00", "--clinician", "Dr B", "--dose", "3 mg/day", "--bolus",
              "0.3 mg", "--override", "morphine.starting_dose=opioid tolerant", "--confirm"]]
    for step in steps:
        subprocess.run([OPENIDDS, "program", *map(str, step)], check=True, stdout=subprocess.DEVNULL)
    return path


def import_time_by_package(argv: list[str]) -> dict[str, float]:
    """Milliseconds of the imports of ``openidds ARGV`` by top-level package (self times summed)."""
    run = subprocess.run([sys.executable, "-X", "importtime", OPENIDDS, *argv], check=True,
                         capture_output=True, text=True)
    totals: dict[str, float] = defaultdict(float)
    for line in run.stderr.splitlines():
        if not line.startswith("import time:") or "self [us]" in line:
            continue
        self_us, _, name = (part.strip() for part in line.removeprefix("import time:").split("|"))
        totals[name.split(".")[0]] += int(self_us) / 1000
    return dict(sorted(totals.items(), key=lambda item: -item[1]))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--runs", type=int, default=10)
    args = parser.parse_args()
    print(f"load average before: {' '.join(f'{x:.2f}' for x in os.getloadavg())} (1/5/15 min, "
          f"{os.cpu_count()} CPUs); {args.runs} runs each, best / median")
    with tempfile.TemporaryDirectory() as folder:
        state = str(pump_state(Path(folder)))
        commands = {
            "python -c pass (peer)": [sys.executable, "-c", "pass"],
            "openidds --help": [OPENIDDS, "--help"],
            "openidds program --help": [OPENIDDS, "program", "--help"],
            "openidds program show": [OPENIDDS, "program", "show", state, "--at", "2026-02-01T09:00"],
            "openidds program set (review only)": [OPENIDDS, "program", "set", state, "--at", "2026-01-06T09:00",
                                                   "--clinician", "Dr B", "--dose", "3.3 mg/day"],
        }
        for label, argv in commands.items():
            runs = [timed(argv) for _ in range(args.runs)]
            walls, cpus = [w for w, _ in runs], [c for _, c in runs]
            print(f"{label:36} wall {min(walls):.3f} / {statistics.median(walls):.3f} s   "
                  f"CPU {min(cpus):.3f} / {statistics.median(cpus):.3f} s")
        for label, argv in (("openidds --help", ["--help"]),
                            ("openidds program show", ["program", "show", state, "--at", "2026-02-01T09:00"])):
            packages = import_time_by_package(argv)
            top = ", ".join(f"{name} {ms:.0f}" for name, ms in list(packages.items())[:8])
            print(f"{label}: {sum(packages.values()):.0f} ms of imports (-X importtime, self times by package, "
                  f"ms): {top}")
    print(f"load average after: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()

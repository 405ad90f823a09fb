"""Where a sampling profile's time went: the share of samples in each named function, from py-spy's raw output.

    pip install -e ".[bench]"   # py-spy among them
    taskset -c 0 py-spy record -r 200 -f raw -o validate.txt -- \\
        python benchmarks/bench_cohort.py --validate 20 --in-process
    python benchmarks/sample_shares.py validate.txt --within replicate play import_pump_logs import_batch measure

py-spy samples the running process without slowing each call, as cProfile does, so the shares are those of the
unprofiled run. Each line of its raw output is one stack (frames ``function (file:line)`` joined by ``;``) and
the number of samples taken in it. A sample counts for a function when the function is anywhere on its stack
(once, however deep it recurses); with ``--within NAME`` only the samples under ``NAME`` are counted, and the
shares are of those.
"""

import argparse
from collections import Counter
from pathlib import Path


def functions(frame_stack: str) -> set[str]:
    """The functions on a stack of py-spy's raw output (``name (file:line)`` frames joined by ``;``)."""
    return {frame.split(" (", 1)[0] for frame in frame_stack.split(";")}


def shares(raw: Path, names: list[str], within: str | None) -> tuple[int, Counter[str]]:
    """The samples counted (under ``within``, if given) and, for each of ``names``, how many of them it is in."""
    counted = 0
    found: Counter[str] = Counter()
    for line in raw.read_text(encoding="utf-8").splitlines():
        stack, _, samples = line.rpartition(" ")
        if not stack:
            continue
        on_stack = functions(stack)
        if within is not None and within not in on_stack:
            continue
        n = int(samples)
        counted += n
        found.update({name: n for name in names if name in on_stack})
    return counted, found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("raw", type=Path, help="py-spy's output with -f raw")
    parser.add_argument("names", nargs="+", help="functions (their names as py-spy shows them, e.g. Pump._step)")
    parser.add_argument("--within", default=None, help="count only the samples under this function")
    parser.add_argument("--rate", type=float, default=200, help="py-spy's samples per second (-r), for the seconds")
    args = parser.parse_args()
    counted, found = shares(args.raw, args.names, args.within)
    if not counted:
        raise SystemExit(f"raw: no samples{f' under {args.within}' if args.within else ''} in {args.raw}; "
                         "expected py-spy record -f raw output of a run that calls it")
    print(f"{counted} samples ({counted / args.rate:.1f} s at {args.rate:g} a second)"
          f"{f' under {args.within}' if args.within else ''}")
    for name in args.names:
        print(f"  {name:40s} {100 * found[name] / counted:5.1f} %  ({found[name] / args.rate:.2f} s)")


if __name__ == "__main__":
    main()

"""Pump benchmark: one pump-year with a 3-step flex program, 4 patient boluses a day and a refill every
30 days; then 10 and 100 years to show the cost is linear in events, not in elapsed time.

Run: python benchmarks/bench_pump.py [--repeat 7]   (about a minute)

It prints, for 1, 10 and 100 pump-years: the best CPU time over the repeats, the time per pump-year, the
number of log events and the time per event; and, as a peer in the same process, the same schedule of
events (flex steps, bolus starts and ends, refills) pushed through simpy, the standard discrete-event
library, with only a volume counter behind it: the bare cost of an event loop, without the pump's rules.
Target (issue #2): at most 20 ms per pump-year on one core.
"""

import argparse
import time

from openidds.pump import (
    Flex,
    FlexStep,
    PatientBolus,
    Pump,
    PumpSpec,
    Refill,
    RequestPatientBolus,
    Solution,
    Therapy,
)

DAY = 86_400
BOLUS_HOURS = (8, 12, 16, 20)


def pump_years(years: int) -> Pump:
    """The benchmark scenario for ``years`` pump-years (a battery that outlives them)."""
    pump = Pump(PumpSpec(reservoir_ml=40, battery_eri_at_s=(years * 365 + 1) * DAY))
    solution = Solution.of({"morphine": "10"})
    flex = Flex((FlexStep("07:00", "0.4"), FlexStep("13:00", "0.5"), FlexStep("22:00", "0.3")))
    therapy = Therapy(flex, {"morphine": "20"}, PatientBolus("0.05", 600, 3600, 4))
    pump.execute(0, Refill(solution, "38", therapy=therapy))
    press, refill = RequestPatientBolus(), Refill(solution, "38")
    for day in range(years * 365):
        if day % 30 == 29:
            pump.execute(day * DAY + 7 * 3600, refill)
        for hour in BOLUS_HOURS:
            pump.execute(day * DAY + hour * 3600, press)
    pump.advance(years * 365 * DAY)
    return pump


def simpy_years(years: int) -> int:
    """The same events through simpy with a bare volume counter; returns the number of events run."""
    import simpy

    env = simpy.Environment()
    state = {"volume_nl": 0, "rate": 400_000, "last": 0, "events": 0, "bolus": False}

    def account():
        state["volume_nl"] += state["rate"] * (env.now - state["last"]) // DAY
        state["last"] = env.now
        state["events"] += 1

    def flex():
        steps = ((7, 400_000), (13, 500_000), (22, 300_000))
        for day in range(years * 365):
            for hour, rate in steps:
                yield env.timeout(day * DAY + hour * 3600 - env.now)
                account()
                state["rate"] = rate

    def boluses():
        for day in range(years * 365):
            for hour in BOLUS_HOURS:
                yield env.timeout(day * DAY + hour * 3600 - env.now)
                account()
                state["bolus"] = True
                yield env.timeout(600)
                account()
                state["bolus"] = False

    def refills():
        for day in range(29, years * 365, 30):
            yield env.timeout(day * DAY + 7 * 3600 - env.now)
            account()

    for process in (flex(), boluses(), refills()):
        env.process(process)
    env.run(until=years * 365 * DAY)
    return state["events"]


def cpu_s(function, *args) -> float:
    start = time.process_time()
    function(*args)
    return time.process_time() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7,
                        help="rounds; each runs 1 pump-year three times and, every third round, 100 pump-years "
                             "once, pump and peer back to back; the best CPU time of each is kept")
    args = parser.parse_args()
    sizes = (1, 10, 100)
    best = {(name, years): float("inf") for name in ("pump", "simpy") for years in sizes}
    # interleaved, so that every size meets the same quiet and busy spells of a shared machine
    for round_ in range(args.repeat):
        plan = [1, 1, 1, 10] + ([100] if round_ % 3 == 0 else [])
        for years in plan:
            for name, run in (("pump", pump_years), ("simpy", simpy_years)):
                best[name, years] = min(best[name, years], cpu_s(run, years))
    print(f"{'pump-years':>10} {'CPU s':>9} {'ms/year':>9} {'events':>9} {'us/event':>9} "
          f"{'simpy ms/year':>14} {'ratio':>6}")
    for years in sizes:
        seconds, peer = best["pump", years], best["simpy", years]
        events = len(pump_years(years).log)
        print(f"{years:>10} {seconds:>9.3f} {1000 * seconds / years:>9.2f} {events:>9} "
              f"{1e6 * seconds / events:>9.2f} {1000 * peer / years:>14.2f} {seconds / peer:>6.2f}")
    print("target: at most 20 ms per pump-year; ratio = pump / simpy event loop on the same schedule")


if __name__ == "__main__":
    main()

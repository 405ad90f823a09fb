"""Shared builders for the pump tests."""

from openidds.pump import Continuous, PatientBolus, Pump, PumpSpec, Refill, SetTherapy, Solution, Therapy

MORPHINE_10 = Solution.of({"morphine": "10"})


def filled_pump(*, spec: PumpSpec | None = None, volume_ml: str = "18", rate: str = "0.3", cap_mg: str = "8",
                bolus: PatientBolus | None = None, solution: Solution = MORPHINE_10) -> Pump:
    """A pump filled at t=0 and programmed at t=0 (no priming: the path starts drug-free)."""
    pump = Pump(spec or PumpSpec())
    pump.execute(0, Refill(solution, volume_ml))
    pump.execute(0, SetTherapy(Therapy(Continuous(rate), {d: cap_mg for d in solution.drugs}, bolus)))
    return pump


"""What a programmer reads off a pump as it is now: its therapy in dose terms and the refill forecast of
its present fill. Reading sends no command to the pump."""

from openidds.drugs import DrugLibrary
from openidds.programmer.forecast import RefillForecast, Stability, forecast, stability
from openidds.programmer.history import FillRecord, fill_history, first_fill_drugs
from openidds.programmer.orders import BolusOrder
from openidds.programmer.policy import Policy
from openidds.programmer.review import DrugFigures, figures
from openidds.pump import Pump, Solution

UNLISTED_DOSE_UNIT = "mg"


def present_stability(solution: Solution | None, fills: tuple[FillRecord, ...], library: DrugLibrary) -> Stability:
    """The stability date of ``solution``, the reservoir's contents since the last of ``fills``."""
    if not fills:
        return stability(None, library, None, frozenset())
    last = len(fills) - 1
    return stability(solution, library, fills[last].t_s, first_fill_drugs(fills, last))


def present_forecast(pump: Pump, at_s: int, policy: Policy, library: DrugLibrary) -> RefillForecast:
    """When the pump's present fill is due (volume and stability dates) for the therapy it runs, read at
    ``at_s`` (time passes on the pump to ``at_s``; nothing else changes)."""
    pump.advance(at_s)
    fills, _ = fill_history(pump.log)
    return forecast(pump.spec, pump.therapy, pump.reservoir_estimated_ticks, at_s,
                    stability=present_stability(pump.solution, fills, library), accuracy=policy.accuracy(pump.spec))


def dose_unit(library: DrugLibrary, drug: str) -> str:
    """The unit doses of ``drug`` are written in: the library's, or mg for a drug the library lacks."""
    return library.drug(drug).dose_unit if drug in library.names else UNLISTED_DOSE_UNIT


def present_doses(pump: Pump, library: DrugLibrary) -> tuple[tuple[str, DrugFigures], ...]:
    """Each drug in the reservoir with what the programmed therapy gives of it (none when not programmed)."""
    therapy, solution = pump.therapy, pump.solution
    if therapy is None or solution is None:
        return ()
    origin = pump.spec.clock_origin_s_of_week
    return tuple((drug, figures(therapy, solution, drug, dose_unit(library, drug), origin)) for drug in solution.drugs)


def present_bolus_order(pump: Pump, drug: str, library: DrugLibrary) -> BolusOrder | None:
    """The patient bolus now programmed, as an order in ``drug``'s dose unit (to keep it in a new therapy)."""
    therapy, solution = pump.therapy, pump.solution
    if therapy is None or solution is None or therapy.patient_bolus is None or drug not in solution.drugs:
        return None
    kept = therapy.patient_bolus
    amount = figures(therapy, solution, drug, dose_unit(library, drug), pump.spec.clock_origin_s_of_week).bolus
    return None if amount is None else BolusOrder(amount, kept.duration_s, kept.lockout_s, kept.max_per_24h)

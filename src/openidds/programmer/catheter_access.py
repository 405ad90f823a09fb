"""Catheter-access port: a separate procedure, never reachable from the refill workflow.

Fluid injected through the catheter-access (side) port goes straight to the CSF and pushes the catheter's
contents ahead of it (pump.md sections 1.4 and 2; aspirate the side port to clear the line before
injecting). The plan says how much drug sits in the catheter, how much to aspirate, and the dose the
CSF receives with and without aspiration; the procedure needs its own confirmation (who, why). The pump
model has no catheter-access command, so nothing is sent: the procedure is planned and recorded.
"""

from dataclasses import dataclass, field
from fractions import Fraction

from openidds.drugs import DrugLibrary
from openidds.programmer.errors import ProgrammerError
from openidds.programmer.orders import concentration
from openidds.pump import Catheter, Solution
from openidds.pump.ticks import exact
from openidds.units import Quantity

WARNING = ("The catheter-access port leads straight to the CSF: a dose injected here is not metered by the pump "
           "and the catheter's contents go ahead of it. Aspirate at least the catheter volume first.")


@dataclass(frozen=True, slots=True)
class CatheterAccessPlan:
    """Drug amounts per drug in its dose unit."""

    catheter_ml: Fraction
    in_catheter: dict[str, Quantity]
    injected_ml: Fraction
    injected: dict[str, Quantity]
    if_not_aspirated: dict[str, Quantity]
    warnings: tuple[str, ...] = field(default=(WARNING,))


def plan_catheter_access(catheter: Catheter, in_pump: Solution | None, injected: Solution | None,
                         injected_ml: str, library: DrugLibrary) -> CatheterAccessPlan:
    """What a catheter-access injection of ``injected_ml`` of ``injected`` delivers to the CSF."""
    volume = exact("injected_ml", injected_ml)
    if volume < 0 or (volume > 0 and injected is None):
        raise ProgrammerError("injected_ml", injected_ml, "0 mL, or a volume with the injected solution")
    cath = exact("catheter.volume_ml", catheter.volume_ml)

    def amounts(solution: Solution | None, ml: Fraction) -> dict[str, Quantity]:
        if solution is None:
            return {}
        return {d: Quantity(ml * concentration(solution, d, library.drug(d).dose_unit).value,
                            library.drug(d).dose_unit) for d in solution.drugs}

    ahead, given = amounts(in_pump, cath), amounts(injected, volume)
    total = dict(given)
    for drug, q in ahead.items():
        total[drug] = total[drug] + q if drug in total else q
    return CatheterAccessPlan(cath, ahead, volume, given, total)


class CatheterAccessProcedure:
    """The separate procedure: plan, then a confirmation with who and why; every step is logged."""

    def __init__(self, plan: CatheterAccessPlan, clinician: str) -> None:
        self.plan = plan
        self.clinician = clinician
        self.log: list[tuple[str, str, str]] = [("planned", clinician, WARNING)]
        self.confirmed = False

    def confirm(self, who: str, why: str, aspirated_ml: str) -> None:
        """Confirm the injection after aspirating at least the catheter volume."""
        if not (isinstance(who, str) and who.strip() and isinstance(why, str) and why.strip()):
            raise ProgrammerError("confirm", (who, why), "who and why, both non-empty")
        aspirated = exact("aspirated_ml", aspirated_ml)
        if aspirated < self.plan.catheter_ml:
            self.log.append(("refused", who, f"aspirated {aspirated_ml} mL < catheter {self.plan.catheter_ml} mL"))
            raise ProgrammerError("aspirated_ml", aspirated_ml,
                                  f"at least the catheter volume, {float(self.plan.catheter_ml):g} mL")
        self.confirmed = True
        self.log.append(("confirmed", who, why))

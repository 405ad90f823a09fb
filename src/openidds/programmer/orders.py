"""What the clinician enters: a therapy in drug units (mg/day, mcg/day, mg per bolus), and a fill.

Doses must be written in the drug's dose unit from the library (morphine in mg, ziconotide in mcg):
a mg/mcg slip is refused, never converted. :func:`build_therapy` turns an order into the pump's
:class:`~openidds.pump.Therapy`, with every dose-to-volume conversion and its rounding reported.
"""

from dataclasses import dataclass, field
from fractions import Fraction

from openidds.drugs import DrugEntry
from openidds.programmer.conversion import Conversion, convert
from openidds.programmer.errors import ProgrammerError
from openidds.pump import (
    Continuous,
    Flex,
    FlexStep,
    PatientBolus,
    Periodic,
    Program,
    Solution,
    Stopped,
    Therapy,
    max_daily_volume,
)
from openidds.pump.ticks import NG_PER_MG, TICKS_PER_ML, mass_ticks
from openidds.units import MASS, MASS_RATE, Dimension, Quantity, parse_quantity


def dose(text: "str | Quantity", field_name: str, dimension: Dimension = MASS_RATE) -> Quantity:
    """A dose from text ('3 mg/day', '0.3 mg') or a Quantity, of the expected dimension."""
    if isinstance(text, Quantity):
        if text.dimension != dimension:
            raise ProgrammerError(field_name, str(text), f"a {dimension.name}")
        return text
    return parse_quantity(text, expect=dimension, field=field_name)


@dataclass(frozen=True, slots=True)
class StoppedDose:
    """No basal delivery."""


@dataclass(frozen=True, slots=True)
class ContinuousDose:
    per_day: Quantity

    def __post_init__(self) -> None:
        object.__setattr__(self, "per_day", dose(self.per_day, "dose"))


@dataclass(frozen=True, slots=True)
class FlexDoseStep:
    start: str
    per_day: Quantity
    days: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "per_day", dose(self.per_day, f"flex[{self.start}].dose"))


@dataclass(frozen=True, slots=True)
class FlexDose:
    steps: tuple[FlexDoseStep, ...]


@dataclass(frozen=True, slots=True)
class PeriodicDose:
    """``amount`` (a mass) over ``duration_s`` every ``every_s``, starting ``offset_s`` after Monday 00:00."""

    amount: Quantity
    duration_s: int
    every_s: int
    offset_s: int = 0

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", dose(self.amount, "periodic.dose", MASS))


DoseProgram = StoppedDose | ContinuousDose | FlexDose | PeriodicDose


@dataclass(frozen=True, slots=True)
class BolusOrder:
    """The patient's bolus: a dose (mass), its duration, the lockout and the most per 24 hours."""

    amount: Quantity
    duration_s: int
    lockout_s: int
    max_per_24h: int

    def __post_init__(self) -> None:
        object.__setattr__(self, "amount", dose(self.amount, "patient_bolus.dose", MASS))


@dataclass(frozen=True, slots=True)
class TherapyOrder:
    """A therapy in drug units. ``drug`` is the drug whose doses set the volumes (the lead drug of an
    admixture; the others follow from their concentrations). ``max_per_24h`` maps drugs to a mass; a
    drug left out gets the default: the programmed worst case (basal and every allowed bolus) plus the
    headroom the pump needs (twice its minimum-rate daily amount)."""

    drug: str
    program: DoseProgram
    patient_bolus: BolusOrder | None = None
    max_per_24h: dict[str, Quantity] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not isinstance(self.program, (StoppedDose, ContinuousDose, FlexDose, PeriodicDose)):
            raise ProgrammerError("program", self.program, "a StoppedDose, ContinuousDose, FlexDose or PeriodicDose")
        limits = {d: dose(q, f"max_per_24h.{d}", MASS) for d, q in dict(self.max_per_24h).items()}
        object.__setattr__(self, "max_per_24h", limits)


@dataclass(frozen=True, slots=True)
class BuiltTherapy:
    therapy: Therapy
    conversions: tuple[Conversion, ...]


def concentration(solution: Solution, drug: str, unit: str) -> Quantity:
    """The exact concentration of ``drug`` in ``unit``/mL."""
    return Quantity(solution.mg_per_ml(drug), "mg/mL").to(f"{unit}/mL")


def build_therapy(order: TherapyOrder, solution: Solution, entry: DrugEntry, min_rate_ml_per_day: str,
                  origin_s_of_week: int) -> BuiltTherapy:
    """The pump therapy for ``order`` with ``solution``; ``entry`` is the lead drug's library entry."""
    if order.drug not in solution.drugs:
        raise ProgrammerError("drug", order.drug, f"a drug in the solution: {', '.join(solution.drugs)}")
    unit = entry.dose_unit
    conc = concentration(solution, order.drug, unit)
    conversions: list[Conversion] = []

    def checked_unit(q: Quantity, field_name: str, per_day: bool) -> Quantity:
        wanted = f"{unit}/day" if per_day else unit
        if str(q.unit) != wanted:
            raise ProgrammerError(field_name, str(q), f"a dose in {wanted}, the library's dose unit for {order.drug}")
        return q

    def rate(q: Quantity, field_name: str, per_day: bool = True) -> str:
        c = convert(field_name, order.drug, checked_unit(q, field_name, per_day), conc, per_day=per_day)
        conversions.append(c)
        return c.pump_text

    program: Program
    p = order.program
    if isinstance(p, StoppedDose):
        program = Stopped()
    elif isinstance(p, ContinuousDose):
        program = Continuous(rate(p.per_day, "dose"))
    elif isinstance(p, FlexDose):
        program = Flex(tuple(FlexStep(s.start, rate(s.per_day, f"flex[{s.start}].dose"), tuple(s.days))
                             for s in p.steps))
    else:
        program = Periodic(rate(p.amount, "periodic.dose", per_day=False), p.duration_s, p.every_s, p.offset_s)
    bolus = None
    if order.patient_bolus is not None:
        b = order.patient_bolus
        bolus = PatientBolus(rate(b.amount, "patient_bolus.dose", per_day=False), b.duration_s, b.lockout_s,
                             b.max_per_24h)
    limits: dict[str, str] = {}
    for drug in solution.drugs:
        if drug in order.max_per_24h:
            q = order.max_per_24h[drug]
            limits[drug] = _mg_text(q.magnitude("mg"), f"max_per_24h.{drug}", str(q))
        else:
            limits[drug] = _mg_text(_default_limit_mg(program, bolus, solution, drug, min_rate_ml_per_day,
                                                      origin_s_of_week), f"max_per_24h.{drug}", "default")
    unknown = sorted(set(order.max_per_24h) - set(solution.drugs))
    if unknown:
        raise ProgrammerError("max_per_24h", unknown, f"limits only for the drugs in the solution: {solution.drugs}")
    return BuiltTherapy(Therapy(program, limits, bolus), tuple(conversions))


def _default_limit_mg(program: Program, bolus: PatientBolus | None, solution: Solution, drug: str,
                      min_rate_ml_per_day: str, origin: int) -> Fraction:
    ng = dict(solution.ng_per_ml)[drug]
    bolus_ticks = 0 if bolus is None else bolus.dose_ticks * bolus.max_per_24h
    programmed_ticks = max_daily_volume(program, origin) + bolus_ticks
    volume = programmed_ticks + 2 * Fraction(min_rate_ml_per_day) * TICKS_PER_ML
    return Fraction(volume * ng, TICKS_PER_ML * NG_PER_MG)


def _mg_text(mg: Fraction, field_name: str, shown: str) -> str:
    """mg as a decimal string in whole ng; a default is rounded up to the next ng, an entry must be exact."""
    ng = mg * NG_PER_MG
    if ng.denominator != 1:
        if shown != "default":
            raise ProgrammerError(field_name, shown, "a whole number of ng (0.000001 mg)")
        ng = Fraction(-(-ng.numerator // ng.denominator))
    text = str(int(ng) // NG_PER_MG) + "." + f"{int(ng) % NG_PER_MG:06d}"
    mass_ticks(field_name, text)
    return text.rstrip("0").rstrip(".")

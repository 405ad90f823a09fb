"""Checks of a planned therapy against the drug library, the clinic policy and the pump, and the
side-by-side review of old and new (the "finish screen").

Every check becomes a :class:`Finding`: ``hard`` refuses the plan, ``soft`` needs a confirmation that
records who and why, ``info`` is shown. A finding that relied on an unverified [R] library number says so.
"""

from dataclasses import dataclass
from enum import Enum
from fractions import Fraction

from openidds.drugs import DrugEntry, DrugLibrary, DrugsError, LimitCheck, Outcome
from openidds.programmer.orders import concentration
from openidds.programmer.policy import Policy
from openidds.pump import PumpSpec, Solution, Therapy, max_daily_volume
from openidds.pump.ticks import SECONDS_PER_DAY, decimal_text, mass_to_mg, ticks_to_ml
from openidds.units import Quantity, format_quantity


class Level(str, Enum):
    HARD = "hard"
    SOFT = "soft"
    INFO = "info"


@dataclass(frozen=True, slots=True)
class Finding:
    """One check's result. ``id`` names it for a confirmation (e.g. ``morphine.per_day``)."""

    id: str
    level: Level
    field: str
    value: str
    expected: str
    reason: str
    unverified: bool = False

    def to_dict(self) -> dict:
        return {"id": self.id, "level": self.level.value, "field": self.field, "value": self.value,
                "expected": self.expected, "reason": self.reason, "unverified": self.unverified}


@dataclass(frozen=True, slots=True)
class DrugRow:
    """Old and new side by side for one drug, in its dose unit (None where there is nothing)."""

    drug: str
    unit: str
    concentration_old: Quantity | None
    concentration_new: Quantity
    daily_old: Quantity | None
    daily_new: Quantity
    change_percent: Fraction | None
    bolus_old: Quantity | None
    bolus_new: Quantity | None
    boluses_old: int | None
    boluses_new: int | None
    max_24h_old: Quantity | None
    max_24h_new: Quantity
    worst_24h_new: Quantity

    def to_dict(self) -> dict:
        def q(x: Quantity | None) -> str | None:
            return None if x is None else format_quantity(x, places=6)

        return {"drug": self.drug, "unit": self.unit,
                "concentration_old": q(self.concentration_old), "concentration_new": q(self.concentration_new),
                "daily_old": q(self.daily_old), "daily_new": q(self.daily_new),
                "change_percent": None if self.change_percent is None else decimal_text(self.change_percent, 2),
                "bolus_old": q(self.bolus_old), "bolus_new": q(self.bolus_new),
                "boluses_per_24h_old": self.boluses_old, "boluses_per_24h_new": self.boluses_new,
                "max_24h_old": q(self.max_24h_old), "max_24h_new": q(self.max_24h_new),
                "worst_24h_new": q(self.worst_24h_new)}


@dataclass(frozen=True, slots=True)
class DrugFigures:
    """What a therapy gives of one drug: the largest basal 24 hours, one patient bolus, the 24-hour limit."""

    daily: Quantity
    bolus: Quantity | None
    boluses: int | None
    max_24h: Quantity
    worst_24h: Quantity


def figures(therapy: Therapy, solution: Solution, drug: str, unit: str, origin_s_of_week: int) -> DrugFigures:
    """Exact amounts of ``drug`` (in ``unit``) that ``therapy`` delivers from ``solution``."""
    ng = dict(solution.ng_per_ml)[drug]

    def mass(volume_ticks: int, per_day: bool) -> Quantity:
        mg = mass_to_mg(volume_ticks * ng)
        return Quantity(mg, "mg/day" if per_day else "mg").to(f"{unit}/day" if per_day else unit)

    daily_ticks = max_daily_volume(therapy.program, origin_s_of_week)
    bolus = therapy.patient_bolus
    limit_mg = dict(therapy.limits_mass).get(drug)
    max_24h = Quantity(mass_to_mg(limit_mg), "mg").to(unit) if limit_mg is not None else Quantity(0, unit)
    all_boluses = 0 if bolus is None else bolus.dose_ticks * bolus.max_per_24h
    worst = mass(daily_ticks + all_boluses, False)
    if limit_mg is not None and max_24h < worst:
        worst = max_24h
    return DrugFigures(mass(daily_ticks, True), None if bolus is None else mass(bolus.dose_ticks, False),
                       None if bolus is None else bolus.max_per_24h, max_24h, worst)


Assessment = tuple[tuple[DrugRow, ...], tuple[Finding, ...]]

_ASSESSED: dict[tuple, tuple[DrugLibrary, Assessment]] = {}
"""Assessments already made, by their inputs (the library by identity, and kept with the answer so that its id
is not reused while the entry lives): a routine refill reviews the same therapy and solution as the one
before it."""
_ASSESSED_MAX = 4096


def assess(therapy: Therapy | None, solution: Solution, spec: PumpSpec, library: DrugLibrary, policy: Policy,
           old_therapy: Therapy | None, old_solution: Solution | None) -> Assessment:
    """The review rows and every finding for ``therapy`` with ``solution`` on this pump (``therapy`` None:
    a fill with nothing programmed yet, as at implant: only the solution is checked).

    Every input is immutable and hashable (a program is, as :func:`openidds.pump.max_daily_volume` needs) and
    the answer is made of frozen records, so the answer is kept for the inputs last asked and given again for
    equal inputs (a therapy's limits compared with their types: ``"5"`` and ``Decimal("5.0")`` are shown
    differently in a finding)."""
    key = (id(library), _therapy_key(therapy), solution, spec, policy, _therapy_key(old_therapy), old_solution)
    known = _ASSESSED.get(key)
    if known is not None:
        return known[1]
    answer = _assess(therapy, solution, spec, library, policy, old_therapy, old_solution)
    if len(_ASSESSED) >= _ASSESSED_MAX:
        del _ASSESSED[next(iter(_ASSESSED))]  # the oldest
    _ASSESSED[key] = (library, answer)
    return answer


def _therapy_key(therapy: Therapy | None) -> tuple | None:
    """What of a therapy an assessment reads, hashable: the program, the limits as given, the patient bolus."""
    if therapy is None:
        return None
    bolus = therapy.patient_bolus
    return (therapy.program, tuple((drug, type(mg), mg) for drug, mg in dict(therapy.max_mg_per_24h).items()),
            bolus, None if bolus is None else type(bolus.dose_ml))


def _assess(therapy: Therapy | None, solution: Solution, spec: PumpSpec, library: DrugLibrary, policy: Policy,
            old_therapy: Therapy | None, old_solution: Solution | None) -> Assessment:
    origin = spec.clock_origin_s_of_week
    findings: list[Finding] = [] if therapy is None else list(_pump_findings(therapy, solution, spec))
    rows: list[DrugRow] = []
    for drug in solution.drugs:
        try:
            entry = library.drug(drug)
        except DrugsError as error:
            findings.append(Finding(f"{drug}.library", Level.HARD, "drug", drug, error.expected,
                                    f"{drug} is not in the drug library {library.library} {library.version}"))
            continue
        unit = entry.dose_unit
        conc = concentration(solution, drug, unit)
        if therapy is None:
            findings += _library_findings(entry, conc, None, spec)
            continue
        new = figures(therapy, solution, drug, unit, origin)
        old = None
        if old_therapy is not None and old_solution is not None and drug in old_solution.drugs:
            old = figures(old_therapy, old_solution, drug, unit, origin)
        change = None
        if old is not None and old.daily.value > 0:
            per_day = f"{unit}/day"
            change = (new.daily.magnitude(per_day) - old.daily.magnitude(per_day)) * 100 / old.daily.magnitude(per_day)
        rows.append(DrugRow(drug, unit, None if old_solution is None or drug not in old_solution.drugs
                            else concentration(old_solution, drug, unit), conc,
                            None if old is None else old.daily, new.daily, change,
                            None if old is None else old.bolus, new.bolus, None if old is None else old.boluses,
                            new.boluses, None if old is None else old.max_24h, new.max_24h, new.worst_24h))
        findings += _library_findings(entry, conc, new, spec)
        findings += _change_findings(entry, new, old, change, policy)
    return tuple(rows), tuple(findings)


def _limit_finding(check: LimitCheck, finding_id: str, field: str) -> Finding:
    level = {Outcome.ABOVE_HARD: Level.HARD, Outcome.ABOVE_SOFT: Level.SOFT,
             Outcome.NO_LIMIT: Level.SOFT}.get(check.outcome, Level.INFO)
    limit = check.exceeded or check.hard or check.soft
    expected = (f"at most {limit.value} ({limit.tag})" if limit is not None
                else "a sourced limit (none in the library: clinician judgement required)")
    return Finding(finding_id, level, field, str(check.quantity), expected, check.reason, check.relies_on_unverified)


def _library_findings(entry: DrugEntry, conc: Quantity, new: DrugFigures | None, spec: PumpSpec) -> list[Finding]:
    drug = entry.name
    out = [_limit_finding(entry.check("concentration", conc), f"{drug}.concentration", f"{drug}.concentration")]
    if new is not None:
        out.append(_limit_finding(entry.check("per_day", new.daily), f"{drug}.per_day", f"{drug}.daily_dose"))
    if new is not None and new.bolus is not None:
        out.append(_limit_finding(entry.check("per_bolus", new.bolus), f"{drug}.per_bolus", f"{drug}.bolus_dose"))
        per_day_worst = Quantity(new.worst_24h.value, f"{entry.dose_unit}/day")
        worst = entry.check("per_day", per_day_worst)
        out.append(_limit_finding(worst, f"{drug}.per_day_with_boluses", f"{drug}.worst_24h"))
    if not entry.is_listed_concentration(conc):
        out.append(Finding(f"{drug}.compounded", Level.SOFT, f"{drug}.concentration", str(conc),
                           "a listed presentation, or a compounding record (lot, measured concentration)",
                           f"{conc} is not a listed presentation of {drug}: confirm the compounding record"))
    if spec.model.name in entry.labeling:
        label = entry.label_status(spec.model.name)
        if not label.on_label:
            out.append(Finding(f"{drug}.off_label", Level.SOFT, "drug", drug,
                               f"a drug labelled for intrathecal use in {spec.model.name}",
                               f"{drug} is off-label in {spec.model.name} ({label.tag}"
                               f"{': ' + label.note if label.note else ''})", not label.verified))
    return out


def _change_findings(entry: DrugEntry, new: DrugFigures, old: DrugFigures | None, change: Fraction | None,
                     policy: Policy) -> list[Finding]:
    drug = entry.name
    if old is None or old.daily.value == 0:
        out = [Finding(f"{drug}.initiation", Level.INFO, f"{drug}.daily_dose", str(new.daily), "",
                       "starting intrathecal therapy: reduce or stop systemic opioids and sedatives, and observe "
                       "(mortality after intrathecal opioid initiation: Coffey et al., Anesthesiology "
                       "2009;111:881-891)")]
        start = entry.starting_dose
        if start is not None and new.daily > start.high:
            out.append(Finding(f"{drug}.starting_dose", Level.SOFT, f"{drug}.daily_dose", str(new.daily),
                               f"at most {start.high} ({start.tag})",
                               f"{new.daily} is above the library starting range {start.low} to {start.high} "
                               f"([{start.status.value}] {start.source})", not start.verified))
        return out
    if change is None:
        return []
    shown = decimal_text(change, 2)
    if change > policy.max_increase_percent:
        return [Finding(f"{drug}.change", Level.HARD, f"{drug}.daily_dose", str(new.daily),
                        f"a rise of at most {policy.max_increase_percent} % per session from {old.daily}",
                        f"the daily dose rises by {shown} %, above the clinic's cap of "
                        f"{policy.max_increase_percent} %")]
    if policy.max_decrease_percent is not None and -change > policy.max_decrease_percent:
        return [Finding(f"{drug}.change", Level.SOFT, f"{drug}.daily_dose", str(new.daily),
                        f"a fall of at most {policy.max_decrease_percent} % without a confirmed reason",
                        f"the daily dose falls by {decimal_text(-change, 2)} %: risk of withdrawal"
                        + (f" ({entry.withdrawal.text})" if entry.withdrawal is not None else ""))]
    return [Finding(f"{drug}.change", Level.INFO, f"{drug}.daily_dose", str(new.daily), "",
                    f"daily dose change {shown} % (cap {policy.max_increase_percent} %)")]


def _pump_findings(therapy: Therapy, solution: Solution, spec: PumpSpec) -> list[Finding]:
    """What the pump itself would refuse, caught before anything is sent."""
    out = []
    model = spec.model
    for rate in therapy.program.rates():
        if rate and not spec.min_rate <= rate <= spec.max_rate:
            out.append(Finding("pump.rate", Level.HARD, "program.rate_ml_per_day",
                               decimal_text(ticks_to_ml(rate * SECONDS_PER_DAY), 6),
                               f"0 or from {model.min_rate_ml_per_day} to {model.max_rate_ml_per_day} mL/day "
                               f"on {model.name}", "the rate is outside the pump's range"))
    bolus = therapy.patient_bolus
    if bolus is not None and -(-bolus.dose_ticks // bolus.duration_s) > spec.max_rate:
        out.append(Finding("pump.bolus_rate", Level.HARD, "patient_bolus.duration_s", str(bolus.duration_s),
                           f"at least {-(-bolus.dose_ticks // spec.max_rate)} s at the pump's maximum rate",
                           "the bolus is faster than the pump can deliver"))
    daily = max_daily_volume(therapy.program, spec.clock_origin_s_of_week)
    limits = dict(therapy.limits_mass)
    for drug, ng in solution.ng_per_ml:
        needed = (daily + 2 * spec.min_rate * SECONDS_PER_DAY) * ng
        if drug not in limits or limits[drug] < needed:
            out.append(Finding(f"{drug}.max_24h", Level.HARD, f"max_per_24h.{drug}",
                               str(dict(therapy.max_mg_per_24h).get(drug)),
                               f"at least {decimal_text(mass_to_mg(needed), 6)} mg: the largest 24-hour basal "
                               "amount plus twice the minimum-rate daily amount",
                               "the pump needs room under its 24-hour limit to fall back to its minimum rate"))
        elif bolus is not None and limits[drug] < (daily + bolus.dose_ticks * bolus.max_per_24h) * ng:
            out.append(Finding(f"{drug}.max_24h_boluses", Level.INFO, f"max_per_24h.{drug}",
                               str(dict(therapy.max_mg_per_24h)[drug]), "",
                               "the 24-hour limit will stop delivery before every allowed bolus is taken"))
    return out

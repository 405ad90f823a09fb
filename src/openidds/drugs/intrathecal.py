"""Intrathecal starting-dose proposals from a patient's oral morphine equivalent (OME)."""

from dataclasses import dataclass
from fractions import Fraction
from functools import cache
from importlib.resources import files

from pydantic import Field, model_validator

from openidds.drugs.errors import DrugsError
from openidds.drugs.library import DrugLibrary, LimitCheck, LimitKind, Outcome, default_library
from openidds.drugs.ome import OmeResult
from openidds.drugs.sourced import (
    Closed,
    FractionField,
    Source,
    Sourced,
    SourcedQuantity,
    SourcedRange,
    SourcedText,
    Status,
    check_sources,
    validate_json,
)
from openidds.units import MASS_RATE, Quantity, UnitsError, exact

PROPOSABLE_DRUGS = ("morphine", "hydromorphone")


class Ratio(Sourced):
    name: str
    oral_to_intrathecal: FractionField


class NumberRange(Sourced):
    low: FractionField
    high: FractionField


class PercentRange(Sourced):
    low: int = Field(ge=0, le=100)
    high: int = Field(ge=0, le=100)


class SourcedNumber(Sourced):
    value: FractionField


class IntrathecalRules(Closed):
    """The sourced numbers behind a proposal (data/intrathecal.json)."""

    rules: str
    version: str
    sources: dict[str, Source]
    ratios: tuple[Ratio, ...] = Field(min_length=1)
    default_ratio: str
    observed_ratio_range: NumberRange
    morphine_per_hydromorphone: SourcedNumber
    frailty_reduction_percent: PercentRange
    opioid_tolerant_ome: SourcedQuantity
    opioid_naive_morphine: SourcedRange
    outcomes: tuple[SourcedText, ...] = ()
    safety: tuple[SourcedText, ...] = ()

    @model_validator(mode="after")
    def _consistent(self) -> "IntrathecalRules":
        if self.default_ratio not in {r.name for r in self.ratios}:
            raise ValueError(f"default_ratio {self.default_ratio!r} must name one of the ratios")
        items: list[tuple[str, Sourced]] = [(f"ratios[{i}]", r) for i, r in enumerate(self.ratios)]
        items += [(name, getattr(self, name)) for name in (
            "observed_ratio_range", "morphine_per_hydromorphone", "frailty_reduction_percent",
            "opioid_tolerant_ome", "opioid_naive_morphine")]
        items += [(f"outcomes[{i}]", t) for i, t in enumerate(self.outcomes)]
        items += [(f"safety[{i}]", t) for i, t in enumerate(self.safety)]
        check_sources(self.sources, [(where, item.source) for where, item in items])
        return self


@cache
def intrathecal_rules() -> IntrathecalRules:
    """The shipped rules (src/openidds/drugs/data/intrathecal.json)."""
    name = "data/intrathecal.json"
    return validate_json(IntrathecalRules, files("openidds.drugs").joinpath(name).read_bytes(), name)


@dataclass(frozen=True)
class Reason:
    """One step or flag of a proposal, with the source and [V]/[R] status of the number it uses."""

    text: str
    source: str | None = None
    status: Status | None = None

    @classmethod
    def citing(cls, text: str, sourced: Sourced) -> "Reason":
        return cls(text, sourced.source, sourced.status)

    def __str__(self) -> str:
        return f"{self.text} [{self.status.value}] {self.source}" if self.status and self.source else self.text


@dataclass(frozen=True)
class StartProposal:
    """A proposed intrathecal starting dose; never clamped: limits are reported in `checks`."""

    drug: str
    ome: Quantity
    ratio_name: str
    ratio: Fraction
    dose: Quantity
    observed_range: tuple[Quantity, Quantity]
    reduction_percent: int
    opioid_naive: bool
    reasons: tuple[Reason, ...]
    warnings: tuple[Reason, ...]
    checks: tuple[LimitCheck, ...]
    notes: tuple[Reason, ...]

    @property
    def exceeds_hard_limit(self) -> bool:
        return any(c.outcome is Outcome.ABOVE_HARD for c in self.checks)

    @property
    def exceeds_soft_limit(self) -> bool:
        return any(c.outcome in (Outcome.ABOVE_SOFT, Outcome.ABOVE_HARD) for c in self.checks)

    @property
    def relies_on_unverified(self) -> bool:
        cited = self.reasons + self.warnings
        return any(r.status is Status.UNVERIFIED for r in cited) or any(c.relies_on_unverified for c in self.checks)


def _ratio(rules: IntrathecalRules, ratio: int | Fraction | str | None) -> tuple[str, Fraction, Reason]:
    if ratio is None:
        ratio = rules.default_ratio
    try:
        value = exact(ratio.strip().removesuffix(":1") if isinstance(ratio, str) else ratio, "ratio")
    except UnitsError:
        raise DrugsError("ratio", ratio, "an oral:intrathecal ratio such as '100:1' or 300") from None
    for named in rules.ratios:
        if value == named.oral_to_intrathecal:
            text = f"oral:intrathecal morphine ratio {named.name}" + (f" ({named.note})" if named.note else "")
            return named.name, value, Reason.citing(text, named)
    span = rules.observed_ratio_range
    if span.low <= value <= span.high:
        text = f"clinician-chosen ratio {value}:1, inside the observed initial range {span.low}-{span.high}:1"
        return f"{value}:1", value, Reason.citing(text, span)
    names = ", ".join(r.name for r in rules.ratios)
    expected = f"a sourced ratio ({names}) or a ratio within the observed {span.low}-{span.high}:1"
    raise DrugsError("ratio", ratio, expected)


def propose_start(
    ome: OmeResult | Quantity,
    *,
    ratio: int | Fraction | str | None = None,
    drug: str = "morphine",
    frail: bool = False,
    reduction_percent: int | None = None,
    opioid_naive: bool | None = None,
    library: DrugLibrary | None = None,
    rules: IntrathecalRules | None = None,
) -> StartProposal:
    """Propose an intrathecal starting dose (mg/day) from a total daily OME.

    ratio: '100:1' (default, Sindt 2021), '300:1', or any ratio inside the observed 75-150:1 range.
    frail: reduce by the low end of the sourced 25-50 % rotation reduction unless reduction_percent
    is given (it must lie in that range, or be 0). opioid_naive: None decides from the OME against
    the opioid-tolerant threshold. The dose is never clamped; library limits are in `checks`.
    """
    rules = rules or intrathecal_rules()
    library = library or default_library()
    total = ome.total if isinstance(ome, OmeResult) else ome
    if total.dimension != MASS_RATE or total.value <= 0:
        raise DrugsError("ome", str(total), "a positive daily OME such as '240 mg/day'")
    total = total.to("mg/day")
    if drug not in PROPOSABLE_DRUGS:
        raise DrugsError("drug", drug, f"one of {', '.join(PROPOSABLE_DRUGS)} (the opioids with a sourced conversion)")
    name, value, ratio_reason = _ratio(rules, ratio)
    reasons = [Reason(f"total OME {total}"), ratio_reason]
    warnings: list[Reason] = []

    frailty = rules.frailty_reduction_percent
    if reduction_percent is None:
        reduction_percent = frailty.low if frail else 0
    elif reduction_percent != 0 and not frailty.low <= reduction_percent <= frailty.high:
        raise DrugsError("reduction_percent", reduction_percent, f"0 or {frailty.low}-{frailty.high} (sourced range)")
    scale = Fraction(100 - reduction_percent, 100)
    if reduction_percent:
        why = "frailty" if frail else "clinician choice"
        reasons.append(Reason.citing(f"reduced by {reduction_percent} % ({why}; {frailty.note})", frailty))

    tolerant = rules.opioid_tolerant_ome
    if opioid_naive is None:
        opioid_naive = total < tolerant.value
        word = "below" if opioid_naive else "at or above"
        reasons.append(Reason.citing(f"OME {total} is {word} the opioid-tolerant threshold {tolerant.value}", tolerant))
    morphine = total / value * scale
    if opioid_naive:
        naive = rules.opioid_naive_morphine
        inside = naive.low <= morphine <= naive.high
        text = f"opioid-naive: labelled intrathecal morphine range {naive.low} to {naive.high}"
        (reasons if inside else warnings).append(Reason.citing(
            text if inside else f"{text}; the computed {morphine} is outside it", naive))

    per_hm = rules.morphine_per_hydromorphone
    divisor = per_hm.value if drug == "hydromorphone" else Fraction(1)
    if drug == "hydromorphone":
        text = f"intrathecal morphine {morphine} / {per_hm.value} = hydromorphone ({per_hm.note})"
        reasons.append(Reason.citing(text, per_hm))
    dose = morphine / divisor
    span = rules.observed_ratio_range
    observed = (total / span.high * scale / divisor, total / span.low * scale / divisor)

    entry = library.drug(drug)
    checks = (entry.check(LimitKind.PER_DAY, dose),)
    start = entry.starting_dose
    if start is not None and not start.low <= dose <= start.high:
        side = "above" if dose > start.high else "below"
        warnings.append(Reason.citing(
            f"{dose} is {side} the library starting range {start.low} to {start.high} for {drug}"
            " (usual when converting from high systemic doses; confirm)", start))
    notes = tuple(Reason.citing(t.text, t) for t in rules.outcomes + rules.safety)
    return StartProposal(drug, total, name, value, dose, observed, reduction_percent, opioid_naive,
                         tuple(reasons), tuple(warnings), checks, notes)

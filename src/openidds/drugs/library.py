"""The intrathecal drug library: per-drug concentrations, soft and hard limits, dose ranges,
stability and labelling, every number with its source and [V]/[R] status."""

from dataclasses import dataclass
from enum import Enum
from functools import cache
from importlib.resources import files
from typing import Literal

from pydantic import Field, field_validator, model_validator

from openidds.drugs.errors import DrugsError
from openidds.drugs.sourced import (
    Closed,
    Source,
    Sourced,
    SourcedQuantity,
    SourcedRange,
    SourcedText,
    check_sources,
    validate_json,
)
from openidds.units import CONCENTRATION, MASS, MASS_RATE, Dimension, Quantity


class LimitKind(str, Enum):
    """What a limit bounds: the solution's concentration, the daily dose, or one bolus."""

    CONCENTRATION = "concentration"
    PER_DAY = "per_day"
    PER_BOLUS = "per_bolus"


class Outcome(str, Enum):
    WITHIN = "within"
    ABOVE_SOFT = "above_soft"
    ABOVE_HARD = "above_hard"
    NO_LIMIT = "no_limit"


_DIMENSION = {LimitKind.CONCENTRATION: CONCENTRATION, LimitKind.PER_DAY: MASS_RATE, LimitKind.PER_BOLUS: MASS}


class LimitPair(Closed):
    """A soft limit (may be passed with a confirmed reason) and a hard limit (may not be passed)."""

    soft: SourcedQuantity | None = None
    hard: SourcedQuantity | None = None

    @model_validator(mode="after")
    def _soft_not_above_hard(self) -> "LimitPair":
        if self.soft and self.hard:
            if self.soft.value.dimension != self.hard.value.dimension:
                raise ValueError(f"soft {self.soft.value} and hard {self.hard.value} differ in dimension")
            if self.soft.value > self.hard.value:
                raise ValueError(f"soft limit {self.soft.value} must not be above hard limit {self.hard.value}")
        return self


class Limits(Closed):
    concentration: LimitPair
    per_day: LimitPair
    per_bolus: LimitPair


class Stability(Sourced):
    """Days the drug stays usable in the pump; optional shorter first-fill and longer undiluted terms."""

    days: int = Field(gt=0)
    undiluted_days: int | None = Field(default=None, gt=0)
    first_fill_days: int | None = Field(default=None, gt=0)


class Labeling(Sourced):
    """Whether the drug is labelled (on-label) for intrathecal use in one pump model."""

    on_label: bool


@dataclass(frozen=True)
class LimitCheck:
    """The result of checking one quantity against a drug's soft and hard limits, with its reason."""

    drug: str
    kind: LimitKind
    quantity: Quantity
    outcome: Outcome
    soft: SourcedQuantity | None
    hard: SourcedQuantity | None
    reason: str

    @property
    def exceeded(self) -> SourcedQuantity | None:
        """The limit that was passed, if any."""
        return {Outcome.ABOVE_SOFT: self.soft, Outcome.ABOVE_HARD: self.hard}.get(self.outcome)

    @property
    def relies_on_unverified(self) -> bool:
        """True when a limit used in this check is [R] (unverified): say so to the user."""
        return any(limit is not None and not limit.verified for limit in (self.soft, self.hard))


class DrugEntry(Closed):
    """One drug of the library. Every amount is written in the drug's dose unit (mg or mcg)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    dose_unit: Literal["mg", "mcg"]
    concentrations: tuple[SourcedQuantity, ...] = ()
    limits: Limits
    starting_dose: SourcedRange | None = None
    trial_dose: SourcedRange | None = None
    stability: Stability | None = None
    labeling: dict[str, Labeling]
    withdrawal: SourcedText | None = None
    notes: tuple[SourcedText, ...] = ()

    @model_validator(mode="after")
    def _amounts_in_dose_unit(self) -> "DrugEntry":
        wanted = {
            "concentration": (CONCENTRATION, f"{self.dose_unit}/mL"),
            "per_day": (MASS_RATE, f"{self.dose_unit}/day"),
            "per_bolus": (MASS, self.dose_unit),
        }
        checks: list[tuple[str, Quantity, str]] = [(f"concentrations[{i}]", c.value, "concentration")
                                                   for i, c in enumerate(self.concentrations)]
        for kind in ("concentration", "per_day", "per_bolus"):
            pair: LimitPair = getattr(self.limits, kind)
            for level in ("soft", "hard"):
                limit = getattr(pair, level)
                if limit is not None:
                    checks.append((f"limits.{kind}.{level}", limit.value, kind))
        for name, kind in (("starting_dose", "per_day"), ("trial_dose", "per_bolus")):
            span: SourcedRange | None = getattr(self, name)
            if span is not None:
                checks += [(f"{name}.low", span.low, kind), (f"{name}.high", span.high, kind)]
        wrong = [f"{where}={q} (write it in {wanted[kind][1]})" for where, q, kind in checks
                 if str(q.unit) != wanted[kind][1]]
        if wrong:
            raise ValueError(f"{self.name}: amounts must use the dose unit {self.dose_unit!r}: " + "; ".join(wrong))
        return self

    def sources_used(self) -> list[tuple[str, str]]:
        """(location, source id) for every sourced item of this entry."""
        items: list[tuple[str, Sourced | None]] = [
            (f"concentrations[{i}]", c) for i, c in enumerate(self.concentrations)
        ]
        for kind in ("concentration", "per_day", "per_bolus"):
            pair = getattr(self.limits, kind)
            items += [(f"limits.{kind}.soft", pair.soft), (f"limits.{kind}.hard", pair.hard)]
        items += [("starting_dose", self.starting_dose), ("trial_dose", self.trial_dose),
                  ("stability", self.stability), ("withdrawal", self.withdrawal)]
        items += [(f"labeling.{model}", label) for model, label in self.labeling.items()]
        items += [(f"notes[{i}]", note) for i, note in enumerate(self.notes)]
        return [(f"{self.name}.{where}", item.source) for where, item in items if item is not None]

    def limit_pair(self, kind: LimitKind) -> LimitPair:
        return getattr(self.limits, LimitKind(kind).value)

    def check(self, kind: LimitKind | str, quantity: Quantity) -> LimitCheck:
        """Compare `quantity` with this drug's soft and hard limits of `kind`; nothing is clamped."""
        try:
            kind = LimitKind(kind)
        except ValueError:
            raise DrugsError("kind", kind, "one of " + ", ".join(k.value for k in LimitKind)) from None
        dimension: Dimension = _DIMENSION[kind]
        if quantity.dimension != dimension:
            raise DrugsError(f"{self.name}.{kind.value}", str(quantity), f"a {dimension.name}")
        pair = self.limit_pair(kind)
        label = f"{self.name} {kind.value.replace('_', ' ')} {quantity}"
        governing = pair.hard if pair.hard is not None else pair.soft
        if governing is None:
            reason = f"{label}: the library has no sourced limit; clinician judgement required"
            return LimitCheck(self.name, kind, quantity, Outcome.NO_LIMIT, None, None, reason)
        if pair.hard is not None and quantity > pair.hard.value:
            outcome, limit, word = Outcome.ABOVE_HARD, pair.hard, "above the hard limit"
        elif pair.soft is not None and quantity > pair.soft.value:
            outcome, limit, word = Outcome.ABOVE_SOFT, pair.soft, "above the soft limit"
        elif governing is pair.hard:
            outcome, limit, word = Outcome.WITHIN, governing, "within the hard limit"
        else:
            outcome, limit, word = Outcome.WITHIN, governing, "within the soft limit (no sourced hard limit)"
        note = f": {limit.note}" if limit.note else ""
        reason = f"{label} is {word} {limit.value} ({limit.tag}{note})"
        return LimitCheck(self.name, kind, quantity, outcome, pair.soft, pair.hard, reason)

    def is_listed_concentration(self, concentration: Quantity) -> bool:
        """True if the concentration equals a listed (commercial/labelled) presentation."""
        return any(c.value == concentration for c in self.concentrations)

    def label_status(self, pump_model: str) -> Labeling:
        if pump_model not in self.labeling:
            raise DrugsError("pump_model", pump_model, "one of " + ", ".join(sorted(self.labeling)))
        return self.labeling[pump_model]


class DrugLibrary(Closed):
    """A versioned drug library: the shipped default or a clinic's own file, validated alike."""

    library: str
    version: str
    description: str = ""
    sources: dict[str, Source]
    pump_models: tuple[str, ...] = Field(min_length=1)
    drugs: tuple[DrugEntry, ...] = Field(min_length=1)

    @field_validator("drugs")
    @classmethod
    def _unique(cls, drugs: tuple[DrugEntry, ...]) -> tuple[DrugEntry, ...]:
        names = [d.name for d in drugs]
        repeated = sorted({n for n in names if names.count(n) > 1})
        if repeated:
            raise ValueError(f"each drug may appear once; repeated: {', '.join(repeated)}")
        return drugs

    @model_validator(mode="after")
    def _consistent(self) -> "DrugLibrary":
        models = set(self.pump_models)
        for drug in self.drugs:
            if set(drug.labeling) != models:
                raise ValueError(
                    f"{drug.name}.labeling must give the label status for exactly the pump models "
                    f"{sorted(models)}; got {sorted(drug.labeling)}"
                )
        check_sources(self.sources, [used for drug in self.drugs for used in drug.sources_used()])
        return self

    @property
    def names(self) -> tuple[str, ...]:
        return tuple(d.name for d in self.drugs)

    def drug(self, name: str) -> DrugEntry:
        for entry in self.drugs:
            if entry.name == name:
                return entry
        raise DrugsError("drug", name, f"a drug of library {self.library} {self.version}: {', '.join(self.names)}")

    def source(self, source_id: str) -> Source:
        if source_id not in self.sources:
            raise DrugsError("source", source_id, "a source id declared in the library")
        return self.sources[source_id]


def load_library(text: str | bytes, name: str = "library") -> DrugLibrary:
    """Validate a library file's JSON text; raise InputFileError listing every problem with its location."""
    return validate_json(DrugLibrary, text, name)


@cache
def default_library() -> DrugLibrary:
    """The library shipped with OpenIDDS (src/openidds/drugs/data/library.json)."""
    return load_library(files("openidds.drugs").joinpath("data/library.json").read_bytes(), "data/library.json")

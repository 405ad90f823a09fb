"""The drug solution in a reservoir: one drug or an admixture, each at its concentration."""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction

from openidds.errors import OpenIDDSError
from openidds.pump.ticks import NG_PER_MG, Number, decimal_text, ng_per_ml

_DRUG_NAME = re.compile(r"^[a-z][a-z0-9_-]{1,39}$")


@dataclass(frozen=True, slots=True)
class Solution:
    """Drug -> concentration in ng/mL (integers). Build it with :meth:`of` from mg/mL values."""

    ng_per_ml: tuple[tuple[str, int], ...]

    def __post_init__(self) -> None:
        pairs = self.ng_per_ml
        if not isinstance(pairs, tuple) or not pairs or not all(
                isinstance(p, tuple) and len(p) == 2 and isinstance(p[0], str) and _DRUG_NAME.match(p[0])
                and type(p[1]) is int and p[1] > 0 for p in pairs):
            raise OpenIDDSError("solution.ng_per_ml", pairs,
                                "(drug, ng/mL) pairs: lower-case names, whole ng/mL above 0")
        if [drug for drug, _ in pairs] != sorted({drug for drug, _ in pairs}):
            raise OpenIDDSError("solution.ng_per_ml", pairs,
                                "each drug once, sorted by name (build it with Solution.of)")

    @classmethod
    def of(cls, concentrations_mg_per_ml: Mapping[str, Number]) -> "Solution":
        """A solution from ``{"morphine": "25", "bupivacaine": "7.5"}`` (mg/mL)."""
        if not concentrations_mg_per_ml:
            raise OpenIDDSError("solution", dict(concentrations_mg_per_ml), "at least one drug")
        pairs = []
        for drug, mg_per_ml in concentrations_mg_per_ml.items():
            if not isinstance(drug, str) or not _DRUG_NAME.match(drug):
                raise OpenIDDSError("solution.drug", drug, "a lower-case drug name such as 'morphine'")
            pairs.append((drug, ng_per_ml(f"solution.{drug}_mg_per_ml", mg_per_ml)))
        return cls(tuple(sorted(pairs)))

    @property
    def drugs(self) -> tuple[str, ...]:
        """The drug names, sorted."""
        return tuple(drug for drug, _ in self.ng_per_ml)

    def mg_per_ml(self, drug: str) -> Fraction:
        """The exact concentration of ``drug`` in mg/mL."""
        return Fraction(dict(self.ng_per_ml)[drug], NG_PER_MG)

    def describe(self) -> str:
        """E.g. ``morphine 25 mg/mL + bupivacaine 7.5 mg/mL``."""
        return " + ".join(f"{drug} {_plain(self.mg_per_ml(drug))} mg/mL" for drug in self.drugs)


def _plain(value: Fraction) -> str:
    return decimal_text(value, 6).rstrip("0").rstrip(".")

"""Clinic policy for programming and refills, and the sourced pump figures the refill arithmetic uses."""

from dataclasses import dataclass
from fractions import Fraction

from openidds.drugs import Status
from openidds.programmer.errors import ProgrammerError
from openidds.pump import PumpSpec


@dataclass(frozen=True, slots=True)
class SourcedFigure:
    """A number with its status ([V] read in the source, [R] recalled, not verified) and its source."""

    value: Fraction
    status: Status
    source: str

    @property
    def verified(self) -> bool:
        return self.status is Status.VERIFIED

    @property
    def tag(self) -> str:
        return f"[{self.status.value}] {self.source}"


PUMP_ACCURACY_PERCENT: dict[str, SourcedFigure] = {
    "SynchroMed II": SourcedFigure(
        Fraction("14.5"), Status.UNVERIFIED,
        "labelled flow accuracy 'often quoted +/-14.5 %', not found in an accessible manual "
        "(SynchroMed II technical manuals); clinical data: +1 % at 6 months, +2.5 % per refill "
        "(Wesemann 2014, rapm.bmj.com/content/39/4/341)"),
}
"""The delivery-accuracy margin per pump model, used for the worst-case refill date and the discrepancy check."""

DISCREPANCY_FLOOR_ML: dict[int, SourcedFigure] = {
    20: SourcedFigure(Fraction(1), Status.VERIFIED,
                      "Maino et al., Neuromodulation 2017;20(7):733-739: >1 mL (20 mL pump) potentially consequential"),
    40: SourcedFigure(Fraction(2), Status.VERIFIED,
                      "Maino et al., Neuromodulation 2017;20(7):733-739: >2 mL (40 mL pump) potentially consequential"),
}
"""The smallest residual discrepancy that is flagged, by reservoir size."""


@dataclass(frozen=True, slots=True)
class Policy:
    """What a clinic sets once: the change cap per session, the post-refill observation, the accuracy margin.

    ``max_increase_percent``: a larger rise of any drug's daily dose in one session is refused (hard).
    ``max_decrease_percent``: a larger fall needs a confirmed reason (withdrawal risk), or None for no check.
    ``accuracy_percent``: overrides the pump model's figure (:data:`PUMP_ACCURACY_PERCENT`).
    ``second_clinician``: a therapy change proposed by one clinician is confirmed by another (the four-eyes
    check on programming changes, a main hazard of intrathecal therapy); False lets the proposer confirm.
    """

    max_increase_percent: Fraction = Fraction(30)
    max_decrease_percent: Fraction | None = Fraction(30)
    observation_s: int = 30 * 60
    accuracy_percent: Fraction | None = None
    second_clinician: bool = True

    def __post_init__(self) -> None:
        for name in ("max_increase_percent", "max_decrease_percent", "accuracy_percent"):
            value = getattr(self, name)
            if value is None and name != "max_increase_percent":
                continue
            if not isinstance(value, (int, Fraction)) or isinstance(value, bool) or not 0 <= value <= 1000:
                raise ProgrammerError(f"policy.{name}", value, "an exact percentage from 0 to 1000")
        if isinstance(self.observation_s, bool) or not isinstance(self.observation_s, int) or not (
                0 < self.observation_s <= 7 * 86_400):
            raise ProgrammerError("policy.observation_s", self.observation_s, "whole seconds from 1 to 604800")
        if not isinstance(self.second_clinician, bool):
            raise ProgrammerError("policy.second_clinician", self.second_clinician, "True or False")

    def accuracy(self, spec: PumpSpec) -> SourcedFigure:
        """The accuracy margin for this pump: the policy's own figure, or the model's sourced one."""
        if self.accuracy_percent is not None:
            return SourcedFigure(Fraction(self.accuracy_percent), Status.VERIFIED, "clinic policy")
        figure = PUMP_ACCURACY_PERCENT.get(spec.model.name)
        if figure is None:
            raise ProgrammerError("pump.model", spec.model.name,
                                  f"a model with an accuracy figure ({', '.join(PUMP_ACCURACY_PERCENT)}), "
                                  "or a policy accuracy_percent")
        return figure

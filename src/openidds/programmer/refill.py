"""The refill workflow, in the order of a real refill.

1. interrogate (opening the workflow); 2. withdraw the residual and measure it: the difference from the
pump's expected residual is flagged above max(accuracy x volume pumped since the last fill, 1 mL for a
20 mL pump or 2 mL for a 40 mL pump) and trended across refills; a flag needs an acknowledgement (who,
why) before the refill goes on; 3. check the new fill: drug and concentration (entered twice) against the
prescription and the library, volume against the reservoir; 4. review and confirm the therapy; 5. confirm
the pocket-fill checklist; 6. transmit one ``Refill`` command; 7. the post-refill observation.
Everything goes through the reservoir port: the catheter-access port is refused here (drug injected there
goes straight to the CSF) and belongs to a separate procedure.
"""

import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from fractions import Fraction
from functools import lru_cache

from openidds.drugs import DrugLibrary, DrugsError
from openidds.errors import OpenIDDSError
from openidds.programmer.boluses import BolusPlan, bridge_bolus
from openidds.programmer.conversion import plain_decimal
from openidds.programmer.errors import ProgrammerError
from openidds.programmer.history import FillRecord
from openidds.programmer.orders import TherapyOrder
from openidds.programmer.policy import DISCREPANCY_FLOOR_ML, Policy, SourcedFigure
from openidds.programmer.session import Fill, ProgrammingSession, Review, State
from openidds.pump import Pump, RefillReport, Solution
from openidds.pump.ticks import decimal_text, exact, ticks_to_ml
from openidds.units import CONCENTRATION, Quantity, parse_quantity


class Port(str, Enum):
    RESERVOIR = "reservoir"
    CATHETER_ACCESS = "catheter_access"


CHECKLIST: tuple[tuple[str, str], ...] = (
    ("reservoir_port", "needle in the reservoir fill port (template or ultrasound), not the catheter access port"),
    ("residual_withdrawn", "residual withdrawn completely into an empty syringe and measured"),
    ("label_matches", "syringe label matches the prescription: drug, concentration, volume, patient"),
    ("no_resistance", "injected slowly with no resistance, pain or swelling at the pocket; needle kept in the port"),
    ("volume_injected", "the whole drawn-up volume injected into the reservoir; nothing left in the syringe"),
    ("patient_educated", "patient and carer told the signs of overdose and withdrawal, and whom to call"),
)
"""The pocket-fill checklist (FDA Class I recall of 2011 on pocket fills, MedSun newsletter #58; Maino et al.,
Neuromodulation 2017; the reservoir port, never the catheter-access port)."""


@dataclass(frozen=True, slots=True)
class Prescription:
    """The prescription for this refill: the drugs and concentrations the pharmacy prepared, by whom."""

    concentrations: dict[str, Quantity]
    prescriber: str

    def __post_init__(self) -> None:
        parsed = {d: q if isinstance(q, Quantity) else parse_quantity(q, CONCENTRATION, f"prescription.{d}")
                  for d, q in dict(self.concentrations).items()}
        if not parsed:
            raise ProgrammerError("prescription", {}, "at least one drug and its concentration")
        object.__setattr__(self, "concentrations", parsed)


@dataclass(frozen=True, slots=True)
class Discrepancy:
    """Withdrawn against expected residual at one refill (mL)."""

    t_s: int
    expected_ml: Fraction
    withdrawn_ml: Fraction
    pumped_ml: Fraction
    threshold_ml: Fraction
    basis: str
    difference_ml: Fraction = field(init=False, repr=False, compare=False)
    """withdrawn - expected (computed once: a trend reads it refill after refill)"""
    flagged: bool = field(init=False, repr=False, compare=False)
    """the difference is beyond the threshold either way"""

    def __post_init__(self) -> None:
        difference = self.withdrawn_ml - self.expected_ml
        object.__setattr__(self, "difference_ml", difference)
        object.__setattr__(self, "flagged", abs(difference) > self.threshold_ml)

    @property
    def suggests(self) -> str | None:
        """What a flagged discrepancy points to, and what to check (None when within the threshold)."""
        if not self.flagged:
            return None
        if self.difference_ml > 0:
            return ("more left in the reservoir than expected: the pump delivered less than programmed "
                    "(under-delivery); check the catheter for occlusion, kink or disconnection, the pump for a "
                    "stalled rotor, and the patient for withdrawal or returning pain")
        return ("less left in the reservoir than expected: more left it than programmed (over-delivery), a leak, "
                "or drug injected outside the reservoir at the last refill (pocket fill); check the patient for "
                "overdose signs and the pump and pocket for a leak")

    def describe(self) -> str:
        word = "FLAGGED" if self.flagged else "within"
        text = (f"withdrew {decimal_text(self.withdrawn_ml, 3)} mL, expected {decimal_text(self.expected_ml, 3)} mL: "
                f"difference {decimal_text(self.difference_ml, 3)} mL, {word} the threshold "
                f"{decimal_text(self.threshold_ml, 3)} mL ({self.basis})")
        return text if self.suggests is None else f"{text}: {self.suggests}"

    def to_dict(self) -> dict:
        return {"t_s": self.t_s, "expected_ml": decimal_text(self.expected_ml, 6),
                "withdrawn_ml": decimal_text(self.withdrawn_ml, 6),
                "difference_ml": decimal_text(self.difference_ml, 6),
                "pumped_ml": decimal_text(self.pumped_ml, 6), "threshold_ml": decimal_text(self.threshold_ml, 6),
                "flagged": self.flagged, "basis": self.basis, "suggests": self.suggests}


@dataclass(frozen=True, slots=True)
class Trend:
    """Discrepancies across refills, oldest first, the present one last.

    Flagged when two of the last three were flagged, or when the last three all point the same way and
    grow (a slow drift, such as a partly blocked catheter, stays under the threshold each time).
    """

    items: tuple[Discrepancy, ...]

    @property
    def repeated(self) -> bool:
        return sum(d.flagged for d in self.items[-3:]) >= 2

    @property
    def drifting(self) -> bool:
        last = [d.difference_ml for d in self.items[-3:]]
        if len(last) < 3 or 0 in last:
            return False
        same_sign = all(x > 0 for x in last) or all(x < 0 for x in last)
        return same_sign and abs(last[0]) < abs(last[1]) < abs(last[2])

    @property
    def flagged(self) -> bool:
        return self.repeated or self.drifting

    def to_dict(self) -> dict:
        return {"items": [d.to_dict() for d in self.items], "repeated": self.repeated, "drifting": self.drifting,
                "flagged": self.flagged}


@lru_cache(maxsize=4096)
def discrepancy_threshold(reservoir_ml: int, pumped_ml: Fraction, accuracy: SourcedFigure) -> tuple[Fraction, str]:
    """max(accuracy x pumped volume, the floor for this reservoir size), with how it was found (kept for the
    values last asked: each refill's trend finds the thresholds of the refills before it again)."""
    floor = DISCREPANCY_FLOOR_ML.get(reservoir_ml)
    if floor is None:
        raise ProgrammerError("reservoir_ml", reservoir_ml, f"a reservoir size with a discrepancy floor: "
                              f"{sorted(DISCREPANCY_FLOOR_ML)}")
    by_accuracy = pumped_ml * accuracy.value / 100
    if by_accuracy > floor.value:
        return by_accuracy, (f"{plain_decimal(accuracy.value)} % of {decimal_text(pumped_ml, 3)} mL pumped, "
                             f"{accuracy.tag}")
    return floor.value, f"{floor.value} mL floor for a {reservoir_ml} mL pump, {floor.tag}"


@lru_cache(maxsize=4096)
def _past_discrepancy(fill: FillRecord, reservoir_ml: int, accuracy: SourcedFigure) -> Discrepancy:
    """The discrepancy found at an earlier refill, from the pump's fill history (kept for the values last asked:
    each refill's trend finds the discrepancies of the refills before it again)."""
    pumped = ticks_to_ml(fill.pumped_ticks)
    threshold, basis = discrepancy_threshold(reservoir_ml, pumped, accuracy)
    return Discrepancy(fill.t_s, ticks_to_ml(fill.expected_ticks), ticks_to_ml(fill.withdrawn_ticks), pumped,
                       threshold, basis)


@dataclass(frozen=True, slots=True)
class RefillRecord:
    """What the transmitted refill did: the pump's report, the discrepancy, the observation, a bridge plan."""

    report: RefillReport
    discrepancy: Discrepancy
    trend: Trend
    observe_until_s: int
    bridge: BolusPlan | None
    review: Review


def _gate_of(workflow: "RefillWorkflow") -> Callable[[], str | None]:
    """The session's gate: the workflow's missing step (:meth:`RefillWorkflow._missing`). The gate holds the workflow
    by a weak reference, so a workflow and its session do not keep each other alive (they are freed as soon as
    they are dropped, without waiting for the cycle collector: a cohort drops thousands); a session whose workflow
    is gone sends nothing."""
    held = weakref.ref(workflow)

    def gate() -> str | None:
        found = held()
        return "the refill workflow that opened this session is gone: open a new refill" if found is None \
            else found._missing()

    return gate


class RefillWorkflow:
    """One refill, step by step. Steps out of order are refused; nothing reaches the pump before
    :meth:`transmit`, and an abandoned workflow leaves the pump as it was after the interrogation."""

    def __init__(self, pump: Pump, at_s: int, nurse: str, prescription: Prescription, *,
                 library: DrugLibrary | None = None, policy: Policy | None = None) -> None:
        self.session = ProgrammingSession(pump, at_s, nurse, library=library, policy=policy)
        self.session.gate = _gate_of(self)
        self.prescription = prescription
        self.nurse = nurse
        self._pump = pump
        spec = pump.spec
        self.expected_ml = max(self.session.snapshot.reservoir_ml - ticks_to_ml(spec.residual_ticks), Fraction(0))
        self.accuracy = self.session.policy.accuracy(spec)
        self.discrepancy: Discrepancy | None = None
        self.trend: Trend | None = None
        self._acknowledged = False
        self._checklist: dict[str, str] = {}
        self.record: RefillRecord | None = None

    @property
    def at_s(self) -> int:
        return self.session.at_s

    def _past(self) -> list[Discrepancy]:
        reservoir_ml = self._pump.spec.reservoir_ml
        return [_past_discrepancy(rec, reservoir_ml, self.accuracy) for rec in self.session.fills[1:]]

    def _port(self, port: Port) -> None:
        if Port(port) is not Port.RESERVOIR:
            raise self.session.refuse("port", Port(port).value, "the reservoir port: the catheter access port leads "
                                      "straight to the CSF and is a separate procedure, never part of a refill")

    def withdraw_simulated(self) -> Discrepancy:
        """Step 2 on the simulated pump when no measurement is given: the pump model's true residual is
        withdrawn, and the session log says so."""
        spec = self._pump.spec
        true_ml = ticks_to_ml(max(self._pump.reservoir_actual_ticks - spec.residual_ticks, 0))
        self.session.record("withdrawn_simulated", self.nurse, f"no measurement given: the simulated residual "
                            f"{decimal_text(true_ml, 3)} mL is used")
        return self.withdraw(true_ml)

    def withdraw(self, measured_ml: "str | Fraction", port: Port = Port.RESERVOIR) -> Discrepancy:
        """Step 2: the residual withdrawn and measured (mL) against the pump's expectation."""
        self._port(port)
        if self.discrepancy is not None:
            raise ProgrammerError("withdraw", measured_ml, "one withdrawal per refill")
        try:
            withdrawn = exact("withdrawn_ml", measured_ml)
        except OpenIDDSError as error:
            raise self.session.refuse(error.field, error.value, error.expected) from None
        if withdrawn < 0 or withdrawn > self._pump.spec.reservoir_ml:
            raise self.session.refuse("withdrawn_ml", measured_ml,
                                      f"a volume from 0 to {self._pump.spec.reservoir_ml} mL")
        pumped = ticks_to_ml(self.session.pumped_since_fill_ticks)
        threshold, basis = discrepancy_threshold(self._pump.spec.reservoir_ml, pumped, self.accuracy)
        self.discrepancy = Discrepancy(self.at_s, self.expected_ml, withdrawn, pumped, threshold, basis)
        self.trend = Trend((*self._past(), self.discrepancy))
        self.session.record("withdrawn", self.nurse, self.discrepancy.describe(),
                            {"discrepancy": self.discrepancy.to_dict(), "trend_flagged": self.trend.flagged})
        return self.discrepancy

    @property
    def flagged(self) -> bool:
        """The withdrawn residual, or the trend across refills, is flagged (False before the withdrawal)."""
        return ((self.discrepancy is not None and self.discrepancy.flagged)
                or (self.trend is not None and self.trend.flagged))

    @property
    def needs_acknowledgement(self) -> bool:
        return self.flagged and not self._acknowledged

    def acknowledge_discrepancy(self, who: str, why: str) -> None:
        """A flagged discrepancy (or trend) was investigated: who and what was found."""
        if self.discrepancy is None or not self.flagged:
            raise ProgrammerError("acknowledge", None, "a flagged discrepancy or trend to acknowledge")
        if not (isinstance(who, str) and who.strip() and isinstance(why, str) and why.strip()):
            raise ProgrammerError("acknowledge", (who, why), "who and why, both non-empty")
        self._acknowledged = True
        self.session.record("discrepancy_acknowledged", who, why, {"discrepancy": self.discrepancy.to_dict()})

    def fill(self, concentrations: dict[str, str], concentrations_again: dict[str, str], volume_ml: str,
             order: TherapyOrder | None = None, port: Port = Port.RESERVOIR) -> Review:
        """Steps 3-4: the new solution (every concentration entered twice), the volume and the therapy
        (``None`` keeps the present one when the concentration does not change)."""
        self._port(port)
        if self.discrepancy is None:
            raise self.session.refuse("step", "fill", "the residual withdrawn and measured first")
        if self.needs_acknowledgement:
            why = self.discrepancy.suggests or "the discrepancy trend across refills is flagged"
            raise self.session.refuse("discrepancy", decimal_text(self.discrepancy.difference_ml, 3) + " mL",
                                      f"an acknowledgement of the flagged discrepancy (who and why): {why}")
        library = self.session.library
        first = self._solution(concentrations, "concentration", library)
        second = self._solution(concentrations_again, "concentration_again", library)
        if first != second:
            raise self.session.refuse("concentration_again", _text(second),
                                      f"the same as the first entry {_text(first)}")
        wanted = self.prescription.concentrations
        if set(first) != set(wanted) or any(first[d] != wanted[d] for d in wanted):
            raise self.session.refuse("concentration", _text(first), f"the prescription {_text(wanted)} "
                                      f"(by {self.prescription.prescriber})")
        solution = Solution.of({d: q.magnitude("mg/mL") for d, q in first.items()})
        return self.session.edit(order, Fill(solution, volume_ml))

    def _solution(self, entries: dict[str, str], name: str, library: DrugLibrary) -> dict[str, Quantity]:
        out = {}
        for drug, text in dict(entries).items():
            try:
                unit = library.drug(drug).dose_unit
            except DrugsError as error:
                raise self.session.refuse(f"{name}.drug", drug, error.expected) from None
            try:
                q = parse_quantity(text, CONCENTRATION, f"{name}.{drug}")
            except OpenIDDSError as error:
                raise self.session.refuse(error.field, error.value, error.expected) from None
            if str(q.unit) != f"{unit}/mL":
                raise self.session.refuse(f"{name}.{drug}", text, f"a concentration in {unit}/mL, the library's unit")
            out[drug] = q
        if not out:
            raise self.session.refuse(name, entries, "at least one drug and its concentration")
        return out

    def override(self, finding_id: str, who: str, why: str) -> None:
        self.session.override(finding_id, who, why)

    def confirm(self, who: str) -> None:
        self.session.confirm(who)

    def confirm_checklist(self, who: str, items: tuple[str, ...] | list[str]) -> None:
        """Step 5: each pocket-fill checklist item confirmed by ``who``; all are required."""
        known = dict(CHECKLIST)
        unknown = sorted(set(items) - set(known))
        if unknown:
            raise self.session.refuse("checklist", unknown, f"items of the checklist: {sorted(known)}")
        for item in items:
            self._checklist[item] = who
        self.session.record("checklist", who, ", ".join(sorted(items)))

    def _missing(self) -> str | None:
        if self.discrepancy is None:
            return "withdraw"
        if self.needs_acknowledgement:
            return "acknowledge_discrepancy"
        review = self.session.review
        if review is None or review.fill is None:
            return "fill"
        missing = [item for item, _ in CHECKLIST if item not in self._checklist]
        return f"checklist: {', '.join(missing)}" if missing else None

    def transmit(self) -> RefillRecord:
        """Step 6: send the refill; step 7 starts: the post-refill observation until ``observe_until_s``."""
        if self.session.state is not State.CONFIRMED:
            raise ProgrammerError("session", self.session.state.value, "a confirmed review")
        old_solution = self.session.old_solution
        report = self.session.transmit()
        review, discrepancy, trend = self.session.review, self.discrepancy, self.trend
        # the session's gate (_missing) sent nothing without a withdrawal and a reviewed fill
        assert review is not None and review.fill is not None and discrepancy is not None and trend is not None
        bridge = None
        new = review.fill.solution
        if (old_solution is not None and review.therapy is not None and new.ng_per_ml != old_solution.ng_per_ml
                and review.rows):
            lead = review.rows[0].drug
            bridge = bridge_bolus(self._pump.spec, self._pump.catheter, old_solution, new, review.therapy, lead)
        until = self.at_s + self.session.policy.observation_s
        self.session.record("observation_started", self.nurse,
                            f"observe the patient for overdose signs until t={until} s",
                            {"until_s": until})
        self.record = RefillRecord(report, discrepancy, trend, until, bridge, review)
        return self.record

    def complete_observation(self, at_s: int, who: str, note: str) -> None:
        """Step 7 ends: the observation is signed off, not before its end."""
        if self.record is None:
            raise ProgrammerError("observation", None, "a transmitted refill")
        if at_s < self.record.observe_until_s:
            raise self.session.refuse("observation.at_s", at_s, f"at least {self.record.observe_until_s} s (the end of "
                                      "the observation)")
        self.session.record("observation_completed", who, note, {"at_s": at_s})

    def abandon(self, reason: str) -> None:
        self.session.abandon(reason)


def _text(concentrations: dict[str, Quantity]) -> str:
    return ", ".join(f"{d} {q}" for d, q in sorted(concentrations.items()))

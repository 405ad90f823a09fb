"""A clinician programming session: interrogate, edit, validate, review, confirm, transmit.

The session interrogates the pump when it opens; after that nothing reaches the pump until
:meth:`ProgrammingSession.transmit` sends one command (``SetTherapy``, or ``Refill`` from the refill
workflow), or :meth:`ProgrammingSession.transmit_bolus` a priming or bridge bolus. An abandoned or refused
session leaves the pump as it was after the interrogation. Every step, refusal and confirmation is written
to the session log with who and why.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from enum import Enum
from fractions import Fraction

from openidds.drugs import DrugLibrary, default_library
from openidds.errors import OpenIDDSError
from openidds.programmer.boluses import BolusPlan
from openidds.programmer.conversion import Conversion, plain_decimal
from openidds.programmer.errors import ProgrammerError, SessionRefused
from openidds.programmer.forecast import RefillForecast, Stability, forecast, stability
from openidds.programmer.history import FillRecord, fill_history
from openidds.programmer.orders import TherapyOrder, build_therapy
from openidds.programmer.policy import Policy
from openidds.programmer.present import present_stability
from openidds.programmer.review import DrugRow, Finding, Level, assess
from openidds.pump import (
    CommandRefused,
    Interrogate,
    Pump,
    Refill,
    SetTherapy,
    Snapshot,
    Solution,
    StartBolus,
    Therapy,
)
from openidds.pump.ticks import TICKS_PER_ML, volume_ticks


class State(str, Enum):
    OPEN = "open"
    REVIEWED = "reviewed"
    CONFIRMED = "confirmed"
    TRANSMITTED = "transmitted"
    ABANDONED = "abandoned"


@dataclass(frozen=True, slots=True)
class LogEntry:
    """One line of the session log."""

    at_s: int
    kind: str
    who: str
    reason: str
    data: dict = field(default_factory=dict)

    def to_dict(self) -> dict:
        return {"at_s": self.at_s, "kind": self.kind, "who": self.who, "reason": self.reason, "data": self.data}


@dataclass(frozen=True, slots=True)
class Fill:
    """A refill's new contents: the solution and the volume injected into the reservoir (mL)."""

    solution: Solution
    volume_ml: str


@dataclass(frozen=True, slots=True)
class Review:
    """The finish screen: old and new side by side, every finding, conversion and both refill forecasts."""

    therapy: Therapy | None
    fill: Fill | None
    rows: tuple[DrugRow, ...]
    findings: tuple[Finding, ...]
    conversions: tuple[Conversion, ...]
    old_forecast: RefillForecast | None
    new_forecast: RefillForecast

    @property
    def soft(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.level is Level.SOFT)

    @property
    def relies_on_unverified(self) -> bool:
        return any(f.unverified for f in self.findings) or self.new_forecast.relies_on_unverified

    def to_dict(self) -> dict:
        return {
            "program": describe_therapy(self.therapy),
            "fill": None if self.fill is None else {"solution": self.fill.solution.describe(),
                                                    "volume_ml": self.fill.volume_ml},
            "rows": [r.to_dict() for r in self.rows],
            "conversions": [{"field": c.field, "entered": str(c.entered), "concentration": str(c.concentration),
                             "exact_ml": str(c.exact_ml), "pump_ml": c.pump_text, "rounded": c.rounded,
                             "delivered": str(c.delivered), "text": c.describe()} for c in self.conversions],
            "findings": [f.to_dict() for f in self.findings],
            "old_forecast": None if self.old_forecast is None else self.old_forecast.to_dict(),
            "new_forecast": self.new_forecast.to_dict(),
            "relies_on_unverified": self.relies_on_unverified,
        }


class ProgrammingSession:
    """One session with one pump. Open it with the pump and the time; it interrogates the pump at once."""

    def __init__(self, pump: Pump, at_s: int, clinician: str, *, library: DrugLibrary | None = None,
                 policy: Policy | None = None) -> None:
        _require_text("clinician", clinician)
        self._pump = pump
        self.library = library or default_library()
        self.policy = policy or Policy()
        self.clinician = clinician
        self.snapshot: Snapshot = pump.execute(at_s, Interrogate())
        self.at_s = pump.t_s
        self._seq = len(pump.log)
        self.spec = pump.spec
        self.old_therapy: Therapy | None = self.snapshot.programmed
        self.old_solution: Solution | None = self.snapshot.filled_with
        self.reservoir_ticks = int(self.snapshot.reservoir_ml * TICKS_PER_ML)
        self.fills: tuple[FillRecord, ...]
        self.fills, self.pumped_since_fill_ticks = fill_history(pump.log)
        self.state = State.OPEN
        self.review: Review | None = None
        self.log: list[LogEntry] = []
        self._overrides: dict[str, tuple[str, str]] = {}
        self.gate: Callable[[], str | None] | None = None
        self.sent: Refill | SetTherapy | StartBolus | None = None
        self.record("opened", clinician, f"interrogated: {self.snapshot.therapy}; {self.snapshot.solution}; "
                    f"reservoir {plain_decimal(self.snapshot.reservoir_ml)} mL (estimated)")

    # ------------------------------------------------------------------ log

    def record(self, kind: str, who: str, reason: str, data: dict | None = None) -> LogEntry:
        """Append a line to the session log."""
        entry = LogEntry(self.at_s, kind, who, reason, data or {})
        self.log.append(entry)
        return entry

    def refuse(self, field_name: str, value: object, expected: str, findings: tuple = ()) -> SessionRefused:
        """Log a refusal and return the exception to raise."""
        error = SessionRefused(field_name, value, expected, findings)
        self.record("refused", self.clinician, str(error), {"field": field_name, "findings": [
            f.to_dict() for f in findings]})
        return error

    # ------------------------------------------------------------------ steps

    def current_stability(self) -> Stability:
        """The stability date of what is in the reservoir now."""
        return present_stability(self.old_solution, self.fills, self.library)

    def edit(self, order: TherapyOrder | None, fill: Fill | None = None) -> Review:
        """Validate a new therapy (``None`` keeps the present one) and, for a refill, the new contents.

        Hard findings refuse the edit (logged); the review lists what needs confirmation.
        """
        self._require(State.OPEN, State.REVIEWED)
        self.review, self.state = None, State.OPEN
        self._overrides.clear()
        try:
            review = self._plan(order, fill)
        except SessionRefused:
            raise
        except OpenIDDSError as error:
            raise self.refuse(error.field, error.value, error.expected) from None
        hard = tuple(f for f in review.findings if f.level is Level.HARD)
        if hard:
            first = hard[0]
            raise self.refuse(first.field, first.value, f"{first.expected} ({first.reason})", hard)
        self.review = review
        self.state = State.REVIEWED
        self.record("reviewed", self.clinician, describe_therapy(review.therapy), {
            "soft": [f.id for f in review.soft], "unverified": review.relies_on_unverified})
        return review

    def _plan(self, order: TherapyOrder | None, fill: Fill | None) -> Review:
        solution = fill.solution if fill is not None else self.old_solution
        if solution is None:
            raise self.refuse("solution", None, "a filled pump: refill before programming")
        conversions: tuple[Conversion, ...] = ()
        if order is None:
            if self.old_therapy is None and fill is None:
                raise self.refuse("therapy", None, "a therapy to program (the pump has none)")
            before = self.old_solution
            if self.old_therapy is not None and before is not None and solution.ng_per_ml != before.ng_per_ml:
                raise self.refuse("therapy", "unchanged", "a new dose entry: the concentration changes, so the "
                                  "rates must be computed again")
            therapy = self.old_therapy
        else:
            built = build_therapy(order, solution, self.library.drug(order.drug), self.spec.model.min_rate_ml_per_day,
                                  self.spec.clock_origin_s_of_week)
            therapy, conversions = built.therapy, built.conversions
        rows, findings = assess(therapy, solution, self.spec, self.library, self.policy,
                                self.old_therapy, self.old_solution)
        accuracy = self.policy.accuracy(self.spec)
        now = self.current_stability()
        old = forecast(self.spec, self.old_therapy, self.reservoir_ticks, self.at_s, stability=now, accuracy=accuracy)
        if fill is None:
            new = forecast(self.spec, therapy, self.reservoir_ticks, self.at_s, stability=now, accuracy=accuracy)
        else:
            fill_ticks = volume_ticks("fill.volume_ml", fill.volume_ml, lo="0.000001")
            room = self.spec.capacity_ticks - self.spec.residual_ticks
            if fill_ticks > room:
                raise self.refuse("fill.volume_ml", fill.volume_ml,
                                  f"at most {plain_decimal(Fraction(room, TICKS_PER_ML))} mL: a "
                                  f"{self.spec.reservoir_ml} mL reservoir keeps {self.spec.model.residual_ml} mL "
                                  "that cannot be withdrawn")
            held = set(self.old_solution.drugs) if self.old_solution is not None else set()
            fresh = stability(fill.solution, self.library, self.at_s, frozenset(set(fill.solution.drugs) - held))
            new = forecast(self.spec, therapy, self.spec.residual_ticks + fill_ticks, self.at_s, stability=fresh,
                           accuracy=accuracy)
        return Review(therapy, fill, rows, findings, conversions, old if self.old_therapy is not None else None, new)

    def override(self, finding_id: str, who: str, why: str) -> None:
        """Confirm one soft finding of the review, recording who and why."""
        review = self._reviewed(State.REVIEWED)
        _require_text("who", who)
        _require_text("why", why)
        pending = {f.id: f for f in review.soft}
        if finding_id not in pending:
            raise self.refuse("override", finding_id, f"a soft finding of this review: {sorted(pending) or 'none'}")
        self._overrides[finding_id] = (who, why)
        self.record("override", who, why, {"finding": pending[finding_id].to_dict()})

    def confirm(self, who: str) -> None:
        """The clinician confirms the review; every soft finding must have been confirmed first."""
        review = self._reviewed(State.REVIEWED)
        _require_text("who", who)
        missing = tuple(f for f in review.soft if f.id not in self._overrides)
        if missing:
            raise self.refuse("override", [f.id for f in missing], "a confirmation (who and why) of every soft "
                              "finding", missing)
        self.state = State.CONFIRMED
        self.record("confirmed", who, "review confirmed", {"overrides": sorted(self._overrides)})

    def transmit(self):
        """Send the one command to the pump; returns the pump's answer (a log event or a RefillReport)."""
        review = self._reviewed(State.CONFIRMED)
        pump = self._pump
        if pump.t_s != self.at_s or len(pump.log) != self._seq:
            raise self.refuse("pump", "changed since the interrogation", "an unchanged pump: interrogate again")
        if self.gate is not None:
            missing = self.gate()
            if missing:
                raise self.refuse("workflow", missing, "every step of the workflow done before transmit")
        command: Refill | SetTherapy
        if review.fill is not None:
            command = Refill(review.fill.solution, review.fill.volume_ml,
                             therapy=None if review.therapy is self.old_therapy else review.therapy)
        else:
            assert review.therapy is not None, "a review without a fill always holds a therapy (_plan refuses)"
            command = SetTherapy(review.therapy)
        try:
            answer = pump.execute(self.at_s, command)
        except CommandRefused as error:
            self.record("pump_refused", self.clinician, str(error))
            raise
        self.state = State.TRANSMITTED
        self.sent = command
        self.record("transmitted", self.clinician, type(command).__name__ + ": " + describe_therapy(review.therapy))
        return answer

    def transmit_bolus(self, plan: BolusPlan) -> None:
        """Send a priming or bridge bolus the clinician has seen and confirmed (instead of a therapy).

        An infeasible plan is refused (logged) with the reasons it cannot be given.
        """
        self._require(State.OPEN)
        if not plan.feasible:
            raise self.refuse("bolus", plan.kind.value, "a bolus the pump can give: " + "; ".join(plan.reasons))
        command = plan.command()
        try:
            self._pump.execute(self.at_s, command)
        except CommandRefused as error:
            self.record("pump_refused", self.clinician, str(error))
            raise
        self.state = State.TRANSMITTED
        self.sent = command
        self.record("transmitted", self.clinician, f"{plan.kind.value} bolus: {'; '.join(plan.reasons)}",
                    {"bolus": plan.to_dict()})

    def abandon(self, reason: str) -> None:
        """End the session without sending anything."""
        _require_text("reason", reason)
        if self.state in (State.TRANSMITTED, State.ABANDONED):
            raise ProgrammerError("session", self.state.value, "an open session")
        self.state = State.ABANDONED
        self.record("abandoned", self.clinician, reason)

    def _require(self, *states: State) -> None:
        if self.state not in states:
            wanted = " or ".join(s.value for s in states)
            raise ProgrammerError("session", self.state.value, f"a session that is {wanted}")

    def _reviewed(self, state: State) -> Review:
        """The review of a session that must be in ``state`` (reviewed or confirmed, so it holds one)."""
        self._require(state)
        assert self.review is not None, "edit() sets the review whenever the session becomes reviewed"
        return self.review


def describe_therapy(therapy: Therapy | None) -> str:
    """The program in words, or 'not programmed'."""
    return "not programmed" if therapy is None else therapy.program.describe()


def _require_text(field_name: str, value: object) -> None:
    if not isinstance(value, str) or not value.strip():
        raise ProgrammerError(field_name, value, "a non-empty text")

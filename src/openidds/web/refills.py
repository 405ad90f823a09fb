"""The refill page: the programmer's :class:`~openidds.programmer.RefillWorkflow` on a patient's stored pump.

Every step is the workflow's own: the residual withdrawn and measured against the pump's expected residual (the
discrepancy rule and the trend across the pump's refills), the acknowledgement a flagged discrepancy needs, the
new solution with every concentration entered twice and checked against the prescription and the library, the
review of the therapy it keeps (each soft finding overridden with who and why), the pocket-fill checklist, the
one ``Refill`` sent, and the post-refill observation. A check runs the steps on a replayed copy of the pump and
stores nothing; a completed refill writes the state row and the registry's ``refills`` row in one transaction.
The observation is signed off once it has run its course (a session log line in the stored state).

A refill that changes the program (a new concentration, drug or admixture needs the dose entered again: the
programmer's rule) is a programming change: completing it stores a proposal of the kind ``refill`` (every step
checked, nothing sent), which the programming review shows and a physician confirms (the new concentration
entered again, a reason for each soft finding); only then does the workflow run on the stored pump and send one
``Refill`` with the new program (:func:`confirm_refill`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import Any

from pydantic import Field
from sqlalchemy import Engine, select

from openidds.clinic import models, rules
from openidds.clinic.database import sessions, unit_of_work
from openidds.clinic.discrepancies import pump_discrepancies
from openidds.clinic.errors import UnknownRecord
from openidds.clinic.pump_states import (
    StoredState,
    locked_state,
    no_state,
    patient_implant,
    save_state,
    stored_state,
)
from openidds.drugs import DrugLibrary
from openidds.errors import OpenIDDSError
from openidds.programmer import (
    CHECKLIST,
    LogEntry,
    Policy,
    Prescription,
    ProgrammerError,
    PumpState,
    RefillWorkflow,
    Review,
    concentration,
    discrepancy_threshold,
    dose_unit,
)
from openidds.pump import Solution
from openidds.pump.ticks import decimal_text, ticks_to_ml
from openidds.units import CONCENTRATION, Quantity, parse_quantity
from openidds.web.accounts import SessionUser
from openidds.web.errors import StaleEdit
from openidds.web.forms import InputModel
from openidds.web.orders import OrderInput, check_concentration, lead_drug, order_error, therapy_order
from openidds.web.proposals import ProposalKind, store_proposal
from openidds.web.pump_view import FormError, PumpNow, pump_at, pump_now, review_dict, when
from openidds.web.roles import Permission, require

SOURCE = "openidds web: refill"
OBSERVATION_STARTED = "observation_started"
OBSERVATION_COMPLETED = "observation_completed"


class RefillInput(InputModel):
    """A refill as entered: the state version the page showed, the residual measured, the acknowledgement of a
    flagged discrepancy, the prescription, each drug's concentration twice, the volume, the checklist items done
    and a reason for each soft finding."""

    state_version: int
    withdrawn_ml: str = Field(description="The residual withdrawn and measured (mL).")
    acknowledgement: str = Field("", max_length=500, description="What was found about a flagged discrepancy.")
    prescriber: str
    prescribed: dict[str, str] = Field(description="Drug -> prescribed concentration, e.g. {'morphine': '10 mg/mL'}.")
    concentration: dict[str, str] = Field(description="Drug -> the concentration on the syringe.")
    concentration_again: dict[str, str] = Field(description="The same, entered again.")
    volume_ml: str = Field(description="The volume injected into the reservoir (mL).")
    checklist: list[str] = Field(default_factory=list, description="The pocket-fill checklist items done.")
    overrides: dict[str, str] = Field(default_factory=dict, description="Soft finding id -> why it is accepted.")
    therapy: OrderInput | None = Field(None, description="The program with the new fill, its dose entered again "
                                       "(needed when a concentration changes): the refill is then proposed for a "
                                       "physician's confirmation.")


REFILL_FIELDS = ("state_version", "withdrawn_ml", "acknowledgement", "prescriber", "prescribed", "prescription",
                 "concentration", "concentration_again", "volume_ml", "fill", "checklist", "override", "overrides",
                 "therapy")
THERAPY_PREFIX = "therapy."


def refill_error(error: OpenIDDSError, entry: RefillInput | None) -> FormError:
    """A refusal of a refill placed at its form field (the new program's fields prefixed ``therapy.``)."""
    return order_error(error, None if entry is None else entry.therapy, REFILL_FIELDS, THERAPY_PREFIX)


@dataclass(frozen=True)
class HistoryItem:
    """One refill of the patient in the registry with its residual discrepancy and the limit it is judged by."""

    refilled_at: dt.datetime
    expected_ml: float | None
    withdrawn_ml: float | None
    discrepancy_ml: float | None
    limit_ml: float
    flagged: bool

    def to_dict(self) -> dict[str, Any]:
        return {"refilled_at": self.refilled_at.isoformat(timespec="minutes"), "expected_ml": self.expected_ml,
                "withdrawn_ml": self.withdrawn_ml, "discrepancy_ml": self.discrepancy_ml, "limit_ml": self.limit_ml,
                "flagged": self.flagged}


@dataclass(frozen=True)
class Observation:
    """The post-refill observation of the last refill: until when, and whether it has been signed off."""

    until: str
    due: bool
    completed_by: str | None

    def to_dict(self) -> dict[str, Any]:
        return {"until": self.until, "due": self.due, "completed_by": self.completed_by}


@dataclass(frozen=True)
class RefillView:
    """The refill page: the pump now, the expected residual and the discrepancy threshold, the patient's
    discrepancy history, the pocket-fill checklist, and the observation of the last refill."""

    site: str
    patient_id: str
    pump: PumpNow | None
    expected_ml: str | None
    threshold: str | None
    drugs: list[dict[str, str]]
    history: list[HistoryItem]
    checklist: tuple[tuple[str, str], ...]
    observation: Observation | None

    def to_dict(self) -> dict[str, Any]:
        return {"site": self.site, "patient_id": self.patient_id,
                "pump": None if self.pump is None else self.pump.to_dict(), "expected_ml": self.expected_ml,
                "threshold": self.threshold, "drugs": self.drugs, "history": [h.to_dict() for h in self.history],
                "checklist": [{"id": i, "text": t} for i, t in self.checklist],
                "observation": None if self.observation is None else self.observation.to_dict()}


def _history(session: Any, patient_id_db: int) -> list[HistoryItem]:
    m = models
    rows = session.execute(select(m.Refill, m.Implant.reservoir_ml).join(m.Implant)
                           .where(m.Implant.patient_id == patient_id_db).order_by(m.Refill.refilled_at)).all()
    judged = pump_discrepancies([refill for refill, _ in rows], {refill.implant_id: ml for refill, ml in rows})
    out = []
    for refill, reservoir_ml in rows:
        d = judged.get(refill.id)
        limit = rules.refill_discrepancy_limit(reservoir_ml) if d is None else d.limit_ml
        out.append(HistoryItem(refill.refilled_at, refill.expected_residual_ml, refill.withdrawn_residual_ml,
                               None if d is None else d.discrepancy_ml, limit, d is not None and d.flagged))
    return out


def _observation(state: PumpState, now: dt.datetime) -> Observation | None:
    """The observation started by the last refill, if any (its end, whether it is over, who signed it off)."""
    started = [i for i, line in enumerate(state.sessions) if line.get("kind") == OBSERVATION_STARTED]
    if not started:
        return None
    line = state.sessions[started[-1]]
    until_s = int(line["data"]["until_s"])
    completed = [s for s in state.sessions[started[-1]:] if s.get("kind") == OBSERVATION_COMPLETED]
    return Observation(when(state, until_s) or "", state.when(until_s) <= now,
                       completed[0]["who"] if completed else None)


def refill_view(engine: Engine, user: SessionUser, site: str, patient_id: str, now: dt.datetime, policy: Policy,
                library: DrugLibrary) -> RefillView:
    """The refill page of the patient's pump in place, for ``user``."""
    require(user.role, Permission.VIEW_PUMP)
    with sessions(engine)() as session:
        implant = patient_implant(session, site, patient_id)
        stored = stored_state(session, implant)
        history = _history(session, implant.patient_id)
    if stored is None:
        return RefillView(site, patient_id, None, None, None, [], history, CHECKLIST, None)
    pump, at_s = pump_at(stored.state, now)
    solution = pump.solution
    expected, threshold, drugs = None, None, []
    if solution is not None:
        same = Prescription({d: Quantity(solution.mg_per_ml(d), "mg/mL") for d in solution.drugs}, "the present fill")
        workflow = RefillWorkflow(pump, at_s, user.name, same, library=library, policy=policy)
        pumped = ticks_to_ml(workflow.session.pumped_since_fill_ticks)
        limit, basis = discrepancy_threshold(pump.spec.reservoir_ml, pumped, workflow.accuracy)
        expected, threshold = decimal_text(workflow.expected_ml, 3), f"{decimal_text(limit, 3)} mL ({basis})"
        drugs = [{"drug": d, "concentration": str(concentration(solution, d, dose_unit(library, d)))}
                 for d in solution.drugs]
    return RefillView(site, patient_id, pump_now(stored, now, policy, library), expected, threshold, drugs, history,
                      CHECKLIST, _observation(stored.state, now))


@dataclass
class RefillResult:
    """What a refill check or completion found: the discrepancy and trend, whether either is flagged (then an
    acknowledgement is needed), the review, the checklist items still open, the refusal (at its form field) and,
    once done, the observation's end; a refill that changes the program, once proposed, its proposal."""

    discrepancy: dict[str, Any] | None = None
    trend: dict[str, Any] | None = None
    flagged: bool = False
    review: dict[str, Any] | None = None
    missing_checklist: list[str] = field(default_factory=list)
    error: FormError | None = None
    done: bool = False
    observe_until: str | None = None
    state_version: int | None = None
    proposal_id: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"discrepancy": self.discrepancy, "trend": self.trend,
                "flagged": self.flagged, "review": self.review,
                "missing_checklist": self.missing_checklist,
                "error": None if self.error is None else self.error.to_dict(), "done": self.done,
                "observe_until": self.observe_until, "state_version": self.state_version,
                "proposal_id": self.proposal_id}


def _steps(stored: StoredState, entry: RefillInput, nurse: str, now: dt.datetime, policy: Policy,
           library: DrugLibrary, result: RefillResult) -> RefillWorkflow:
    """The workflow's steps up to the review of the new fill, done by ``nurse``, recording what they found in
    ``result``."""
    state = stored.state
    pump, at_s = pump_at(state, now)
    prescribed = {drug: parse_quantity(text, CONCENTRATION, f"prescribed.{drug}")
                  for drug, text in entry.prescribed.items()}
    workflow = RefillWorkflow(pump, at_s, nurse, Prescription(prescribed, entry.prescriber), library=library,
                              policy=policy)
    discrepancy = workflow.withdraw(entry.withdrawn_ml)
    assert workflow.trend is not None, "a withdrawal sets the trend"
    result.discrepancy, result.trend = discrepancy.to_dict(), workflow.trend.to_dict()
    result.flagged = workflow.flagged
    if workflow.needs_acknowledgement and entry.acknowledgement:
        workflow.acknowledge_discrepancy(nurse, entry.acknowledgement)
    if workflow.needs_acknowledgement:
        raise ProgrammerError("acknowledgement", "", "what was found about the flagged discrepancy (recorded with "
                              f"your name): {discrepancy.suggests or 'the discrepancy trend across refills'}")
    order = None
    if entry.therapy is not None and entry.concentration:
        order = therapy_order(entry.therapy, pump, tuple(entry.concentration), library)
    review = workflow.fill(entry.concentration, entry.concentration_again, entry.volume_ml, order)
    result.review = review_dict(state, review)
    known = [item for item, _ in CHECKLIST]
    result.missing_checklist = [item for item in known if item not in entry.checklist]
    return workflow


def _override(workflow: RefillWorkflow, overrides: dict[str, str], who: str) -> None:
    for finding_id, why in overrides.items():
        if why:
            workflow.override(finding_id, who, why)


def _nurse_overrides(workflow: RefillWorkflow, entry: RefillInput, who: str) -> None:
    """The refilling nurse's reasons for the soft findings; with a new program they are the confirming
    physician's, so a reason given is refused."""
    if entry.therapy is None:
        _override(workflow, entry.overrides, who)
    elif any(entry.overrides.values()):
        raise ProgrammerError("overrides", sorted(entry.overrides), "no reason from the proposer: the physician "
                              "who confirms the new program accepts each soft finding")


def _require_checklist(result: RefillResult) -> None:
    if result.missing_checklist:
        raise ProgrammerError("checklist", result.missing_checklist, "every pocket-fill checklist item done and "
                              "ticked")


def check_refill(engine: Engine, user: SessionUser, site: str, patient_id: str, entry: RefillInput,
                 now: dt.datetime, policy: Policy, library: DrugLibrary) -> RefillResult:
    """The refill's steps on a replayed copy of the pump, storing nothing: what each found, or where it stopped."""
    require(user.role, Permission.REFILL)
    result = RefillResult()
    with sessions(engine)() as session:
        stored = _current(session, site, patient_id, entry.state_version)
    result.state_version = stored.version
    try:
        _nurse_overrides(_steps(stored, entry, user.name, now, policy, library, result), entry, user.name)
    except OpenIDDSError as error:
        result.error = refill_error(error, entry)
    return result


def complete_refill(engine: Engine, user: SessionUser, site: str, patient_id: str, entry: RefillInput,
                    now: dt.datetime, policy: Policy, library: DrugLibrary) -> RefillResult:
    """Do the whole refill and store it: the state row (the ``Refill`` sent, the session log) and the registry's
    ``refills`` row, in one transaction; a refusal at any step stores nothing and is returned at its field. A
    refill with a new program is stored as a proposal instead (:func:`propose_refill`)."""
    require(user.role, Permission.REFILL)
    if entry.therapy is not None:
        return propose_refill(engine, user, site, patient_id, entry, now, policy, library)
    result = RefillResult()
    try:
        with unit_of_work(engine, user.name, source=SOURCE, clock=lambda: now) as session:
            implant = patient_implant(session, site, patient_id)
            row, stored = locked_state(session, implant)
            _require_version(stored, entry.state_version)
            workflow = _steps(stored, entry, user.name, now, policy, library, result)
            _nurse_overrides(workflow, entry, user.name)
            _require_checklist(result)
            workflow.confirm_checklist(user.name, entry.checklist)
            workflow.confirm(user.name)
            record = workflow.transmit()
            state = stored.state.with_programmer(workflow.session, f"refill by {user.name}")
            save_state(session, row, state)
            session.add(_refill_row(implant.id, now, state, record, entry))
            session.flush()
            result.done, result.state_version = True, row.version
            result.observe_until = when(state, record.observe_until_s)
    except (StaleEdit, UnknownRecord):
        raise
    except OpenIDDSError as error:
        result.error = refill_error(error, entry)
        result.done = False
    return result


def propose_refill(engine: Engine, user: SessionUser, site: str, patient_id: str, entry: RefillInput,
                   now: dt.datetime, policy: Policy, library: DrugLibrary) -> RefillResult:
    """Store a refill that changes the program as a proposal of the kind ``refill``, once every step up to the
    review passes on a copy of the pump (no hard finding, the checklist ticked); nothing reaches the pump model.
    The soft findings are the confirming physician's to accept, so the proposer gives no reason for them."""
    require(user.role, Permission.REFILL)
    require(user.role, Permission.PROPOSE_PROGRAM)
    result = RefillResult()
    try:
        with unit_of_work(engine, user.name, source=SOURCE, clock=lambda: now) as session:
            implant = patient_implant(session, site, patient_id)
            _, stored = locked_state(session, implant)
            _require_version(stored, entry.state_version)
            _nurse_overrides(_steps(stored, entry, user.name, now, policy, library, result), entry, user.name)
            _require_checklist(result)
            result.proposal_id = store_proposal(session, implant.id, stored.version, ProposalKind.REFILL,
                                                entry.model_dump(mode="json"), user.name, now)
            result.state_version = stored.version
    except (StaleEdit, UnknownRecord):
        raise
    except OpenIDDSError as error:
        result.error = refill_error(error, entry)
    return result


def refill_review(stored: StoredState, entry: RefillInput, proposer: str, now: dt.datetime, policy: Policy,
                  library: DrugLibrary) -> dict[str, Any]:
    """The review of a proposed refill on a copy of the stored pump at ``now`` (nothing is stored)."""
    result = RefillResult()
    _steps(stored, entry, proposer, now, policy, library, result)
    assert result.review is not None, "the steps end with the review"
    return result.review


@dataclass(frozen=True)
class RefillConfirmation:
    """A physician's confirmation of a proposed refill: who proposed and who confirms, the lead drug's new
    concentration entered again, a reason for each soft finding, and what the proposal said (for the log)."""

    proposer: str
    confirmer: str
    concentration_again: str
    overrides: dict[str, str]
    proposed: dict[str, Any]


def confirm_refill(session: Any, implant_id: int, stored: StoredState, entry: RefillInput,
                   confirmation: RefillConfirmation, now: dt.datetime, policy: Policy, library: DrugLibrary
                   ) -> tuple[PumpState, Review, Solution]:
    """Run the proposed refill on the stored pump at ``now`` and send it: the proposer's steps (withdrawal,
    acknowledgement, fill, checklist), the confirmer's second entry of the new concentration, overrides and
    confirmation. Adds the registry's ``refills`` row to ``session``; returns the state to store, the review sent
    and the new solution. Any refusal raises (the caller's transaction writes nothing)."""
    result = RefillResult()
    workflow = _steps(stored, entry, confirmation.proposer, now, policy, library, result)
    assert entry.therapy is not None and result.review is not None, "a refill proposal holds its new program"
    review = workflow.session.review
    assert review is not None and review.fill is not None, "the steps end with the review of the fill"
    solution = review.fill.solution
    check_concentration("concentration_again", confirmation.concentration_again, solution,
                        lead_drug(entry.therapy, solution.drugs), library, "of the new fill")
    workflow.session.record("proposed", confirmation.proposer, "refill with a new program proposed",
                            confirmation.proposed)
    _override(workflow, confirmation.overrides, confirmation.confirmer)
    _require_checklist(result)
    workflow.confirm_checklist(confirmation.proposer, entry.checklist)
    workflow.confirm(confirmation.confirmer)
    record = workflow.transmit()
    state = stored.state.with_programmer(workflow.session, f"refill by {confirmation.proposer}, new program "
                                         f"confirmed by {confirmation.confirmer}")
    session.add(_refill_row(implant_id, now, state, record, entry))
    return state, record.review, solution


def _refill_row(implant_id: int, now: dt.datetime, state: PumpState, record: Any, entry: RefillInput) -> models.Refill:
    discrepancy = record.discrepancy
    fill = record.review.fill
    lead = fill.solution.drugs[0]
    due = record.review.new_forecast.due_s
    expected, withdrawn = round(float(discrepancy.expected_ml), 6), round(float(discrepancy.withdrawn_ml), 6)
    return models.Refill(implant_id=implant_id, refilled_at=now, drug=lead,
                         concentration_mg_per_ml=float(fill.solution.mg_per_ml(lead)),
                         volume_added_ml=float(fill.volume_ml), expected_residual_ml=expected,
                         withdrawn_residual_ml=withdrawn, discrepancy_ml=round(withdrawn - expected, 6),
                         next_refill_due=None if due is None else state.when(due).date())


def _current(session: Any, site: str, patient_id: str, version: int) -> StoredState:
    implant = patient_implant(session, site, patient_id)
    stored = stored_state(session, implant)
    if stored is None:
        raise no_state(implant)
    _require_version(stored, version)
    return stored


def _require_version(stored: StoredState, version: int) -> None:
    if stored.version != version:
        raise StaleEdit("state_version", version, f"the pump state as the page showed it: changed by "
                        f"{stored.updated_by} at {stored.updated_at:%Y-%m-%d %H:%M}, reload")


def complete_observation(engine: Engine, user: SessionUser, site: str, patient_id: str, state_version: int,
                         note: str, now: dt.datetime) -> None:
    """Sign off the last refill's post-refill observation, not before its end (a session log line)."""
    require(user.role, Permission.REFILL)
    if not note.strip():
        raise ProgrammerError("note", note, "what was observed (e.g. 'no signs of overdose')")
    with unit_of_work(engine, user.name, source=SOURCE, clock=lambda: now) as session:
        implant = patient_implant(session, site, patient_id)
        row, stored = locked_state(session, implant)
        _require_version(stored, state_version)
        state = stored.state
        observation = _observation(state, now)
        if observation is None or observation.completed_by is not None:
            raise ProgrammerError("observation", None, "a refill whose observation is not signed off yet")
        if not observation.due:
            raise ProgrammerError("observation", now.isoformat(timespec="minutes"),
                                  f"at or after {observation.until}, the end of the observation")
        at_s = state.seconds(now.replace(microsecond=0), "now")
        line = LogEntry(at_s, OBSERVATION_COMPLETED, user.name, note.strip(), {"at_s": at_s}).to_dict()
        save_state(session, row, state.with_session([line | {"session": f"{user.name}@{at_s}"}]))

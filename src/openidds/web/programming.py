"""The programming review: a therapy change proposed for a patient's pump, reviewed beside the present program by
the programmer's own session, and confirmed by a clinician (a second one where the clinic's policy asks).

A proposal stores the order as entered and the pump state version it was made against; nothing reaches the pump
model then. At the confirmation the programmer's :class:`~openidds.programmer.ProgrammingSession` runs on the
stored pump advanced to that moment: the order is edited and checked again, each soft finding overridden with
the confirmer's name and reason, the review confirmed and the ``SetTherapy`` transmitted (the session log names
the proposer and the confirmer); in the same transaction the state row is updated with the session's journal
entry and log, a ``programs`` row written per drug, and the proposal closed. A state changed since the proposal
(another refill or program) refuses the confirmation (HTTP 409); any refusal writes nothing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import Enum
from typing import Any

from pydantic import Field
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openidds.clinic import models
from openidds.clinic.database import sessions, unit_of_work
from openidds.clinic.errors import UnknownRecord
from openidds.clinic.pump_states import locked_state, patient_implant, save_state, stored_state
from openidds.drugs import DrugLibrary
from openidds.errors import OpenIDDSError
from openidds.programmer import (
    BolusOrder,
    ContinuousDose,
    Policy,
    ProgrammerError,
    ProgrammingSession,
    PumpState,
    Review,
    StoppedDose,
    TherapyOrder,
    concentration,
    dose_unit,
    present_bolus_order,
)
from openidds.programmer.orders import DoseProgram, dose
from openidds.pump import Continuous, Flex, Pump
from openidds.units import CONCENTRATION, MASS, parse_quantity
from openidds.web.accounts import SessionUser
from openidds.web.errors import Forbidden, StaleEdit
from openidds.web.forms import InputModel
from openidds.web.pump_view import FormError, PumpNow, forecast_dict, form_error, pump_at, pump_now, when
from openidds.web.roles import Permission, may, require

SOURCE = "openidds web: programming review"
LOG_LINES = 20
"""How many of the pump's latest session log lines the programming review shows."""


class ProposalStatus(str, Enum):
    OPEN = "open"
    CONFIRMED = "confirmed"
    WITHDRAWN = "withdrawn"


class BolusChoice(str, Enum):
    """The patient bolus of the new therapy: the present one kept, a new one, or none."""

    KEEP = "keep"
    SET = "set"
    NONE = "none"


class ProposalInput(InputModel):
    """A therapy change as entered: the lead drug's daily dose (or stop), the patient bolus, and the lead drug's
    concentration read off the pump (the first of the double entry; the confirmer enters it again)."""

    drug: str | None = Field(None, description="The drug whose dose sets the rate (default: the only drug).")
    dose: str = Field("", description="Daily dose in the drug's dose unit, e.g. '3 mg/day' (empty with stop).")
    stop: bool = False
    bolus: BolusChoice = BolusChoice.KEEP
    bolus_dose: str = Field("", description="Patient bolus dose, e.g. '0.3 mg' (with bolus=set).")
    bolus_duration_min: int = Field(10, ge=1, le=1440)
    lockout_min: int = Field(120, ge=0, le=1440)
    max_boluses: int = Field(4, ge=1, le=48)
    concentration: str = Field(description="The lead drug's concentration in the pump, e.g. '10 mg/mL'.")
    note: str = Field("", max_length=500, description="Why the change (shown to the confirmer).")


class ConfirmInput(InputModel):
    """The confirmer's part: the concentration entered again, and a reason for each soft finding."""

    concentration_again: str
    overrides: dict[str, str] = Field(default_factory=dict, description="Soft finding id -> why it is accepted.")


PROPOSAL_FIELDS = ("drug", "dose", "stop", "bolus", "bolus_dose", "bolus_duration_min", "lockout_min", "max_boluses",
                   "concentration", "note")
CONFIRM_FIELDS = ("concentration_again", "overrides")


# ---------------------------------------------------------------------- the order


def _lead_drug(entry: ProposalInput, pump: Pump) -> str:
    solution = pump.solution
    if solution is None:
        raise ProgrammerError("drug", entry.drug, "a filled pump: refill it before programming")
    if entry.drug is None:
        if len(solution.drugs) != 1:
            raise ProgrammerError("drug", None, "the drug whose dose sets the rate: one of "
                                  + ", ".join(solution.drugs))
        return solution.drugs[0]
    if entry.drug not in solution.drugs:
        raise ProgrammerError("drug", entry.drug, f"a drug in the pump: {', '.join(solution.drugs)}")
    return entry.drug


def check_concentration(field: str, text: str, pump: Pump, drug: str, library: DrugLibrary) -> None:
    """A concentration entered by hand must be the one in the pump, in the library's unit for the drug."""
    assert pump.solution is not None, "the lead drug is only found in a filled pump"
    unit = f"{dose_unit(library, drug)}/mL"
    held = concentration(pump.solution, drug, dose_unit(library, drug))
    entered = parse_quantity(text, CONCENTRATION, field)
    if str(entered.unit) != unit or entered.magnitude(unit) != held.magnitude(unit):
        raise ProgrammerError(field, text, f"the {drug} concentration in the pump, {held} (in {unit}, the library's "
                              "unit): check the pump and the order")


def therapy_order(entry: ProposalInput, pump: Pump, library: DrugLibrary) -> TherapyOrder:
    """The programmer's order for the entry on this pump (the present patient bolus kept when asked)."""
    drug = _lead_drug(entry, pump)
    program: DoseProgram
    if entry.stop:
        if entry.dose:
            raise ProgrammerError("dose", entry.dose, "no dose with stop (or untick stop)")
        program = StoppedDose()
    else:
        if not entry.dose:
            raise ProgrammerError("dose", entry.dose, f"a daily dose such as '3 {dose_unit(library, drug)}/day'")
        program = ContinuousDose(dose(entry.dose, "dose"))
    patient: BolusOrder | None = None
    if entry.bolus is BolusChoice.SET:
        patient = BolusOrder(dose(entry.bolus_dose, "bolus_dose", MASS), entry.bolus_duration_min * 60,
                             entry.lockout_min * 60, entry.max_boluses)
    elif entry.bolus is BolusChoice.KEEP:
        patient = present_bolus_order(pump, drug, library)
    return TherapyOrder(drug, program, patient)


# ---------------------------------------------------------------------- views


@dataclass(frozen=True)
class ProposalView:
    """An open proposal as the clinic sees it now: its review against the pump at this moment, or the refusal
    the programmer would give now; ``stale`` when the pump state changed since it was made."""

    id: int
    proposed_by: str
    proposed_at: dt.datetime
    state_version: int
    entry: ProposalInput
    stale: bool
    review: dict[str, Any] | None
    refusal: FormError | None
    may_confirm: bool
    confirm_refusal: str | None
    may_withdraw: bool

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "proposed_by": self.proposed_by,
                "proposed_at": self.proposed_at.isoformat(timespec="seconds"), "state_version": self.state_version,
                "order": self.entry.model_dump(mode="json"), "stale": self.stale, "review": self.review,
                "refusal": None if self.refusal is None else self.refusal.to_dict(), "may_confirm": self.may_confirm,
                "confirm_refusal": self.confirm_refusal, "may_withdraw": self.may_withdraw}


@dataclass(frozen=True)
class ProgrammingView:
    """The programming review of a patient's pump: the pump now and every open proposal."""

    site: str
    patient_id: str
    implant_date: dt.date
    pump: PumpNow | None
    proposals: list[ProposalView]
    may_propose: bool
    log: list[dict[str, Any]]

    def to_dict(self) -> dict[str, Any]:
        return {"site": self.site, "patient_id": self.patient_id, "implant_date": self.implant_date.isoformat(),
                "pump": None if self.pump is None else self.pump.to_dict(),
                "proposals": [p.to_dict() for p in self.proposals], "may_propose": self.may_propose,
                "log": self.log}


def review_dict(state: PumpState, review: Review) -> dict[str, Any]:
    """A review with its forecasts' times as date-times."""
    out = review.to_dict()
    out["old_forecast"] = None if review.old_forecast is None else forecast_dict(state, review.old_forecast)
    out["new_forecast"] = forecast_dict(state, review.new_forecast)
    return out


def _review(state: PumpState, entry: ProposalInput, now: dt.datetime, who: str, policy: Policy,
            library: DrugLibrary) -> Review:
    """The programmer's review of the entry on the stored pump at ``now`` (a replayed copy: nothing is stored)."""
    pump, at_s = pump_at(state, now)
    order = therapy_order(entry, pump, library)
    check_concentration("concentration", entry.concentration, pump, order.drug, library)
    session = ProgrammingSession(pump, at_s, who, library=library, policy=policy)
    return session.edit(order)


def _confirm_refusal(user: SessionUser, proposed_by: str, policy: Policy) -> str | None:
    """Why ``user`` may not confirm a proposal of ``proposed_by`` (None: they may)."""
    if not may(user.role, Permission.CONFIRM_PROGRAM):
        return f"a {user.role.value} may not confirm a program change (a physician confirms)"
    if policy.second_clinician and user.name == proposed_by:
        return "the clinic's policy asks for a second clinician: the proposer may not confirm their own proposal"
    return None


def programming_view(engine: Engine, user: SessionUser, site: str, patient_id: str, now: dt.datetime,
                     policy: Policy, library: DrugLibrary) -> ProgrammingView:
    """The programming review of the patient's pump in place, for ``user``."""
    require(user.role, Permission.VIEW_PUMP)
    with sessions(engine)() as session:
        implant = patient_implant(session, site, patient_id)
        stored = stored_state(session, implant)
        rows = [] if stored is None else list(session.scalars(
            select(models.ProgramProposal).where(models.ProgramProposal.implant_id == implant.id,
                                                 models.ProgramProposal.status == ProposalStatus.OPEN.value)
            .order_by(models.ProgramProposal.proposed_at, models.ProgramProposal.id)))
    proposals = []
    for row in rows:
        assert stored is not None, "proposals are only read for a stored pump"
        entry = ProposalInput.model_validate(row.therapy_order)
        review, refusal = None, None
        try:
            review = review_dict(stored.state, _review(stored.state, entry, now, row.proposed_by, policy, library))
        except OpenIDDSError as error:
            refusal = form_error(error, PROPOSAL_FIELDS)
        stale = row.state_version != stored.version
        why_not = _confirm_refusal(user, row.proposed_by, policy)
        proposals.append(ProposalView(row.id, row.proposed_by, row.proposed_at, row.state_version, entry, stale, review,
                                      refusal, why_not is None and not stale and review is not None, why_not,
                                      _may_withdraw(user, row.proposed_by)))
    pump = None if stored is None else pump_now(stored, now, policy, library)
    log = [] if stored is None else session_log(stored.state, LOG_LINES)
    return ProgrammingView(site, patient_id, implant.implant_date, pump, proposals,
                           may(user.role, Permission.PROPOSE_PROGRAM) and pump is not None, log)


def session_log(state: PumpState, last: int) -> list[dict[str, Any]]:
    """The last ``last`` lines of the pump's session log, newest first: when, what, who and why."""
    return [{"at": when(state, line["at_s"]), "kind": line["kind"], "who": line["who"], "reason": line["reason"]}
            for line in reversed(state.sessions[-last:])]


# ---------------------------------------------------------------------- writes


def propose(engine: Engine, user: SessionUser, site: str, patient_id: str, entry: ProposalInput, now: dt.datetime,
            policy: Policy, library: DrugLibrary) -> int:
    """Store a proposal (its author and time, the pump state version it was made against) once the programmer
    has reviewed it without a hard finding; returns its id. Nothing reaches the pump model."""
    require(user.role, Permission.PROPOSE_PROGRAM)
    with unit_of_work(engine, user.name, source=SOURCE, clock=lambda: now) as session:
        implant = patient_implant(session, site, patient_id)
        _, stored = locked_state(session, implant)
        _review(stored.state, entry, now, user.name, policy, library)
        row = models.ProgramProposal(implant_id=implant.id, state_version=stored.version,
                                     therapy_order=entry.model_dump(mode="json"), proposed_by=user.name,
                                     proposed_at=now, status=ProposalStatus.OPEN.value)
        session.add(row)
        session.flush()
        return row.id


def _open_proposal(session: Session, implant: models.Implant, proposal_id: int) -> models.ProgramProposal:
    row = session.get(models.ProgramProposal, proposal_id)
    if row is None or row.implant_id != implant.id:
        raise UnknownRecord("proposal", proposal_id, "a program proposal for this patient's pump")
    if row.status != ProposalStatus.OPEN.value:
        raise StaleEdit("proposal", proposal_id, f"an open proposal: it was {row.status} by {row.closed_by} at "
                        f"{row.closed_at:%Y-%m-%d %H:%M}, reload")
    return row


@dataclass(frozen=True)
class Programmed:
    """A confirmed change: what was sent, when, who proposed and who confirmed it, and the new state version."""

    program: str
    at: dt.datetime
    proposed_by: str
    confirmed_by: str
    state_version: int

    def to_dict(self) -> dict[str, Any]:
        return {"program": self.program, "at": self.at.isoformat(timespec="seconds"),
                "proposed_by": self.proposed_by, "confirmed_by": self.confirmed_by,
                "state_version": self.state_version}


def confirm(engine: Engine, user: SessionUser, site: str, patient_id: str, proposal_id: int, entry: ConfirmInput,
            now: dt.datetime, policy: Policy, library: DrugLibrary) -> Programmed:
    """Run the whole session on the stored pump at ``now`` and store what it sent (see the module's description).
    A role that may not confirm, or the proposer where the policy asks for a second clinician, is refused
    (:class:`Forbidden`); a pump state changed since the proposal is :class:`StaleEdit`."""
    require(user.role, Permission.CONFIRM_PROGRAM)
    with unit_of_work(engine, user.name, source=SOURCE, clock=lambda: now) as session:
        implant = patient_implant(session, site, patient_id)
        row, stored = locked_state(session, implant)
        proposal = _open_proposal(session, implant, proposal_id)
        refusal = _confirm_refusal(user, proposal.proposed_by, policy)
        if refusal is not None:
            raise Forbidden("confirmed_by", user.name, f"a clinician who may confirm this proposal: {refusal}")
        if proposal.state_version != stored.version:
            raise StaleEdit("pump state", f"version {stored.version}", f"the state the proposal was made against "
                            f"(version {proposal.state_version}): changed by {stored.updated_by} at "
                            f"{stored.updated_at:%Y-%m-%d %H:%M}, reload, review the pump as it is now and propose "
                            "again")
        proposed = ProposalInput.model_validate(proposal.therapy_order)
        state = stored.state
        pump, at_s = pump_at(state, now)
        order = therapy_order(proposed, pump, library)
        check_concentration("concentration", proposed.concentration, pump, order.drug, library)
        check_concentration("concentration_again", entry.concentration_again, pump, order.drug, library)
        programmer = ProgrammingSession(pump, at_s, user.name, library=library, policy=policy)
        programmer.record("proposed", proposal.proposed_by, proposed.note or "program change proposed",
                          {"proposal": proposal.id, "proposed_at": proposal.proposed_at.isoformat(timespec="seconds"),
                           "order": proposal.therapy_order})
        review = programmer.edit(order)
        for finding_id, why in entry.overrides.items():
            if why:
                programmer.override(finding_id, user.name, why)
        programmer.confirm(user.name)
        programmer.transmit()
        new_state = state.with_programmer(programmer, f"proposed by {proposal.proposed_by}, confirmed by {user.name}")
        save_state(session, row, new_state)
        session.add_all(_program_rows(implant.id, now, pump, review))
        proposal.status = ProposalStatus.CONFIRMED.value
        proposal.closed_by, proposal.closed_at = user.name, now
        session.flush()
        return Programmed(review.therapy.program.describe() if review.therapy else "not programmed", now,
                          proposal.proposed_by, user.name, row.version)


def _may_withdraw(user: SessionUser, proposed_by: str) -> bool:
    """Whether ``user`` may withdraw a proposal of ``proposed_by``: its proposer, or a clinician who may confirm."""
    return may(user.role, Permission.PROPOSE_PROGRAM) and (
        user.name == proposed_by or may(user.role, Permission.CONFIRM_PROGRAM))


def withdraw(engine: Engine, user: SessionUser, site: str, patient_id: str, proposal_id: int, why: str,
             now: dt.datetime) -> None:
    """Close an open proposal without sending anything (its proposer, or a clinician who may confirm)."""
    require(user.role, Permission.PROPOSE_PROGRAM)
    if not why.strip():
        raise ProgrammerError("why", why, "why the proposal is withdrawn")
    with unit_of_work(engine, user.name, source=SOURCE, clock=lambda: now) as session:
        implant = patient_implant(session, site, patient_id)
        proposal = _open_proposal(session, implant, proposal_id)
        if not _may_withdraw(user, proposal.proposed_by):
            raise Forbidden("withdrawn_by", user.name, f"the proposer ({proposal.proposed_by}) or a clinician who "
                            "may confirm program changes")
        proposal.status = ProposalStatus.WITHDRAWN.value
        proposal.closed_by, proposal.closed_at, proposal.closing_note = user.name, now, why.strip()


def _program_rows(implant_id: int, now: dt.datetime, pump: Pump, review: Review) -> list[models.PumpProgram]:
    """One ``programs`` row per drug of the confirmed review, from ``now`` (doses in mg as the registry keeps them)."""
    therapy = review.therapy
    solution = pump.solution
    assert therapy is not None and solution is not None, "a confirmed programming review holds a therapy"
    mode = {Continuous: "continuous", Flex: "flex"}.get(type(therapy.program))
    bolus = therapy.patient_bolus
    out = []
    for row in review.rows:
        out.append(models.PumpProgram(
            implant_id=implant_id, started_at=now, drug=row.drug,
            concentration_mg_per_ml=float(solution.mg_per_ml(row.drug)),
            daily_dose_mg_per_day=float(row.daily_new.magnitude("mg/day")), mode=mode,
            bolus_dose_mg=None if row.bolus_new is None else float(row.bolus_new.magnitude("mg")),
            bolus_lockout_minutes=None if bolus is None else bolus.lockout_s // 60,
            max_boluses_per_day=None if bolus is None else bolus.max_per_24h))
    return out

"""The programming review: a therapy change proposed for a patient's pump, reviewed beside the present program by
the programmer's own session, and confirmed by a clinician (a second one where the clinic's policy asks).

A proposal stores the order as entered and the pump state version it was made against; nothing reaches the pump
model then. At the confirmation the programmer's :class:`~openidds.programmer.ProgrammingSession` runs on the
stored pump advanced to that moment: the order is edited and checked again, each soft finding overridden with
the confirmer's name and reason, the review confirmed and the ``SetTherapy`` transmitted (the session log names
the proposer and the confirmer); in the same transaction the state row is updated with the session's journal
entry and log, a ``programs`` row written per drug, and the proposal closed. A state changed since the proposal
(another refill or program) refuses the confirmation (HTTP 409); any refusal writes nothing.

A refill with a new solution is a programming change too: the refill page stores it as a proposal of the kind
``refill`` (:mod:`openidds.web.refills`), reviewed and confirmed here in the same way; its confirmation runs the
whole refill workflow and sends one ``Refill`` with the new program.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
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
from openidds.programmer import Policy, ProgrammerError, ProgrammingSession, PumpState, Review
from openidds.pump import Continuous, Flex, Pump, Solution
from openidds.web.accounts import SessionUser
from openidds.web.errors import Forbidden, StaleEdit
from openidds.web.forms import InputModel
from openidds.web.orders import OrderInput, check_concentration, order_error, therapy_order
from openidds.web.proposals import ProposalKind, ProposalStatus, proposal_kind, store_proposal
from openidds.web.pump_view import FormError, PumpNow, pump_at, pump_now, review_dict, when
from openidds.web.refills import RefillConfirmation, RefillInput, confirm_refill, refill_error, refill_review
from openidds.web.roles import Permission, may, require

SOURCE = "openidds web: programming review"
LOG_LINES = 20
"""How many of the pump's latest session log lines the programming review shows."""


class ProposalInput(OrderInput):
    """A therapy change as entered: the order, and the lead drug's concentration read off the pump (the first of
    the double entry; the confirmer enters it again)."""

    concentration: str = Field(description="The lead drug's concentration in the pump, e.g. '10 mg/mL'.")
    note: str = Field("", max_length=500, description="Why the change (shown to the confirmer).")


class ConfirmInput(InputModel):
    """The confirmer's part: the concentration entered again, and a reason for each soft finding."""

    concentration_again: str
    overrides: dict[str, str] = Field(default_factory=dict, description="Soft finding id -> why it is accepted.")


PROPOSAL_FIELDS = ("concentration", "note")
CONFIRM_FIELDS = ("concentration_again", "overrides")


def proposal_error(error: OpenIDDSError, entry: ProposalInput | None) -> FormError:
    """A refusal of a proposal placed at its form field (a flex step's beside that step)."""
    return order_error(error, entry, PROPOSAL_FIELDS)


def _drugs(pump: Pump) -> tuple[str, ...]:
    return () if pump.solution is None else pump.solution.drugs


# ---------------------------------------------------------------------- views


@dataclass(frozen=True)
class ProposalView:
    """An open proposal as the clinic sees it now: its review against the pump at this moment, or the refusal
    the programmer would give now; ``stale`` when the pump state changed since it was made."""

    id: int
    kind: ProposalKind
    proposed_by: str
    proposed_at: dt.datetime
    state_version: int
    entry: ProposalInput | RefillInput
    stale: bool
    review: dict[str, Any] | None
    refusal: FormError | None
    may_confirm: bool
    confirm_refusal: str | None
    may_withdraw: bool

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "kind": self.kind.value, "proposed_by": self.proposed_by,
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


def _review(state: PumpState, entry: ProposalInput, now: dt.datetime, who: str, policy: Policy,
            library: DrugLibrary) -> Review:
    """The programmer's review of the entry on the stored pump at ``now`` (a replayed copy: nothing is stored)."""
    pump, at_s = pump_at(state, now)
    order = therapy_order(entry, pump, _drugs(pump), library)
    assert pump.solution is not None, "an order is only built for a filled pump"
    check_concentration("concentration", entry.concentration, pump.solution, order.drug, library)
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
        kind, entry = _proposed(row)
        review, refusal = None, None
        try:
            if isinstance(entry, RefillInput):
                review = refill_review(stored, entry, row.proposed_by, now, policy, library)
            else:
                review = review_dict(stored.state, _review(stored.state, entry, now, row.proposed_by, policy,
                                                           library))
        except OpenIDDSError as error:
            refusal = refill_error(error, entry) if isinstance(entry, RefillInput) else proposal_error(error, entry)
        stale = row.state_version != stored.version
        why_not = _confirm_refusal(user, row.proposed_by, policy)
        proposals.append(ProposalView(row.id, kind, row.proposed_by, row.proposed_at, row.state_version, entry,
                                      stale, review, refusal, why_not is None and not stale and review is not None,
                                      why_not, _may_withdraw(user, row.proposed_by)))
    pump = None if stored is None else pump_now(stored, now, policy, library)
    log = [] if stored is None else session_log(stored.state, LOG_LINES)
    return ProgrammingView(site, patient_id, implant.implant_date, pump, proposals,
                           may(user.role, Permission.PROPOSE_PROGRAM) and pump is not None, log)


def _proposed(row: models.ProgramProposal) -> tuple[ProposalKind, ProposalInput | RefillInput]:
    """A stored proposal's kind and entry as entered."""
    kind, stored = proposal_kind(row)
    model = RefillInput if kind is ProposalKind.REFILL else ProposalInput
    return kind, model.model_validate(stored)


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
        return store_proposal(session, implant.id, stored.version, ProposalKind.PROGRAM,
                              entry.model_dump(mode="json"), user.name, now)


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

    kind: ProposalKind
    program: str
    at: dt.datetime
    proposed_by: str
    confirmed_by: str
    state_version: int

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind.value, "program": self.program, "at": self.at.isoformat(timespec="seconds"),
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
        kind, proposed = _proposed(proposal)
        said = {"proposal": proposal.id, "proposed_at": proposal.proposed_at.isoformat(timespec="seconds"),
                "order": proposal.therapy_order}
        if isinstance(proposed, RefillInput):
            confirmation = RefillConfirmation(proposal.proposed_by, user.name, entry.concentration_again,
                                              entry.overrides, said)
            new_state, review, solution = confirm_refill(session, implant.id, stored, proposed, confirmation, now,
                                                         policy, library)
        else:
            new_state, review, solution = _program(stored.state, proposed, proposal.proposed_by, user.name, entry,
                                                   said, now, policy, library)
        save_state(session, row, new_state)
        session.add_all(_program_rows(implant.id, now, solution, review))
        proposal.status = ProposalStatus.CONFIRMED.value
        proposal.closed_by, proposal.closed_at = user.name, now
        session.flush()
        return Programmed(kind, review.therapy.program.describe() if review.therapy else "not programmed", now,
                          proposal.proposed_by, user.name, row.version)


def _program(state: PumpState, proposed: ProposalInput, proposer: str, confirmer: str, entry: ConfirmInput,
             said: dict[str, Any], now: dt.datetime, policy: Policy, library: DrugLibrary
             ) -> tuple[PumpState, Review, Solution]:
    """The whole programming session of a program proposal on the pump at ``now``: what it leaves stored, its
    review and the solution it was programmed for."""
    pump, at_s = pump_at(state, now)
    order = therapy_order(proposed, pump, _drugs(pump), library)
    solution = pump.solution
    assert solution is not None, "an order is only built for a filled pump"
    check_concentration("concentration", proposed.concentration, solution, order.drug, library)
    check_concentration("concentration_again", entry.concentration_again, solution, order.drug, library)
    programmer = ProgrammingSession(pump, at_s, confirmer, library=library, policy=policy)
    programmer.record("proposed", proposer, proposed.note or "program change proposed", said)
    review = programmer.edit(order)
    for finding_id, why in entry.overrides.items():
        if why:
            programmer.override(finding_id, confirmer, why)
    programmer.confirm(confirmer)
    programmer.transmit()
    return state.with_programmer(programmer, f"proposed by {proposer}, confirmed by {confirmer}"), review, solution


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


def _program_rows(implant_id: int, now: dt.datetime, solution: Solution, review: Review
                  ) -> list[models.PumpProgram]:
    """One ``programs`` row per drug of the confirmed review, from ``now`` (doses in mg as the registry keeps them)."""
    therapy = review.therapy
    assert therapy is not None, "a confirmed programming review holds a therapy"
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

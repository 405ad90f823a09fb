"""The stored proposals of the programming review (table ``program_proposals``): their status and kind, and how
one is stored. A program proposal stores the order as entered; a refill proposal (a refill with a new program)
stores the whole refill as entered under ``refill``."""

from __future__ import annotations

import datetime as dt
from enum import Enum
from typing import Any

from sqlalchemy.orm import Session

from openidds.clinic import models


class ProposalStatus(str, Enum):
    OPEN = "open"
    CONFIRMED = "confirmed"
    WITHDRAWN = "withdrawn"


class ProposalKind(str, Enum):
    """What a proposal sends once confirmed: a new program, or a refill with a new solution and its program."""

    PROGRAM = "program"
    REFILL = "refill"


def store_proposal(session: Session, implant_id: int, state_version: int, kind: ProposalKind,
                   entry: dict[str, Any], who: str, now: dt.datetime) -> int:
    """Store an open proposal of ``kind`` made by ``who`` at ``now`` against the pump state ``state_version``;
    returns its id."""
    stored = {kind.value: entry} if kind is ProposalKind.REFILL else entry
    row = models.ProgramProposal(implant_id=implant_id, state_version=state_version, therapy_order=stored,
                                 proposed_by=who, proposed_at=now, status=ProposalStatus.OPEN.value)
    session.add(row)
    session.flush()
    return row.id


def proposal_kind(row: models.ProgramProposal) -> tuple[ProposalKind, dict[str, Any]]:
    """A stored proposal's kind and its entry as stored."""
    if ProposalKind.REFILL.value in row.therapy_order:
        return ProposalKind.REFILL, row.therapy_order[ProposalKind.REFILL.value]
    return ProposalKind.PROGRAM, row.therapy_order

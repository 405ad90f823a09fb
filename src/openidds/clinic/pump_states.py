"""Where the pump of an implant lives for the clinic: the programmer's state (the content of a pump state file,
format ``openidds-pump-state/3``, see docs/programmer.md) in table ``pump_states``, one row per implant.

A state file is signed with the clinic's key because a file can be edited by anyone who holds it; a registry row
is protected by the database's access control and the audit trail instead (every write is audited with its
author, the state before and after). The row's ``version`` is read with the state: a change made from a state
that changed since (another refill, another program) is refused (:func:`locked_state`).

Writing a state: :func:`put_pump_states` (an imported state file, or each virtual pump's final state); a state
already stored is replaced only by one that continues it (its journal and session log start with the stored
ones), so an older file never overwrites newer work.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openidds.clinic import audit, locking, models, queries
from openidds.clinic.database import sessions, unit_of_work
from openidds.clinic.errors import RegistryError, UnknownRecord
from openidds.programmer import PumpState, new_state, state_content


class Outcome(str, Enum):
    """What storing a state did."""

    INSERTED = "inserted"
    UPDATED = "updated"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class PumpStateFor:
    """A pump state to store for a patient's implant: the one of ``implant_date``, else the active implant."""

    site: str
    patient_id: str
    state: PumpState
    implant_date: dt.date | None = None


@dataclass(frozen=True)
class StoredState:
    """An implant's stored pump state, with the version it was read at and who wrote it last, and when."""

    implant_id: int
    reservoir_ml: float | None
    version: int
    state: PumpState
    updated_at: dt.datetime
    updated_by: str


def patient_implant(session: Session, site: str, patient_id: str, implant_date: dt.date | None = None
                    ) -> models.Implant:
    """The patient's implant of ``implant_date``, else their active implant (the pump in place); an unknown
    patient or implant, or a patient with no pump in place, is refused."""
    m = models
    patient = queries.patient_by_code(session, site, patient_id)
    if implant_date is not None:
        implant = session.scalars(select(m.Implant).where(m.Implant.patient_id == patient.id,
                                                          m.Implant.implant_date == implant_date)).first()
        if implant is None:
            raise UnknownRecord("implant", f"{site}/{patient_id} {implant_date.isoformat()}",
                                "an implant of this patient in the registry")
        return implant
    active = queries.active_implants(session.connection(), select(m.Patient.id).where(m.Patient.id == patient.id))
    if not active:
        raise UnknownRecord("implant", f"{site}/{patient_id}", "a patient with a pump in place (not explanted, "
                            "not replaced, patient not exited)")
    return session.get_one(m.Implant, active.pop())


def _stored(row: models.ImplantPumpState, implant: models.Implant) -> StoredState:
    return StoredState(row.implant_id, implant.reservoir_ml, row.version,
                       new_state(row.state, f"pump_states id {row.id}"), row.updated_at, row.updated_by)


def stored_state(session: Session, implant: models.Implant) -> StoredState | None:
    """The implant's stored pump state, or None when none is stored yet."""
    row = session.scalars(select(models.ImplantPumpState)
                          .where(models.ImplantPumpState.implant_id == implant.id)).first()
    return None if row is None else _stored(row, implant)


def read_pump_state(engine: Engine, site: str, patient_id: str) -> StoredState | None:
    """The stored pump state of the patient's active implant, or None when none is stored yet."""
    with sessions(engine)() as session:
        return stored_state(session, patient_implant(session, site, patient_id))


def locked_state(session: Session, implant: models.Implant) -> tuple[models.ImplantPumpState, StoredState]:
    """The implant's state row, locked until the transaction ends (SQLite: the write lock; PostgreSQL: ``FOR
    UPDATE``), so a change that read version *n* writes version *n + 1* or is refused; none stored is refused."""
    locking.begin_write(session.connection())
    row = session.scalars(select(models.ImplantPumpState).where(models.ImplantPumpState.implant_id == implant.id)
                          .with_for_update()).first()
    if row is None:
        raise no_state(implant)
    return row, _stored(row, implant)


def no_state(implant: models.Implant) -> UnknownRecord:
    """The refusal of a change to an implant that has no stored pump state."""
    return UnknownRecord("pump state", f"implant of {implant.implant_date.isoformat()}",
                         "a pump state stored for the implant: import the programmer's state file with "
                         "`openidds registry import --format pump-state FILE --patient SITE/ID`")


def save_state(session: Session, row: models.ImplantPumpState, state: PumpState) -> None:
    """Write ``state`` into the locked ``row`` (its version goes up by one; audited with the session's user)."""
    row.state = state_content(state)
    row.updated_at = audit.now_utc(session.info)
    row.updated_by = session.info[audit.USER_KEY]


def put_pump_states(engine: Engine, items: Sequence[PumpStateFor], user: str, source: str | None = None
                    ) -> list[Outcome]:
    """Store each item's state for its implant, in one transaction (audited as ``user``, ``source``); returns what
    each did. A state that does not fit its implant (another reservoir size, started before the implant) or that
    does not continue the stored one is refused and nothing is written."""
    outcomes: list[Outcome] = []
    with unit_of_work(engine, user, source=source) as session:
        locking.begin_write(session.connection())
        for item in items:
            implant = patient_implant(session, item.site, item.patient_id, item.implant_date)
            outcomes.append(_put(session, implant, item, user))
    return outcomes


def put_pump_state(engine: Engine, site: str, patient_id: str, state: PumpState, user: str, *,
                   implant_date: dt.date | None = None, source: str | None = None) -> Outcome:
    """:func:`put_pump_states` for one implant."""
    [outcome] = put_pump_states(engine, [PumpStateFor(site, patient_id, state, implant_date)], user, source)
    return outcome


def _put(session: Session, implant: models.Implant, item: PumpStateFor, user: str) -> Outcome:
    state = item.state
    where = f"{item.site}/{item.patient_id} implant {implant.implant_date.isoformat()}"
    if implant.reservoir_ml is not None and float(state.pump.reservoir_ml) != implant.reservoir_ml:
        raise RegistryError("pump.reservoir_ml", state.pump.reservoir_ml,
                            f"the reservoir of {where}: {implant.reservoir_ml:g} mL")
    if state.start.date() < implant.implant_date:
        raise RegistryError("start", state.start.isoformat(), f"a pump clock started on or after the implant date "
                            f"of {where}")
    content = state_content(state)
    row = session.scalars(select(models.ImplantPumpState)
                          .where(models.ImplantPumpState.implant_id == implant.id).with_for_update()).first()
    now = audit.now_utc(session.info)
    if row is None:
        session.add(models.ImplantPumpState(implant_id=implant.id, state=content, updated_at=now, updated_by=user))
        return Outcome.INSERTED
    if row.state == content:
        return Outcome.UNCHANGED
    stored = new_state(row.state, f"pump_states id {row.id}")
    continues = (state.start == stored.start and state.pump == stored.pump
                 and state.journal[:len(stored.journal)] == stored.journal
                 and state.sessions[:len(stored.sessions)] == stored.sessions)
    if not continues:
        raise RegistryError("state", where, f"a state that continues the one stored (version {row.version}, by "
                            f"{row.updated_by} at {row.updated_at:%Y-%m-%d %H:%M}): its journal and sessions start "
                            "with the stored ones, so an older file, or another pump's, never replaces it")
    save_state(session, row, state)
    return Outcome.UPDATED

"""Serializing the writes that cross-record rules read, so two changes valid alone never both commit when they
are not valid together (a death on 1 June and a visit on 1 July for the same patient, saved at once). Imports
and every other write (:mod:`openidds.clinic.consistency`) read a patient's records through
:func:`locked_snapshot`.

* SQLite: a write opens its transaction with ``BEGIN IMMEDIATE``, which takes the database's write lock before the
  first read (sqlite.org/lang_transaction.html): writers run one after another, each reading what the previous
  one committed.
* PostgreSQL: before reading a patient's records, a write locks the patient rows (``SELECT ... FOR UPDATE``,
  in id order so two imports never wait on each other crosswise); a second change to the same patient waits
  until the first commits, then reads its records (READ COMMITTED sees them).
"""

from __future__ import annotations

from collections.abc import Iterable

from sqlalchemy import Connection, select
from sqlalchemy.orm import Session

from openidds.clinic import models, store


def begin_write(connection: Connection) -> None:
    """Take the database's write lock now, for the whole transaction, where the database works that way
    (SQLite; a transaction the driver has already opened holds it since its first write); a no-op elsewhere."""
    if connection.dialect.name != "sqlite":
        return
    driver = connection.connection.driver_connection
    if driver is not None and not driver.in_transaction:
        connection.exec_driver_sql("BEGIN IMMEDIATE")


def lock_patients(session: Session, patient_ids: Iterable[int]) -> None:
    """Lock the given patient rows until the transaction ends (PostgreSQL ``FOR UPDATE``; SQLite already holds
    the write lock, see :func:`begin_write`)."""
    ids = sorted(set(patient_ids))
    if ids and session.get_bind().dialect.name != "sqlite":
        session.execute(select(models.Patient.id).where(models.Patient.id.in_(ids))
                        .order_by(models.Patient.id).with_for_update()).all()


def locked_snapshot(session: Session, patient_ids: Iterable[int]) -> store.Snapshot:
    """The stored records of the given patients, read under the write lock (:func:`begin_write`) with their rows
    locked (:func:`lock_patients`): what a cross-record rule reads stays as read until the transaction ends."""
    ids = sorted(set(patient_ids))
    begin_write(session.connection())
    lock_patients(session, ids)
    return store.load(session, ids)

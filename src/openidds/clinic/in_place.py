"""The pump in place, in SQL: the rule of :func:`openidds.clinic.queries.active_implant` as one indexed condition, for
the worklists' single statements; and a connection for several of them in a row."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any

from sqlalchemy import ColumnElement, Connection, Engine, and_, exists
from sqlalchemy.orm import aliased

from openidds.clinic import models


def in_place(implant: Any) -> ColumnElement[bool]:
    """SQL for "``implant`` (the ``implants`` table or an alias of it) is its patient's active implant": not
    explanted, no later implant of the patient, none of the patient's implants replacing it, the patient not
    exited."""
    other, e = aliased(models.Implant), models.Exit
    return and_(implant.explant_date.is_(None),
                ~exists().where(e.patient_id == implant.patient_id),
                ~exists().where(other.patient_id == implant.patient_id, other.implant_date > implant.implant_date),
                ~exists().where(other.patient_id == implant.patient_id, other.replaces_implant_id == implant.id))


@contextlib.contextmanager
def connected(bind: Engine | Connection) -> Iterator[Connection]:
    """A connection: ``bind`` itself, or a new one of the engine ``bind`` (closed after), so a page's several
    statements share one."""
    if isinstance(bind, Connection):
        yield bind
    else:
        with bind.connect() as conn:
            yield conn

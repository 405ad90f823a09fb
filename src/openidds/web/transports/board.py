"""Notifications on the web app's own alarm board: a message per user, unread until they open it (the unread
count is the board's badge). Writing one is an insert in the registry, once per idempotency key."""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from openidds.clinic import models
from openidds.clinic.database import unit_of_work
from openidds.clinic.escalations import DISPATCHER
from openidds.escalation import Notification


class BoardSender:
    """Puts each notification on its recipient's board (their web user name is the address)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def __call__(self, note: Notification) -> None:
        message = models.BoardMessage
        with unit_of_work(self.engine, DISPATCHER) as session:
            known = session.scalar(select(message.id).where(message.idempotency_key == note.key))
            if known is None:
                session.add(message(idempotency_key=note.key, user_name=note.address, alarm_id=note.alarm_id,
                                    subject=note.subject, body=note.body, created_at=note.created_at))


def unread_count(engine: Engine, user: str) -> int:
    """How many board messages ``user`` has not opened yet."""
    message = models.BoardMessage
    with Session(engine) as session:
        return session.scalar(select(func.count()).select_from(message)
                              .where(message.user_name == user, message.read_at.is_(None))) or 0


def messages(engine: Engine, user: str) -> list[models.BoardMessage]:
    """``user``'s board messages, newest first."""
    message = models.BoardMessage
    with Session(engine, expire_on_commit=False) as session:
        return list(session.scalars(select(message).where(message.user_name == user)
                                    .order_by(message.created_at.desc(), message.id.desc())).all())


def mark_read(engine: Engine, user: str, now: dt.datetime, alarm_ids: Collection[int] | None = None) -> int:
    """Mark the unread messages of ``user`` (about ``alarm_ids`` only, when given) read at ``now``; returns how
    many. Reading is not acknowledging: the escalation only stops when someone acknowledges the alarm."""
    message = models.BoardMessage
    query = select(message).where(message.user_name == user, message.read_at.is_(None))
    if alarm_ids is not None:
        query = query.where(message.alarm_id.in_(sorted(set(alarm_ids))))
    with unit_of_work(engine, user) as session:
        rows = session.scalars(query).all()
        for row in rows:
            row.read_at = now
        return len(rows)

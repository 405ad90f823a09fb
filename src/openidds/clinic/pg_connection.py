"""PostgreSQL connections that keep their prepared statements when a transaction rolls back.

psycopg 3 prepares a statement on a connection once it has run there ``prepare_threshold`` times (5), but its
``Connection.rollback()`` forgets every statement it counted or prepared, and deallocates them on the server
(``DEALLOCATE ALL``). SQLAlchemy ends each read (an ``engine.connect()`` block, a session closed without a
commit) with a rollback, so on a registry serving the web app no statement ever reached the threshold: every
request parsed and planned each of its statements again.

PostgreSQL keeps a session's prepared statements across ROLLBACK (they are not transactional), so
:class:`StatementKeepingConnection` rolls back without forgetting them. psycopg's other reasons to forget them all
stay: a DROP, ALTER, ``DISCARD ALL`` or ``DEALLOCATE ALL`` run on the connection (a migration changes the schema
that way), and a statement whose execution failed is never kept.
"""

from __future__ import annotations

from typing import Any

import psycopg
from psycopg import pq

_IN_TRANSACTION = (pq.TransactionStatus.INTRANS, pq.TransactionStatus.INERROR)


class StatementKeepingConnection(psycopg.Connection[Any]):
    """A psycopg connection whose :meth:`rollback` keeps the statements prepared on it."""

    def rollback(self) -> None:
        """Roll the open transaction back, keeping the prepared statements; in any state but an open (or failed)
        transaction outside pipeline mode, psycopg's own rollback."""
        if (self.info.transaction_status not in _IN_TRANSACTION
                or self.pgconn.pipeline_status != pq.PipelineStatus.OFF):
            super().rollback()
            return
        with self.lock:
            result = self.pgconn.exec_(b"ROLLBACK")
        if result.status != pq.ExecStatus.COMMAND_OK:
            message = (result.error_message or b"no message").decode(errors="replace").strip()
            raise psycopg.OperationalError(f"ROLLBACK failed: {message}")


def open_connection(_dialect: Any, _record: Any, cargs: list[Any], cparams: dict[str, Any]) -> psycopg.Connection[Any]:
    """SQLAlchemy's ``do_connect`` hook: the engine's psycopg connections as :class:`StatementKeepingConnection`."""
    return StatementKeepingConnection.connect(*cargs, **cparams)

"""The clinic's escalation policy as the registry keeps it: numbered versions, the highest one current.

A version is never changed: installing a policy file or saving the settings page adds the next version, through
the registry's unit of work (so the audit trail holds who installed what, and when). New alarms escalate under
the current version; an escalation keeps the version it was raised under until it ends, so an edit never changes
the tiers, timeouts or rota of an alarm already on its way (:mod:`openidds.clinic.escalations`).

An edit names the version its author saw (``based_on``): when another version was installed since, it is refused
with :class:`ConcurrentUpdateError` (HTTP 409 in the web app), saying who installed it and when. Each version is
stored as the values of its policy file and read back through :func:`openidds.escalation.policy_from`, the core's
own validation: there is one schema of the policy.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from openidds.clinic import models
from openidds.clinic.database import unit_of_work
from openidds.clinic.errors import ConcurrentUpdateError
from openidds.clinic.locking import begin_write
from openidds.escalation import Policy, PolicyError, policy_from


@dataclass(frozen=True, slots=True)
class PolicyVersion:
    """One stored version of the clinic's policy: its number (from 1), the policy, who installed it, when
    (naive UTC) and from where (a file, the settings page)."""

    number: int
    policy: Policy
    installed_at: dt.datetime
    installed_by: str
    source: str

    def to_dict(self) -> dict[str, Any]:
        return {"number": self.number, "installed_at": self.installed_at.isoformat() + "Z",
                "installed_by": self.installed_by, "source": self.source,
                "policy": self.policy.model_dump(mode="json")}


def current(engine: Engine) -> PolicyVersion | None:
    """The current policy version, ``None`` when none was ever installed (then nothing escalates)."""
    with Session(engine) as session:
        return current_in(session)


def current_in(session: Session) -> PolicyVersion | None:
    """:func:`current` within the caller's session."""
    table = models.EscalationPolicyVersion
    row = session.scalars(select(table).order_by(table.number.desc()).limit(1)).one_or_none()
    return None if row is None else _version(row)


def policy_in(session: Session, number: int) -> Policy:
    """The policy of version ``number``."""
    table = models.EscalationPolicyVersion
    row = session.scalars(select(table).where(table.number == number)).one_or_none()
    if row is None:
        raise PolicyError("policy_version", number, "a version of the escalation policy stored in the registry")
    return _parsed(_canonical(row.policy))


def history(engine: Engine) -> list[PolicyVersion]:
    """Every version, newest first."""
    table = models.EscalationPolicyVersion
    with Session(engine) as session:
        return [_version(row) for row in session.scalars(select(table).order_by(table.number.desc()))]


def install(engine: Engine, policy: Policy, by: str, now: dt.datetime, source: str,
            based_on: int | None) -> PolicyVersion:
    """Install ``policy`` as the next version, on behalf of ``by`` at ``now`` (naive UTC). ``based_on`` is the
    version its author saw (``None``: there was none); another version installed since is refused with
    :class:`ConcurrentUpdateError`, and nothing is written."""
    with unit_of_work(engine, by) as session:
        begin_write(session.connection())
        latest = current_in(session)
        number = None if latest is None else latest.number
        if number != based_on:
            raise ConcurrentUpdateError("escalation policy", f"version {based_on}", _stale(latest))
        return _add(session, policy, (number or 0) + 1, by, now, source)


def install_file(engine: Engine, policy: Policy, by: str, now: dt.datetime, source: str) -> PolicyVersion:
    """Install a policy file's ``policy`` over whatever is current, unless the current version is that same
    policy (then nothing is added: serving again with the same file keeps its version)."""
    with unit_of_work(engine, by) as session:
        begin_write(session.connection())
        latest = current_in(session)
        if latest is not None and latest.policy == policy:
            return latest
        return _add(session, policy, 1 if latest is None else latest.number + 1, by, now, source)


def _stale(latest: PolicyVersion | None) -> str:
    if latest is None:
        return "no version: none is installed; reload and apply your change again"
    return (f"the current version {latest.number} (installed by {latest.installed_by} at "
            f"{latest.installed_at:%Y-%m-%d %H:%M} UTC from {latest.source}): reload it and apply your change again")


def file_source(path: Path) -> str:
    """How a version installed from the file at ``path`` names where it came from."""
    return f"file {path.name}"


def _add(session: Session, policy: Policy, number: int, by: str, now: dt.datetime, source: str) -> PolicyVersion:
    row = models.EscalationPolicyVersion(number=number, policy=policy.model_dump(mode="json"), installed_at=now,
                                         installed_by=by, source=source)
    session.add(row)
    session.flush()
    return PolicyVersion(number, policy, now, by, source)


def _version(row: models.EscalationPolicyVersion) -> PolicyVersion:
    return PolicyVersion(row.number, _parsed(_canonical(row.policy)), row.installed_at, row.installed_by, row.source)


def _canonical(values: dict[str, Any]) -> str:
    return json.dumps(values, sort_keys=True)


@functools.lru_cache(maxsize=64)
def _parsed(text: str) -> Policy:
    """A stored policy read back through the core's validation (a version never changes, so once per text)."""
    return policy_from(json.loads(text))

"""Who may do what: the clinic's roles and the permissions each one holds.

The server checks a permission on every page and API call (:func:`may`); a page only hides what the role may
not do."""

from __future__ import annotations

from enum import Enum

from openidds.web.errors import Forbidden


class Role(str, Enum):
    """A user's role in the clinic."""

    PHYSICIAN = "physician"
    NURSE = "nurse"
    DATA_MANAGER = "data_manager"
    RESEARCHER = "researcher"
    ADMINISTRATOR = "administrator"


class Permission(str, Enum):
    """One thing a role may do."""

    VIEW_TODAY = "view the Today worklist"
    VIEW_PATIENTS = "view patients"
    VIEW_IDENTIFIERS = "view identifiers"
    VIEW_QUALITY_FINDINGS = "view data-quality findings"
    VIEW_USERS = "view users"
    VIEW_ALARMS = "view the alarm board"
    ACT_ON_ALARMS = "acknowledge, assign and resolve alarms"
    VIEW_CALENDAR = "view the refill calendar"
    BOOK_REFILLS = "book, move and cancel refill appointments"
    VIEW_PUMP = "view a pump's program and refills"
    PROPOSE_PROGRAM = "propose a program change"
    CONFIRM_PROGRAM = "confirm a program change"
    REFILL = "refill a pump"


_CLINICAL = frozenset({Permission.VIEW_TODAY, Permission.VIEW_PATIENTS, Permission.VIEW_IDENTIFIERS,
                       Permission.VIEW_ALARMS, Permission.VIEW_CALENDAR})
_CARE = _CLINICAL | {Permission.ACT_ON_ALARMS, Permission.BOOK_REFILLS, Permission.VIEW_PUMP,
                     Permission.PROPOSE_PROGRAM, Permission.REFILL}

PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.PHYSICIAN: _CARE | {Permission.CONFIRM_PROGRAM},
    Role.NURSE: _CARE,
    Role.DATA_MANAGER: _CLINICAL | {Permission.VIEW_QUALITY_FINDINGS},
    Role.RESEARCHER: frozenset({Permission.VIEW_PATIENTS}),
    Role.ADMINISTRATOR: frozenset({Permission.VIEW_USERS}),
}
"""Each role's permissions; a physician programs and confirms, a nurse refills and proposes program changes; a
researcher sees patients de-identified, an administrator no clinical data."""


def may(role: Role, permission: Permission) -> bool:
    """Whether ``role`` holds ``permission``."""
    return permission in PERMISSIONS[role]


def require(role: Role, permission: Permission) -> None:
    """Refuse (:class:`Forbidden`, HTTP 403) unless ``role`` holds ``permission``."""
    if not may(role, permission):
        raise Forbidden("role", role.value, f"a role that may {permission.value} "
                        f"({', '.join(r.value for r in Role if may(r, permission))})")

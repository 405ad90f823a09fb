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
    MANAGE_USERS = "add users, change their roles, unlock, disable and enable them"
    VIEW_ALARMS = "view the alarm board"
    ACT_ON_ALARMS = "acknowledge, assign and resolve alarms"
    VIEW_CALENDAR = "view the refill calendar"
    BOOK_REFILLS = "book, move and cancel refill appointments"
    VIEW_PUMP = "view a pump's program and refills"
    PROPOSE_PROGRAM = "propose a program change"
    CONFIRM_PROGRAM = "confirm a program change"
    REFILL = "refill a pump"
    ENTER_VISITS = "enter visits"
    ENTER_COMPLICATIONS = "enter complications"
    ENTER_EXITS = "enter exits"
    IMPORT_RECORDS = "import records"
    EXPORT_REGISTRY = "export the registry"
    EXPORT_RESEARCH = "export the de-identified research dataset"
    VIEW_RESEARCH_PATIENTS = "view patients under research IDs"
    BUILD_REPORT = "build the study report"
    EDIT_ESCALATION_POLICY = "edit the alarm escalation policy and on-call rota"
    SET_CLINIC_TIME_ZONE = "set the clinic's time zone"


_CLINICAL = frozenset({Permission.VIEW_TODAY, Permission.VIEW_PATIENTS, Permission.VIEW_IDENTIFIERS,
                       Permission.VIEW_ALARMS, Permission.VIEW_CALENDAR})
_CARE = _CLINICAL | {Permission.ENTER_VISITS, Permission.ENTER_COMPLICATIONS, Permission.ACT_ON_ALARMS,
                     Permission.BOOK_REFILLS, Permission.VIEW_PUMP, Permission.PROPOSE_PROGRAM, Permission.REFILL}

PERMISSIONS: dict[Role, frozenset[Permission]] = {
    Role.PHYSICIAN: _CARE | {Permission.CONFIRM_PROGRAM, Permission.ENTER_EXITS, Permission.BUILD_REPORT,
                             Permission.EDIT_ESCALATION_POLICY},
    Role.NURSE: _CARE,
    Role.DATA_MANAGER: _CLINICAL | {Permission.VIEW_QUALITY_FINDINGS, Permission.ENTER_EXITS,
                                    Permission.IMPORT_RECORDS, Permission.EXPORT_REGISTRY,
                                    Permission.EXPORT_RESEARCH, Permission.BUILD_REPORT},
    Role.RESEARCHER: frozenset({Permission.VIEW_RESEARCH_PATIENTS, Permission.EXPORT_RESEARCH,
                                Permission.BUILD_REPORT}),
    Role.ADMINISTRATOR: frozenset({Permission.VIEW_USERS, Permission.MANAGE_USERS,
                                   Permission.EDIT_ESCALATION_POLICY, Permission.SET_CLINIC_TIME_ZONE}),
}
"""Each role's permissions; a physician programs and confirms, a nurse refills, enters visits and proposes
program changes; a physician or an administrator edits the alarm escalation policy and on-call rota, an
administrator sets the clinic's time zone; a researcher
sees patients only under research IDs and shifted dates and writes nothing, an administrator sees no clinical
data."""


def may(role: Role, permission: Permission) -> bool:
    """Whether ``role`` holds ``permission``."""
    return permission in PERMISSIONS[role]


def require(role: Role, permission: Permission) -> None:
    """Refuse (:class:`Forbidden`, HTTP 403) unless ``role`` holds ``permission``."""
    if not may(role, permission):
        raise Forbidden("role", role.value, f"a role that may {permission.value} "
                        f"({', '.join(r.value for r in Role if may(r, permission))})")

"""Data entry of a patient's visits, complications and exit, as the logged-in user's role may: the forms'
text goes to :func:`openidds.clinic.entry.save_record`, which checks it with the import's rules, and an edit
of a record changed meanwhile is refused with :class:`~openidds.web.errors.StaleEdit` (HTTP 409)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping

from sqlalchemy import Engine

from openidds.clinic.entry import RecordKind, StaleRecord, StoredRecord, patient_records, save_record, stored_record
from openidds.web.errors import Forbidden, StaleEdit
from openidds.web.roles import Permission, Role, may, require

SOURCE = "openidds web: data entry"
"""The audit trail's source of a change entered in the web app."""

ENTRY_PERMISSION = {RecordKind.VISIT: Permission.ENTER_VISITS, RecordKind.COMPLICATION: Permission.ENTER_COMPLICATIONS,
                    RecordKind.EXIT: Permission.ENTER_EXITS}
"""The permission that lets a role add and edit each kind of record."""


def entry_kinds(role: Role) -> list[RecordKind]:
    """The kinds of record ``role`` may enter."""
    return [kind for kind, permission in ENTRY_PERMISSION.items() if may(role, permission)]


def require_entry(role: Role, kind: RecordKind) -> None:
    """Refuse (HTTP 403) unless ``role`` may add and edit records of ``kind``."""
    require(role, ENTRY_PERMISSION[kind])


def records_for(engine: Engine, role: Role, site: str, patient_id: str) -> dict[RecordKind, list[StoredRecord]]:
    """The patient's visits, complications and exit; refused for a role that enters none of them."""
    require(role, Permission.VIEW_PATIENTS)
    if not entry_kinds(role):
        enterers = sorted({r.value for r in Role if entry_kinds(r)})
        raise Forbidden("role", role.value,
                        f"a role that enters visits, complications or exits ({', '.join(enterers)})")
    return patient_records(engine, site, patient_id)


def record_for_edit(engine: Engine, role: Role, kind: RecordKind, site: str, patient_id: str,
                    record_id: int) -> StoredRecord:
    """One record, for its edit form; refused for a role that may not enter its kind."""
    require_entry(role, kind)
    return stored_record(engine, kind, site, patient_id, record_id)


def save(engine: Engine, role: Role, user: str, kind: RecordKind, site: str, patient_id: str,
         cells: Mapping[str, str], record_id: int | None, version: int | None,
         clock: Callable[[], dt.datetime]) -> StoredRecord:
    """Add a record (``record_id`` None) or change one from the ``version`` its form was loaded with, as
    ``user``; refused for a role that may not enter ``kind``, with
    :class:`~openidds.clinic.entry.EntryRefused` for values or rules, :class:`StaleEdit` for a stale edit."""
    require_entry(role, kind)
    try:
        return save_record(engine, kind, site, patient_id, cells, user, SOURCE, record_id, version, clock)
    except StaleRecord as exc:
        raise StaleEdit(exc.field, exc.value, exc.expected) from None

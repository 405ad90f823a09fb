"""The API's documented answers: the refusal object every error status carries, the logged-in user's own
record, and which refusals each route may give (read from what the route depends on, so a new route is
documented without a list to keep).

Path parameters that name a patient are checked as the import checks them (:data:`SiteCode`,
:data:`PatientCode`): anything else is refused with 422 before the registry is read.

The worklists' and the timeline's schemas are their dataclasses themselves (``RefillDue``, ``OpenAlarm``,
``FollowUpDue``, ``Finding``, ``PatientRow``, ``Timeline``, ``Today``, ``accounts.User``): FastAPI builds the
OpenAPI schema from their fields and checks each answer against it, so the JSON and its documentation have
one definition.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import Path
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute
from pydantic import BaseModel, ConfigDict

from openidds.clinic.importer import CODE, CODE_LENGTHS
from openidds.errors import OpenIDDSError
from openidds.web.context import checks_csrf, needs_session, permissions_of
from openidds.web.roles import Permission, Role

Scalar = str | int | float | bool | None

SiteCode = Annotated[str, Path(pattern=CODE.pattern, max_length=CODE_LENGTHS["site"],
                               description="the site's code, as on the patient list")]
PatientCode = Annotated[str, Path(pattern=CODE.pattern, max_length=CODE_LENGTHS["patient_id"],
                                  description="the patient's ID at the site, as on the patient list")]
RecordId = Annotated[int, Path(ge=1, le=2**31 - 1, description="the record's id in the registry")]


class Refusal(BaseModel):
    """A refused request (every 4xx answer of the API): the error's class, the field and value refused, what
    was expected, and the whole message."""

    model_config = ConfigDict(json_schema_extra={"example": {
        "error": "Forbidden", "field": "role", "value": "researcher",
        "expected": "a role that may view the Today worklist (physician, nurse, data_manager)",
        "message": "role='researcher': expected a role that may view the Today worklist (physician, nurse, "
                   "data_manager)"}})

    error: str
    field: str
    value: Scalar
    expected: str
    message: str

    @classmethod
    def of(cls, exc: OpenIDDSError) -> Refusal:
        """The refusal of ``exc``; a value that is not a JSON scalar is given as its text."""
        value = exc.value if exc.value is None or isinstance(exc.value, str | int | float | bool) else str(exc.value)
        return cls(error=type(exc).__name__, field=exc.field, value=value, expected=exc.expected, message=str(exc))


class Me(BaseModel):
    """The logged-in user, their role and the permissions it holds."""

    name: str
    role: Role
    permissions: list[Permission]


_WHY = {401: "no live session (log in first)",
        403: "the role may not, or a write without the session's CSRF token (header X-CSRF-Token)",
        404: "no such record",
        409: "the record changed since it was read (reload)",
        422: "a parameter or form field refused"}


def refusals(route: APIRoute) -> dict[int | str, dict[str, Any]]:
    """The refusals ``route`` may answer, each with the :class:`Refusal` body: 401 when it needs a session,
    403 when it declares a permission or checks the CSRF token, 404 when a path names a record and for a
    write, 409 for a write, 422 when it takes any parameter."""
    statuses = [status for status, applies in (
        (401, needs_session(route)), (403, bool(permissions_of(route)) or checks_csrf(route)),
        (404, bool(route.dependant.path_params) or checks_csrf(route)), (409, checks_csrf(route)),
        (422, bool(get_flat_params(route.dependant)) or route.body_field is not None)) if applies]
    return {status: {"model": Refusal, "description": _WHY[status]} for status in statuses}

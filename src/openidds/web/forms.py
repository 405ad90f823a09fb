"""What the write routes of the pump pages share: the JSON writer (CSRF token in a header), a posted form as an
input model's data, and bad input answered at its field."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from fastapi.responses import JSONResponse
from starlette.datastructures import FormData

from openidds.clinic.errors import UnknownRecord
from openidds.errors import OpenIDDSError
from openidds.programmer.order_entry import InputModel as InputModel
from openidds.programmer.order_entry import parse_input as parse_input
from openidds.web.context import NotLoggedIn, WebContext
from openidds.web.errors import CsrfRefused, Forbidden, StaleEdit
from openidds.web.pump_view import FormError

PASSED_ON = (Forbidden, StaleEdit, UnknownRecord, CsrfRefused, NotLoggedIn)
"""Refusals a route passes on to the app's handlers (403, 409, 404, 401); any other is bad input (422)."""

def form_values(form: FormData, maps: tuple[str, ...] = (), lists: tuple[str, ...] = ()) -> dict[str, Any]:
    """A posted form as an input model's data: ``name.key`` fields of ``maps`` gathered into dicts, ``lists``
    as lists of their values; the CSRF token and empty fields left out (an order's fields are read by
    :func:`openidds.web.orders.order_from_form`)."""
    out: dict[str, Any] = {name: {} for name in maps} | {name: form.getlist(name) for name in lists}
    for key, value in form.multi_items():
        if key == "csrf_token" or key in lists or not isinstance(value, str):
            continue
        head, _, rest = key.partition(".")
        if head in maps and rest:
            out[head][rest] = value
        elif value != "":
            out[key] = value
    return out


def bad_input(placed: FormError, error: OpenIDDSError) -> JSONResponse:
    """HTTP 422 naming the field, the value, what was expected, the form field it is about and the findings."""
    value = json.loads(json.dumps(error.value, default=str))
    return JSONResponse({"error": type(error).__name__, "field": error.field, "value": value,
                         "expected": error.expected, "message": str(error), "form_field": placed.field,
                         "findings": list(placed.findings)}, status_code=422)


def moment(web: WebContext) -> dt.datetime:
    """The clinic's moment to the whole second (the pump clock counts whole seconds)."""
    return web.clinic_now().replace(microsecond=0)

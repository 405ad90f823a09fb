"""The clinic web app and its HTTP API, on the registry: log-in, roles, the Today worklist, patient
timelines, the alarm board and the refill calendar. FastAPI with server-rendered Jinja2 pages and htmx
(vendored, no build step); served by uvicorn.

This module holds the roles and errors only, so the command line can name the roles without loading the
database or web libraries; users and sessions are in :mod:`openidds.web.accounts`, the app in
:mod:`openidds.web.app`."""

from openidds.web.errors import AccountError, CsrfRefused, Forbidden, LoginRefused
from openidds.web.roles import PERMISSIONS, Permission, Role, may, require

__all__ = ["PERMISSIONS", "AccountError", "CsrfRefused", "Forbidden", "LoginRefused", "Permission", "Role", "may",
           "require"]

"""The clinic web app and its HTTP API, on the registry: log-in, roles, the Today worklist and patient
timelines. FastAPI with server-rendered Jinja2 pages and htmx (vendored, no build step); served by uvicorn."""

from openidds.web.accounts import Login, SessionUser, User, add_user, log_in, log_out, session_user, unlock, users
from openidds.web.errors import AccountError, CsrfRefused, Forbidden, LoginRefused
from openidds.web.roles import PERMISSIONS, Permission, Role, may, require

__all__ = [
    "PERMISSIONS", "AccountError", "CsrfRefused", "Forbidden", "Login", "LoginRefused", "Permission", "Role",
    "SessionUser", "User", "add_user", "log_in", "log_out", "may", "require", "session_user", "unlock", "users",
]

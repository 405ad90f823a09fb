"""The users page and API (administrators)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from openidds.web import accounts
from openidds.web.context import User, Web
from openidds.web.roles import Permission, require

router = APIRouter()


@router.get("/users", response_class=HTMLResponse, include_in_schema=False)
def users_page(request: Request, web: Web, user: User) -> Response:
    require(user.role, Permission.VIEW_USERS)
    return web.page(request, "users.html", user, users=accounts.users(web.engine))


@router.get("/api/users", tags=["users"])
def api_users(web: Web, user: User) -> list[dict[str, Any]]:
    """Every user with role and lock-out state (administrators)."""
    require(user.role, Permission.VIEW_USERS)
    return [{"name": u.name, "role": u.role.value, "failed_logins": u.failed_logins, "locked": u.locked}
            for u in accounts.users(web.engine)]

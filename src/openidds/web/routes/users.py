"""The users page and API (administrators)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse

from openidds.web import accounts
from openidds.web.context import Web, needs
from openidds.web.roles import Permission

router = APIRouter()
UserAdministrator = Annotated[accounts.SessionUser, needs(Permission.VIEW_USERS)]


@router.get("/users", response_class=HTMLResponse, include_in_schema=False)
def users_page(request: Request, web: Web, user: UserAdministrator) -> Response:
    return web.page(request, "users.html", user, users=accounts.users(web.engine, web.clock()))


@router.get("/api/users", tags=["users"])
def api_users(web: Web, user: UserAdministrator) -> list[accounts.User]:
    """Every user with role and lock-out state (administrators)."""
    return accounts.users(web.engine, web.clock())

"""The users page and API (administrators): list users; add one, change a role, unlock, disable and enable
(forms shown again with the refusal beside its field; an edit from a stale page gets 409)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from openidds.web import accounts
from openidds.web.context import JsonWriter, Web, Writer, needs
from openidds.web.errors import AccountError
from openidds.web.roles import Permission, Role

router = APIRouter()
UserAdministrator = Annotated[accounts.SessionUser, needs(Permission.VIEW_USERS)]
MANAGE = [needs(Permission.MANAGE_USERS)]
PAGE_SOURCE = "users page"
API_SOURCE = "users API"
Version = Annotated[int, Form(description="the user's account version as the page showed it")]


def _page(request: Request, web: Web, user: accounts.SessionUser, status_code: int = 200, **context: Any
          ) -> HTMLResponse:
    shown: dict[str, Any] = {"errors": {}, "row_errors": {}, "shown": {}, "changed": None, "added": False,
                             "generated": None,
                             **context}
    return web.page(request, "users.html", user, status_code, users=accounts.users(web.engine, web.clock()),
                    roles=list(Role), **shown)


@router.get("/users", response_class=HTMLResponse, include_in_schema=False)
def users_page(request: Request, web: Web, user: UserAdministrator, changed: str | None = None) -> Response:
    return _page(request, web, user, changed=changed)


@router.post("/users", response_class=HTMLResponse, include_in_schema=False, dependencies=MANAGE)
def add_form(request: Request, web: Web, user: Writer, name: Annotated[str, Form()] = "",
             role: Annotated[str, Form()] = "", password: Annotated[str, Form()] = "",
             password_again: Annotated[str, Form()] = "", generate: Annotated[bool, Form()] = False) -> Response:
    shown = {"name": name, "role": role, "generate": generate}
    try:
        chosen = accounts.initial_password(password, password_again, generate)
        added = accounts.add_user(web.engine, name, _role(role), chosen, web.clock(), user.name, PAGE_SOURCE)
    except AccountError as exc:
        return _page(request, web, user, 422, errors={exc.field: str(exc)}, shown=shown)
    return _page(request, web, user, changed=added.name, added=True, generated=chosen if generate else None)


def _role(value: str) -> Role:
    try:
        return Role(value)
    except ValueError:
        raise AccountError("role", value, f"one of {', '.join(r.value for r in Role)}") from None


def _row_action(request: Request, web: Web, user: accounts.SessionUser, name: str,
                action: Callable[[], None]) -> Response:
    """Do ``action`` on the user ``name`` and go back to the page; a refusal is shown beside the user's row."""
    try:
        action()
    except AccountError as exc:
        return _page(request, web, user, 422, row_errors={name: str(exc)})
    return RedirectResponse(f"/users?changed={name}", status_code=303)


@router.post("/users/{name}/role", response_class=HTMLResponse, include_in_schema=False, dependencies=MANAGE)
def role_form(request: Request, web: Web, user: Writer, name: str, role: Annotated[str, Form()],
              version: Version) -> Response:
    return _row_action(request, web, user, name, lambda: accounts.set_role(
        web.engine, name, _role(role), web.clock(), user.name, version, PAGE_SOURCE))


@router.post("/users/{name}/unlock", response_class=HTMLResponse, include_in_schema=False, dependencies=MANAGE)
def unlock_form(request: Request, web: Web, user: Writer, name: str, version: Version) -> Response:
    return _row_action(request, web, user, name, lambda: accounts.unlock(
        web.engine, name, web.clock(), user.name, version, PAGE_SOURCE))


@router.post("/users/{name}/disable", response_class=HTMLResponse, include_in_schema=False, dependencies=MANAGE)
def disable_form(request: Request, web: Web, user: Writer, name: str, version: Version) -> Response:
    return _row_action(request, web, user, name, lambda: accounts.disable(
        web.engine, name, web.clock(), user.name, version, PAGE_SOURCE))


@router.post("/users/{name}/enable", response_class=HTMLResponse, include_in_schema=False, dependencies=MANAGE)
def enable_form(request: Request, web: Web, user: Writer, name: str, version: Version) -> Response:
    return _row_action(request, web, user, name, lambda: accounts.enable(
        web.engine, name, web.clock(), user.name, version, PAGE_SOURCE))


@router.get("/api/users", tags=["users"])
def api_users(web: Web, user: UserAdministrator) -> list[accounts.User]:
    """Every user with role, lock-out state, whether disabled and account version (administrators)."""
    return accounts.users(web.engine, web.clock())


class NewUser(BaseModel):
    """A user to add; without ``password`` one is generated and returned once."""

    model_config = ConfigDict(extra="forbid")
    name: str = Field(description="the log-in name (1–120 printable characters)")
    role: Role
    password: str | None = Field(None, description="the initial password (at least 12 characters); null: generate")


class AddedUser(BaseModel):
    """The added user, with the generated password (shown this once) when none was given."""

    user: accounts.User
    generated_password: str | None


class Change(BaseModel):
    """A change of one user, based on the account version the client saw."""

    model_config = ConfigDict(extra="forbid")
    version: int = Field(description="the user's account version as last read (GET /api/users)")


class RoleChange(Change):
    """A new role for one user."""

    role: Role


@router.post("/api/users", tags=["users"], dependencies=MANAGE)
def api_add_user(web: Web, user: JsonWriter, new: NewUser) -> AddedUser:
    """Add a user (administrators); 422 naming the refused field."""
    chosen = accounts.generated_password() if new.password is None else new.password
    added = accounts.add_user(web.engine, new.name, new.role, chosen, web.clock(), user.name, API_SOURCE)
    return AddedUser(user=added, generated_password=chosen if new.password is None else None)


@router.post("/api/users/{name}/role", tags=["users"], dependencies=MANAGE)
def api_set_role(web: Web, user: JsonWriter, name: str, change: RoleChange) -> accounts.User:
    """Give the user another role; 409 if the account changed since ``version``."""
    accounts.set_role(web.engine, name, change.role, web.clock(), user.name, change.version, API_SOURCE)
    return accounts.one_user(web.engine, name, web.clock())


@router.post("/api/users/{name}/unlock", tags=["users"], dependencies=MANAGE)
def api_unlock(web: Web, user: JsonWriter, name: str, change: Change) -> accounts.User:
    """Lift the user's lock-out; 409 if the account changed since ``version``."""
    accounts.unlock(web.engine, name, web.clock(), user.name, change.version, API_SOURCE)
    return accounts.one_user(web.engine, name, web.clock())


@router.post("/api/users/{name}/disable", tags=["users"], dependencies=MANAGE)
def api_disable(web: Web, user: JsonWriter, name: str, change: Change) -> accounts.User:
    """Disable the user (their sessions end); 409 if the account changed since ``version``."""
    accounts.disable(web.engine, name, web.clock(), user.name, change.version, API_SOURCE)
    return accounts.one_user(web.engine, name, web.clock())


@router.post("/api/users/{name}/enable", tags=["users"], dependencies=MANAGE)
def api_enable(web: Web, user: JsonWriter, name: str, change: Change) -> accounts.User:
    """Let the disabled user log in again; 409 if the account changed since ``version``."""
    accounts.enable(web.engine, name, web.clock(), user.name, change.version, API_SOURCE)
    return accounts.one_user(web.engine, name, web.clock())

"""Log-in, log-out, the home redirect and the user's own page."""

from __future__ import annotations

import secrets
from typing import Annotated

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from openidds.web import accounts, calendar
from openidds.web.context import LOGIN_CSRF_COOKIE, SESSION_COOKIE, User, Web, WebContext, Writer
from openidds.web.errors import CsrfRefused, LoginRefused
from openidds.web.roles import PERMISSIONS, Permission, may
from openidds.web.schemas import Me

router = APIRouter()
_HOME_BY_PERMISSION = ((Permission.VIEW_TODAY, "/today"), (Permission.VIEW_PATIENTS, "/patients"),
                       (Permission.VIEW_RESEARCH_PATIENTS, "/research/patients"), (Permission.VIEW_USERS, "/users"))


def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
    """An HttpOnly, SameSite=Strict cookie, Secure when the app is reached over HTTPS."""
    response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict", path="/",
                        secure=request.url.scheme == "https")


def login_page(web: WebContext, request: Request, status: int = 200, message: str | None = None,
               name: str = "") -> Response:
    token = secrets.token_urlsafe(32)
    response = web.page(request, "login.html", None, status, csrf_token=token, message=message, name=name)
    set_cookie(request, response, LOGIN_CSRF_COOKIE, token, 3600)
    return response


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
def login_form(request: Request, web: Web) -> Response:
    return login_page(web, request)


@router.post("/login", response_class=HTMLResponse, include_in_schema=False)
def login(request: Request, web: Web, name: Annotated[str, Form()], password: Annotated[str, Form()],
          csrf_token: Annotated[str, Form()]) -> Response:
    expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
    if not expected or not secrets.compare_digest(csrf_token.encode(), expected.encode()):
        raise CsrfRefused("csrf_token", "<not this browser's>", "the token of the log-in form this browser "
                          "loaded (reload the log-in page)")
    try:
        done = accounts.log_in(web.engine, name, password, web.clock())
    except LoginRefused as exc:
        return login_page(web, request, 401, str(exc), name)
    response = RedirectResponse("/", status_code=303)
    set_cookie(request, response, SESSION_COOKIE, done.token, int(accounts.SESSION_LIFETIME.total_seconds()))
    response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
    return response


@router.post("/logout", include_in_schema=False)
def logout(request: Request, web: Web, _user: Writer) -> Response:
    accounts.log_out(web.engine, request.cookies[SESSION_COOKIE])
    response = RedirectResponse("/login", status_code=303)
    response.delete_cookie(SESSION_COOKIE, path="/")
    return response


@router.get("/", include_in_schema=False)
def home(user: User) -> Response:
    target = next((path for permission, path in _HOME_BY_PERMISSION if may(user.role, permission)), "/me")
    return RedirectResponse(target, status_code=303)


@router.get("/me", response_class=HTMLResponse, include_in_schema=False)
def me_page(request: Request, web: Web, user: User) -> Response:
    token = calendar.feed_token(web.engine, user) if may(user.role, Permission.BOOK_REFILLS) else None
    feed_url = None if token is None else str(request.url_for("calendar_feed", token=token))
    return web.page(request, "me.html", user, feed_url=feed_url)


@router.get("/api/me", tags=["session"])
def api_me(user: User) -> Me:
    """The logged-in user, their role and its permissions."""
    return Me(name=user.name, role=user.role, permissions=sorted(PERMISSIONS[user.role], key=lambda p: p.value))

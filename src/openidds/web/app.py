"""The clinic web app: routes that parse a request, call the services of :mod:`openidds.web` and render a
Jinja2 page or JSON. Every route but the log-in page needs a live session; every POST needs the session's
CSRF token (form field ``csrf_token`` or header ``X-CSRF-Token``); each service checks the role."""

import datetime as dt
import secrets
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, FastAPI, Form, Header, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine

from openidds.clinic.errors import UnknownRecord
from openidds.errors import OpenIDDSError
from openidds.web import accounts
from openidds.web.errors import CsrfRefused, Forbidden, LoginRefused
from openidds.web.patients import patient_list, timeline_for
from openidds.web.roles import PERMISSIONS, Permission, may, require
from openidds.web.today import today_for

SESSION_COOKIE = "openidds_session"
LOGIN_CSRF_COOKIE = "openidds_login_csrf"
HTMX_VERSION = "2.0.11"
_HERE = Path(__file__).resolve().parent
_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_HOME_BY_PERMISSION = ((Permission.VIEW_TODAY, "/today"), (Permission.VIEW_PATIENTS, "/patients"),
                       (Permission.VIEW_USERS, "/users"))


def utc_now() -> dt.datetime:
    """The wall clock as naive UTC (the registry's time representation)."""
    return dt.datetime.now(dt.UTC).replace(tzinfo=None)


class NotLoggedIn(OpenIDDSError):
    """No live session: a page sends the browser to the log-in page, an API call answers 401."""


def create_app(engine: Engine, today: dt.date | None = None,
               clock: Callable[[], dt.datetime] = utc_now) -> FastAPI:
    """The app on the registry ``engine``. ``today``: the clinic day the worklists are computed for (default:
    the clock's date; the example clinic's data end on a fixed day); ``clock``: naive-UTC time of sessions."""
    app = FastAPI(title="OpenIDDS clinic", version="0.1.0", docs_url=None, redoc_url=None,  # their pages use a CDN
                  description="The IDDS clinic's worklists and patient timelines. Not a medical device.")
    app.mount("/static", StaticFiles(directory=_HERE / "static"), name="static")
    templates = Jinja2Templates(directory=_HERE / "templates")
    templates.env.globals["htmx_version"] = HTMX_VERSION

    def clinic_now() -> dt.datetime:
        """The clinic's moment: the clock's, moved to ``today`` when one is given (alarm ages count from it)."""
        now = clock()
        return now if today is None else dt.datetime.combine(today, now.time())

    def current_user(request: Request) -> accounts.SessionUser:
        token = request.cookies.get(SESSION_COOKIE)
        user = accounts.session_user(engine, token, clock()) if token else None
        if user is None:
            raise NotLoggedIn("session", None, "a logged-in user: log in first (sessions end after "
                              f"{accounts.SESSION_LIFETIME.total_seconds() / 3600:g} hours or at log-out)")
        return user

    User = Annotated[accounts.SessionUser, Depends(current_user)]

    def csrf_checked(user: User, csrf_token: Annotated[str | None, Form()] = None,
                     x_csrf_token: Annotated[str | None, Header()] = None) -> accounts.SessionUser:
        given = x_csrf_token or csrf_token
        if not given or not secrets.compare_digest(given.encode(), user.csrf_token.encode()):
            raise CsrfRefused("csrf_token", None if given is None else "<not this session's>",
                              "the session's CSRF token with every form and write call (reload the page)")
        return user

    def page(request: Request, template: str, user: accounts.SessionUser | None, status_code: int = 200,
             **context: Any) -> HTMLResponse:
        perms = {p.name for p in PERMISSIONS[user.role]} if user else set()
        return templates.TemplateResponse(request, template, {"user": user, "perms": perms, **context},
                                          status_code=status_code)

    def is_api(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    def refusal(request: Request, exc: OpenIDDSError, status: int) -> Response:
        body = {"error": type(exc).__name__, "field": exc.field, "value": exc.value, "expected": exc.expected,
                "message": str(exc)}
        if is_api(request):
            return JSONResponse(body, status_code=status)
        token = request.cookies.get(SESSION_COOKIE)
        user = accounts.session_user(engine, token, clock()) if token else None
        return page(request, "error.html", user, status, status=status, message=str(exc))

    @app.exception_handler(NotLoggedIn)
    def _not_logged_in(request: Request, exc: NotLoggedIn) -> Response:
        if is_api(request):
            return refusal(request, exc, 401)
        if request.headers.get("HX-Request") == "true":  # a partial update: the whole page goes to log in
            return Response(status_code=200, headers={"HX-Redirect": "/login"})
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(Forbidden)
    def _forbidden(request: Request, exc: Forbidden) -> Response:
        return refusal(request, exc, 403)

    @app.exception_handler(CsrfRefused)
    def _csrf(request: Request, exc: CsrfRefused) -> Response:
        return refusal(request, exc, 403)

    @app.exception_handler(UnknownRecord)
    def _unknown(request: Request, exc: UnknownRecord) -> Response:
        return refusal(request, exc, 404)

    @app.middleware("http")
    async def _headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        for header, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(header, value)
        return response

    def set_cookie(request: Request, response: Response, name: str, value: str, max_age: int) -> None:
        response.set_cookie(name, value, max_age=max_age, httponly=True, samesite="strict", path="/",
                            secure=request.url.scheme == "https")

    def login_page(request: Request, status: int = 200, message: str | None = None, name: str = "") -> Response:
        token = secrets.token_urlsafe(32)
        response = page(request, "login.html", None, status, csrf_token=token, message=message, name=name)
        set_cookie(request, response, LOGIN_CSRF_COOKIE, token, 3600)
        return response

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    def login_form(request: Request) -> Response:
        return login_page(request)

    @app.post("/login", response_class=HTMLResponse, include_in_schema=False)
    def login(request: Request, name: Annotated[str, Form()], password: Annotated[str, Form()],
              csrf_token: Annotated[str, Form()]) -> Response:
        expected = request.cookies.get(LOGIN_CSRF_COOKIE, "")
        if not expected or not secrets.compare_digest(csrf_token.encode(), expected.encode()):
            raise CsrfRefused("csrf_token", "<not this browser's>", "the token of the log-in form this browser "
                              "loaded (reload the log-in page)")
        try:
            done = accounts.log_in(engine, name, password, clock())
        except LoginRefused as exc:
            return login_page(request, 401, str(exc), name)
        response = RedirectResponse("/", status_code=303)
        set_cookie(request, response, SESSION_COOKIE, done.token, int(accounts.SESSION_LIFETIME.total_seconds()))
        response.delete_cookie(LOGIN_CSRF_COOKIE, path="/")
        return response

    @app.post("/logout", include_in_schema=False)
    def logout(request: Request, _user: Annotated[accounts.SessionUser, Depends(csrf_checked)]) -> Response:
        accounts.log_out(engine, request.cookies[SESSION_COOKIE])
        response = RedirectResponse("/login", status_code=303)
        response.delete_cookie(SESSION_COOKIE, path="/")
        return response

    @app.get("/", include_in_schema=False)
    def home(user: User) -> Response:
        target = next((path for permission, path in _HOME_BY_PERMISSION if may(user.role, permission)), "/me")
        return RedirectResponse(target, status_code=303)

    @app.get("/me", response_class=HTMLResponse, include_in_schema=False)
    def me_page(request: Request, user: User) -> Response:
        return page(request, "me.html", user)

    @app.get("/today", response_class=HTMLResponse, include_in_schema=False)
    def today_page(request: Request, user: User) -> Response:
        return page(request, "today.html", user, today=today_for(engine, user.role, clinic_now()))

    @app.get("/today/sections", response_class=HTMLResponse, include_in_schema=False)
    def today_sections(request: Request, user: User) -> Response:
        return page(request, "_today_sections.html", user, today=today_for(engine, user.role, clinic_now()))

    @app.get("/patients", response_class=HTMLResponse, include_in_schema=False)
    def patients_page(request: Request, user: User) -> Response:
        return page(request, "patients.html", user, patients=patient_list(engine, user.role))

    @app.get("/patients/{site}/{patient_id}", response_class=HTMLResponse, include_in_schema=False)
    def patient_page(request: Request, user: User, site: str, patient_id: str) -> Response:
        return page(request, "patient.html", user, timeline=timeline_for(engine, user.role, site, patient_id))

    @app.get("/users", response_class=HTMLResponse, include_in_schema=False)
    def users_page(request: Request, user: User) -> Response:
        require(user.role, Permission.VIEW_USERS)
        return page(request, "users.html", user, users=accounts.users(engine))

    @app.get("/api/me", tags=["session"])
    def api_me(user: User) -> dict[str, Any]:
        """The logged-in user, their role and its permissions."""
        return {"name": user.name, "role": user.role.value,
                "permissions": sorted(p.value for p in PERMISSIONS[user.role])}

    @app.get("/api/today", tags=["worklists"])
    def api_today(user: User) -> dict[str, Any]:
        """Refills and follow-ups due, open alarms and (data managers) data-quality findings."""
        return today_for(engine, user.role, clinic_now()).to_dict()

    @app.get("/api/patients", tags=["patients"])
    def api_patients(user: User) -> list[dict[str, Any]]:
        """Every patient with first implant and follow-up status."""
        return [row.to_dict() for row in patient_list(engine, user.role)]

    @app.get("/api/patients/{site}/{patient_id}", tags=["patients"])
    def api_patient(user: User, site: str, patient_id: str) -> dict[str, Any]:
        """A patient's timeline; ``identifiers`` is null for a role that may not see them."""
        return timeline_for(engine, user.role, site, patient_id).to_dict()

    @app.get("/api/users", tags=["users"])
    def api_users(user: User) -> list[dict[str, Any]]:
        """Every user with role and lock-out state (administrators)."""
        require(user.role, Permission.VIEW_USERS)
        return [{"name": u.name, "role": u.role.value, "failed_logins": u.failed_logins, "locked": u.locked}
                for u in accounts.users(engine)]

    return app

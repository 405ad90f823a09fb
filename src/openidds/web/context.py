"""What every route needs: the registry, the page renderer, the clinic's clock, and the dependencies that
give a route its logged-in user (any request), its CSRF-checked user (every write) and the permission it
requires (:func:`needs`, which the role tests and the API's documented statuses read)."""

from __future__ import annotations

import datetime as dt
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Form, Header, Request
from fastapi.params import Depends as DependsParam
from fastapi.responses import HTMLResponse
from fastapi.routing import APIRoute
from fastapi.templating import Jinja2Templates
from sqlalchemy import Engine

from openidds.clinic.time_zone import ClinicZone, ZoneCache
from openidds.errors import OpenIDDSError
from openidds.web import accounts
from openidds.web.errors import CsrfRefused
from openidds.web.roles import PERMISSIONS, Permission, require
from openidds.web.transports.board import unread_count

SESSION_COOKIE = "openidds_session"
LOGIN_CSRF_COOKIE = "openidds_login_csrf"
HTMX_VERSION = "2.0.11"
HERE = Path(__file__).resolve().parent


class NotLoggedIn(OpenIDDSError):
    """No live session: a page sends the browser to the log-in page, an API call answers 401."""


@dataclass(frozen=True)
class WebContext:
    """The app's registry, templates and clocks. ``today``: the clinic day the worklists are computed for (None:
    the clock's date); ``clock``: naive-UTC time of sessions and of every record's who-and-when;
    ``research_seed``: the research export's seed, whose pseudonyms researchers see; ``state_key``: the clinic's
    state key, which checks an uploaded pump state file (None: such uploads are refused); ``zones``: the clinic's
    time zone as this process holds it (:class:`~openidds.clinic.time_zone.ZoneCache`)."""

    engine: Engine
    templates: Jinja2Templates
    clock: Callable[[], dt.datetime]
    today: dt.date | None
    zones: ZoneCache
    research_seed: int | None = None
    state_key: bytes | None = None

    @classmethod
    def create(cls, engine: Engine, today: dt.date | None, clock: Callable[[], dt.datetime],
               research_seed: int | None = None, state_key: bytes | None = None) -> WebContext:
        templates = Jinja2Templates(directory=HERE / "templates")
        templates.env.globals["htmx_version"] = HTMX_VERSION
        templates.env.filters["local"] = local_text
        return cls(engine, templates, clock, today, ZoneCache(engine), research_seed, state_key)

    def clinic_now(self) -> dt.datetime:
        """The clinic's moment: the clock's, moved to ``today`` when one is given (alarm ages count from it)."""
        now = self.clock()
        return now if self.today is None else dt.datetime.combine(self.today, now.time())

    def clinic_zone(self) -> ClinicZone:
        """The clinic's time zone: read from the registry at most every
        :data:`~openidds.clinic.time_zone.ZONE_MAX_AGE_S` seconds, and at once after this process changed it (another
        worker's change shows within that time)."""
        return self.zones.current()

    def clinic_today(self, zone: ClinicZone) -> dt.date:
        """The clinic's day: ``today`` when given, else the date the clock reads in ``zone``."""
        return self.today if self.today is not None else zone.today(self.clock())

    def session_user(self, request: Request) -> accounts.SessionUser | None:
        """The user of the request's live session, or None."""
        token = request.cookies.get(SESSION_COOKIE)
        return accounts.session_user(self.engine, token, self.clock()) if token else None

    def page(self, request: Request, template: str, user: accounts.SessionUser | None, status_code: int = 200,
             **context: Any) -> HTMLResponse:
        """``template`` rendered for ``user`` (the navigation shows what the user's role may open, and their unread
        alarm board messages); ``clinic_zone`` (the clinic's time zone, read here unless given) is the zone the
        page's times are shown in, with the ``local`` filter."""
        perms = {p.name for p in PERMISSIONS[user.role]} if user else set()
        unread = unread_count(self.engine, user.name) if user else 0
        if "clinic_zone" not in context:
            context["clinic_zone"] = self.clinic_zone() if user else None
        return self.templates.TemplateResponse(request, template,
                                               {"user": user, "perms": perms, "unread": unread, **context},
                                               status_code=status_code)


def local_text(at: dt.datetime | str | None, zone: ClinicZone, form: str = "%Y-%m-%d %H:%M") -> str:
    """The naive-UTC moment ``at`` (or its ISO text, as the pump views write their times) written in the clinic's
    ``zone`` (``form``: a strftime format; empty for None): the pages' ``local`` filter."""
    if at is None:
        return ""
    return zone.local(dt.datetime.fromisoformat(at) if isinstance(at, str) else at).strftime(form)


def web_context(request: Request) -> WebContext:
    """The app's :class:`WebContext` (set by :func:`openidds.web.app.create_app`)."""
    context: WebContext = request.app.state.web
    return context


Web = Annotated[WebContext, Depends(web_context)]


def current_user(request: Request, web: Web) -> accounts.SessionUser:
    """The request's logged-in user; :class:`NotLoggedIn` without a live session."""
    user = web.session_user(request)
    if user is None:
        raise NotLoggedIn("session", None, "a logged-in user: log in first (sessions end after "
                          f"{accounts.SESSION_LIFETIME.total_seconds() / 3600:g} hours or at log-out)")
    return user


User = Annotated[accounts.SessionUser, Depends(current_user)]


def csrf_checked(user: User, csrf_token: Annotated[str | None, Form()] = None,
                 x_csrf_token: Annotated[str | None, Header()] = None) -> accounts.SessionUser:
    """The logged-in user of a write, whose CSRF token (form field or header) matches the session's."""
    given = x_csrf_token or csrf_token
    if not given or not secrets.compare_digest(given.encode(), user.csrf_token.encode()):
        raise CsrfRefused("csrf_token", None if given is None else "<not this session's>",
                          "the session's CSRF token with every form and write call (reload the page)")
    return user


Writer = Annotated[accounts.SessionUser, Depends(csrf_checked)]


def csrf_header_checked(user: User, x_csrf_token: Annotated[str | None, Header()] = None) -> accounts.SessionUser:
    """The logged-in user of a JSON write, whose ``X-CSRF-Token`` header matches the session's (a route that
    reads a JSON body cannot also take the form field)."""
    return csrf_checked(user, None, x_csrf_token)


JsonWriter = Annotated[accounts.SessionUser, Depends(csrf_header_checked)]


@dataclass(frozen=True)
class Needs:
    """A route's declared permission: the dependency refuses (:class:`Forbidden`, HTTP 403) a role that does
    not hold ``permission``, and gives the logged-in user otherwise."""

    permission: Permission

    def __call__(self, user: User) -> accounts.SessionUser:
        require(user.role, self.permission)
        return user


def needs(permission: Permission) -> DependsParam:
    """The dependency of a route that requires ``permission``: as a parameter,
    ``user: Annotated[SessionUser, needs(Permission.X)]``, or ``dependencies=[needs(Permission.X)]`` beside a
    :data:`Writer` parameter. Declare it on every route that needs a permission: the role tests derive who may
    reach the route from it."""
    dependency: DependsParam = Depends(Needs(permission))
    return dependency


def _calls(route: APIRoute) -> list[Callable[..., Any]]:
    """Every dependency the route's handler runs, sub-dependencies included."""
    pending, out = list(route.dependant.dependencies), []
    while pending:
        dependant = pending.pop()
        if dependant.call is not None:
            out.append(dependant.call)
        pending += dependant.dependencies
    return out


def permissions_of(route: APIRoute) -> frozenset[Permission]:
    """The permissions the route declares with :func:`needs` (empty: any logged-in user)."""
    return frozenset(call.permission for call in _calls(route) if isinstance(call, Needs))


def needs_session(route: APIRoute) -> bool:
    """Whether the route needs a logged-in user (every route but the log-in page's)."""
    return current_user in _calls(route)


def reads_form_token(route: APIRoute) -> bool:
    """Whether the route takes the session's CSRF token from a form field (a :data:`Writer` route; a
    :data:`JsonWriter` route reads the header only)."""
    return csrf_checked in _calls(route)


def checks_csrf(route: APIRoute) -> bool:
    """Whether the route needs the session's CSRF token (a :data:`Writer` route)."""
    return not {csrf_checked, csrf_header_checked}.isdisjoint(_calls(route))

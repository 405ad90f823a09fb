"""The clinic web app: the routers of :mod:`openidds.web.routes` (each parses a request, calls a service of
:mod:`openidds.web` and renders a Jinja2 page or JSON), the refusal handlers and the security headers. Every
route but the log-in page needs a live session; every POST needs the session's CSRF token (form field
``csrf_token`` or header ``X-CSRF-Token``); each service checks the role."""

import datetime as dt
from collections.abc import Awaitable, Callable

from fastapi import FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, RedirectResponse
from fastapi.staticfiles import StaticFiles
from sqlalchemy import Engine

from openidds.clinic.errors import ConcurrentUpdateError, RegistryError, UnknownRecord
from openidds.errors import OpenIDDSError
from openidds.wall_clock import utc_now
from openidds.web.context import HERE, NotLoggedIn, WebContext
from openidds.web.errors import AccountError, CsrfRefused, Forbidden, InputRefused, NoResearchSeed, StaleEdit
from openidds.web.routes import ROUTERS, all_routes
from openidds.web.schemas import Refusal, refusals

_SECURITY_HEADERS = {
    "Content-Security-Policy": "default-src 'self'; frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-store",
}
_REFUSAL_STATUS: dict[type[OpenIDDSError], int] = {Forbidden: 403, CsrfRefused: 403, UnknownRecord: 404,
                                                  StaleEdit: 409, ConcurrentUpdateError: 409, InputRefused: 422,
                                                  RegistryError: 422, AccountError: 422, NoResearchSeed: 503}
"""The HTTP status of each refusal a route may raise (:class:`NotLoggedIn` is handled on its own)."""


def invalid_request(exc: RequestValidationError) -> InputRefused:
    """The first of the validation's errors as a refusal: the field's name, the value given (none when it is
    missing) and what was expected."""
    error = exc.errors()[0]
    field = ".".join(str(part) for part in error["loc"][1:]) or str(error["loc"][0])
    missing = error["type"] == "missing"
    return InputRefused(field, None if missing else error.get("input"),
                          f"{'the field' if missing else 'a valid value'} ({error['msg']})")


def create_app(engine: Engine, today: dt.date | None = None,
               clock: Callable[[], dt.datetime] = utc_now, research_seed: int | None = None,
               state_key: bytes | None = None) -> FastAPI:
    """The app on the registry ``engine``. ``today``: the clinic day the worklists are computed for (default:
    the clock's date; the example clinic's data end on a fixed day); ``clock``: naive-UTC time of sessions;
    ``research_seed``: the seed of the research export's IDs and date shifts that researchers see (none: the
    researcher's pages are refused); ``state_key``: the clinic's state key, which checks uploaded pump state files
    (none: they are refused)."""
    app = FastAPI(title="OpenIDDS clinic", version="0.1.0", docs_url=None, redoc_url=None,  # their pages use a CDN
                  description="The IDDS clinic's worklists and patient timelines. Not a medical device.")
    web = WebContext.create(engine, today, clock, research_seed, state_key)
    app.state.web = web
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    for router in ROUTERS:
        app.include_router(router)
    for route in all_routes():
        if route.include_in_schema:
            route.responses = {**refusals(route), **route.responses}

    def is_api(request: Request) -> bool:
        return request.url.path.startswith("/api/")

    def refusal(request: Request, exc: OpenIDDSError, status: int) -> Response:
        if is_api(request):
            return JSONResponse(Refusal.of(exc).model_dump(mode="json"), status_code=status)
        return web.page(request, "error.html", web.session_user(request), status, status=status, message=str(exc))

    @app.exception_handler(NotLoggedIn)
    def _not_logged_in(request: Request, exc: NotLoggedIn) -> Response:
        if is_api(request):
            return refusal(request, exc, 401)
        if request.headers.get("HX-Request") == "true":  # a partial update: the whole page goes to log in
            return Response(status_code=200, headers={"HX-Redirect": "/login"})
        return RedirectResponse("/login", status_code=303)

    def _refused(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, OpenIDDSError)
        status = next(_REFUSAL_STATUS[kind] for kind in type(exc).__mro__ if kind in _REFUSAL_STATUS)
        return refusal(request, exc, status)

    for refusal_type in _REFUSAL_STATUS:
        app.add_exception_handler(refusal_type, _refused)

    @app.exception_handler(RequestValidationError)
    def _invalid(request: Request, exc: RequestValidationError) -> Response:
        return refusal(request, invalid_request(exc), 422)

    @app.middleware("http")
    async def _headers(request: Request, call_next: Callable[[Request], Awaitable[Response]]) -> Response:
        response = await call_next(request)
        for header, value in _SECURITY_HEADERS.items():
            response.headers.setdefault(header, value)
        return response

    return app

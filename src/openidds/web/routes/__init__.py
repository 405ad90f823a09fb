"""The app's routes, one router per page family; :func:`openidds.web.app.create_app` includes each of
:data:`ROUTERS`."""

from fastapi import APIRouter
from fastapi.routing import APIRoute

from openidds.web.routes import (
    alarms,
    calendar,
    data_entry,
    exports,
    imports,
    patients,
    programming,
    refills,
    reports,
    research,
    session,
    settings,
    today,
    users,
)

ROUTERS: tuple[APIRouter, ...] = (session.router, today.router, patients.router, users.router, alarms.router,
                                  calendar.router, programming.router, refills.router, data_entry.router,
                                  research.router, imports.router, exports.router, reports.router,
                                  settings.router)


def all_routes() -> list[APIRoute]:
    """Every route of the app, in the order the routers are included (for the role and CSRF checks)."""
    return [route for router in ROUTERS for route in router.routes if isinstance(route, APIRoute)]

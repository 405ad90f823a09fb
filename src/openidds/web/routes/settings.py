"""The clinic's settings: its time zone and its escalation settings, each a page, its form (saved, or shown again
with the refusal beside its field) and the API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from openidds.clinic.time_zone import TimeZoneRefused
from openidds.web import settings
from openidds.web.accounts import SessionUser
from openidds.web.context import JsonWriter, User, Web, Writer, needs
from openidds.web.roles import Permission

router = APIRouter()
PAGE = "/settings/escalation"
ZONE_PAGE = "/settings/time-zone"


def _page(request: Request, web: Web, user: SessionUser, view: settings.Settings, status_code: int = 200,
          saved: int | None = None) -> HTMLResponse:
    return web.page(request, "settings.html", user, status_code, view=view, choices=settings.choices(),
                    blank_rows=settings.BLANK_ROWS, saved=saved)


@router.get(PAGE, response_class=HTMLResponse, include_in_schema=False,
            dependencies=[needs(Permission.EDIT_ESCALATION_POLICY)])
def settings_page(request: Request, web: Web, user: User, saved: int | None = None) -> Response:
    return _page(request, web, user, settings.view(web.engine, user.role), saved=saved)


@router.post(PAGE, include_in_schema=False, dependencies=[needs(Permission.EDIT_ESCALATION_POLICY)])
async def settings_form(request: Request, web: Web, user: Writer,
                        based_on: Annotated[int | None, Form(description="the version the page showed")] = None
                        ) -> Response:
    form = await request.form()
    fields = {name: [str(v) for v in form.getlist(name)] for name in form}
    shown = settings.submitted(web.engine, fields)
    try:
        version = settings.save(web.engine, user, settings.file_values(shown), based_on, web.clock())
    except settings.PolicyRefused as exc:
        return _page(request, web, user, settings.view(web.engine, user.role, shown, exc), 422)
    return RedirectResponse(f"{PAGE}?saved={version.number}", status_code=303)


class PolicyEdit(BaseModel):
    """A new version of the policy: the values of a policy file, and the version the edit is based on."""

    model_config = ConfigDict(extra="forbid")
    based_on: int | None = Field(description="the current version's number when the edit began (null: none)")
    policy: dict[str, Any] = Field(description="the policy, as the values of its TOML or JSON file")


@router.get("/api/settings/escalation-policy", tags=["settings"],
            dependencies=[needs(Permission.EDIT_ESCALATION_POLICY)])
def api_policy(web: Web, user: User) -> dict[str, Any]:
    """The current escalation policy version (``current`` is null when none is installed: nothing escalates)."""
    current = settings.view(web.engine, user.role).current
    return {"current": None if current is None else current.to_dict()}


@router.put("/api/settings/escalation-policy", tags=["settings"],
            dependencies=[needs(Permission.EDIT_ESCALATION_POLICY)])
def api_save_policy(web: Web, user: JsonWriter, edit: PolicyEdit) -> dict[str, Any]:
    """Install the next version (physician, administrator); 422 naming the field the core's validation refuses,
    409 if another version was installed since ``based_on``."""
    return settings.save(web.engine, user, edit.policy, edit.based_on, web.clock()).to_dict()


def _zone_page(request: Request, web: Web, user: SessionUser, status_code: int = 200, saved: bool = False,
               shown: str | None = None, refused: TimeZoneRefused | None = None) -> HTMLResponse:
    view = settings.time_zone_view(web.engine, user.role)
    return web.page(request, "time_zone.html", user, status_code, view=view, saved=saved,
                    examples=settings.ZONE_EXAMPLES, shown=view.setting.name if shown is None else shown,
                    refused=refused, clinic_zone=view.setting)


@router.get(ZONE_PAGE, response_class=HTMLResponse, include_in_schema=False,
            dependencies=[needs(Permission.SET_CLINIC_TIME_ZONE)])
def time_zone_page(request: Request, web: Web, user: User, saved: bool = False) -> Response:
    return _zone_page(request, web, user, saved=saved)


@router.post(ZONE_PAGE, include_in_schema=False, dependencies=[needs(Permission.SET_CLINIC_TIME_ZONE)])
def time_zone_form(request: Request, web: Web, user: Writer,
                   time_zone: Annotated[str, Form(description="an IANA time zone name")],
                   based_on: Annotated[int, Form(description="the setting's version the page showed (0: none)")]
                   ) -> Response:
    try:
        settings.save_time_zone(web.engine, user, time_zone, based_on, web.clock())
    except TimeZoneRefused as exc:
        return _zone_page(request, web, user, 422, shown=time_zone, refused=exc)
    return RedirectResponse(f"{ZONE_PAGE}?saved=true", status_code=303)


class TimeZoneEdit(BaseModel):
    """The clinic's new time zone, and the setting's version the edit is based on."""

    model_config = ConfigDict(extra="forbid")
    time_zone: str = Field(description="an IANA time zone name, such as Europe/Stockholm", max_length=64)
    based_on: int = Field(ge=0, description="the setting's version when the edit began (0: never set, UTC)")


def _zone_json(web: Web, user: SessionUser) -> dict[str, Any]:
    view = settings.time_zone_view(web.engine, user.role)
    zone = view.setting
    return {"time_zone": zone.name, "version": zone.version, "default": zone.is_default,
            "changed_at": None if zone.changed_at is None else zone.changed_at.isoformat() + "Z",
            "changed_by": zone.changed_by, "escalation_policy_time_zone": view.policy_zone}


@router.get("/api/settings/time-zone", tags=["settings"], dependencies=[needs(Permission.SET_CLINIC_TIME_ZONE)])
def api_time_zone(web: Web, user: User) -> dict[str, Any]:
    """The clinic's time zone (``version`` 0 and ``default`` true: never set, UTC), and the escalation policy's."""
    return _zone_json(web, user)


@router.put("/api/settings/time-zone", tags=["settings"], dependencies=[needs(Permission.SET_CLINIC_TIME_ZONE)])
def api_set_time_zone(web: Web, user: JsonWriter, edit: TimeZoneEdit) -> dict[str, Any]:
    """Set the clinic's time zone (administrator); 422 for a name that is not an IANA zone, 409 if the setting
    changed since ``based_on``."""
    settings.save_time_zone(web.engine, user, edit.time_zone, edit.based_on, web.clock(), "settings API")
    return _zone_json(web, user)

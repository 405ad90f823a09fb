"""The clinic's escalation settings: the page, its form (saved, or shown again with the refusal beside its field)
and the API."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse
from pydantic import BaseModel, ConfigDict, Field

from openidds.web import settings
from openidds.web.accounts import SessionUser
from openidds.web.context import JsonWriter, User, Web, Writer, needs
from openidds.web.roles import Permission

router = APIRouter()
PAGE = "/settings/escalation"


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

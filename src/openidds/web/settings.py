"""The clinic's settings, as the settings pages and their API edit them: its time zone (:func:`time_zone_view`,
:func:`save_time_zone`), and its escalation settings: the tiers (who, by which channels,
within how many minutes per priority), the people on call and their addresses, the on-call rota and the quiet
hours of the registry's current policy version.

There is one schema of the policy, the core's (:class:`openidds.escalation.Policy`): the page's fields are named
by the policy's own paths (``tiers[0].timeout_minutes.high``, ``rota[2].start``), a submitted form is turned into
the values of a policy file (:func:`values_from_form`) and validated by :func:`openidds.escalation.policy_from`,
whose refusal names the field the page shows it beside. What the page does not edit (patient notices,
transports) is carried over from the version the edit is based on. Saving installs the next version; an edit based
on a version no longer current is refused with :class:`StaleEdit` (HTTP 409).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Engine

from openidds.clinic import escalation_policies, time_zone
from openidds.clinic.errors import ConcurrentUpdateError
from openidds.clinic.escalation_policies import PolicyVersion
from openidds.clinic.time_zone import ClinicZone
from openidds.escalation import Channel, PolicyError, StaffRole, policy_from
from openidds.web.accounts import SessionUser
from openidds.web.errors import InputRefused, StaleEdit
from openidds.web.roles import Permission, Role, require
from openidds.weekday import Weekday

SOURCE = "settings page"
ZONE_EXAMPLES = ("UTC", "Europe/Stockholm", "Europe/London", "America/New_York", "Asia/Shanghai", "Australia/Sydney")
"""Zones the time-zone page suggests (any IANA name is taken)."""
"""Where a version saved on the settings page (or its API) says it came from."""
BLANK_ROWS = 2
"""Empty rows the page offers for new people and shifts."""
_ROW = re.compile(r"^(tiers|people|rota)\[(\d+)\]\.(.+)$")
_PRIORITIES = ("high", "medium", "low")


@dataclass(frozen=True)
class TimeZoneView:
    """What the time-zone page shows: the clinic's setting, and the escalation policy's own zone (its quiet hours
    and rota are read in that one) when a policy is installed."""

    setting: ClinicZone
    policy_zone: str | None

    @property
    def policy_differs(self) -> bool:
        return self.policy_zone is not None and self.policy_zone != self.setting.name


def time_zone_view(engine: Engine, role: Role) -> TimeZoneView:
    """The time-zone page for ``role``."""
    require(role, Permission.SET_CLINIC_TIME_ZONE)
    policy = escalation_policies.current(engine)
    return TimeZoneView(time_zone.current(engine), None if policy is None else policy.policy.timezone)


def save_time_zone(engine: Engine, user: SessionUser, name: str, based_on: int, now: dt.datetime,
                   source: str = SOURCE) -> ClinicZone:
    """Set the clinic's time zone to ``name`` on behalf of ``user``, if ``based_on`` is still the setting's version
    (else :class:`StaleEdit`, saying who set it and when); an unknown zone is refused (HTTP 422)."""
    require(user.role, Permission.SET_CLINIC_TIME_ZONE)
    try:
        return time_zone.set_zone(engine, name.strip(), user.name, now, source, based_on)
    except ConcurrentUpdateError as exc:
        raise StaleEdit(exc.field, exc.value, exc.expected) from exc


class PolicyRefused(InputRefused):
    """A policy the core's validation refuses; ``field`` is the policy's path of the first problem."""


@dataclass(frozen=True)
class Settings:
    """What the settings page shows: the current version (none yet: nothing escalates), the policy's values as
    its fields hold them (the current version's, or a refused form's as submitted), the refusal beside its field,
    and every version, newest first."""

    current: PolicyVersion | None
    values: dict[str, Any]
    history: list[PolicyVersion]
    errors: dict[str, str] = field(default_factory=dict)

    @property
    def based_on(self) -> int | None:
        return None if self.current is None else self.current.number


def view(engine: Engine, role: Role, values: dict[str, Any] | None = None,
         refused: PolicyRefused | None = None) -> Settings:
    """The page for ``role``: the current version's values, or ``values`` a form submitted and ``refused``."""
    require(role, Permission.EDIT_ESCALATION_POLICY)
    current = escalation_policies.current(engine)
    shown = values if values is not None else ({} if current is None else form_values(current.policy.model_dump(
        mode="json")))
    errors = {}
    if refused is not None:
        name = form_field(refused.field, shown)
        errors[name] = page_message(refused, name)
    return Settings(current, shown, escalation_policies.history(engine), errors)


def save(engine: Engine, user: SessionUser, values: Mapping[str, Any], based_on: int | None,
         now: dt.datetime) -> PolicyVersion:
    """Install ``values`` (a policy file's values) as the next version, on behalf of ``user``, if the core's
    validation accepts them (else :class:`PolicyRefused`) and ``based_on`` is still the current version (else
    :class:`StaleEdit`)."""
    require(user.role, Permission.EDIT_ESCALATION_POLICY)
    try:
        policy = policy_from(dict(values))
    except PolicyError as exc:
        raise PolicyRefused(exc.field, exc.value, exc.expected) from None
    try:
        return escalation_policies.install(engine, policy, user.name, now, SOURCE, based_on)
    except ConcurrentUpdateError as exc:
        raise StaleEdit(exc.field, exc.value, exc.expected) from exc


def form_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """A policy's values as the page's fields hold them: times as HH:MM, people as a list of rows (name first)."""
    out = {k: v for k, v in values.items() if k not in ("people", "rota", "quiet_hours")}
    out["people"] = [{"name": name, **{k: v for k, v in person.items() if v is not None}}
                     for name, person in values.get("people", {}).items()]
    out["rota"] = [{**shift, "start": _hhmm(shift["start"]), "end": _hhmm(shift["end"])}
                   for shift in values.get("rota", [])]
    quiet = values.get("quiet_hours")
    if quiet:
        out["quiet_hours"] = {"start": _hhmm(quiet["start"]), "end": _hhmm(quiet["end"])}
    return out


def _hhmm(clock: str) -> str:
    return clock[:5]


def values_from_form(form: Mapping[str, Sequence[str]], base: Mapping[str, Any]) -> dict[str, Any]:
    """The values a submitted page holds, as its fields hold them (``form``: each field name with its values,
    several for checkboxes); what the page does not edit comes from ``base`` (the values of the version the edit
    is based on). A row whose fields are all empty, or marked ``remove``, is left out; any other row is kept as
    given, for the core to accept or refuse."""
    rows: dict[str, dict[int, dict[str, list[str]]]] = {"tiers": {}, "people": {}, "rota": {}}
    for name, given in form.items():
        match = _ROW.match(name)
        if match:
            rows[match.group(1)].setdefault(int(match.group(2)), {})[match.group(3)] = list(given)
    kept = {table: [row for _, row in sorted(found.items()) if _kept(row)] for table, found in rows.items()}
    values: dict[str, Any] = {k: v for k, v in base.items() if k in ("patient_notices", "transports")}
    values["timezone"] = _one(form.get("timezone"))
    values["tiers"] = [{"role": _one(row.get("role")), "channels": row.get("channels", []),
                        "timeout_minutes": {p: _one(row.get(f"timeout_minutes.{p}")) for p in _PRIORITIES}}
                       for row in kept["tiers"]]
    values["people"] = [{k: _one(row.get(k)) for k in ("name", "email", "webhook") if _one(row.get(k))}
                        for row in kept["people"]]
    values["rota"] = [{"role": _one(row.get("role")), "person": _one(row.get("person")),
                       "days": row.get("days", []), "start": _one(row.get("start")), "end": _one(row.get("end"))}
                      for row in kept["rota"]]
    quiet = {k: _one(form.get(f"quiet_hours.{k}")) for k in ("start", "end")}
    if any(quiet.values()):
        values["quiet_hours"] = quiet
    return values


def submitted(engine: Engine, form: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    """:func:`values_from_form` of a page submitted now: what the page does not edit comes from the current
    version."""
    current = escalation_policies.current(engine)
    return values_from_form(form, {} if current is None else current.policy.model_dump(mode="json"))


def file_values(values: Mapping[str, Any]) -> dict[str, Any]:
    """The page's values (:func:`values_from_form`) as a policy file's: people keyed by their name, which each
    row must give, once."""
    out = {k: v for k, v in values.items() if k != "people"}
    out["people"] = {}
    for i, row in enumerate(values.get("people", [])):
        name = row.get("name", "")
        if not name or name in out["people"]:
            raise PolicyRefused(f"people[{i}].name", name, "the person's web user name (their board), once each")
        out["people"][name] = {k: v for k, v in row.items() if k != "name"}
    return out


def _one(given: Sequence[str] | None) -> str:
    return given[-1].strip() if given else ""


def _kept(row: Mapping[str, list[str]]) -> bool:
    if _one(row.get("remove")):
        return False
    return any(_one(values) for name, values in row.items() if name not in ("channels", "days"))


def form_field(path: str, values: Mapping[str, Any]) -> str:
    """The page's field a refusal's ``path`` names: an item of a list (``tiers[0].channels[1]``) is its list's
    field, a person's setting (``people.NAME.email``) their row's."""
    path = re.sub(r"\[\d+\]$", "", path)
    if path.startswith("people."):
        name, _, rest = path.removeprefix("people.").partition(".")
        names = [row.get("name") for row in values.get("people", [])]
        if name in names:
            return f"people[{names.index(name)}].{rest or 'name'}"
    return path


def page_message(refused: PolicyRefused, name: str) -> str:
    """The refusal as the page words it beside its field ``name`` (:func:`form_field`): each row the policy's path
    names from 0 (``tiers[0].timeout_minutes.high``, the API's field) is named as the page labels it, from 1
    ("tier 1: high timeout (minutes) 0: expected ...")."""
    expected = _ROW_REFERENCE.sub(_row_label, refused.expected)
    match = _ROW.match(name)
    if match is None:
        return str(PolicyRefused(refused.field, refused.value, expected))
    table, index, setting = match.groups()
    what = (f"{setting.removeprefix('timeout_minutes.')} timeout (minutes)" if setting.startswith("timeout_minutes.")
            else _SETTING_LABELS.get(setting, setting))
    given = "" if refused.value in (None, "") else f" {refused.value}"
    return f"{_ROW_LABELS[table]} {int(index) + 1}: {what}{given}: expected {expected}"


def _row_label(match: re.Match[str]) -> str:
    return f"{_ROW_LABELS[match.group(1)]} {int(match.group(2)) + 1}"


_ROW_REFERENCE = re.compile(r"\b(tiers|people|rota)\[(\d+)\]")
_ROW_LABELS = {"tiers": "tier", "people": "person", "rota": "shift"}
"""How the page labels a row of each list (the tier, person and shift numbers it shows, from 1)."""
_SETTING_LABELS = {"name": "user name", "email": "e-mail"}


def choices() -> dict[str, list[str]]:
    """What the page's selects and checkboxes offer."""
    return {"roles": [r.value for r in StaffRole], "channels": [c.value for c in Channel],
            "days": [d.value for d in Weekday], "priorities": list(_PRIORITIES)}

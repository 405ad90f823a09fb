"""The escalation settings page and its API, on SQLite and PostgreSQL: a physician or an administrator edits the
tiers, people, rota and quiet hours; the form is the core policy's own fields, so the page's values round-trip and
every bad value (a zero timeout, an empty, gapped or overlapping rota, an unknown transport) is refused beside its
field with nothing saved; an edit based on an older version gets 409 (other roles' 403: test_web_roles.py)."""

from __future__ import annotations

from html.parser import HTMLParser
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from tests.escalation.policies import installed

from openidds.clinic import escalation_policies
from openidds.escalation import Policy, StaffRole, policy_from
from openidds.web import Role

from .conftest import NOW, board_policy, log_in_as, user_name

PAGE = "/settings/escalation"
API = "/api/settings/escalation-policy"


class _Form(HTMLParser):
    """The fields a browser would submit from the page's settings form (checked boxes, selected options)."""

    def __init__(self) -> None:
        super().__init__()
        self.fields: list[tuple[str, str]] = []
        self._inside = False
        self._select: str | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            self._inside = "settings" in a.get("class", "")
        elif not self._inside:
            return
        elif tag == "input" and (a.get("type") != "checkbox" or "checked" in a):
            self.fields.append((a["name"], a.get("value", "")))
        elif tag == "select":
            self._select = a["name"]
        elif tag == "option" and self._select is not None and "selected" in a:
            self.fields.append((self._select, a.get("value", "")))

    def handle_endtag(self, tag: str) -> None:
        if tag == "select":
            self._select = None
        elif tag == "form":
            self._inside = False


def _fields(html: str) -> list[tuple[str, str]]:
    form = _Form()
    form.feed(html)
    return form.fields


def _changed(fields: list[tuple[str, str]], name: str, value: str | None) -> list[tuple[str, str]]:
    """``fields`` with ``name`` set to ``value`` (``None``: left out)."""
    assert name in {n for n, _ in fields}, name
    return [(n, v) for n, v in fields if n != name] + ([(name, value)] if value is not None else [])


def _post(client: TestClient, fields: list[tuple[str, str]]) -> Any:
    body = "&".join(f"{_quote(n)}={_quote(v)}" for n, v in fields)
    return client.post(PAGE, content=body, headers={"Content-Type": "application/x-www-form-urlencoded"},
                       follow_redirects=False)


def _quote(text: str) -> str:
    return quote(text, safe="")


@pytest.fixture
def clinic(clinic: Engine) -> Engine:
    """The test clinic, its escalation policy version 1 (board only; the nurse, then the physician)."""
    return installed(clinic, board_policy())


def _current(engine: Engine) -> Policy:
    version = escalation_policies.current(engine)
    assert version is not None
    return version.policy


def test_the_page_round_trips_and_a_changed_timeout_is_a_new_version(client: TestClient, clinic: Engine) -> None:
    log_in_as(client, Role.PHYSICIAN)
    page = client.get(PAGE)
    assert page.status_code == 200 and "Current version <strong>1</strong>" in page.text
    fields = _fields(page.text)
    unchanged = _post(client, fields)
    assert unchanged.status_code == 303, unchanged.text
    assert _current(clinic) == board_policy()  # the page's fields are the whole policy: nothing lost
    response = _post(client, _changed(_changed(fields, "tiers[0].timeout_minutes.high", "5"), "based_on", "2"))
    assert response.status_code == 303 and response.headers["location"] == f"{PAGE}?saved=3"
    assert _current(clinic).tiers[0].timeout_minutes.high == 5
    [v3, v2, _] = escalation_policies.history(clinic)
    assert (v3.installed_by, v3.source, v2.policy) == (user_name(Role.PHYSICIAN), "settings page", board_policy())
    shown = client.get(response.headers["location"]).text
    assert "Version 3 saved" in shown and 'name="tiers[0].timeout_minutes.high" value="5"' in shown


def _refused_beside(client: TestClient, clinic: Engine, fields: list[tuple[str, str]], field: str) -> str:
    response = _post(client, fields)
    assert response.status_code == 422, response.text
    assert f'id="error-{field}"' in response.text, response.text
    assert [v.number for v in escalation_policies.history(clinic)] == [1]  # nothing saved
    return response.text


def test_bad_values_are_refused_beside_their_field(client: TestClient, clinic: Engine) -> None:
    log_in_as(client, Role.ADMINISTRATOR)
    fields = _fields(client.get(PAGE).text)
    page = _refused_beside(client, clinic, _changed(fields, "tiers[1].timeout_minutes.medium", "0"),
                           "tiers[1].timeout_minutes.medium")
    assert "a timeout of zero would escalate at once" in page
    assert 'name="tiers[1].timeout_minutes.medium" value="0"' in page  # shown again as typed
    no_rota = [(n, v) for n, v in fields if not n.startswith("rota[")] + [
        (f"rota[{i}].remove", "1") for i in range(3)]
    assert "at least one shift" in _refused_beside(client, clinic, no_rota, "rota")
    nurse = user_name(Role.NURSE)
    gapped = _changed(fields, "rota[0].end", "20:00")  # the nurse 00:00-20:00 only
    assert "nobody is at mon 20:00" in _refused_beside(client, clinic, gapped, "tiers[0].role")
    overlap = [*fields, ("rota[9].role", "nurse"), ("rota[9].person", nurse), ("rota[9].start", "08:00"),
               ("rota[9].end", "09:00"), ("rota[9].days", "tue")]
    assert "one person holds the nurse role at a time; both cover tue 08:00" in _refused_beside(
        client, clinic, overlap, "rota[3].start")  # the fourth shift kept (blank rows are left out)
    no_channel = [(n, v) for n, v in fields if n != "tiers[0].channels"]
    _refused_beside(client, clinic, no_channel, "tiers[0].channels")
    nobody = _changed(fields, "rota[1].person", "dr_nobody")
    assert "someone listed under [people]" in _refused_beside(client, clinic, nobody, "rota[1].person")
    twice = [*fields, ("people[9].name", nurse)]
    _refused_beside(client, clinic, twice, "people[2].name")
    bad_mail = [*fields, ("people[0].email", "not-an-address")]
    _refused_beside(client, clinic, bad_mail, "people[0].email")


def test_an_edit_based_on_an_older_version_gets_409(client: TestClient, clinic: Engine) -> None:
    log_in_as(client, Role.PHYSICIAN)
    fields = _fields(client.get(PAGE).text)
    assert _post(client, _changed(fields, "tiers[0].timeout_minutes.low", "300")).status_code == 303
    stale = _post(client, _changed(fields, "tiers[0].timeout_minutes.low", "200"))  # the page as read before
    assert stale.status_code == 409 and "current version 2" in stale.text
    assert _current(clinic).tiers[0].timeout_minutes.low == 300


def test_the_api_reads_and_installs_versions_with_the_same_refusals(client: TestClient, clinic: Engine) -> None:
    token = log_in_as(client, Role.ADMINISTRATOR)
    current = client.get(API).json()["current"]
    assert current["number"] == 1 and policy_from(current["policy"]) == board_policy()
    data = current["policy"]
    data["tiers"][0]["channels"] = ["board", "pager"]
    refused = client.put(API, json={"based_on": 1, "policy": data}, headers={"X-CSRF-Token": token})
    assert refused.status_code == 422
    assert (refused.json()["field"], refused.json()["value"]) == ("tiers[0].channels[1]", "pager")
    data["tiers"][0]["channels"] = ["board"]
    data["quiet_hours"] = {"start": "22:00", "end": "07:00"}
    saved = client.put(API, json={"based_on": 1, "policy": data}, headers={"X-CSRF-Token": token})
    assert saved.status_code == 200, saved.text
    assert saved.json()["number"] == 2 and saved.json()["installed_by"] == user_name(Role.ADMINISTRATOR)
    stale = client.put(API, json={"based_on": 1, "policy": data}, headers={"X-CSRF-Token": token})
    assert stale.status_code == 409 and stale.json()["field"] == "escalation policy"
    no_token = client.put(API, json={"based_on": 2, "policy": data})
    assert no_token.status_code == 403


def test_a_registry_without_a_policy_offers_to_start_one(client: TestClient, clinic: Engine) -> None:
    """The first version from an empty page: nothing carried over, the fields the page shows are enough."""
    with clinic.begin() as conn:
        conn.exec_driver_sql("DELETE FROM escalation_policies")
    log_in_as(client, Role.PHYSICIAN)
    page = client.get(PAGE).text
    assert "No escalation policy is installed" in page
    nurse, physician = user_name(Role.NURSE), user_name(Role.PHYSICIAN)
    fields = [(n, v) for n, v in _fields(page) if not n.endswith(".days")] + [
        ("timezone", "Europe/Paris"),
        ("tiers[0].role", "nurse"), ("tiers[0].channels", "board"), ("tiers[0].timeout_minutes.high", "10"),
        ("tiers[0].timeout_minutes.medium", "60"), ("tiers[0].timeout_minutes.low", "240"),
        ("people[0].name", nurse), ("people[1].name", physician),
        ("rota[0].role", "nurse"), ("rota[0].person", nurse), ("rota[0].start", "00:00"), ("rota[0].end", "00:00")]
    fields += [("rota[0].days", d) for d in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")]
    response = _post(client, fields)
    assert response.status_code == 303, response.text
    policy = _current(clinic)
    assert [t.role.value for t in policy.tiers] == ["nurse"] and policy.on_call(StaffRole.NURSE, NOW) == (nurse,)


def test_the_page_counts_tiers_and_shifts_from_1_while_the_api_keeps_the_policy_path(client: TestClient,
                                                                                     clinic: Engine) -> None:
    """The page labels its rows tier 1, shift 1 ...: its refusals say so; the API names the policy's path (0-based)."""
    token = log_in_as(client, Role.ADMINISTRATOR)
    fields = _fields(client.get(PAGE).text)
    page = _refused_beside(client, clinic, _changed(fields, "tiers[1].timeout_minutes.medium", "0"),
                           "tiers[1].timeout_minutes.medium")
    assert ("tier 2: medium timeout (minutes) 0: expected a number greater than 0 (a timeout of zero would escalate "
            "at once)") in page
    assert "tiers[1]" not in page.split('<p class="refusal">')[1].split("</p>")[0]
    overlap = [*fields, ("rota[9].role", "nurse"), ("rota[9].person", user_name(Role.NURSE)),
               ("rota[9].start", "08:00"), ("rota[9].end", "09:00"), ("rota[9].days", "tue")]
    assert "shift 4: start 08:00: expected a shift that does not overlap shift 1 (" in _refused_beside(
        client, clinic, overlap, "rota[3].start")
    by_mail = [*fields, ("tiers[1].channels", "email")]
    assert "person 2: e-mail: expected an address: tier 2 (physician) notifies by email" in _refused_beside(
        client, clinic, by_mail, "people[1].email")

    data = client.get(API).json()["current"]["policy"]
    data["tiers"][1]["timeout_minutes"]["medium"] = 0
    refused = client.put(API, json={"based_on": 1, "policy": data}, headers={"X-CSRF-Token": token})
    assert refused.status_code == 422
    assert (refused.json()["field"], refused.json()["value"]) == ("tiers[1].timeout_minutes.medium", 0)
    data["tiers"][1]["timeout_minutes"]["medium"] = 30
    data["tiers"][1]["channels"] = ["board", "email"]
    refused = client.put(API, json={"based_on": 1, "policy": data}, headers={"X-CSRF-Token": token})
    assert refused.status_code == 422 and "tiers[1] (physician) notifies by email" in refused.json()["expected"]

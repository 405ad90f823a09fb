"""Web app fixtures: the test clinic (tests/data/clinic/good plus a pump log's alarms) on SQLite and on the real
PostgreSQL server, one user per role, and a logged-in TestClient."""

from __future__ import annotations

import datetime as dt
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from playwright.sync_api import Browser, ConsoleMessage, Page, sync_playwright
from sqlalchemy import Engine, delete, func, insert, select
from tests.clinic.pump_state_builders import first_filled
from tests.escalation.policies import example_data

from openidds.clinic import connect, import_batch, init_registry, read_paths, unit_of_work
from openidds.clinic import models as m
from openidds.clinic.alarms import sync_alarms
from openidds.clinic.pump_states import put_pump_state
from openidds.escalation import Policy, policy_from
from openidds.wall_clock import utc_now
from openidds.web import Role
from openidds.web.accounts import sessions_table, users_table
from openidds.web.app import create_app
from openidds.web.report_jobs import jobs_table

GOOD = Path(__file__).resolve().parents[1] / "data" / "clinic" / "good"
TODAY = dt.date(2023, 7, 10)
"""The clinic day of the tests: CJFH/P003's refill is overdue (due 2023-06-18 by the 90-day stability of its morphine,
before its reservoir date 2023-07-01), its 18-month follow-up due."""
NOW = dt.datetime(2023, 7, 10, 9, 0)
RESEARCH_SEED = 6
"""The research export's seed the test app holds (researchers see its research IDs and date shifts): its shifts of
the three test patients are all over 70 days, so no shifted date falls on another real date of the same patient
by chance."""


EXAMPLE_PATH_VALUES = {"site": "CJFH", "patient_id": "P001"}
"""A value for a route's path parameter of these names: a patient of the test clinic."""


def url_of(route: APIRoute, **values: str) -> str:
    """The route's path with ``values`` for its parameters, else :data:`EXAMPLE_PATH_VALUES`, else "1"."""
    given = {**EXAMPLE_PATH_VALUES, **values}
    return route.path_format.format(**{name: given.get(name, "1") for name in route.param_convertors})


def password(role: Role) -> str:
    return f"{role.value} passphrase 2023"


def user_name(role: Role) -> str:
    return f"{role.value}-1"


def _pump_log_alarms(engine: Engine) -> None:
    """Alarms of CJFH/P001's pump as its imported event log holds them: a low-reservoir alarm later cleared and an
    empty-reservoir alarm still open (events written directly, so the alarm record is synced after)."""
    with unit_of_work(engine, "test") as session:
        implant_id = session.scalars(select(m.Implant.id).join(m.Patient).where(m.Patient.patient_code == "P001")).one()
        events = [(1, dt.datetime(2023, 6, 1, 8), "alarm", {"alarm": "low_reservoir", "severity": "non-critical"}),
                  (2, dt.datetime(2023, 6, 2, 8), "alarm_cleared", {"alarm": "low_reservoir"}),
                  (3, dt.datetime(2023, 6, 20, 8), "alarm", {"alarm": "empty_reservoir", "severity": "critical"})]
        session.add_all(m.PumpEvent(implant_id=implant_id, seq=seq, at=at, kind=kind, reason="test log", data=data)
                        for seq, at, kind, data in events)
    sync_alarms(engine, "test")


@pytest.fixture(scope="session")
def role_hashes() -> dict[Role, str]:
    """Each role's user's argon2 password hash, hashed once for the session (each hash takes a tenth of a
    second, on purpose)."""
    return {role: PasswordHasher().hash(password(role)) for role in Role}


@pytest.fixture
def clinic(db_url: str, role_hashes: dict[Role, str]) -> Iterator[Engine]:
    """The test clinic with one user per role (no other user, no session); :func:`add_user` is tested on its own,
    so the users are written with their hashes made once."""
    engine = connect(db_url)
    init_registry(engine)
    with engine.begin() as conn:
        conn.execute(delete(sessions_table))
        conn.execute(delete(users_table))
        conn.execute(delete(jobs_table))  # web tables outside the registry's models, which PostgreSQL keeps
    import_batch(engine, read_paths([GOOD]), "test", source="good")
    _pump_log_alarms(engine)
    with engine.begin() as conn:
        conn.execute(insert(users_table), [{"name": user_name(role), "role": role.value, "password_hash": hashed,
                                            "failed_logins": 0, "created_at": NOW}
                                           for role, hashed in role_hashes.items()])
    yield engine
    engine.dispose()


PUMP_START = dt.datetime(2023, 6, 1, 8, 0)
"""When CJFH/P003's pump (its replacement, in place) starts its clock in :func:`pumped`."""


@pytest.fixture
def pumped(clinic: Engine) -> Engine:
    """The test clinic with CJFH/P003's pump state stored as the programmer left it: filled with morphine 20 mg/mL
    and programmed at 2 mg/day five minutes after :data:`PUMP_START` (``first_filled``)."""
    put_pump_state(clinic, "CJFH", "P003", first_filled(PUMP_START), "RN Import", source="p003.json")
    return clinic


def proposal_count(engine: Engine) -> int:
    """How many programming proposals the registry holds."""
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(m.ProgramProposal)).scalar_one())


@pytest.fixture
def client(clinic: Engine) -> Iterator[TestClient]:
    with TestClient(create_app(clinic, today=TODAY, clock=lambda: NOW, research_seed=RESEARCH_SEED)) as test_client:
        yield test_client


def form_token(html: str) -> str:
    """The CSRF token of the first form of a page."""
    found = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def log_in(client: TestClient, name: str, secret: str) -> httpx.Response:
    """Post the log-in form as a browser does (form loaded first, for its CSRF token); returns the response."""
    token = form_token(client.get("/login").text)
    return client.post("/login", data={"name": name, "password": secret, "csrf_token": token},
                       follow_redirects=False)


def log_in_as(client: TestClient, role: Role) -> str:
    """Log in as the role's user; returns the session's CSRF token."""
    client.cookies.clear()
    response = log_in(client, user_name(role), password(role))
    assert response.status_code == 303, response.text
    return form_token(client.get("/me").text)


CHROMIUM = "/usr/bin/chromium"
"""Debian's Chromium, which Playwright drives (no browser is downloaded)."""


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def served_clock() -> Callable[[], dt.datetime]:
    """The served app's clock: the wall clock (escalation timeouts and sessions run in real time). A test module
    whose pages show times of day (a pump's estimated reservoir) overrides this fixture with a fixed clock."""
    return utc_now


@pytest.fixture
def served(clinic: Engine, served_clock: Callable[[], dt.datetime]) -> Iterator[str]:
    """The app on the test clinic, served by uvicorn in a thread; yields its base URL."""
    with serving(create_app(clinic, today=TODAY, clock=served_clock, research_seed=RESEARCH_SEED)) as base:
        yield base


@contextmanager
def serving(app: FastAPI) -> Iterator[str]:
    """``app`` served by uvicorn in a thread until the block ends; yields its base URL."""
    port = _free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 30
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=30)


@pytest.fixture
def shots(tmp_path_factory: pytest.TempPathFactory, request: pytest.FixtureRequest) -> Path:
    folder = tmp_path_factory.mktemp("web-screenshots")
    reporter = request.config.pluginmanager.get_plugin("terminalreporter")
    if reporter is not None:
        reporter.write_line(f"web screenshots: {folder}")
    return folder


def browser_log_in(page: Page, base: str, role: Role) -> None:
    """Log ``page`` in at the app at ``base`` as the test user of ``role``."""
    page.goto(base + "/")
    assert page.url == base + "/login"
    page.get_by_label("Name").fill(user_name(role))
    page.get_by_label("Password").fill(password(role))
    page.get_by_role("button", name="Log in").click()
    page.wait_for_load_state()


@dataclass
class ChromiumPages:
    """Pages of Debian's Chromium on the served app, each in its own browser context (so each has its own session):
    ``chromium_page(Role.NURSE)`` opens one logged in as that role's test user (``None``: not logged in).
    Every page's uncaught script errors are kept in :attr:`page_errors` and its console errors (a page answered
    403 or 422 is one) in :attr:`console_errors`, for the test to assert on."""

    browser: Browser
    base: str
    shots: Path
    page_errors: list[str] = field(default_factory=list)
    console_errors: list[str] = field(default_factory=list)

    def __call__(self, role: Role | None, *, height: int = 900, accept_downloads: bool = False) -> Page:
        """A new page 1280 pixels wide and ``height`` high, logged in as ``role``'s test user."""
        context = self.browser.new_context(viewport={"width": 1280, "height": height},
                                           accept_downloads=accept_downloads)
        page = context.new_page()
        page.on("pageerror", lambda exc: self.page_errors.append(str(exc)))
        page.on("console", self._console)
        if role is not None:
            browser_log_in(page, self.base, role)
        return page

    def _console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.console_errors.append(message.text)

    def shot(self, page: Page, name: str, *, full_page: bool = True) -> Path:
        """Save a screenshot of ``page`` as ``name``.png in the screenshots folder; returns its path."""
        path = self.shots / f"{name}.png"
        page.screenshot(path=path, full_page=full_page)
        return path


@pytest.fixture
def chromium_page(served: str, shots: Path) -> Iterator[ChromiumPages]:
    """Debian's Chromium (Playwright drives it; no browser is downloaded) on the served app, closed after the
    test: see :class:`ChromiumPages`."""
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM)
        try:
            yield ChromiumPages(browser, served, shots)
        finally:
            browser.close()


def fill_refill(page: Page, *, withdrawn_ml: str, concentration: str, volume_ml: str = "20", drug: str = "morphine",
                prescriber: str = "Dr B") -> None:
    """Fill in a refill form's withdrawal and fill as a nurse does, field by field: the residual withdrawn, who
    prescribed, the prescribed concentration of ``drug``, the concentration on the syringe twice, and the volume
    injected; then press *Check* and wait for the answer."""
    page.get_by_label("Withdrawn (mL)").fill(withdrawn_ml)
    page.get_by_label("Prescribed by").fill(prescriber)
    page.get_by_label(f"{drug} prescribed").fill(concentration)
    page.get_by_label(f"{drug} on the syringe", exact=True).fill(concentration)
    page.get_by_label(f"{drug} on the syringe, again").fill(concentration)
    page.get_by_label("Volume injected into the reservoir (mL)").fill(volume_ml)
    page.get_by_role("button", name="Check").click()
    page.wait_for_load_state()


def board_policy() -> Policy:
    """The example policy, its staff the test clinic's nurse and physician, notified on the board only."""
    data = example_data()
    data.pop("quiet_hours")
    for tier in data["tiers"]:
        tier["channels"] = ["board"]
    data["people"] = {user_name(Role.NURSE): {}, user_name(Role.PHYSICIAN): {}}
    data["rota"] = [{"role": role, "person": user_name(Role.PHYSICIAN if role != "nurse" else Role.NURSE),
                     "start": "00:00", "end": "00:00"} for role in ("nurse", "physician", "clinic_lead")]
    return policy_from(data)

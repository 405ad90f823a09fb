"""`openidds web`: the clinic web app (serve) and its users (user add, list, unlock, role, disable, enable)."""

from __future__ import annotations

import datetime as dt
import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from openidds.cli.errors import fail
from openidds.cli.output import console
from openidds.cli.registry_access import Db, acting_user, registry_engine
from openidds.errors import OpenIDDSError
from openidds.wall_clock import utc_now
from openidds.web.roles import Role

EXAMPLE_DB = "openidds-example.sqlite"

app = typer.Typer(help="The clinic web app: serve it, and manage its users.", no_args_is_help=True)
user_app = typer.Typer(help="Users of the web app: add, list, unlock, role, disable, enable.", no_args_is_help=True)
app.add_typer(user_app, name="user")
AsJson = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
By = Annotated[str | None, typer.Option("--user", help="Who makes the change (audit trail; default: $OPENIDDS_USER, "
                                                         "else the login name).")]


@user_app.command("add")
def user_add(
    name: Annotated[str, typer.Argument(help="The user's log-in name.")],
    role: Annotated[Role, typer.Option("--role", help="What the user may do.")],
    password_stdin: Annotated[bool, typer.Option("--password-stdin",
                                                 help="Read the password from the first line of standard input "
                                                      "instead of prompting.")] = False,
    db: Db = None,
    by: By = None,
    as_json: AsJson = False,
) -> None:
    """Add a user (the first one: an administrator). There is no default password: type one (twice) at the
    prompt, or pipe it with --password-stdin."""
    from openidds.web.accounts import add_user

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt("Password", hide_input=True, confirmation_prompt=True)
    try:
        user = add_user(registry_engine(db), name, role, password, utc_now(), acting_user(by))
    except OpenIDDSError as exc:
        raise fail(exc, as_json) from None
    if as_json:
        typer.echo(json.dumps({"name": user.name, "role": user.role.value}))
    else:
        console().print(f"user [bold]{user.name}[/] added as {user.role.value}", highlight=False)


@user_app.command("list")
def user_list(db: Db = None, as_json: AsJson = False) -> None:
    """Every user with role, failed log-ins, lock-out, state and last log-in (times in UTC)."""
    from openidds.web.accounts import users

    try:
        rows = users(registry_engine(db), utc_now())
    except OpenIDDSError as exc:
        raise fail(exc, as_json) from None
    if as_json:
        typer.echo(json.dumps([{"name": u.name, "role": u.role.value, "failed_logins": u.failed_logins,
                                "locked_until": None if u.locked_until is None else u.locked_until.isoformat(),
                                "disabled": u.disabled,
                                "last_login_at": None if u.last_login_at is None else u.last_login_at.isoformat()}
                               for u in rows]))
        return
    table = Table("name", "role", "failed log-ins", "locked until", "state", "last log-in")
    for u in rows:
        table.add_row(u.name, u.role.value, str(u.failed_logins), _minute_utc(u.locked_until, ""),
                      "disabled" if u.disabled else "enabled", _minute_utc(u.last_login_at, "never"))
    console().print(table)


def _minute_utc(at: dt.datetime | None, missing: str) -> str:
    """A time in UTC to the minute, or ``missing`` when there is none."""
    return missing if at is None else f"{at:%Y-%m-%d %H:%M} UTC"


@user_app.command("unlock")
def user_unlock(name: Annotated[str, typer.Argument(help="The locked user's name.")], db: Db = None, by: By = None,
                as_json: AsJson = False) -> None:
    """Lift a lock-out (15 minutes after 5 failed log-ins in a row) now and reset the count."""
    from openidds.web.accounts import unlock

    try:
        unlock(registry_engine(db), name, utc_now(), acting_user(by))
    except OpenIDDSError as exc:
        raise fail(exc, as_json) from None
    if as_json:
        typer.echo(json.dumps({"name": name, "locked": False}))
    else:
        console().print(f"user [bold]{name}[/] unlocked", highlight=False)


UserName = Annotated[str, typer.Argument(help="The user's name.")]


def _done(name: str, as_json: bool, state: dict[str, object], said: str) -> None:
    if as_json:
        typer.echo(json.dumps({"name": name, **state}))
    else:
        console().print(f"user [bold]{name}[/] {said}", highlight=False)


@user_app.command("role")
def user_role(name: UserName, role: Annotated[Role, typer.Argument(help="The user's new role.")], db: Db = None,
              by: By = None, as_json: AsJson = False) -> None:
    """Give a user another role (the clinic's last enabled administrator stays one; nobody changes their own)."""
    from openidds.web.accounts import set_role

    try:
        set_role(registry_engine(db), name, role, utc_now(), acting_user(by))
    except OpenIDDSError as exc:
        raise fail(exc, as_json) from None
    _done(name, as_json, {"role": role.value}, f"is now {role.value}")


@user_app.command("disable")
def user_disable(name: UserName, db: Db = None, by: By = None, as_json: AsJson = False) -> None:
    """Disable a user: they cannot log in and their sessions end (not the last enabled administrator, nor
    yourself)."""
    from openidds.web.accounts import disable

    try:
        disable(registry_engine(db), name, utc_now(), acting_user(by))
    except OpenIDDSError as exc:
        raise fail(exc, as_json) from None
    _done(name, as_json, {"disabled": True}, "disabled (their sessions have ended)")


@user_app.command("enable")
def user_enable(name: UserName, db: Db = None, by: By = None, as_json: AsJson = False) -> None:
    """Let a disabled user log in again."""
    from openidds.web.accounts import enable

    try:
        enable(registry_engine(db), name, utc_now(), acting_user(by))
    except OpenIDDSError as exc:
        raise fail(exc, as_json) from None
    _done(name, as_json, {"disabled": False}, "enabled")


@app.command()
def serve(
    db: Db = None,
    example: Annotated[bool, typer.Option(
        "--example", help=f"Serve the bundled example clinic (synthetic patients), loaded into an empty registry; "
                          f"without --db, into {EXAMPLE_DB} in the current folder.")] = False,
    today: Annotated[str | None, typer.Option(
        "--today", help="The clinic day the worklists are for, YYYY-MM-DD (default: today; with --example: the "
                        "example clinic's day, 2025-06-30).")] = None,
    host: Annotated[str, typer.Option(help="Interface to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(min=1, max=65535, help="TCP port.")] = 8000,
    workers: Annotated[int, typer.Option(min=1, max=64, help="Worker processes (several need PostgreSQL to "
                                                               "write concurrently).")] = 1,
    research_seed: Annotated[int | None, typer.Option(
        "--research-seed", envvar="OPENIDDS_RESEARCH_SEED",
        help="Seed of the research IDs and date shifts researchers see (the --seed of `openidds registry export "
             "research`; keep it secret). Without it, the researcher's pages are refused; with --example: the "
             "example's seed, 1.")] = None,
    escalation_policy: Annotated[Path | None, typer.Option(
        "--escalation-policy", envvar="OPENIDDS_ESCALATION_POLICY",
        help="Install this escalation policy file (.toml or .json, docs/escalation.md) before serving: it becomes "
             "the registry's current version unless that is the same policy already. Without it, the registry's "
             "current version (the settings page edits it); without any, alarms are shown on the board and not "
             "escalated. Run `openidds alarms escalate` beside the server to send.")] = None,
    time_zone: Annotated[str | None, typer.Option(
        "--time-zone", envvar="OPENIDDS_TIME_ZONE",
        help="Set the clinic's time zone (an IANA name such as Europe/Stockholm) before serving: pages show times "
             "and take the times staff type in it, and the clinic's day is its date. Without it, the registry's "
             "setting (`openidds registry set-time-zone`, or the settings page); without any, UTC.")] = None,
    key_file: Annotated[Path | None, typer.Option(
        "--key-file", help="The clinic's state key, which checks pump state files uploaded on the import page "
                           "(default: the one `openidds program` uses, $OPENIDDS_STATE_KEY_FILE, else "
                           "~/.config/openidds/state.key, when it exists; without a key such uploads are "
                           "refused).")] = None,
) -> None:
    """Serve the clinic web app (open http://HOST:PORT/ in a browser and log in; add users first with
    `openidds web user add`)."""
    from openidds.clinic.examples import EXAMPLE_CUTOFF, EXAMPLE_RESEARCH_SEED
    from openidds.web.server import prepare_example, state_key_file
    from openidds.web.server import serve as run

    try:
        day = dt.date.fromisoformat(today) if today else None
    except ValueError:
        raise fail(OpenIDDSError("--today", today, "a date YYYY-MM-DD")) from None
    try:
        key = state_key_file(key_file)
        policy = None
        if escalation_policy is not None:
            from openidds.clinic.escalations import read_policy

            policy = read_policy(escalation_policy, "--escalation-policy")
        if example:
            db = db or EXAMPLE_DB
            loaded = prepare_example(registry_engine(db, ready=False))
            if loaded:
                console().print(f"example clinic loaded into {db}", highlight=False)
            day = day or EXAMPLE_CUTOFF
            research_seed = EXAMPLE_RESEARCH_SEED if research_seed is None else research_seed
        engine = registry_engine(db)
        if policy is not None and escalation_policy is not None:
            from openidds.clinic.escalation_policies import file_source, install_file

            install_file(engine, policy, acting_user(None), utc_now(), file_source(escalation_policy))
        if time_zone is not None:
            from openidds.clinic.time_zone import set_zone

            set_zone(engine, time_zone, acting_user(None), utc_now(), "openidds web serve --time-zone")
        from openidds.clinic.time_zone import current

        zone = current(engine)
    except OpenIDDSError as exc:
        raise fail(exc) from None
    shown = engine.url.render_as_string(hide_password=True)
    console().print(f"serving {shown} on http://{host}:{port}/ ({workers} worker(s)); clinic day "
                    f"{(day or zone.today(utc_now())).isoformat()}, times in {zone.name}; stop with Ctrl+C",
                    highlight=False)
    console().print(f"pump state files checked with the state key {key}" if key else "no state key: pump state "
                    "files cannot be uploaded (--key-file)", highlight=False)
    run(engine.url.render_as_string(hide_password=False), host, port, workers, day, research_seed, key)

"""Users of the web app and their sessions, kept in the registry's database (migrations ``0004``, ``0012``,
``0014``).

Passwords are stored as argon2id hashes only. Adding a user, a lock-out, an unlock, a change of role and disabling
or enabling a user are written to the registry's audit trail (table ``web_users``; never the hash), in the change's
own transaction. Five failed log-ins in a row lock an account for 15 minutes, or until an administrator unlocks it
(``openidds web user unlock``); a successful log-in resets the count. A lock-out refuses new log-ins only: the
user's live sessions go on, so nobody who knows a clinician's name can throw them out of a shift by guessing. A
session is a random token held in the browser's cookie; the database keeps only its SHA-256, with the session's
CSRF token and an absolute expiry. Time is an argument (``now``, naive UTC) so tests can set it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError
from sqlalchemy import (
    Column,
    Connection,
    DateTime,
    Engine,
    ForeignKey,
    Integer,
    MetaData,
    Row,
    String,
    Table,
    case,
    delete,
    insert,
    literal,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError

from openidds.clinic import audit, audit_chain
from openidds.clinic.models import AuditEntry
from openidds.clinic.validation import check_author
from openidds.web.errors import AccountError, LoginRefused, StaleEdit
from openidds.web.roles import Permission, Role, may

MAX_FAILED_LOGINS = 5
"""Failed log-ins in a row that lock an account."""
LOCK_OUT_DURATION = dt.timedelta(minutes=15)
"""How long a lock-out refuses log-ins; then the count of failures starts again."""
SESSION_LIFETIME = dt.timedelta(hours=12)
"""A session ends this long after its log-in, whatever the activity (one clinic shift)."""
LOCK_OUT_AUTHOR = "openidds web"
"""The audit trail's author of an automatic lock-out."""
MIN_PASSWORD_CHARS = 12
MAX_NAME_CHARS = 120

metadata = MetaData()
users_table = Table(
    "web_users", metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(MAX_NAME_CHARS), nullable=False, unique=True),
    Column("role", String(20), nullable=False),
    Column("password_hash", String(255), nullable=False),
    Column("failed_logins", Integer, nullable=False, server_default="0"),
    Column("locked_at", DateTime),
    Column("created_at", DateTime, nullable=False),
    Column("disabled_at", DateTime),
    Column("version", Integer, nullable=False, server_default="1"),
    Column("last_login_at", DateTime),
)
sessions_table = Table(
    "web_sessions", metadata,
    Column("token_sha256", String(64), primary_key=True),
    Column("user_id", ForeignKey("web_users.id", ondelete="CASCADE"), nullable=False, index=True),
    Column("csrf_token", String(64), nullable=False),
    Column("created_at", DateTime, nullable=False),
    Column("expires_at", DateTime, nullable=False),
)


@cache
def _hasher() -> PasswordHasher:
    return PasswordHasher()


@cache
def _decoy_hash() -> str:
    """A hash checked when the name is unknown, so a log-in takes as long whether or not the user exists."""
    return _hasher().hash(secrets.token_urlsafe(16))


def _token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


@dataclass(frozen=True)
class User:
    """A user as the app sees them: name, role, failed log-ins in a row, while a lock-out lasts its end, whether
    an administrator disabled them, the version of their account (one more at each administrative change), and
    when they last logged in (``None`` before their first log-in). Times are in UTC with the zone attached, as the
    API writes them."""

    name: str
    role: Role
    failed_logins: int
    locked_until: dt.datetime | None
    disabled: bool = False
    version: int = 1
    last_login_at: dt.datetime | None = None


@dataclass(frozen=True)
class SessionUser:
    """The user of a live session, with the CSRF token every form and write call of the session must carry."""

    name: str
    role: Role
    csrf_token: str


@dataclass(frozen=True)
class Login:
    """A new session: the token for the cookie (the database keeps only its hash) and its user."""

    token: str
    user: SessionUser


def check_name(name: str) -> str:
    """A user name as stored: 1–120 visible characters, no leading or trailing space."""
    if not name or name != name.strip() or len(name) > MAX_NAME_CHARS or not name.isprintable():
        raise AccountError("name", name, f"1–{MAX_NAME_CHARS} printable characters without leading or trailing "
                           "spaces")
    return name


def check_password(password: str) -> str:
    """A new password: at least 12 characters, not all spaces."""
    if len(password) < MIN_PASSWORD_CHARS or not password.strip():
        raise AccountError("password", f"<{len(password)} characters>",
                           f"at least {MIN_PASSWORD_CHARS} characters (a passphrase of a few words is easy to type)")
    return password


def audit_account(conn: Connection, by: str, now: dt.datetime, action: str, user_id: int,
                  before: dict[str, object] | None, after: dict[str, object] | None, source: str) -> None:
    """One audit entry on a user account, sealed into the registry's hash chain."""
    audit_chain.hold_chain(conn)
    conn.execute(insert(AuditEntry), audit.audit_rows(by, now, action, users_table.name, [(user_id, before, after)],
                                                      source))
    audit_chain.seal(conn, 1)


def add_user(engine: Engine, name: str, role: Role, password: str, now: dt.datetime, by: str,
             source: str = "openidds web user add") -> User:
    """Create a user (audited as done by ``by``); a name already taken is refused."""
    check_name(name)
    check_password(password)
    check_author(by, None)
    try:
        with engine.begin() as conn:
            user_id = conn.execute(insert(users_table).values(
                name=name, role=role.value, password_hash=_hasher().hash(password), failed_logins=0, created_at=now,
            ).returning(users_table.c.id)).scalar_one()
            audit_account(conn, by, now, "insert", user_id, None, {"name": name, "role": role.value, "created_at": now},
                   source)
    except IntegrityError:
        raise AccountError("name", name, "a name no other user has (choose another)") from None
    return User(name, role, 0, None)


def users(engine: Engine, now: dt.datetime, name: str | None = None) -> list[User]:
    """Every user (or only the one called ``name``), by name, with the lock-outs that last at ``now``."""
    u = users_table.c
    query = (select(u.name, u.role, u.failed_logins, u.locked_at, u.disabled_at, u.version, u.last_login_at)
             .order_by(u.name))
    with engine.connect() as conn:
        rows = conn.execute(query if name is None else query.where(u.name == name)).all()
    return [User(r.name, Role(r.role), r.failed_logins, _utc(_lock_end(r.locked_at, now)), r.disabled_at is not None,
                 r.version, _utc(r.last_login_at))
            for r in rows]


def _utc(stored: dt.datetime | None) -> dt.datetime | None:
    """A stored time (naive UTC) with its zone attached, as the API writes times."""
    return None if stored is None else stored.replace(tzinfo=dt.UTC)


def one_user(engine: Engine, name: str, now: dt.datetime) -> User:
    """The user called ``name``; an unknown name is refused."""
    found = users(engine, now, name)
    if not found:
        raise AccountError("name", name, UNKNOWN_USER)
    return found[0]


def names_who_may(engine: Engine, permission: Permission) -> list[str]:
    """The names of the enabled users whose role has ``permission``, by name (a lock-out does not change what they
    do)."""
    u = users_table.c
    with engine.connect() as conn:
        rows = conn.execute(select(u.name, u.role).where(u.disabled_at.is_(None)).order_by(u.name)).all()
    return [name for name, role in rows if may(Role(role), permission)]


def _lock_end(locked_at: dt.datetime | None, now: dt.datetime) -> dt.datetime | None:
    """The end of the lock-out that began at ``locked_at``, or ``None`` when there is none at ``now``."""
    if locked_at is None or now >= locked_at + LOCK_OUT_DURATION:
        return None
    return locked_at + LOCK_OUT_DURATION


Account = Row[*tuple[Any, ...]]
"""A row of ``web_users`` as an administrative change reads it."""
UNKNOWN_USER = "the name of an existing user (`openidds web user list` shows them)"


def generated_password() -> str:
    """A random initial password (24 URL-safe characters), to be shown once to the administrator who adds the user."""
    return secrets.token_urlsafe(18)


def initial_password(typed: str, again: str, generate: bool) -> str:
    """The initial password of a new user: typed twice (the same both times), or generated when ``generate``
    (then nothing may be typed)."""
    if generate:
        if typed or again:
            raise AccountError("password", "<typed>", "either a password typed twice or a generated one, not both")
        return generated_password()
    if typed != again:
        raise AccountError("password_again", "<not the same>", "the same password as typed in the first field")
    return check_password(typed)


def _administer(engine: Engine, name: str, now: dt.datetime, by: str, based_on: int | None, source: str,
                change: Callable[[Connection, Account], dict[str, object]]) -> None:
    """Apply ``change`` (the new values of the account's columns, given the account as it is) and audit it as
    done by ``by``; refused for an unknown name and, when ``based_on`` is given, for an account whose version
    is no longer ``based_on`` (:class:`StaleEdit`)."""
    check_author(by, None)
    u = users_table.c
    with engine.begin() as conn:
        row = conn.execute(select(u.id, u.name, u.role, u.failed_logins, u.locked_at, u.disabled_at, u.version)
                           .where(u.name == name)).first()
        if row is None:
            raise AccountError("name", name, UNKNOWN_USER)
        if based_on is not None and based_on != row.version:
            raise _stale(name, based_on)
        after = change(conn, row)
        updated = conn.execute(update(users_table).where(u.id == row.id, u.version == row.version)
                               .values(**after, version=row.version + 1)).rowcount
        if updated != 1:
            raise _stale(name, row.version)
        audit_account(conn, by, now, "update", row.id, {column: getattr(row, column) for column in after}, after,
                      source)


def _stale(name: str, based_on: int) -> StaleEdit:
    return StaleEdit("version", based_on, f"the current version of user {name!r}: the account was changed since "
                     "the page was loaded (reload it and check the change)")


def _keeps_an_administrator(conn: Connection, row: Account, by: str) -> None:
    """Refuse a change that takes the administration away from its own author, or from the clinic's last enabled
    administrator."""
    if row.name == by:
        raise AccountError("name", row.name, "another user's name: an administrator cannot disable or demote "
                           "themselves, so the clinic always keeps an administrator")
    u = users_table.c
    if row.role == Role.ADMINISTRATOR.value and row.disabled_at is None:
        # every administrator's row locked, in one order, so two administrators disabling each other at once
        # cannot both pass (the second sees the first's change)
        admins = conn.execute(select(u.id, u.disabled_at).where(u.role == Role.ADMINISTRATOR.value)
                              .order_by(u.id).with_for_update()).all()
        if not any(admin.id != row.id and admin.disabled_at is None for admin in admins):
            raise AccountError("name", row.name, "a user other than the clinic's last enabled administrator (add or "
                               "enable another administrator first)")


def unlock(engine: Engine, name: str, now: dt.datetime, by: str, based_on: int | None = None,
           source: str = "openidds web user unlock") -> None:
    """Lift a lock-out and reset the failed log-in count (audited as done by ``by``); an unknown name is refused."""
    _administer(engine, name, now, by, based_on, source, lambda conn, row: {"failed_logins": 0, "locked_at": None})


def set_role(engine: Engine, name: str, role: Role, now: dt.datetime, by: str, based_on: int | None = None,
             source: str = "openidds web user role") -> None:
    """Give the user another role (audited); nobody changes their own role, and the last enabled administrator
    keeps theirs."""
    def change(conn: Connection, row: Account) -> dict[str, object]:
        if row.role == role.value:
            raise AccountError("role", role.value, f"a role other than the user's current one ({row.role})")
        if row.role == Role.ADMINISTRATOR.value or row.name == by:
            _keeps_an_administrator(conn, row, by)
        return {"role": role.value}

    _administer(engine, name, now, by, based_on, source, change)


def disable(engine: Engine, name: str, now: dt.datetime, by: str, based_on: int | None = None,
            source: str = "openidds web user disable") -> None:
    """Disable a user (audited): they cannot log in and their live sessions end at once. Nobody disables
    themselves, nor the last enabled administrator."""
    def change(conn: Connection, row: Account) -> dict[str, object]:
        if row.disabled_at is not None:
            raise AccountError("name", name, "an enabled user (this one is already disabled)")
        _keeps_an_administrator(conn, row, by)
        conn.execute(delete(sessions_table).where(sessions_table.c.user_id == row.id))
        return {"disabled_at": now}

    _administer(engine, name, now, by, based_on, source, change)


def enable(engine: Engine, name: str, now: dt.datetime, by: str, based_on: int | None = None,
           source: str = "openidds web user enable") -> None:
    """Let a disabled user log in again (audited)."""
    def change(conn: Connection, row: Account) -> dict[str, object]:
        if row.disabled_at is None:
            raise AccountError("name", name, "a disabled user (this one is enabled)")
        return {"disabled_at": None}

    _administer(engine, name, now, by, based_on, source, change)


def log_in(engine: Engine, name: str, password: str, now: dt.datetime) -> Login:
    """Check the password, open a session and note its time as the user's last log-in (``last_login_at``); raises
    :class:`LoginRefused` for a wrong name or password (the same message for both), a locked or a disabled account,
    leaving the last log-in as it was. Each wrong password counts towards the lock-out; after a lock-out has ended,
    the count starts again from the next failure."""
    u = users_table.c
    with engine.connect() as conn:
        row = conn.execute(select(u.id, u.role, u.password_hash, u.locked_at, u.disabled_at)
                           .where(u.name == name)).first()
    refused = LoginRefused("name or password", name, "a user's name with their password (check both and try again; "
                           f"{MAX_FAILED_LOGINS} failures in a row lock the account for {_minutes(LOCK_OUT_DURATION)} "
                           "minutes)")
    if row is None:
        _verify(_decoy_hash(), password)
        raise refused
    user_id, role, stored_hash, locked_at, disabled_at = row
    lock_end = _lock_end(locked_at, now)
    if lock_end is not None:
        raise _locked(name, lock_end)
    if not _verify(stored_hash, password):
        counted = (u.failed_logins + 1 if locked_at is None  # a lock-out that has ended starts the count again
                   else literal(1))
        with engine.begin() as conn:
            failed = conn.execute(
                update(users_table).where(u.id == user_id)
                .values(failed_logins=counted, locked_at=case((counted >= MAX_FAILED_LOGINS, now), else_=None))
                .returning(u.failed_logins)).scalar_one()
            if failed == MAX_FAILED_LOGINS:
                audit_account(conn, LOCK_OUT_AUTHOR, now, "update", user_id, {"locked_at": None}, {"locked_at": now},
                       f"lock-out for {_minutes(LOCK_OUT_DURATION)} minutes after {MAX_FAILED_LOGINS} failed log-ins")
        raise _locked(name, now + LOCK_OUT_DURATION) if failed >= MAX_FAILED_LOGINS else refused
    if disabled_at is not None:
        raise LoginRefused("account", name, "an enabled account (an administrator disabled this one: ask them to "
                           "enable it)")
    token, csrf = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    values: dict[str, object] = {"failed_logins": 0, "locked_at": None, "last_login_at": now}
    if _hasher().check_needs_rehash(stored_hash):
        values["password_hash"] = _hasher().hash(password)
    with engine.begin() as conn:
        conn.execute(update(users_table).where(u.id == user_id).values(**values))
        conn.execute(delete(sessions_table).where(sessions_table.c.expires_at <= now))
        conn.execute(insert(sessions_table).values(token_sha256=_token_hash(token), user_id=user_id, csrf_token=csrf,
                                                   created_at=now, expires_at=now + SESSION_LIFETIME))
    return Login(token, SessionUser(name, Role(role), csrf))


def _verify(stored_hash: str, password: str) -> bool:
    try:
        return _hasher().verify(stored_hash, password)
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False


def _minutes(duration: dt.timedelta) -> int:
    return int(duration.total_seconds()) // 60


def _locked(name: str, until: dt.datetime) -> LoginRefused:
    return LoginRefused("account", name, f"an account that is not locked (locked after {MAX_FAILED_LOGINS} failed "
                        f"log-ins in a row, until {until:%H:%M} UTC): try again then, or an administrator unlocks it "
                        "now with `openidds web user unlock NAME`")


def session_user(engine: Engine, token: str, now: dt.datetime) -> SessionUser | None:
    """The user of the live session ``token``; ``None`` for an unknown, ended or expired session (a lock-out
    refuses new log-ins only)."""
    s, u = sessions_table.c, users_table.c
    with engine.connect() as conn:
        row = conn.execute(select(u.name, u.role, s.csrf_token).join_from(sessions_table, users_table)
                           .where(s.token_sha256 == _token_hash(token), s.expires_at > now,
                                  u.disabled_at.is_(None))).first()
    return None if row is None else SessionUser(row.name, Role(row.role), row.csrf_token)


def log_out(engine: Engine, token: str) -> None:
    """End the session ``token`` (nothing happens for a session already ended)."""
    with engine.begin() as conn:
        conn.execute(delete(sessions_table).where(sessions_table.c.token_sha256 == _token_hash(token)))

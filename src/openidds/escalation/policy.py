"""A clinic's escalation policy: tiers, timeouts per tier and priority, quiet hours, people, rota, transports.

Read from a TOML or JSON file (:func:`parse_policy`, given the file's text: the core reads no file). Every
refusal is a :class:`PolicyError` naming the field (``tiers[1].timeout_minutes.high``), the value and what was
expected: an empty rota, a zero timeout, an unknown transport, a role nobody holds at some hour of the week (a gap)
or two shifts of one role that overlap, a person on the rota without an address for a transport their tier uses.
"""

from __future__ import annotations

import datetime as dt
import json
import tomllib
from enum import Enum
from typing import Annotated, Any, Self
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError, model_validator

from openidds.escalation.channels import Channel
from openidds.escalation.errors import PolicyError, validation_refusal
from openidds.escalation.priority import Priority
from openidds.escalation.rota import (
    Shift,
    StaffRole,
    describe_minute,
    first_overlap,
    holders,
    minute_of_day,
    uncovered_minute,
)
from openidds.escalation.rota import week_minute as _week_minute
from openidds.pump.alarms import AlarmKind

_CLOSED = ConfigDict(frozen=True, extra="forbid")


def _positive_minutes(minutes: int) -> int:
    if minutes <= 0:
        raise ValueError("a number greater than 0 (a timeout of zero would escalate at once)")
    return minutes


TimeoutMinutes = Annotated[int, AfterValidator(_positive_minutes)]
"""A tier's minutes to acknowledge: a whole positive number."""


class TierTimeouts(BaseModel):
    """Minutes a tier has to acknowledge, per priority, before the next tier is notified."""

    model_config = _CLOSED
    high: TimeoutMinutes
    medium: TimeoutMinutes
    low: TimeoutMinutes

    def of(self, priority: Priority) -> dt.timedelta:
        minutes: int = getattr(self, priority.value)
        return dt.timedelta(minutes=minutes)


class Tier(BaseModel):
    """One step of escalation: everyone on call for ``role``, by each of ``channels``."""

    model_config = _CLOSED
    role: StaffRole
    channels: tuple[Channel, ...] = Field(min_length=1)
    timeout_minutes: TierTimeouts


class Person(BaseModel):
    """How to reach someone on the rota; on the board they are their web user name (the key under ``people``)."""

    model_config = _CLOSED
    email: str | None = Field(default=None, pattern=r"^[^@\s]+@[^@\s]+$")
    webhook: str | None = Field(default=None, pattern=r"^https?://\S+$")

    def address(self, channel: Channel, name: str) -> str | None:
        return {Channel.EMAIL: self.email, Channel.WEBHOOK: self.webhook, Channel.BOARD: name}[channel]


class QuietHours(BaseModel):
    """Local hours (``start`` to ``end``, past midnight if ``end`` is earlier) in which medium and low alarms wait
    for the morning and patients are not called; a high-priority alarm is never held."""

    model_config = _CLOSED
    start: dt.time
    end: dt.time

    @model_validator(mode="after")
    def _not_empty(self) -> Self:
        if self.start == self.end:
            raise PolicyError("quiet_hours.end", self.end.isoformat("minutes"),
                              f"a time other than the start ({self.start.isoformat('minutes')})")
        return self


class PatientNotices(BaseModel):
    """Alarms a patient or caregiver can act on, each with what they are asked to do, and how to tell them."""

    model_config = _CLOSED
    alarms: dict[AlarmKind, str] = Field(min_length=1)
    channels: tuple[Channel, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _no_board(self) -> Self:
        if Channel.BOARD in self.channels:
            raise PolicyError("patient_notices.channels", Channel.BOARD.value,
                              "email or webhook: patients have no account on the clinic's board")
        return self


TIMEOUT_LIMIT_S = 120.0
"""The longest a transport may wait for an answer (a dispatcher's lease must outlast a send)."""


class EmailSettings(BaseModel):
    model_config = _CLOSED
    host: str = Field(min_length=1)
    port: int = Field(default=25, ge=1, le=65535)
    sender: str = Field(pattern=r"^[^@\s]+@[^@\s]+$")
    timeout_s: float = Field(default=10.0, gt=0, le=TIMEOUT_LIMIT_S)


class WebhookSettings(BaseModel):
    model_config = _CLOSED
    timeout_s: float = Field(default=10.0, gt=0, le=TIMEOUT_LIMIT_S)


class Transports(BaseModel):
    model_config = _CLOSED
    email: EmailSettings | None = None
    webhook: WebhookSettings = WebhookSettings()


class Policy(BaseModel):
    """The whole escalation policy of one clinic. Times of day are local to ``timezone`` (an IANA name)."""

    model_config = _CLOSED
    timezone: str
    tiers: tuple[Tier, ...]
    people: dict[str, Person]
    rota: tuple[Shift, ...]
    quiet_hours: QuietHours | None = None
    patient_notices: PatientNotices | None = None
    transports: Transports = Transports()

    @property
    def zone(self) -> ZoneInfo:
        return ZoneInfo(self.timezone)

    @model_validator(mode="after")
    def _consistent(self) -> Self:
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError):
            raise PolicyError("timezone", self.timezone, "an IANA time zone name such as Europe/Paris") from None
        if not self.tiers:
            raise PolicyError("tiers", [], "at least one tier (for example the on-call nurse)")
        if not self.rota:
            raise PolicyError("rota", [], "at least one shift: someone must be on call for each tier's role")
        roles = [t.role for t in self.tiers]
        for i, tier in enumerate(self.tiers):
            if roles.index(tier.role) != i:
                raise PolicyError(f"tiers[{i}].role", tier.role.value, "a role no earlier tier already notifies")
        for i, shift in enumerate(self.rota):
            if shift.person not in self.people:
                raise PolicyError(f"rota[{i}].person", shift.person,
                                  f"someone listed under [people] ({', '.join(self.people) or 'nobody is'})")
        self._check_overlaps()
        self._check_coverage_and_addresses()
        self._check_transports()
        return self

    def _check_overlaps(self) -> None:
        for role in StaffRole:
            overlap = first_overlap(self.rota, role)
            if overlap is not None:
                first, second, minute = overlap
                other = self.rota[first]
                raise PolicyError(f"rota[{second}].start", self.rota[second].start.isoformat("minutes"),
                                  f"a shift that does not overlap rota[{first}] ({other.person}, "
                                  f"{other.start.isoformat('minutes')}-{other.end.isoformat('minutes')}): one person "
                                  f"holds the {role.value} role at a time; both cover {describe_minute(minute)}")

    def _check_coverage_and_addresses(self) -> None:
        for i, tier in enumerate(self.tiers):
            gap = uncovered_minute(self.rota, tier.role)
            if gap is not None:
                raise PolicyError(f"tiers[{i}].role", tier.role.value,
                                  f"someone on the rota for this role at every hour; nobody is at "
                                  f"{describe_minute(gap)} ({self.timezone})")
            for shift in self.rota:
                if shift.role is not tier.role:
                    continue
                for channel in tier.channels:
                    if self.people[shift.person].address(channel, shift.person) is None:
                        raise PolicyError(f"people.{shift.person}.{channel.value}", None,
                                          f"an address: tiers[{i}] ({tier.role.value}) notifies by {channel.value}")

    def _check_transports(self) -> None:
        used = {c for t in self.tiers for c in t.channels}
        if self.patient_notices is not None:
            used |= set(self.patient_notices.channels)
        if Channel.EMAIL in used and self.transports.email is None:
            raise PolicyError("transports.email", None, "the SMTP server's host and sender, since e-mail is used")

    def on_call(self, role: StaffRole, at: dt.datetime) -> tuple[str, ...]:
        """Who holds ``role`` at ``at`` (naive UTC); never empty for a tier's role (checked when loaded)."""
        return holders(self.rota, role, _week_minute(at, self.zone))

    def quiet_until(self, at: dt.datetime) -> dt.datetime | None:
        """When the quiet hours around ``at`` (naive UTC) end, as naive UTC; ``None`` when ``at`` is not in them."""
        if self.quiet_hours is None:
            return None
        local = at.replace(tzinfo=dt.UTC).astimezone(self.zone)
        start, end = minute_of_day(self.quiet_hours.start), minute_of_day(self.quiet_hours.end)
        now = local.hour * 60 + local.minute
        quiet = start <= now < end if start < end else (now >= start or now < end)
        if not quiet:
            return None
        day = local.date() if now < end else local.date() + dt.timedelta(days=1)
        ends = dt.datetime.combine(day, self.quiet_hours.end, tzinfo=self.zone)
        return ends.astimezone(dt.UTC).replace(tzinfo=None)


class PolicyFormat(str, Enum):
    TOML = "toml"
    JSON = "json"

    @classmethod
    def of_name(cls, name: str) -> PolicyFormat:
        """The format a file name's extension says (``.toml`` or ``.json``)."""
        suffix = name.rsplit(".", 1)[-1].lower() if "." in name else ""
        try:
            return cls(suffix)
        except ValueError:
            raise PolicyError("--policy", name, "a .toml or .json policy file") from None


def parse_policy(text: str, file_format: PolicyFormat) -> Policy:
    """The policy a file's ``text`` holds, or a :class:`PolicyError` naming the first problem."""
    try:
        data = tomllib.loads(text) if file_format is PolicyFormat.TOML else json.loads(text)
    except (tomllib.TOMLDecodeError, json.JSONDecodeError) as exc:
        raise PolicyError("policy", f"{file_format.value} text", f"a valid {file_format.value} document ({exc})") \
            from None
    return policy_from(data)


def policy_from(data: Any) -> Policy:
    """The policy in ``data`` (the parsed file), or a :class:`PolicyError` naming the first problem."""
    try:
        return Policy.model_validate(data)
    except ValidationError as exc:
        raise validation_refusal(exc, PolicyError, "policy") from None

"""How the people on call answer a notification: a stated model, read from a TOML file, for simulating
escalation over a virtual clinic (:mod:`openidds.cohort.escalation_run`).

Per role (the tiers of a policy notify roles) and per priority: the share of notified people who acknowledge at
all, and the delay from the delivery of their notification to their acknowledgement, lognormal, given by its
median and interquartile range, in office hours and at night (every other hour). Per channel: the share of
notifications the transport fails to deliver. Optionally, how soon an acknowledged low- or empty-reservoir alarm
leads to a refill visit. Each block says where its figures come from (``source``); the
bundled example's figures are assumptions, to be replaced by a clinic's own data.
"""

from __future__ import annotations

import datetime as dt
import math
import tomllib
from statistics import NormalDist
from typing import Annotated, Self
from zoneinfo import ZoneInfo

from pydantic import BaseModel, ConfigDict, Field, PositiveFloat, ValidationError, model_validator

from openidds.escalation.channels import Channel
from openidds.escalation.errors import ResponderError, validation_refusal
from openidds.escalation.priority import Priority
from openidds.escalation.rota import ALL_DAYS, StaffRole, minute_of_day
from openidds.pump.alarms import AlarmKind
from openidds.weekday import Weekday

_CLOSED = ConfigDict(frozen=True, extra="forbid")
Share = Annotated[float, Field(ge=0, le=1)]
Source = Annotated[str, Field(min_length=1)]
_UPPER_QUARTILE_Z = NormalDist().inv_cdf(0.75)
"""The standard normal's upper quartile (0.674...): a lognormal's quartiles are ``median * exp(±z * sigma)``."""


class Delay(BaseModel):
    """A lognormal delay in minutes, given as people report delays: its median and interquartile range."""

    model_config = _CLOSED
    median_minutes: PositiveFloat
    iqr_minutes: PositiveFloat

    @property
    def mu(self) -> float:
        """The mean of the delay's logarithm (log of the median)."""
        return math.log(self.median_minutes)

    @property
    def sigma(self) -> float:
        """The standard deviation of the delay's logarithm: IQR = 2 · median · sinh(z · sigma)."""
        return math.asinh(self.iqr_minutes / (2 * self.median_minutes)) / _UPPER_QUARTILE_Z


class Response(BaseModel):
    """How people of one role answer alarms of one priority."""

    model_config = _CLOSED
    acknowledge_share: Share
    office: Delay
    night: Delay


class RoleResponses(BaseModel):
    """One role's answers per priority, and where the figures come from."""

    model_config = _CLOSED
    high: Response
    medium: Response
    low: Response
    source: Source

    def of(self, priority: Priority) -> Response:
        response: Response = getattr(self, priority.value)
        return response


class OfficeHours(BaseModel):
    """The local hours (``start`` to ``end`` on ``days``) in which the ``office`` delays hold."""

    model_config = _CLOSED
    start: dt.time
    end: dt.time
    days: tuple[Weekday, ...] = Field(default=ALL_DAYS, min_length=1)

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if self.end <= self.start:
            raise ResponderError("office_hours.end", self.end.isoformat("minutes"),
                                 f"a time after the start ({self.start.isoformat('minutes')}), the same day")
        return self


class DeliveryFailures(BaseModel):
    """The share of notifications each transport fails to deliver (refused, timed out), and the source."""

    model_config = _CLOSED
    email: Share
    webhook: Share
    board: Share
    source: Source

    def of(self, channel: Channel) -> float:
        share: float = getattr(self, channel.value)
        return share


class RefillVisits(BaseModel):
    """What an acknowledged reservoir alarm leads to: a refill visit so many hours after the acknowledgement (of a
    low reservoir, booked; of an empty one, urgent), and where the figures come from."""

    model_config = _CLOSED
    after_low_reservoir_hours: PositiveFloat
    after_empty_reservoir_hours: PositiveFloat
    source: Source

    def after(self, kind: AlarmKind) -> dt.timedelta | None:
        """How long after the acknowledgement of a ``kind`` alarm its refill visit comes (None: no visit)."""
        hours = {AlarmKind.LOW_RESERVOIR: self.after_low_reservoir_hours,
                 AlarmKind.EMPTY_RESERVOIR: self.after_empty_reservoir_hours}.get(kind)
        return None if hours is None else dt.timedelta(hours=hours)


class Responders(BaseModel):
    """The whole acknowledgement model: office hours, each role's answers, each transport's failures, and (when
    given) the refill visit an acknowledged reservoir alarm leads to."""

    model_config = _CLOSED
    office_hours: OfficeHours
    roles: dict[StaffRole, RoleResponses] = Field(min_length=1)
    delivery_failures: DeliveryFailures
    refill_visits: RefillVisits | None = None

    def response(self, role: StaffRole, priority: Priority) -> Response:
        """How ``role`` answers a ``priority`` alarm; a role the model lacks is refused."""
        if role not in self.roles:
            raise ResponderError("roles", role.value, f"a [roles.{role.value}] block: the policy's tiers notify "
                                                      f"this role (the model has {', '.join(self.roles)})")
        return self.roles[role].of(priority)

    def delay(self, role: StaffRole, priority: Priority, at: dt.datetime, zone: ZoneInfo) -> Delay:
        """The delay distribution for a notification delivered at ``at`` (naive UTC), office hours local to
        ``zone`` (the policy's)."""
        response = self.response(role, priority)
        return response.office if self.in_office(at, zone) else response.night

    def in_office(self, at: dt.datetime, zone: ZoneInfo) -> bool:
        """Whether ``at`` (naive UTC) falls in office hours, local time in ``zone``."""
        local = at.replace(tzinfo=dt.UTC).astimezone(zone)
        minute = local.hour * 60 + local.minute
        hours = self.office_hours
        return (ALL_DAYS[local.weekday()] in hours.days
                and minute_of_day(hours.start) <= minute < minute_of_day(hours.end))

    def check_roles(self, roles: tuple[StaffRole, ...]) -> None:
        """Refuse a model that lacks one of ``roles`` (a policy's tier roles), before a run starts."""
        for role in roles:
            self.response(role, Priority.HIGH)


def parse_responders(text: str) -> Responders:
    """The acknowledgement model a TOML file's ``text`` holds, or a :class:`ResponderError` naming the first
    problem (its field, the value and what was expected)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ResponderError("responders", "toml text", f"a valid TOML document ({exc})") from None
    try:
        return Responders.model_validate(data)
    except ValidationError as exc:
        raise validation_refusal(exc, ResponderError, "responders") from None

"""What the programming review and the refill page share: the stored pump of a patient's implant replayed to the
clinic's moment, what it shows now, and a refusal placed beside the form field it is about.

The pump clock of a stored state (its ``start``, docs/programmer.md) is read in the registry's time (naive UTC),
the time of the clinic's moment (:meth:`openidds.web.context.WebContext.clinic_now`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from openidds.clinic.pump_states import StoredState
from openidds.drugs import DrugLibrary
from openidds.errors import OpenIDDSError
from openidds.programmer import (
    Policy,
    ProgrammerError,
    PumpState,
    RefillForecast,
    Review,
    SessionRefused,
    present_doses,
    present_forecast,
)
from openidds.pump import Pump
from openidds.pump.ticks import decimal_text, ticks_to_ml
from openidds.units import format_quantity

POLICY = Policy()
"""The clinic's programming and refill policy: the programmer's defaults (a second clinician confirms each
program change; the post-refill observation lasts 30 minutes)."""


def pump_at(state: PumpState, now: dt.datetime) -> tuple[Pump, int]:
    """The pump rebuilt from its journal, and ``now`` on its clock; a moment before the journal's last entry
    is refused (a clock set back)."""
    at_s = state.seconds(now.replace(microsecond=0), "now")
    if at_s < state.last_s():
        raise ProgrammerError("now", now.isoformat(timespec="seconds"), "a moment at or after the pump's last "
                              f"command, {state.when(state.last_s()).isoformat()}: check the server's clock")
    return state.replay(), at_s


def when(state: PumpState, t_s: int | None) -> str | None:
    """A time on the pump clock as an ISO date-time to the minute (None: never within the forecast)."""
    return None if t_s is None else state.when(t_s).isoformat(timespec="minutes")


def forecast_dict(state: PumpState, fc: RefillForecast) -> dict[str, Any]:
    """A refill forecast with its times as date-times."""
    return fc.to_dict() | {"due": when(state, fc.due_s), "volume_due": when(state, fc.volume_due_s),
                           "stability_due": when(state, fc.stability.due_s), "alarm": when(state, fc.alarm_s)}


def review_dict(state: PumpState, review: Review) -> dict[str, Any]:
    """A review with its forecasts' times as date-times."""
    out = review.to_dict()
    out["old_forecast"] = None if review.old_forecast is None else forecast_dict(state, review.old_forecast)
    out["new_forecast"] = forecast_dict(state, review.new_forecast)
    return out


@dataclass(frozen=True)
class PumpNow:
    """The stored pump as the clinic sees it at one moment: program, solution, reservoir, doses and the refill
    forecast; ``version``, ``updated_by`` and ``updated_at`` say which stored state it is."""

    version: int
    updated_by: str
    updated_at: dt.datetime
    at: dt.datetime
    model: str
    reservoir_ml: int
    program: str
    solution: str
    reservoir_estimated_ml: str
    doses: list[dict[str, Any]]
    forecast: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {"version": self.version, "updated_by": self.updated_by,
                "updated_at": self.updated_at.isoformat(timespec="seconds"),
                "at": self.at.isoformat(timespec="seconds"), "model": self.model, "reservoir_ml": self.reservoir_ml,
                "program": self.program, "solution": self.solution,
                "reservoir_estimated_ml": self.reservoir_estimated_ml, "doses": self.doses, "forecast": self.forecast}


def pump_now(stored: StoredState, now: dt.datetime, policy: Policy, library: DrugLibrary) -> PumpNow:
    """What the stored pump shows at ``now`` (time passes on a replayed copy; nothing is stored)."""
    state = stored.state
    pump, at_s = pump_at(state, now)
    fc = present_forecast(pump, at_s, policy, library)

    def q(x: Any) -> str | None:
        return None if x is None else format_quantity(x, places=6)

    doses = [{"drug": drug, "daily": q(f.daily), "bolus": q(f.bolus), "boluses_per_24h": f.boluses,
              "max_24h": q(f.max_24h)} for drug, f in present_doses(pump, library)]
    return PumpNow(stored.version, stored.updated_by, stored.updated_at, state.when(at_s), state.pump.model,
                   state.pump.reservoir_ml, pump.therapy.program.describe() if pump.therapy else "not programmed",
                   pump.solution.describe() if pump.solution else "empty",
                   decimal_text(ticks_to_ml(pump.reservoir_estimated_ticks), 3), doses, forecast_dict(state, fc))


@dataclass(frozen=True)
class FormError:
    """A refusal shown beside the form field it is about (``field`` one of the form's names, or ``""`` for the
    whole form), with the findings a session refused it for."""

    field: str
    message: str
    findings: tuple[dict[str, Any], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"field": self.field, "message": self.message, "findings": list(self.findings)}


def form_error(error: OpenIDDSError, fields: tuple[str, ...]) -> FormError:
    """The refusal placed at the form field its ``field`` names (the longest name it starts with), else on
    the whole form."""
    name = str(error.field)
    placed = max((f for f in fields if name == f or name.startswith(f + ".") or name.startswith(f + "[")),
                 key=len, default="")
    findings = tuple(f.to_dict() for f in error.findings) if isinstance(error, SessionRefused) else ()
    return FormError(placed, str(error), findings)


"""The example policy the docs show (docs/escalation-policy.toml), as data the tests can change."""

from __future__ import annotations

import copy
import datetime as dt
import tomllib
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

from openidds.clinic import escalation_policies
from openidds.escalation import Policy, policy_from

EXAMPLE = Path(__file__).resolve().parents[2] / "docs" / "escalation-policy.toml"
_DATA = tomllib.loads(EXAMPLE.read_text())


def example_data() -> dict[str, Any]:
    """A fresh copy of the example policy's data."""
    return copy.deepcopy(_DATA)


def example_policy(**changes: Any) -> Policy:
    """The example policy with top-level settings replaced (``quiet_hours=None`` drops them)."""
    data = example_data()
    for name, value in changes.items():
        if value is None:
            data.pop(name, None)
        else:
            data[name] = value
    return policy_from(data)


INSTALLED_AT = dt.datetime(2020, 1, 1)


def installed(engine: Engine, policy: Policy) -> Engine:
    """``engine`` whose registry holds ``policy`` as its current escalation policy."""
    escalation_policies.install_file(engine, policy, "test-setup", INSTALLED_AT, "test policy")
    return engine

"""One translation of a pydantic validation error into the escalation package's refusals, for the policy and the
acknowledgement model alike: the field's path, the value and what was expected, in the same words."""

from __future__ import annotations

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from openidds.escalation import Channel, PolicyError, Priority, ResponderError, policy_from
from openidds.escalation.errors import validation_refusal
from openidds.escalation.responders import DeliveryFailures, Response, RoleResponses

from .policies import example_data


class _Rule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    share: float = Field(ge=0, le=1)
    days: tuple[Priority, ...] = ()
    by_priority: dict[Priority, int] = {}

    @field_validator("share")
    @classmethod
    def _not_half(cls, share: float) -> float:
        if share == 0.5:
            raise ValueError("anything but a half")
        return share


class _Document(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: list[_Rule]


def _refused(data: object, error: type[PolicyError] | type[ResponderError]) -> PolicyError | ResponderError:
    with pytest.raises(ValidationError) as caught:
        _Document.model_validate(data)
    return validation_refusal(caught.value, error, "document")


@pytest.mark.parametrize("error", [PolicyError, ResponderError])
@pytest.mark.parametrize(("data", "field", "value", "expected"), [
    ({"rules": [{"share": 0.1}, {"share": 2}]}, "rules[1].share", 2, "a number at most 1"),
    ({"rules": [{"share": 0.5}]}, "rules[0].share", 0.5, "anything but a half"),
    ({"rules": [{"share": 0.1, "days": ["high", "urgent"]}]}, "rules[0].days[1]", "urgent",
     "one of 'high', 'medium' or 'low'"),
    ({"rules": [{"share": 0.1, "by_priority": {"urgent": 1}}]}, "rules[0].by_priority.urgent", "urgent",
     "one of 'high', 'medium' or 'low'"),
    ({"rules": [{}]}, "rules[0].share", None, "a value: this setting is required"),
    ({"rules": [{"share": 0.1, "shares": 1}]}, "rules[0].shares", 1, "no such setting (a misspelt name?)"),
    ({"rules": {"share": 0.1}}, "rules", "<dict>", "a valid list"),
    ([], "document", "<list>", "a valid dictionary"),
])
def test_both_refusals_name_the_path_the_value_and_the_expectation_alike(
        data: object, field: str, value: object, expected: str, error: type[PolicyError] | type[ResponderError]
) -> None:
    refusal = _refused(data, error)
    assert type(refusal) is error
    assert (refusal.field, refusal.value) == (field, value)
    assert expected in refusal.expected


def test_a_refusal_a_validator_raised_is_passed_on_as_it_is() -> None:
    data = example_data()
    data["rota"] = []
    with pytest.raises(PolicyError) as caught:
        policy_from(data)
    assert (caught.value.field, caught.value.value) == ("rota", [])
    assert "at least one shift" in caught.value.expected


def test_a_zero_timeout_says_why_it_is_refused() -> None:
    data = example_data()
    data["tiers"][2]["timeout_minutes"]["low"] = 0
    with pytest.raises(PolicyError) as caught:
        policy_from(data)
    assert (caught.value.field, caught.value.value) == ("tiers[2].timeout_minutes.low", 0)
    assert caught.value.expected == "a number greater than 0 (a timeout of zero would escalate at once)"
    data = example_data()
    data["transports"]["webhook"]["timeout_s"] = 0  # a transport's timeout is not a tier's
    with pytest.raises(PolicyError) as caught:
        policy_from(data)
    assert (caught.value.field, caught.value.expected) == ("transports.webhook.timeout_s", "a number greater than 0")


def test_each_priority_and_channel_reads_its_own_field() -> None:
    delay = {"median_minutes": 1, "iqr_minutes": 1}
    role = RoleResponses.model_validate({p.value: {"acknowledge_share": share, "office": delay, "night": delay}
                                         for p, share in zip(Priority, (0.9, 0.8, 0.7), strict=True)}
                                        | {"source": "test"})
    assert [role.of(p).acknowledge_share for p in Priority] == [0.9, 0.8, 0.7]
    assert all(isinstance(role.of(p), Response) for p in Priority)
    failures = DeliveryFailures(email=0.1, webhook=0.2, board=0.3, source="test")
    assert [failures.of(c) for c in Channel] == [0.1, 0.2, 0.3]

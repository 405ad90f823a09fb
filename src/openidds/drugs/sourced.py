"""Numbers with their source and verification status, and the validation shared by every data file."""

from enum import Enum
from fractions import Fraction
from typing import Annotated, Any, TypeVar

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    PlainSerializer,
    PlainValidator,
    ValidationError,
    field_validator,
)

from openidds.drugs.errors import InputFileError
from openidds.errors import OpenIDDSError
from openidds.units import Quantity, exact, format_quantity, parse_quantity


class Status(str, Enum):
    """[V] the number was read in its cited source; [R] recalled or secondary, not yet checked."""

    VERIFIED = "V"
    UNVERIFIED = "R"


def _quantity(value: Any) -> Quantity:
    if isinstance(value, Quantity):
        return value
    if isinstance(value, str):
        return parse_quantity(value, field="value")
    raise ValueError(f"expected a quantity written as text, e.g. '15 mg/day', got {value!r}")


def _fraction(value: Any) -> Fraction:
    if isinstance(value, str | int | Fraction):
        return exact(value)
    raise ValueError(f"expected an exact decimal written as text, e.g. '1.5', got {value!r}")


QuantityField = Annotated[Quantity, PlainValidator(_quantity), PlainSerializer(format_quantity, return_type=str)]
FractionField = Annotated[Fraction, PlainValidator(_fraction), PlainSerializer(lambda f: str(f), return_type=str)]


class Closed(BaseModel):
    """A closed, immutable record."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)


class Source(Closed):
    """A citation; `locator` is a DOI, PubMed id, URL or repository path where the number was read."""

    citation: str
    locator: str


class Sourced(Closed):
    """Where a number comes from and whether it was verified there."""

    status: Status
    source: str
    note: str = ""

    @property
    def verified(self) -> bool:
        return self.status is Status.VERIFIED

    @property
    def tag(self) -> str:
        return f"[{self.status.value}] {self.source}"


def _positive(quantity: Quantity) -> Quantity:
    if quantity.value <= 0:
        raise ValueError(f"{quantity} must be above zero")
    return quantity


PositiveQuantity = Annotated[QuantityField, AfterValidator(_positive)]


class SourcedQuantity(Sourced):
    value: PositiveQuantity


class SourcedRange(Sourced):
    low: PositiveQuantity
    high: PositiveQuantity

    @field_validator("high")
    @classmethod
    def _ordered(cls, high: Quantity, info: Any) -> Quantity:
        low = info.data.get("low")
        if low is not None:
            if low.dimension != high.dimension:
                raise ValueError(f"low {low} and high {high} must have the same dimension")
            if high < low:
                raise ValueError(f"high {high} must not be below low {low}")
        return high


class SourcedText(Sourced):
    text: str


def problems_of(error: ValidationError) -> tuple[OpenIDDSError, ...]:
    """One OpenIDDSError per pydantic error, named by its dotted location."""
    found = []
    for item in error.errors():
        location = ".".join(str(part) for part in item["loc"]) or "(file)"
        given = item.get("input")
        shown = given if isinstance(given, str | int | float | bool | None) else f"<{type(given).__name__}>"
        cause = item.get("ctx", {}).get("error")
        expected = cause.expected if isinstance(cause, OpenIDDSError) else item["msg"].removeprefix("Value error, ")
        found.append(OpenIDDSError(location, shown, expected))
    return tuple(found)


Model = TypeVar("Model", bound=BaseModel)


def validate_json(model: type[Model], text: str | bytes, name: str) -> Model:
    """Validate a whole file; raise InputFileError listing every problem with its location."""
    try:
        return model.model_validate_json(text)
    except ValidationError as error:
        raise InputFileError(name, f"<{len(text)} bytes>", problems_of(error)) from None


def check_sources(sources: dict[str, Source], used: list[tuple[str, str]]) -> None:
    """Raise ValueError naming each (location, source id) whose source is not declared."""
    missing = [f"{where}: {sid!r}" for where, sid in used if sid not in sources]
    if missing:
        raise ValueError(f"undeclared source id(s), declare them under 'sources': {', '.join(missing)}")

"""Read-only arrays for frozen results, and conversion of results to JSON-ready values."""

import dataclasses
import math
from typing import TYPE_CHECKING, Any, overload

import numpy as np

if TYPE_CHECKING:
    from _typeshed import DataclassInstance


def frozen_array(values: object) -> np.ndarray:
    out = np.array(values)
    out.flags.writeable = False
    return out


@overload
def jsonable(value: "DataclassInstance | dict[Any, Any]") -> dict[str, object]: ...
@overload
def jsonable(value: object) -> object: ...
def jsonable(value: object) -> object:
    """Plain Python values for JSON: NaN and infinities become None, arrays become lists."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in value]
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value

"""Every error class of the package survives pickling (a worker process's refusal reaches the parent)."""

import datetime as dt
import importlib
import inspect
import pickle
import pkgutil

import pytest

import openidds
from openidds.clinic.entry import EntryRefused, RecordKind, StaleRecord
from openidds.clinic.errors import ImportRejected, RuleViolation
from openidds.clinic.findings import Finding
from openidds.drugs.errors import InputFileError
from openidds.errors import OpenIDDSError
from openidds.outcomes.data_error import DataError


def _error_classes() -> list[type[OpenIDDSError]]:
    for module in pkgutil.walk_packages(openidds.__path__, "openidds."):
        importlib.import_module(module.name)
    found: list[type[OpenIDDSError]] = []
    stack = [OpenIDDSError]
    while stack:
        cls = stack.pop()
        found.append(cls)
        stack.extend(cls.__subclasses__())
    return sorted(set(found), key=lambda c: f"{c.__module__}.{c.__qualname__}")


FINDING = Finding("visit_after_implant", "visit VIRTUAL-01/S00001 2024-03-01", "visit before implant", "f.csv:3")
#: The errors whose constructor takes other arguments than (field, value, expected).
SPECIAL = {ImportRejected: lambda: ImportRejected("visits.csv", [FINDING]),
           RuleViolation: lambda: RuleViolation([FINDING, FINDING]),
           DataError: lambda: DataError("nrs_baseline", [3, 7], [11, -1], "a score from 0 to 10"),
           EntryRefused: lambda: EntryRefused(RecordKind.VISIT, {"nrs": "nrs=11: expected a value from 0 to 10"},
                                              ["exit CJFH/P001: exit_date=2022-01-01 is before the first implant"]),
           StaleRecord: lambda: StaleRecord("visit CJFH/P001 2022-10-01 follow_up", 1, 2, "nina",
                                            dt.datetime(2023, 7, 10, 9, 30)),
           InputFileError: lambda: InputFileError("library", "drugs.toml", (OpenIDDSError("drug", "x", "a name"),))}


def _example(cls: type[OpenIDDSError]) -> OpenIDDSError:
    if cls in SPECIAL:
        return SPECIAL[cls]()
    params = list(inspect.signature(cls.__init__).parameters.values())
    required = [p.name for p in params if p.default is inspect.Parameter.empty]
    assert required == ["self", "field", "value", "expected"], f"{cls.__qualname__}: add it to SPECIAL"
    return cls("dose_mg_per_day", 12.5, "a dose within the drug's limits")


CLASSES = _error_classes()


def test_every_package_error_class_is_found() -> None:
    names = {c.__name__ for c in CLASSES}
    assert {"OpenIDDSError", "ImportRejected", "StudyError", "CommandRefused", "RuleViolation"} <= names
    assert len(CLASSES) >= 20


@pytest.mark.parametrize("cls", CLASSES, ids=lambda c: f"{c.__module__}.{c.__qualname__}")
def test_pickle_round_trip(cls: type[OpenIDDSError]) -> None:
    error = _example(cls)
    back = pickle.loads(pickle.dumps(error))
    assert type(back) is cls
    assert str(back) == str(error)
    assert back.args == error.args
    assert (back.field, back.value, back.expected) == (error.field, error.value, error.expected)
    assert repr(vars(back)) == repr(vars(error))  # a nested error compares by identity, its repr by content

"""A clinical study as data: its design and every published number it targets, loaded from a TOML study file.

The bundled files (``openidds/cohort/studies/<id>.toml``) hold the three seed studies. Each target quotes the
sentence its number comes from and names its interval: the published one (95 % CI, IQR, mean ± SD, bound), or
one computed from the published numbers when the paper gives none (``ci95_computed``: Clopper–Pearson for a
proportion, t for a mean, χ² for an SD, exact Poisson for a count). See docs/cohort.md.
"""

from __future__ import annotations

import math
import re
import tomllib
from collections import Counter
from datetime import date
from enum import Enum
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator
from scipy import stats

from openidds.cohort.bundled import bundled_ids, read_toml_file
from openidds.errors import OpenIDDSError

CONF_LEVEL = 0.95
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


class StudyError(OpenIDDSError):
    """A study name that is not bundled, or a study file that does not follow the schema."""


class Metric(str, Enum):
    """What a target measures over the cohort."""

    MEAN = "mean"
    SD = "sd"
    MEDIAN = "median"
    MINIMUM = "minimum"
    MAXIMUM = "maximum"
    PROPORTION = "proportion"
    CUMULATIVE_INCIDENCE = "cumulative_incidence"
    KM_MEDIAN = "km_median"
    COUNT = "count"
    P_VALUE = "p_value"


class Interval(str, Enum):
    """What ``low`` and ``high`` of a target are."""

    CI95 = "ci95"                    # the published 95 % confidence interval
    IQR = "iqr"                      # the published quartiles
    SD = "sd"                        # value ± the published SD (low/high computed from ``sd``)
    RANGE = "range"                  # the published minimum and maximum
    UPPER_BOUND = "upper_bound"      # published as "< high" (a p-value bound); low is None
    CI95_COMPUTED = "ci95_computed"  # no interval published: 95 % interval computed from value, n (and sd)
    NONE = "none"                    # no interval: the target is shown, not judged


class Use(str, Enum):
    """Whether calibration fits the target or keeps it to check the fitted model."""

    FIT = "fit"
    HOLDOUT = "holdout"


_FRACTIONS = (Metric.PROPORTION, Metric.CUMULATIVE_INCIDENCE, Metric.P_VALUE)
_COMPUTABLE = (Metric.PROPORTION, Metric.MEAN, Metric.SD, Metric.COUNT)
_GIVEN_BOUNDS = (Interval.CI95, Interval.IQR, Interval.RANGE)


def computed_interval(metric: Metric, value: float, n: int, sd: float | None = None) -> tuple[float, float]:
    """The 95 % interval of a published estimate that came without one.

    Proportion: Clopper–Pearson from the count ``round(value·n)``; mean: ``value ± t·sd/√n``; SD: χ² interval;
    count: exact (Garwood) Poisson interval of ``value``.
    """
    alpha = 1 - CONF_LEVEL
    if metric is Metric.PROPORTION:
        k = round(value * n)
        low = 0.0 if k == 0 else float(stats.beta.ppf(alpha / 2, k, n - k + 1))
        high = 1.0 if k == n else float(stats.beta.ppf(1 - alpha / 2, k + 1, n - k))
        return low, high
    if metric is Metric.MEAN:
        if sd is None:
            raise StudyError("sd", sd, "the published SD of the mean, to compute its 95 % interval")
        half = float(stats.t.ppf(1 - alpha / 2, n - 1)) * sd / math.sqrt(n)
        return value - half, value + half
    if metric is Metric.SD:
        return (value * math.sqrt((n - 1) / float(stats.chi2.ppf(1 - alpha / 2, n - 1))),
                value * math.sqrt((n - 1) / float(stats.chi2.ppf(alpha / 2, n - 1))))
    if metric is Metric.COUNT:
        k = round(value)
        low = 0.0 if k == 0 else float(stats.chi2.ppf(alpha / 2, 2 * k)) / 2
        return low, float(stats.chi2.ppf(1 - alpha / 2, 2 * k + 2)) / 2
    raise StudyError("interval", Interval.CI95_COMPUTED.value,
                     f"a published interval for a {metric.value} target (computed intervals exist for "
                     f"{', '.join(m.value for m in _COMPUTABLE)})")


def _number(x: object) -> bool:
    return isinstance(x, int | float) and not isinstance(x, bool)


class Target(BaseModel):
    """One published number, its interval and the sentence it comes from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    metric: Metric
    value: float
    low: float | None = None
    high: float | None = None
    interval: Interval
    unit: str = Field(min_length=1)
    n: int | None = Field(default=None, gt=0)
    sd: float | None = Field(default=None, gt=0)
    sentence: str = Field(min_length=10)
    use: Use
    note: str | None = None

    @model_validator(mode="before")
    @classmethod
    def _derive_bounds(cls, data: Any) -> Any:
        """Fill low/high of an SD or computed interval from the published numbers (never given in the file)."""
        if not isinstance(data, dict) or data.get("interval") not in (Interval.SD.value, Interval.CI95_COMPUTED.value):
            return data
        for bound in ("low", "high"):
            if bound in data:
                raise ValueError(f"{bound} is computed for a {data['interval']} interval: remove it from the file")
        value, n, sd = data.get("value"), data.get("n"), data.get("sd")
        if not isinstance(value, int | float) or isinstance(value, bool) or (sd is not None and not _number(sd)):
            return data  # the field validators name the bad value
        if data["interval"] == Interval.SD.value:
            if sd is None or sd <= 0:
                raise ValueError("an sd interval needs the published SD (sd > 0)")
            return {**data, "low": value - sd, "high": value + sd}
        try:
            metric = Metric(data.get("metric"))
        except ValueError:
            return data  # the field validator names the metric
        if metric is Metric.COUNT:
            n = 2  # a count's interval depends on the count alone
        elif not isinstance(n, int) or isinstance(n, bool) or n < 2:
            raise ValueError("a ci95_computed interval needs the published n (an integer ≥ 2)")
        if metric not in _COMPUTABLE:
            raise ValueError(f"a ci95_computed interval exists only for {', '.join(m.value for m in _COMPUTABLE)} "
                             f"targets; give the published interval of a {metric.value}")
        if metric is Metric.MEAN and sd is None:
            raise ValueError("a ci95_computed interval of a mean needs the published SD (sd)")
        low, high = computed_interval(metric, float(value), n, None if sd is None else float(sd))
        return {**data, "low": low, "high": high}

    @field_validator("name")
    @classmethod
    def _name(cls, name: str) -> str:
        if not _NAME.match(name):
            raise ValueError("a lower-case identifier (letters, digits, _; starting with a letter)")
        return name

    @model_validator(mode="after")
    def _consistent(self) -> Target:
        if not all(math.isfinite(x) for x in (self.value, self.low, self.high) if x is not None):
            raise ValueError("value, low and high must be finite numbers")
        if self.metric in _FRACTIONS and not 0 <= self.value <= 1:
            raise ValueError(f"a {self.metric.value} is a fraction in [0, 1], not {self.value}")
        if self.interval in _GIVEN_BOUNDS:
            if self.low is None or self.high is None:
                raise ValueError(f"a {self.interval.value} interval needs low and high")
        elif self.interval is Interval.UPPER_BOUND:
            if self.low is not None or self.high is None:
                raise ValueError("an upper_bound interval has high (the bound) and no low")
        elif self.interval is Interval.NONE and (self.low is not None or self.high is not None):
            raise ValueError("an interval of none has no low or high")
        low = -math.inf if self.low is None else self.low
        high = math.inf if self.high is None else self.high
        if not low <= self.value <= high:
            raise ValueError(f"the value {self.value} lies outside its interval [{self.low}, {self.high}]")
        return self

    @property
    def half_width(self) -> float | None:
        """Half the interval's width (None without a two-sided interval)."""
        return None if self.low is None or self.high is None else (self.high - self.low) / 2


class FollowUpCounted(str, Enum):
    """Which patients a study counts as followed up (its follow-up rate's numerator)."""

    PAIN_PAIRS = "pain_pairs"                 # a baseline and a follow-up NRS (the report's analysed patients)
    TELEPHONE_CONTACT = "telephone_contact"   # reached by telephone at least once after the implant


class Design(BaseModel):
    """How the study was run: its size, dates, sites, follow-up schedule and endpoint definitions."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    n_patients: int = Field(gt=0)
    implant_start: date
    implant_end: date
    follow_up_end: date
    sites: int = Field(gt=0)
    visit_months: tuple[int, ...]
    telephone_follow_up: bool
    follow_up_counted: FollowUpCounted = FollowUpCounted.PAIN_PAIRS
    pro_start: date | None = None
    implant_year_shares: dict[int, float] | None = None
    """The published share of implants in each calendar year of the implant period (summing to 1); ``None``:
    implant days uniform over the period."""
    endpoints: dict[str, str]
    assumptions: dict[str, str] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _consistent(self) -> Design:
        if not self.implant_start <= self.implant_end <= self.follow_up_end:
            raise ValueError("the dates must satisfy implant_start ≤ implant_end ≤ follow_up_end")
        if self.follow_up_counted is FollowUpCounted.TELEPHONE_CONTACT and not self.telephone_follow_up:
            raise ValueError("follow_up_counted = telephone_contact needs telephone_follow_up = true")
        if self.pro_start is not None and not self.implant_start <= self.pro_start <= self.implant_end:
            raise ValueError("pro_start must lie between implant_start and implant_end")
        years = self.implant_year_shares
        if years is not None:
            outside = sorted(set(years) - set(range(self.implant_start.year, self.implant_end.year + 1)))
            if outside or any(not 0 <= share <= 1 for share in years.values()) or abs(sum(years.values()) - 1) > 1e-6:
                raise ValueError(f"implant_year_shares: shares (0-1, summing to 1) of years from "
                                 f"{self.implant_start.year} to {self.implant_end.year}, got {dict(years)}")
        if any(m <= 0 for m in self.visit_months) or list(self.visit_months) != sorted(set(self.visit_months)):
            raise ValueError("visit_months must be positive and strictly increasing")
        unknown = sorted(set(self.assumptions) - set(type(self).model_fields))
        if unknown:
            raise ValueError(f"assumptions name design fields; unknown: {', '.join(unknown)}")
        return self


class Study(BaseModel):
    """A seed study: identity, design and its targets."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    version: int = Field(gt=0)
    title: str = Field(min_length=1)
    citation: str = Field(min_length=1)
    doi: str | None = None
    synthetic_notice: str = Field(min_length=1)
    design: Design
    targets: tuple[Target, ...]

    @model_validator(mode="after")
    def _unique(self) -> Study:
        if not self.targets:
            raise ValueError("a study needs at least one target")
        doubles = sorted(name for name, k in Counter(t.name for t in self.targets).items() if k > 1)
        if doubles:
            raise ValueError(f"target names must be unique; repeated: {', '.join(doubles)}")
        return self

    def target(self, name: str) -> Target:
        """The target called ``name``."""
        for t in self.targets:
            if t.name == name:
                return t
        raise StudyError("target", name, f"one of the targets of {self.id}")

    def targets_for(self, use: Use) -> tuple[Target, ...]:
        return tuple(t for t in self.targets if t.use is use)


def bundled_studies() -> tuple[str, ...]:
    """The ids of the study files shipped with the package."""
    return bundled_ids("studies")


def load_study(name_or_path: str | Path) -> Study:
    """A bundled study by id (``seed000``) or a study file by path; refused with the field named."""
    return parse_study(*read_toml_file(name_or_path, "studies", "study", StudyError))


def parse_study(text: str, where: str = "study file") -> Study:
    """A study from the text of a study file; ``where`` names the file in errors."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise StudyError(f"{where}", "(file)", f"valid TOML ({error})") from None
    try:
        return Study.model_validate(data)
    except ValidationError as error:
        problems = error.errors()
        first = problems[0]
        field = _location(first["loc"], data)
        more = f"; {len(problems) - 1} more: " + "; ".join(
            f"{_location(p['loc'], data)}: {_message(p['msg'])}" for p in problems[1:]) if len(problems) > 1 else ""
        value = first.get("input")
        if isinstance(value, dict):  # a whole target or table was refused: name it rather than dump it
            value = value.get("name", "(the whole table)")
        raise StudyError(f"{where}: {field}", value,
                         f"{_message(first['msg'])}{more} (fix the file; the schema is in docs/cohort.md)") from None


def _message(text: str) -> str:
    return text.removeprefix("Value error, ")


def _location(loc: tuple[int | str, ...], data: dict) -> str:
    """``targets[3] (nrs_change_mean).value`` rather than pydantic's bare indices."""
    parts: list[str] = []
    node: Any = data
    for key in loc:
        if isinstance(key, int):
            name = node[key].get("name") if isinstance(node, list) and key < len(node) and isinstance(
                node[key], dict) else None
            parts[-1] += f"[{key}]" + (f" ({name})" if name else "")
        else:
            parts.append(str(key))
        try:
            node = node[key]
        except (KeyError, IndexError, TypeError):
            node = None
    return ".".join(parts) or "(top level)"

"""Oral morphine equivalents (OME) of a patient's medication list, from versioned tables."""

import csv
import io
import re
from collections.abc import Iterable
from dataclasses import dataclass
from enum import Enum
from fractions import Fraction
from functools import cache
from importlib.resources import files

from pydantic import Field, RootModel, ValidationError, field_validator, model_validator

from openidds.drugs.errors import DrugsError, InputFileError
from openidds.drugs.sourced import (
    Closed,
    FractionField,
    QuantityField,
    Source,
    Sourced,
    check_sources,
    problems_of,
    validate_json,
)
from openidds.errors import OpenIDDSError
from openidds.units import MASS_RATE, Quantity, Unit, UnitsError, parse_quantity, parse_unit

OME_TABLES = ("cdc-2016", "cdc-2022")
DEFAULT_OME_TABLE = "cdc-2022"
_OME_UNIT = "mg/day"


class Route(str, Enum):
    """Route of a systemic opioid: oral, intravenous, subcutaneous, transdermal."""

    PO = "PO"
    IV = "IV"
    SC = "SC"
    TD = "TD"


_ROUTE_ALIASES = {"oral": "PO", "subcut": "SC", "transdermal": "TD", "patch": "TD"}


def parse_route(text: str, field: str = "route") -> Route:
    key = text.strip()
    key = _ROUTE_ALIASES.get(key.lower(), key.upper())
    try:
        return Route(key)
    except ValueError:
        raise DrugsError(field, text, "a route: PO (oral), IV, SC (subcut) or TD (transdermal patch)") from None


class Medication(Closed):
    """One line of a medication list: an opioid, its route and its total daily dose."""

    opioid: str = Field(min_length=1)
    route: Route
    dose: QuantityField

    @field_validator("opioid")
    @classmethod
    def _lower(cls, opioid: str) -> str:
        return opioid.strip().lower()

    @field_validator("route", mode="before")
    @classmethod
    def _route(cls, route: object) -> object:
        return parse_route(route) if isinstance(route, str) else route

    @field_validator("dose")
    @classmethod
    def _daily(cls, dose: Quantity) -> Quantity:
        if dose.dimension != MASS_RATE:
            raise ValueError(f"dose {dose} must be a daily dose such as '40 mg/day' or a patch rate such as '25 mcg/h'")
        if dose.value <= 0:
            raise ValueError(f"dose {dose} must be above zero")
        return dose

    def __str__(self) -> str:
        return f"{self.opioid} {self.route.value} {self.dose}"


_LINE = re.compile(r"\s*(?P<opioid>[A-Za-z][A-Za-z-]*)\s+(?P<route>[A-Za-z]+)\s+(?P<dose>\S.*?)\s*")


def parse_medication(text: str, field: str = "med") -> Medication:
    """Read 'oxycodone PO 40 mg/day' or 'fentanyl TD 25 mcg/h'; refuse anything else with its reason."""
    match = _LINE.fullmatch(text)
    if match is None:
        form = "'<opioid> <route> <daily dose>', e.g. 'oxycodone PO 40 mg/day' or 'fentanyl TD 25 mcg/h'"
        raise DrugsError(field, text, form)
    route = parse_route(match["route"], f"{field}.route")
    try:
        dose = parse_quantity(match["dose"], MASS_RATE, field=f"{field}.dose")
        return Medication(opioid=match["opioid"], route=route, dose=dose)
    except UnitsError as error:
        raise DrugsError(field, text, error.expected) from None
    except ValidationError as error:
        raise DrugsError(field, text, "; ".join(p.expected for p in problems_of(error))) from None


class _MedicationList(RootModel[tuple[Medication, ...]]):
    pass


def medications_from_json(text: str | bytes) -> tuple[Medication, ...]:
    """A JSON list of {"opioid", "route", "dose"} objects; every problem is reported with its index."""
    return validate_json(_MedicationList, text, "medications").root


def medications_from_csv(text: str) -> tuple[Medication, ...]:
    """CSV with the header 'opioid,route,dose' (dose like '40 mg/day'); every problem is reported with its row."""
    reader = csv.DictReader(io.StringIO(text))
    if reader.fieldnames is None or [f.strip() for f in reader.fieldnames] != ["opioid", "route", "dose"]:
        raise DrugsError("header", ",".join(reader.fieldnames or []), "the CSV header 'opioid,route,dose'")
    meds: list[Medication] = []
    problems: list[OpenIDDSError] = []
    for row_number, row in enumerate(reader, start=2):
        try:
            meds.append(Medication.model_validate({k.strip(): v for k, v in row.items() if k is not None}))
        except ValidationError as error:
            problems += [OpenIDDSError(f"row {row_number}.{p.field}", p.value, p.expected) for p in problems_of(error)]
        if None in row:
            problems.append(OpenIDDSError(f"row {row_number}", ",".join(row[None]), "exactly 3 columns"))
    if problems:
        raise InputFileError("medications", "<csv>", tuple(problems))
    return tuple(meds)


class MethadoneBand(Closed):
    up_to: QuantityField | None
    factor: FractionField


class OmeFactor(Sourced):
    """How one opioid by one route converts to OME: a factor, or dose bands (methadone)."""

    opioid: str
    route: Route
    dose_unit: str
    factor: FractionField | None = None
    bands: tuple[MethadoneBand, ...] | None = None
    warning: str = ""

    @model_validator(mode="after")
    def _one_rule(self) -> "OmeFactor":
        where = f"{self.opioid} {self.route.value}"
        if parse_unit(self.dose_unit).dimension != MASS_RATE:
            raise ValueError(f"{where}: dose_unit {self.dose_unit!r} must be a mass rate such as mg/day or mcg/h")
        if (self.factor is None) == (self.bands is None):
            raise ValueError(f"{where}: give exactly one of 'factor' or 'bands'")
        if self.bands is not None:
            bounds = [b.up_to for b in self.bands]
            if not bounds or bounds[-1] is not None or any(b is None for b in bounds[:-1]):
                raise ValueError(f"{where}: bands need ascending 'up_to' bounds and a last band with up_to null")
            finite = [b for b in bounds if b is not None]
            if any(b.dimension != MASS_RATE for b in finite) or finite != sorted(finite):
                raise ValueError(f"{where}: band bounds must be ascending daily doses")
        return self

    @property
    def unit(self) -> Unit:
        return parse_unit(self.dose_unit)

    def factor_for(self, daily_total: Quantity) -> tuple[Fraction, str]:
        """The factor that applies at this total daily dose, and the band used (bands only)."""
        if self.factor is not None:
            return self.factor, ""
        bands = self.bands or ()
        lowers = ["0 mg/day"] + [str(b.up_to) for b in bands[:-1]]
        for lower, band in zip(lowers, bands, strict=True):
            if band.up_to is None or daily_total <= band.up_to:
                upper = f" up to {band.up_to}" if band.up_to is not None else ""
                return band.factor, f"band over {lower}{upper} (total {daily_total})"
        raise DrugsError("bands", self.opioid, "a last band without an upper bound")


class OmeTable(Closed):
    """A versioned OME conversion table with the source of every factor."""

    table: str
    version: str
    title: str
    sources: dict[str, Source]
    factors: tuple[OmeFactor, ...] = Field(min_length=1)

    @model_validator(mode="after")
    def _consistent(self) -> "OmeTable":
        keys = [(f.opioid, f.route) for f in self.factors]
        repeated = sorted({f"{o} {r.value}" for o, r in keys if keys.count((o, r)) > 1})
        if repeated:
            raise ValueError(f"each opioid and route may appear once; repeated: {', '.join(repeated)}")
        check_sources(self.sources, [(f"{f.opioid} {f.route.value}", f.source) for f in self.factors])
        return self

    def factor(self, opioid: str, route: Route) -> OmeFactor:
        for entry in self.factors:
            if entry.opioid == opioid and entry.route == route:
                return entry
        routes = [f.route.value for f in self.factors if f.opioid == opioid]
        if routes:
            expected = f"a route this table gives for {opioid}: {', '.join(routes)}"
            raise DrugsError("route", f"{opioid} {route.value}", f"{expected} (table {self.table})")
        opioids = sorted({f.opioid for f in self.factors})
        elsewhere = [t for t in OME_TABLES if t != self.table and opioid in {f.opioid for f in ome_table(t).factors}]
        hint = f"; {opioid} is in table {', '.join(elsewhere)}" if elsewhere else ""
        raise DrugsError("opioid", opioid, f"an opioid of table {self.table}: {', '.join(opioids)}{hint}")


@dataclass(frozen=True)
class OmeLine:
    """One medication's contribution to the total, with the factor used and where it comes from."""

    medication: Medication
    factor: Fraction
    factor_unit: Unit
    band: str
    ome: Quantity
    rule: OmeFactor
    source: Source

    @property
    def warnings(self) -> tuple[str, ...]:
        return (self.rule.warning,) if self.rule.warning else ()


@dataclass(frozen=True)
class OmeResult:
    """Total daily OME (mg/day) of a medication list and each line's contribution."""

    table: str
    version: str
    lines: tuple[OmeLine, ...]
    total: Quantity

    @property
    def warnings(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(w for line in self.lines for w in line.warnings))

    @property
    def relies_on_unverified(self) -> bool:
        return any(not line.rule.verified for line in self.lines)


@cache
def ome_table(table: str) -> OmeTable:
    """A shipped OME table by id: 'cdc-2016' or 'cdc-2022'."""
    if table not in OME_TABLES:
        raise DrugsError("table", table, "one of " + ", ".join(OME_TABLES))
    name = f"data/ome_{table.replace('-', '_')}.json"
    return validate_json(OmeTable, files("openidds.drugs").joinpath(name).read_bytes(), name)


def calculate_ome(medications: Iterable[Medication], table: str | OmeTable = DEFAULT_OME_TABLE) -> OmeResult:
    """Total daily OME of a medication list. Methadone's band is chosen by the total methadone dose
    of the list (per route), so two methadone lines are banded together."""
    chosen = ome_table(table) if isinstance(table, str) else table
    meds = tuple(medications)
    if not meds:
        raise DrugsError("medications", "[]", "at least one medication line")
    rules = [chosen.factor(m.opioid, m.route) for m in meds]
    for index, (med, rule) in enumerate(zip(meds, rules, strict=True)):
        mass = rule.unit.symbols[0]
        if med.dose.unit.symbols[0] != mass:
            expected = (f"the dose of {med.opioid} {med.route.value} in {mass} (table unit {rule.dose_unit});"
                        " mg and mcg are never guessed")
            raise DrugsError(f"medications[{index}].dose", str(med), expected)
    totals: dict[tuple[str, Route], Quantity] = {}
    for med, rule in zip(meds, rules, strict=True):
        key = (med.opioid, med.route)
        dose = med.dose.to(rule.unit)
        totals[key] = totals[key] + dose if key in totals else dose
    lines = []
    for med, rule in zip(meds, rules, strict=True):
        factor, band = rule.factor_for(totals[(med.opioid, med.route)])
        ome = Quantity(med.dose.magnitude(rule.unit) * factor, _OME_UNIT)
        lines.append(OmeLine(med, factor, rule.unit, band, ome, rule, chosen.sources[rule.source]))
    total = sum((line.ome for line in lines[1:]), lines[0].ome)
    return OmeResult(chosen.table, chosen.version, tuple(lines), total)

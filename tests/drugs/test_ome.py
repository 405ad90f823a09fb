"""OME tables: golden values from the CDC tables, methadone bands, refusals and properties."""

from fractions import Fraction

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openidds.drugs import (
    OME_TABLES,
    DrugsError,
    InputFileError,
    Medication,
    Route,
    Status,
    calculate_ome,
    medications_from_csv,
    medications_from_json,
    ome_table,
    parse_medication,
)
from openidds.units import Quantity


def _ome(*lines: str, table: str = "cdc-2022") -> Quantity:
    return calculate_ome([parse_medication(line) for line in lines], table).total


@pytest.mark.parametrize("table", OME_TABLES)
def test_transdermal_fentanyl_25_mcg_per_hour_is_60_mg_ome(table: str) -> None:
    assert _ome("fentanyl TD 25 mcg/h", table=table) == Quantity(60, "mg/day")
    assert _ome("fentanyl TD 600 mcg/day", table=table) == Quantity(60, "mg/day")


def test_cdc_2022_worked_examples() -> None:
    # hydrocodone 5 mg four times a day = 20 MME; oxycodone ER 10 mg twice a day = 30 MME (CDC 2022 table footnote)
    assert _ome("hydrocodone PO 20 mg/day") == Quantity(20, "mg/day")
    assert _ome("oxycodone PO 20 mg/day") == Quantity(30, "mg/day")


@pytest.mark.parametrize(
    ("line", "cdc2016", "cdc2022"),
    [
        ("morphine PO 60 mg/day", 60, 60),
        ("hydromorphone PO 8 mg/day", 32, 40),
        ("oxymorphone PO 10 mg/day", 30, 30),
        ("codeine PO 240 mg/day", 36, 36),
        ("morphine IV 10 mg/day", 30, 30),
        ("morphine SC 10 mg/day", 30, 30),
        ("hydromorphone IV 1.5 mg/day", 30, 30),
        ("fentanyl IV 100 mcg/day", 30, 30),
        ("fentanyl IV 50 mcg/h", 360, 360),
    ],
)
def test_factors_per_table(line: str, cdc2016: int, cdc2022: int) -> None:
    assert _ome(line, table="cdc-2016") == Quantity(cdc2016, "mg/day")
    assert _ome(line, table="cdc-2022") == Quantity(cdc2022, "mg/day")


@pytest.mark.parametrize(
    ("dose", "factor"),
    [("1", 4), ("20", 4), ("20.5", 8), ("21", 8), ("40", 8), ("41", 10), ("60", 10), ("61", 12), ("200", 12)],
)
def test_cdc_2016_methadone_bands(dose: str, factor: int) -> None:
    result = calculate_ome([parse_medication(f"methadone PO {dose} mg/day")], "cdc-2016")
    (line,) = result.lines
    assert line.factor == factor
    assert line.ome == Quantity(Fraction(dose) * factor, "mg/day")
    assert "band" in line.band and "non-linear" in result.warnings[0]


def test_methadone_band_uses_the_total_methadone_dose() -> None:
    result = calculate_ome([parse_medication("methadone PO 15 mg/day"), parse_medication("methadone PO 15 mg/day")],
                           "cdc-2016")
    assert [line.factor for line in result.lines] == [8, 8]
    assert result.total == Quantity(240, "mg/day")


def test_cdc_2022_methadone_single_factor_with_warning() -> None:
    result = calculate_ome([parse_medication("methadone PO 10 mg/day")], "cdc-2022")
    assert result.total == Quantity(47, "mg/day")
    assert any("caution with methadone" in w for w in result.warnings)


def test_tramadol_and_tapentadol_are_only_in_the_2022_table() -> None:
    assert _ome("tramadol PO 200 mg/day", "tapentadol PO 100 mg/day") == Quantity(80, "mg/day")
    with pytest.raises(DrugsError) as caught:
        _ome("tramadol PO 200 mg/day", table="cdc-2016")
    assert caught.value.field == "opioid" and caught.value.value == "tramadol"
    assert "tramadol is in table cdc-2022" in caught.value.expected


def test_each_line_carries_its_factor_source_and_status() -> None:
    result = calculate_ome([parse_medication("oxycodone PO 40 mg/day"), parse_medication("morphine IV 10 mg/day")])
    oxy, iv = result.lines
    assert (oxy.factor, oxy.rule.source, oxy.rule.status) == (Fraction(3, 2), "cdc-2022", Status.VERIFIED)
    assert "MMWR" in oxy.source.citation
    assert iv.rule.source == "nci-pdq-equianalgesic" and "cancer.gov" in iv.source.locator
    assert result.table == "cdc-2022" and not result.relies_on_unverified
    assert result.total == oxy.ome + iv.ome == Quantity(90, "mg/day")


def test_mg_and_mcg_are_never_guessed() -> None:
    with pytest.raises(DrugsError) as caught:
        _ome("fentanyl TD 0.025 mg/h")
    assert caught.value.field == "medications[0].dose"
    assert "in mcg" in caught.value.expected and "never guessed" in caught.value.expected
    with pytest.raises(DrugsError):
        _ome("oxycodone PO 40000 mcg/day")


@pytest.mark.parametrize(
    ("text", "field", "fragment"),
    [
        ("oxycodone 40 mg/day", "med", "'<opioid> <route> <daily dose>'"),
        ("oxycodone PO 40 mg", "med", "a dose needs its time base"),
        ("oxycodone SL 40 mg/day", "med.route", "PO (oral), IV, SC (subcut) or TD"),
        ("fentanyl TD 25 µg/h", "med", "mcg (µg is easily misread as mg)"),
        ("oxycodone PO 0.5% ", "med", "a percentage is ambiguous"),
        ("morphine PO 0 mg/day", "med", "must be above zero"),
    ],
)
def test_bad_medication_lines(text: str, field: str, fragment: str) -> None:
    with pytest.raises(DrugsError) as caught:
        parse_medication(text)
    assert caught.value.field == field
    assert fragment in caught.value.expected


def test_unknown_route_for_a_known_opioid_and_empty_list() -> None:
    with pytest.raises(DrugsError) as caught:
        _ome("oxycodone IV 10 mg/day")
    assert caught.value.field == "route" and "PO" in caught.value.expected
    with pytest.raises(DrugsError) as caught:
        calculate_ome([])
    assert caught.value.field == "medications"
    with pytest.raises(DrugsError):
        ome_table("who-1986")


def test_route_aliases_and_zero_dose() -> None:
    assert parse_medication("Morphine oral 30 mg/day").route is Route.PO
    assert parse_medication("fentanyl patch 12 mcg/h").route is Route.TD
    with pytest.raises(ValueError, match="must be above zero"):
        Medication(opioid="morphine", route=Route.PO, dose=Quantity(0, "mg/day"))


def test_csv_and_json_lists_report_each_problem_with_its_row() -> None:
    meds = medications_from_csv("opioid,route,dose\noxycodone,PO,40 mg/day\nfentanyl,TD,25 mcg/h\n")
    assert calculate_ome(meds).total == Quantity(120, "mg/day")
    with pytest.raises(InputFileError) as caught:
        medications_from_csv("opioid,route,dose\noxycodone,XX,40 mg\nmorphine,PO,10 mg/day,extra\n")
    fields = [p.field for p in caught.value.problems]
    assert fields == ["row 2.route", "row 2.dose", "row 3"]
    with pytest.raises(DrugsError) as header:
        medications_from_csv("drug,route,dose\n")
    assert header.value.field == "header"
    assert medications_from_json('[{"opioid": "morphine", "route": "PO", "dose": "30 mg/day"}]')[0].dose == Quantity(
        30, "mg/day")
    with pytest.raises(InputFileError) as caught:
        medications_from_json('[{"opioid": "morphine", "route": "PO", "dose": "30 mg", "freq": 2}]')
    assert {p.field for p in caught.value.problems} == {"0.dose", "0.freq"}


LINEAR = [("morphine", "PO", "mg/day"), ("oxycodone", "PO", "mg/day"), ("hydromorphone", "PO", "mg/day"),
          ("codeine", "PO", "mg/day"), ("fentanyl", "TD", "mcg/h"), ("morphine", "SC", "mg/day"),
          ("fentanyl", "IV", "mcg/day")]
lines = st.lists(
    st.tuples(st.sampled_from(LINEAR), st.fractions(min_value=Fraction(1, 100), max_value=2000, max_denominator=100)),
    min_size=1, max_size=6,
)


def _meds(spec: list[tuple[tuple[str, str, str], Fraction]]) -> list[Medication]:
    return [Medication(opioid=o, route=Route(r), dose=Quantity(d, u)) for (o, r, u), d in spec]


@given(lines, lines, st.sampled_from(OME_TABLES))
def test_ome_is_additive_over_lines(first: list, second: list, table: str) -> None:
    a, b = _meds(first), _meds(second)
    combined = calculate_ome(a + b, table)
    assert combined.total == calculate_ome(a, table).total + calculate_ome(b, table).total
    assert combined.total == sum((line.ome for line in combined.lines[1:]), combined.lines[0].ome)


@given(lines, st.fractions(min_value=Fraction(1, 10), max_value=10, max_denominator=10))
def test_ome_scales_with_the_dose(spec: list, k: Fraction) -> None:
    scaled = [(key, dose * k) for key, dose in spec]
    assert calculate_ome(_meds(scaled)).total == calculate_ome(_meds(spec)).total * k

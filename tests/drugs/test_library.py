"""The shipped drug library, its limits and the validation of a clinic's own library file."""

import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from openidds.drugs import (
    DrugsError,
    InputFileError,
    LimitKind,
    Outcome,
    Status,
    default_library,
    load_library,
)
from openidds.units import Quantity

DRUGS = ("morphine", "hydromorphone", "ziconotide", "bupivacaine", "fentanyl", "sufentanil", "clonidine", "baclofen")


def _default_as_dict() -> dict[str, Any]:
    return json.loads(default_library().model_dump_json())


def test_default_library_holds_the_eight_drugs_with_labelling_for_each_pump() -> None:
    library = default_library()
    assert set(library.names) == set(DRUGS)
    assert library.pump_models == ("SynchroMed II", "Prometra II")
    for name in DRUGS:
        assert set(library.drug(name).labeling) == {"SynchroMed II", "Prometra II"}


def test_ziconotide_maximum_is_the_labelled_19_2_mcg_per_day() -> None:
    ziconotide = default_library().drug("ziconotide")
    hard = ziconotide.limits.per_day.hard
    assert hard is not None and hard.value == Quantity("19.2", "mcg/day")
    assert hard.status is Status.VERIFIED and hard.source == "prialt-label"
    assert ziconotide.check("per_day", Quantity("0.8", "mcg/h")).outcome is Outcome.WITHIN
    assert ziconotide.check("per_day", Quantity("19.3", "mcg/day")).outcome is Outcome.ABOVE_HARD
    assert ziconotide.stability is not None
    stability = ziconotide.stability
    assert (stability.first_fill_days, stability.days, stability.undiluted_days) == (14, 40, 84)


def test_label_status_per_pump_model() -> None:
    library = default_library()
    assert library.drug("morphine").label_status("SynchroMed II").on_label
    assert library.drug("morphine").label_status("Prometra II").on_label
    assert library.drug("ziconotide").label_status("SynchroMed II").on_label
    assert not library.drug("ziconotide").label_status("Prometra II").on_label
    assert library.drug("baclofen").label_status("Prometra II").on_label
    for name in ("hydromorphone", "bupivacaine", "fentanyl", "sufentanil", "clonidine"):
        assert not any(label.on_label for label in library.drug(name).labeling.values())
    with pytest.raises(DrugsError) as caught:
        library.drug("morphine").label_status("IsoMed")
    assert caught.value.field == "pump_model" and "SynchroMed II" in caught.value.expected


def test_unverified_numbers_are_exposed_as_such() -> None:
    morphine = default_library().drug("morphine")
    soft = morphine.limits.per_day.soft
    assert soft is not None and soft.status is Status.UNVERIFIED and not soft.verified
    check = morphine.check(LimitKind.PER_DAY, Quantity(16, "mg/day"))
    assert check.outcome is Outcome.ABOVE_SOFT
    assert check.exceeded == soft
    assert check.relies_on_unverified
    assert "[R] pacc-2012" in check.reason


def test_check_outcomes_and_reasons() -> None:
    morphine = default_library().drug("morphine")
    within = morphine.check("per_day", Quantity(15, "mg/day"))
    assert within.outcome is Outcome.WITHIN and within.exceeded is None
    above = morphine.check("per_day", Quantity("20.001", "mg/day"))
    assert above.outcome is Outcome.ABOVE_HARD and above.exceeded == morphine.limits.per_day.hard
    assert "above the hard limit 20 mg/day" in above.reason
    assert morphine.check("concentration", Quantity(25, "mg/mL")).outcome is Outcome.ABOVE_SOFT
    assert morphine.check("per_bolus", Quantity(1500, "mcg")).outcome is Outcome.ABOVE_HARD
    fentanyl = default_library().drug("fentanyl")
    none = fentanyl.check("per_day", Quantity(500, "mcg/day"))
    assert none.outcome is Outcome.NO_LIMIT and "no sourced limit" in none.reason


def test_check_refuses_a_quantity_of_the_wrong_dimension_or_kind() -> None:
    morphine = default_library().drug("morphine")
    with pytest.raises(DrugsError) as caught:
        morphine.check("per_day", Quantity(5, "mg"))
    assert caught.value.field == "morphine.per_day" and "mass rate" in caught.value.expected
    with pytest.raises(DrugsError) as caught:
        morphine.check("per_week", Quantity(5, "mg/day"))
    assert caught.value.field == "kind"


def test_listed_concentrations() -> None:
    baclofen = default_library().drug("baclofen")
    assert baclofen.is_listed_concentration(Quantity(2, "mg/mL"))
    assert not baclofen.is_listed_concentration(Quantity(1500, "mcg/mL"))


def test_unknown_drug_names_the_known_ones() -> None:
    with pytest.raises(DrugsError) as caught:
        default_library().drug("meperidine")
    assert caught.value.field == "drug" and caught.value.value == "meperidine"
    assert "ziconotide" in caught.value.expected


def test_a_clinic_library_round_trips_and_can_change_a_limit() -> None:
    data = _default_as_dict()
    data["library"], data["version"] = "clinic-a", "1"
    data["drugs"][0]["limits"]["per_day"]["hard"]["value"] = "25 mg/day"
    clinic = load_library(json.dumps(data))
    assert clinic.drug("morphine").limits.per_day.hard.value == Quantity(25, "mg/day")  # type: ignore[union-attr]
    assert clinic.drug("morphine").check("per_day", Quantity(22, "mg/day")).outcome is Outcome.ABOVE_SOFT


def _problems(data: dict[str, Any]) -> list[str]:
    with pytest.raises(InputFileError) as caught:
        load_library(json.dumps(data), "clinic.json")
    assert caught.value.field == "clinic.json"
    return [str(p) for p in caught.value.problems]


def test_bad_clinic_library_lists_every_error_with_its_location() -> None:
    data = _default_as_dict()
    data["drugs"][0]["colour"] = "red"
    data["drugs"][2]["limits"]["per_day"]["hard"]["value"] = "19.2 mcg"
    data["drugs"][1]["limits"]["per_day"]["soft"]["status"] = "maybe"
    problems = _problems(data)
    assert len(problems) == 3
    assert any(p.startswith("drugs.0.colour='red': expected Extra inputs are not permitted") for p in problems)
    assert any(p.startswith("drugs.1.limits.per_day.soft.status='maybe'") for p in problems)
    assert any("drugs.2" in p and "19.2 mcg" in p for p in problems)


def test_amounts_must_be_written_in_the_drug_dose_unit() -> None:
    data = _default_as_dict()
    data["drugs"][2]["limits"]["per_day"]["hard"]["value"] = "0.0192 mg/day"
    (problem,) = _problems(data)
    assert "drugs.2" in problem and "ziconotide" in problem and "write it in mcg/day" in problem


@pytest.mark.parametrize(
    ("edit", "fragment"),
    [
        (lambda d: d["drugs"][0]["limits"]["per_day"]["soft"].update(value="30 mg/day"), "not be above hard limit"),
        (lambda d: d["drugs"][0]["limits"]["per_day"]["soft"].update(source="nowhere"), "undeclared source id"),
        (lambda d: d["drugs"][0]["labeling"].pop("Prometra II"), "label status for exactly the pump models"),
        (lambda d: d["drugs"].append(d["drugs"][0]), "repeated: morphine"),
        (lambda d: d["drugs"][0]["starting_dose"].update(low="1 mg/day"), "must not be below low"),
        (lambda d: d["drugs"][0]["stability"].update(days=0), "greater than 0"),
        (lambda d: d.pop("sources"), "Field required"),
        (lambda d: d["drugs"][2]["limits"]["per_day"]["hard"].update(value="-19.2 mcg/day"), "must be above zero"),
        (lambda d: d["drugs"][0]["concentrations"][0].update(value="0 mg/mL"), "must be above zero"),
    ],
)
def test_inconsistent_libraries_are_refused(edit: Any, fragment: str) -> None:
    data = _default_as_dict()
    edit(data)
    assert any(fragment in p for p in _problems(data))


def test_malformed_json_is_refused() -> None:
    with pytest.raises(InputFileError) as caught:
        load_library("{not json")
    assert "Invalid JSON" in str(caught.value)


@given(st.fractions(min_value=0, max_value=100, max_denominator=1000))
def test_check_outcome_matches_the_limits(value: object) -> None:
    morphine = default_library().drug("morphine")
    dose = Quantity(value, "mg/day")  # type: ignore[arg-type]
    check = morphine.check("per_day", dose)
    hard, soft = morphine.limits.per_day.hard, morphine.limits.per_day.soft
    assert hard is not None and soft is not None
    expected = Outcome.ABOVE_HARD if dose > hard.value else Outcome.ABOVE_SOFT if dose > soft.value else Outcome.WITHIN
    assert check.outcome is expected
    assert check.quantity == dose

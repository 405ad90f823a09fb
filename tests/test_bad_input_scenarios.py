"""Bad scenario files through `openidds pump simulate`: other encodings, absurd numbers and dates, repeats
without end; each refused (exit 2) with the field and its allowed range, before the pump runs."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.test_bad_input_corpus import Case, check
from typer.testing import CliRunner

from openidds.cli import app

HEAD = 'title = "{title}"\nstart = {start}\nhorizon_days = 30\n'
REFILL = ('[[events]]\nat = 2026-01-05T08:00:00\n{repeat}[events.command]\nname = "refill"\n'
          'solution_mg_per_ml = {{ morphine = {mg_per_ml} }}\nvolume_ml = {volume}\n')
BOLUS = ('[[events]]\nat = {at}\n[events.command]\nname = "start_bolus"\nkind = "clinician"\nvolume_ml = "0.1"\n'
         'duration_s = {duration}\n')


def scenario(title: str = "bad input", start: str = "2026-01-05T08:00:00", repeat: str = "",
             mg_per_ml: str = '"10"', volume: str = '"18"', bolus_at: str = "2026-01-06T08:00:00",
             duration: str = "600", extra: str = "") -> str:
    return (HEAD.format(title=title, start=start) + extra + REFILL.format(repeat=repeat, mg_per_ml=mg_per_ml,
                                                                          volume=volume)
            + BOLUS.format(at=bolus_at, duration=duration))


def _case(name: str, text: str | bytes, says: tuple[str, ...], *options: str) -> Case:
    data = text if isinstance(text, bytes) else text.encode()
    return Case(name, ("pump", "simulate", "{dir}/scenario.toml", *options), says, {"scenario.toml": data})


CASES = [
    _case("latin-1", scenario(title="caf\u00e9").encode("latin-1"),
          ("scenario.toml", "line 1", "byte 0xe9", "--encoding latin-1")),
    _case("start-year-9999", scenario(start="9999-12-31T00:00:00"), ("start", "1970-01-01 to 2199-12-31")),
    _case("event-year-9999", scenario(bolus_at="9999-12-31T00:00:00"), ("events.1.at", "2199-12-31")),
    _case("battery-eri-year-9999", scenario(extra="[pump]\nbattery_eri_at = 9999-01-01T00:00:00\n"),
          ("pump.battery_eri_at", "2199-12-31")),
    _case("every-hours-1e12-integer", scenario(repeat="every_hours = 1000000000000\ncount = 3\n"),
          ("events.0.every_hours", "less than or equal to 87840")),
    _case("every-hours-1e12-float", scenario(repeat="every_hours = 1e12\ncount = 3\n"),
          ("events.0.every_hours", "a valid integer, written without a decimal point or exponent")),
    _case("count-1e9", scenario(repeat="every_minutes = 1\ncount = 1000000000\n"),
          ("events.0.count", "less than or equal to 100000")),
    _case("duration-s-1e15", scenario(duration="1000000000000000"),
          ("events.1.command.start_bolus.duration_s", "less than or equal to 316224000")),
    _case("negative-refill-volume", scenario(volume='"-18"'),
          ("events.0.command.refill.volume_ml", "a number from 0 to 100 mL")),
    _case("volume-1e10000", scenario(volume="1e10000"), ("volume_ml", "at most 30 digits")),
    _case("volume-1e100000000", scenario(volume="1e100000000"), ("volume_ml", "at most 30 digits")),
    _case("volume-text-1e10000", scenario(volume='"1e10000"'), ("volume_ml", "a plain decimal number")),
    _case("volume-nan", scenario(volume="nan"), ("volume_ml", "a finite number")),
    _case("volume-inf", scenario(volume="inf"), ("volume_ml", "a finite number")),
    _case("concentration-1e6", scenario(mg_per_ml='"1000000"'),
          ("solution_mg_per_ml.morphine", "a number from 0 to 1000 mg/mL")),
    _case("sixty-digit-volume", scenario(volume='"' + "9" * 61 + '"'), ("volume_ml", "a number from 0 to 100 mL")),
    _case("hundred-digit-volume", scenario(volume='"' + "9" * 100 + '"'), ("volume_ml", "at most 30 digits")),
    _case("nested-too-deep", scenario(extra="x = " + "[" * 100_000 + "]" * 100_000 + "\n"),
          ("scenario.toml", "nests too deep")),
    _case("not-toml", b"not toml = = =\n", ("scenario.toml", "valid TOML")),
    _case("binary-file", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", ("scenario.toml", "line 1", "byte 0x89", "not UTF-8")),
    _case("unknown-encoding-name", scenario(), ("--encoding", "an encoding Python knows"), "--encoding", "ebcdic-x"),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_refused(case: Case, tmp_path: Path) -> None:
    check(case, tmp_path)


@pytest.mark.parametrize("encoding", ["utf-8-sig", "utf-16"])
def test_a_scenario_that_says_its_encoding_runs(encoding: str, tmp_path: Path) -> None:
    path = tmp_path / "scenario.toml"
    path.write_bytes(scenario(title="caf\u00e9").encode(encoding))
    result = CliRunner().invoke(app, ["pump", "simulate", str(path)])
    assert result.exit_code == 0 and "caf\u00e9" in result.output, result.output


@pytest.mark.parametrize(("volume", "mg_per_ml", "duration", "accepted"), [
    ('"100"', '"1000"', "316224000", True),
    ('"100.000001"', '"10"', "600", False),
    ('"18"', '"1000.000001"', "600", False),
    ('"18"', '"10"', "316224001", False),
    ('"0"', '"10"', "0", True),
])
def test_the_bounds_are_inclusive(volume: str, mg_per_ml: str, duration: str, accepted: bool) -> None:
    """A value at a bound parses (the pump may still refuse it when it runs); one step past it does not."""
    from openidds.errors import OpenIDDSError
    from openidds.pump.scenario import load_scenario

    text = scenario(volume=volume, mg_per_ml=mg_per_ml, duration=duration)
    if accepted:
        assert len(load_scenario(text).events) == 2
    else:
        with pytest.raises(OpenIDDSError, match="expected a valid scenario"):
            load_scenario(text)

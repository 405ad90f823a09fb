"""Replicates: one child seed per replicate, the same results on one worker, two workers or a real local Dask
cluster, and each replicate measured from its own throwaway registry."""

import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from distributed import LocalCluster

from openidds.clinic import connect
from openidds.clinic.examples import load_example
from openidds.cohort import replicates
from openidds.cohort.replicates import child_seeds, map_replicates, replicate, run_replicates
from openidds.cohort.study import Study, load_study
from openidds.cohort.targets import measure
from openidds.errors import OpenIDDSError

_WRITTEN: list[str] = []


def normal_mean(child: np.random.SeedSequence) -> float:
    """A real replicate-sized computation: the mean of 1,000 standard normal draws from the child's generator."""
    return float(np.random.default_rng(child).normal(size=1000).mean())


def refused_import(child: np.random.SeedSequence) -> float:
    """A replicate whose registry import is refused (an error whose constructor takes other arguments)."""
    from openidds.clinic.errors import ImportRejected
    from openidds.clinic.findings import Finding

    raise ImportRejected(f"replicate {child.spawn_key}", [Finding("duplicate", "visit X/1", "duplicate row")])


def example_clinic(study: Study, params: Any, child: np.random.SeedSequence, db_url: str) -> None:
    """A stand-in for the virtual clinic: writes the bundled example registry (its records: the targets read no
    pump log) where a replicate is asked to."""
    _WRITTEN.append(db_url)
    engine = connect(db_url)
    try:
        load_example(engine, pump_logs=False)
    finally:
        engine.dispose()


def test_each_replicate_gets_its_own_child_of_the_seed_sequence() -> None:
    children = child_seeds(7, 4)
    assert [c.spawn_key for c in children] == [(0,), (1,), (2,), (3,)]
    assert all(c.entropy == 7 for c in children)


def test_results_do_not_depend_on_the_number_of_workers() -> None:
    expected = [normal_mean(c) for c in np.random.SeedSequence(7).spawn(6)]
    assert len(set(expected)) == 6
    assert map_replicates(normal_mean, 7, 6, workers=1) == expected
    assert map_replicates(normal_mean, 7, 6, workers=2) == expected
    assert map_replicates(normal_mean, 8, 6, workers=2) != expected


def test_a_refusal_in_a_worker_reaches_the_caller_with_its_message() -> None:
    from openidds.clinic.errors import ImportRejected

    with pytest.raises(ImportRejected, match=r"import='replicate \(0,\)': expected a file without errors") as caught:
        map_replicates(refused_import, 7, 2, workers=2)
    assert caught.value.findings[0].rule == "duplicate"


def test_a_local_dask_cluster_gives_the_same_results() -> None:
    expected = [normal_mean(c) for c in np.random.SeedSequence(7).spawn(6)]
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                      dashboard_address=None) as cluster:
        assert map_replicates(normal_mean, 7, 6, scheduler=cluster.scheduler_address) == expected


def test_a_replicate_is_measured_from_its_own_registry_which_is_then_deleted(tmp_path: Path) -> None:
    study = load_study("seed000")
    measured = replicate(example_clinic, study, None, child_seeds(1, 1)[0])
    path = Path(_WRITTEN[-1].removeprefix("sqlite:///"))
    assert not path.exists() and not path.parent.exists()
    reference = tmp_path / "example.sqlite"
    engine = connect(str(reference))
    load_example(engine, pump_logs=False)
    assert measured == measure(study, engine)
    engine.dispose()


def test_run_replicates_in_a_process_pool() -> None:
    study = load_study("seed000")
    runs = run_replicates(example_clinic, study, None, seed=3, n=2, workers=2)
    assert len(runs) == 2 and runs[0] == runs[1]
    assert runs[0]["nrs_pairs_count"] == 181 and math.isclose(runs[0]["os_median_months"], 3.975359342915811)


@pytest.mark.parametrize(("kwargs", "field"), [
    ({"seed": -1}, "seed"),
    ({"n": 0}, "replicates"),
    ({"workers": 0}, "workers"),
    ({"scheduler": "http://127.0.0.1:8786"}, "scheduler"),
    ({"scheduler": "tcp://127.0.0.1:8786", "workers": 2}, "workers"),
])
def test_bad_settings_are_refused(kwargs: dict, field: str) -> None:
    arguments = {"seed": 1, "n": 2, **kwargs}
    with pytest.raises(OpenIDDSError) as info:
        map_replicates(normal_mean, arguments.pop("seed"), arguments.pop("n"), **arguments)
    assert info.value.field == field


def test_an_unreachable_scheduler_is_refused_with_how_to_go_on(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(replicates, "CONNECT_TIMEOUT_S", 2)
    with pytest.raises(OpenIDDSError, match=r"a reachable Dask scheduler.*dask scheduler"):
        map_replicates(normal_mean, 1, 2, scheduler="tcp://127.0.0.1:9")

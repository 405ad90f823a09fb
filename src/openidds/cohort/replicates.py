"""Running replicates of a study in parallel: a local process pool, or a Dask distributed cluster.

Replicate ``i`` of a run with seed ``s`` gets child ``i`` of ``numpy.random.SeedSequence(s).spawn(n)``, whatever
the number of workers or where it runs, so the results depend on the seed alone. Each replicate writes its own
throwaway SQLite registry, which is measured (:func:`openidds.cohort.targets.measure`) and deleted.

A replicate makes millions of small objects and keeps most of them to its end (every pump's log): Python's cycle
collector is paused while it runs. Everything the replicate made is then young, and the collector, when it resumes,
finds the replicate's garbage in its young generation; older objects (the caches the replicates fill, up to their
bounds) are rescanned by the collector's own rule (a full pass once they have grown by a quarter), not after every
replicate. A local worker also freezes what it holds once started (modules, tables: ``gc.freeze``), out of
every later scan.
"""

from __future__ import annotations

import gc
import os
import tempfile
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from functools import partial
from multiprocessing import get_context
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

from openidds.clinic.bulk import collector_paused
from openidds.clinic.database import database_url
from openidds.cohort.seeds import checked_seed
from openidds.cohort.study import Study
from openidds.cohort.targets import measure
from openidds.errors import OpenIDDSError

T = TypeVar("T")
Simulate = Callable[[Study, Any, np.random.SeedSequence, str], object]
"""``simulate(study, params, seed, db_url)``: one replicate written into the registry at ``db_url``."""
SCHEMES = ("tcp://", "tls://")
CONNECT_TIMEOUT_S = 20


def child_seeds(seed: int, n: int) -> list[np.random.SeedSequence]:
    """One independent seed sequence per replicate: ``SeedSequence(seed).spawn(n)``."""
    checked_seed(seed)
    if isinstance(n, bool) or not isinstance(n, int) or n < 1:
        raise OpenIDDSError("replicates", n, "a whole number of replicates, 1 or more")
    return np.random.SeedSequence(seed).spawn(n)


def map_replicates(task: Callable[[np.random.SeedSequence], T], seed: int, n: int, *, scheduler: str | None = None,
                   workers: int | None = None) -> list[T]:
    """``task(child)`` for each of the ``n`` child seeds, in replicate order.

    Without ``scheduler`` the tasks run in a local pool of ``workers`` processes (default: one per core);
    with ``scheduler`` (``tcp://host:port``) on that Dask distributed cluster. ``task`` must be picklable (a
    module-level function or a ``functools.partial`` of one).
    """
    children = child_seeds(seed, n)
    if scheduler is not None:
        if workers is not None:
            raise OpenIDDSError("workers", workers, "no worker count with a Dask scheduler (the cluster has its "
                                                    "own workers): leave it out, or drop the scheduler")
        return _on_dask(task, children, scheduler)
    if workers is not None and (isinstance(workers, bool) or not isinstance(workers, int) or workers < 1):
        raise OpenIDDSError("workers", workers, "a whole number of worker processes, 1 or more")
    count = min(workers or os.cpu_count() or 1, n)
    with ProcessPoolExecutor(max_workers=count, mp_context=get_context("spawn"), initializer=_start_worker,
                             initargs=(task,)) as pool:
        return list(pool.map(task, children))


def _start_worker(_task: object) -> None:
    """A local worker, its modules imported (unpickling the task imports its own), freezes everything alive
    out of the cycle collector's later scans."""
    gc.collect()
    gc.freeze()


def _on_dask(task: Callable[[np.random.SeedSequence], T], children: Sequence[np.random.SeedSequence],
             scheduler: str) -> list[T]:
    if not scheduler.startswith(SCHEMES):
        raise OpenIDDSError("scheduler", scheduler, f"a Dask scheduler address starting with {' or '.join(SCHEMES)}"
                                                    ", e.g. tcp://127.0.0.1:8786")
    from distributed import Client

    try:
        client = Client(scheduler, timeout=CONNECT_TIMEOUT_S)
    except OSError as error:
        raise OpenIDDSError("scheduler", scheduler, f"a reachable Dask scheduler ({error}); start one with "
                                                    "`dask scheduler` and workers with `dask worker ADDRESS`, or "
                                                    "leave --scheduler out to use the local process pool") from None
    try:
        futures = client.map(task, list(children), pure=False)
        return list(client.gather(futures))
    finally:
        client.close()


def replicate(simulate: Simulate, study: Study, params: Any, child: np.random.SeedSequence) -> dict[str, float]:
    """One replicate: simulate into a throwaway SQLite registry, measure the study's targets, delete it (the
    cycle collector paused meanwhile)."""
    with collector_paused(), tempfile.TemporaryDirectory(prefix="openidds-replicate-") as folder:
        db_url = database_url(Path(folder) / "registry.sqlite")
        simulate(study, params, child, db_url)
        return measure(study, db_url)


def run_replicates(simulate: Simulate, study: Study, params: Any, seed: int, n: int, *, scheduler: str | None = None,
                   workers: int | None = None) -> list[dict[str, float]]:
    """The measured targets of ``n`` replicates of ``study`` (see :func:`map_replicates` for where they run)."""
    return map_replicates(partial(replicate, simulate, study, params), seed, n, scheduler=scheduler,
                          workers=workers)

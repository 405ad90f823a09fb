"""The bundled example registry: synthetic, seeded patients as the registry's CSV import files.

``generate.py`` writes them (``python -m openidds.clinic.examples.generate``); :func:`load_example` imports
them into a registry through the same path as ``openidds registry import``. No real patient is in them.
"""

import datetime as dt
from pathlib import Path

from sqlalchemy import Engine

from openidds.clinic.csv_io import read_paths
from openidds.clinic.database import init_registry
from openidds.clinic.importer import ImportSummary, import_batch

EXAMPLE_FOLDER = Path(__file__).resolve().parent / "registry"
"""The folder of example CSV files (one per kind of record), shipped as package data."""
EXAMPLE_CUTOFF = dt.date(2025, 6, 30)
"""The example's data cut-off: no event is dated later (only next-refill due dates); patients alive and followed
then are censored there."""
EXAMPLE_USER = "openidds example"


def load_example(engine: Engine, user: str = EXAMPLE_USER) -> ImportSummary:
    """Create the registry schema on ``engine`` and import the example files (all or nothing, audited)."""
    init_registry(engine)
    return import_batch(engine, read_paths([EXAMPLE_FOLDER]), user, source="openidds example registry")


__all__ = ["EXAMPLE_CUTOFF", "EXAMPLE_FOLDER", "EXAMPLE_USER", "load_example"]

"""The clinic registry: patients from screening to exit, implants and pump histories, imports and exports.

An SQLite file by default, PostgreSQL (or any SQLAlchemy URL) for a clinic with several users; schema by
Alembic migrations (:func:`init_registry`); every change audited and version-checked (:func:`unit_of_work`).
"""

from openidds.clinic.analysis import analysis_dataset, write_dataset
from openidds.clinic.checks import check_registry
from openidds.clinic.csv_io import read_paths, write_template
from openidds.clinic.database import connect, init_registry, require_current, unit_of_work
from openidds.clinic.deidentify import research_tables, write_research_export
from openidds.clinic.errors import ConcurrentUpdateError, ImportRejected, RegistryError, RuleViolation
from openidds.clinic.fhir import fhir_bundle
from openidds.clinic.fields import SPECS, Field, RecordSpec
from openidds.clinic.findings import Finding
from openidds.clinic.importer import Batch, ImportSummary, import_batch
from openidds.clinic.pump_log import import_pump_log
from openidds.clinic.queries import PatientRow, RefillDue, patients, refills_due
from openidds.clinic.redcap import data_dictionary, read_redcap

__all__ = [
    "SPECS", "Batch", "ConcurrentUpdateError", "Field", "Finding", "ImportRejected", "ImportSummary", "PatientRow",
    "RecordSpec", "RefillDue", "RegistryError", "RuleViolation", "analysis_dataset", "check_registry", "connect",
    "data_dictionary", "fhir_bundle", "import_batch", "import_pump_log", "init_registry", "patients", "read_paths",
    "read_redcap", "refills_due", "require_current", "research_tables", "unit_of_work", "write_dataset",
    "write_research_export", "write_template",
]

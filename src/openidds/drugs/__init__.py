"""Drug library, OME tables and intrathecal starting-dose proposals, every number with its source.

Numbers carry a status: [V] read in the cited source, [R] recalled or secondary and not yet verified.
Anything that uses an [R] number reports it (`relies_on_unverified`) so the caller can say so.
"""

from openidds.drugs.errors import DrugsError, InputFileError
from openidds.drugs.intrathecal import (
    PROPOSABLE_DRUGS,
    IntrathecalRules,
    Reason,
    StartProposal,
    intrathecal_rules,
    propose_start,
)
from openidds.drugs.library import (
    DrugEntry,
    DrugLibrary,
    Labeling,
    LimitCheck,
    LimitKind,
    LimitPair,
    Limits,
    Outcome,
    Stability,
    default_library,
    load_library,
)
from openidds.drugs.ome import (
    DEFAULT_OME_TABLE,
    OME_TABLES,
    Medication,
    OmeFactor,
    OmeLine,
    OmeResult,
    OmeTable,
    Route,
    calculate_ome,
    medications_from_csv,
    medications_from_json,
    ome_table,
    parse_medication,
    parse_route,
)
from openidds.drugs.sourced import Source, Sourced, SourcedQuantity, SourcedRange, SourcedText, Status

__all__ = [
    "DEFAULT_OME_TABLE",
    "OME_TABLES",
    "PROPOSABLE_DRUGS",
    "DrugEntry",
    "DrugLibrary",
    "DrugsError",
    "InputFileError",
    "IntrathecalRules",
    "Labeling",
    "LimitCheck",
    "LimitKind",
    "LimitPair",
    "Limits",
    "Medication",
    "OmeFactor",
    "OmeLine",
    "OmeResult",
    "OmeTable",
    "Outcome",
    "Reason",
    "Route",
    "Source",
    "Sourced",
    "SourcedQuantity",
    "SourcedRange",
    "SourcedText",
    "Stability",
    "StartProposal",
    "Status",
    "calculate_ome",
    "default_library",
    "intrathecal_rules",
    "load_library",
    "medications_from_csv",
    "medications_from_json",
    "ome_table",
    "parse_medication",
    "parse_route",
    "propose_start",
]

"""Statistics on analysis datasets, with R's defaults and every estimate carrying its method.

Estimators are vectorised numpy (no per-row Python loops); lifelines, statsmodels and scipy serve only
as test-time witnesses. See docs/outcomes.md for the methods and the R reference values.
"""

from openidds.outcomes._checks import levels as group_levels
from openidds.outcomes._checks import select_columns
from openidds.outcomes.cumulative_incidence import (
    CumulativeIncidence,
    CumulativeIncidenceMethod,
    IncidenceAt,
    cumulative_incidence,
)
from openidds.outcomes.data_error import DataError
from openidds.outcomes.describe import (
    Categorical,
    Continuous,
    DescriptiveTable,
    describe,
    describe_categorical,
    describe_continuous,
)
from openidds.outcomes.gray import GrayTest, gray_test
from openidds.outcomes.kaplan_meier import KaplanMeier, KaplanMeierMethod, SurvivalAt, SurvivalQuantile, kaplan_meier
from openidds.outcomes.logrank import LogRank, logrank
from openidds.outcomes.paired import PairedComparison, paired_comparison
from openidds.outcomes.paired_t import PairedT, paired_t
from openidds.outcomes.proportion import Proportion, proportion
from openidds.outcomes.wilcoxon import SignedRank, signed_rank

__all__ = [
    "Categorical",
    "Continuous",
    "CumulativeIncidence",
    "CumulativeIncidenceMethod",
    "DataError",
    "DescriptiveTable",
    "GrayTest",
    "IncidenceAt",
    "KaplanMeier",
    "KaplanMeierMethod",
    "LogRank",
    "PairedComparison",
    "PairedT",
    "Proportion",
    "SignedRank",
    "SurvivalAt",
    "SurvivalQuantile",
    "cumulative_incidence",
    "describe",
    "describe_categorical",
    "describe_continuous",
    "gray_test",
    "group_levels",
    "kaplan_meier",
    "logrank",
    "paired_comparison",
    "paired_t",
    "proportion",
    "select_columns",
    "signed_rank",
]

"""The study report: an analysis dataset in, the results section of an IDDS study out (HTML, PDF, figures).

The core returns strings and bytes and writes nothing; ``openidds report`` writes the files. The columns
it reads are the contract in :mod:`openidds.outcomes.report.columns`; see docs/report.md.
"""

from openidds.outcomes.report.columns import COLUMNS, Column
from openidds.outcomes.report.document import Paragraph, ReportFigure, Row, Section, Table
from openidds.outcomes.report.study import StudyReport, fingerprint, study_report

__all__ = ["COLUMNS", "Column", "Paragraph", "ReportFigure", "Row", "Section", "StudyReport", "Table", "fingerprint",
           "study_report"]

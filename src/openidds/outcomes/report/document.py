"""The report as data: sections of paragraphs, tables and figures, in the order they are read."""

from collections.abc import Callable
from dataclasses import dataclass, field

from matplotlib.figure import Figure


@dataclass(frozen=True)
class Paragraph:
    """A sentence or two of results; every number in it names its method."""

    text: str


@dataclass(frozen=True)
class Row:
    """One table row; ``level`` 1 is indented under the row above (a level of a categorical variable)."""

    cells: tuple[str, ...]
    level: int = 0


@dataclass(frozen=True)
class Table:
    """A numbered table: caption, header, rows and the notes that state methods and missing data."""

    caption: str
    header: tuple[str, ...]
    rows: tuple[Row, ...]
    notes: tuple[str, ...] = ()
    number: int = 0

    @property
    def title(self) -> str:
        return f"Table {self.number}. {self.caption}"


@dataclass(frozen=True)
class ReportFigure:
    """A numbered figure as PNG (at ``dpi``) and SVG bytes; ``slug`` names its files (``figure-<n>-<slug>.png``)."""

    slug: str
    caption: str
    png: bytes = field(repr=False)
    svg: bytes = field(repr=False)
    dpi: int = 100
    number: int = 0

    @property
    def title(self) -> str:
        return f"Figure {self.number}. {self.caption}"

    @property
    def stem(self) -> str:
        return f"figure-{self.number}-{self.slug}"


Block = Paragraph | Table | ReportFigure
#: Draws a figure and renders it as a report figure, ``make(draw, slug, caption)``; ``None`` when the report is
#: made without figures (``draw`` is then never called).
FigureMaker = Callable[[Callable[[], Figure], str, str], ReportFigure | None]


@dataclass(frozen=True)
class Section:
    """A part of the results section; ``omitted`` says why it is absent (its columns are not in the dataset)."""

    key: str
    title: str
    blocks: tuple[Block, ...] = ()
    omitted: str | None = None
    results: dict = field(default_factory=dict, compare=False, repr=False)

    @property
    def tables(self) -> tuple[Table, ...]:
        return tuple(b for b in self.blocks if isinstance(b, Table))

    @property
    def figures(self) -> tuple[ReportFigure, ...]:
        return tuple(b for b in self.blocks if isinstance(b, ReportFigure))

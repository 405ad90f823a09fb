"""The report as an A4 PDF: text, tables and figures laid out in reading order, with no date in its metadata."""

import io
from functools import cache
from typing import TYPE_CHECKING

from matplotlib import rc_context
from matplotlib.backends.backend_pdf import PdfPages
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.image import imread
from matplotlib.lines import Line2D
from matplotlib.textpath import TextToPath

from openidds.outcomes.report.document import Paragraph, ReportFigure, Table

if TYPE_CHECKING:
    from openidds.outcomes.report.study import StudyReport

WIDTH_IN, HEIGHT_IN = 8.27, 11.69
LEFT_IN, TOP_IN, BOTTOM_IN = 0.75, 0.75, 0.85
TEXT_IN = WIDTH_IN - 2 * LEFT_IN
FIGURE_MAX_IN = 4.6
_LEADING = 1.3
_PAD_IN = 0.08
_INDENT_IN = 0.15
_GREY = "#444444"
_TABLE_SIZE = 7.5
_KEEP_IN = 1.2
"""A heading keeps at least this much of what follows it on its page."""
_WHOLE_TABLE_IN = 2.5
"""A table up to this tall is kept on one page; a taller one may start low on a page and continue on the next."""
_FIRST_ROWS = 6
_MEASURE = TextToPath()


@cache
def _advance(char: str, weight: str) -> float:
    """Width of one character at 100 pt, in points (measured once per character and weight)."""
    width, _, _ = _MEASURE.get_text_width_height_descent(char, FontProperties(size=100, weight=weight), ismath=False)
    return width


def _width_in(text: str, size: float, weight: str = "normal") -> float:
    """Width of a line as the sum of its characters' advances (kerning ignored: a little generous)."""
    return sum(_advance(c, weight) for c in text) * size / 100 / 72


def _wrap(text: str, width_in: float, size: float, weight: str = "normal") -> list[str]:
    """Greedy word wrap at ``width_in``; a single word longer than the line stays whole."""
    lines: list[str] = []
    for paragraph in text.split("\n"):
        line = ""
        for word in paragraph.split(" "):
            candidate = f"{line} {word}" if line else word
            if line and _width_in(candidate, size, weight) > width_in:
                lines.append(line)
                line = word
            else:
                line = candidate
        lines.append(line)
    return lines


class _Pages:
    """A cursor over A4 pages: each call places its content below the last, starting a page when full.

    A figure that does not fit below the text floats to the top of the next page while the text after it fills
    the rest of this one (figures keep their order), so no page is left half empty.
    """

    def __init__(self) -> None:
        self.pages: list[Figure] = []
        self.floating: list[ReportFigure] = []
        self._new_page()

    def _new_page(self) -> None:
        self.page = Figure(figsize=(WIDTH_IN, HEIGHT_IN))
        self.pages.append(self.page)
        self.y = TOP_IN
        waiting, self.floating = self.floating, []
        for figure in waiting:
            self._place_image(figure)

    def finish(self) -> None:
        """Place the figures still floating, on a new page."""
        if self.floating:
            self._new_page()

    def _room(self) -> float:
        return HEIGHT_IN - BOTTOM_IN - self.y

    def need(self, height_in: float) -> None:
        if height_in > self._room() and self.y > TOP_IN:
            self._new_page()

    def _put(self, x_in: float, text: str, size: float, weight: str = "normal", colour: str = "black") -> None:
        self.page.text(x_in / WIDTH_IN, 1 - self.y / HEIGHT_IN, text, fontsize=size, fontweight=weight, color=colour,
                       va="top", ha="left", parse_math=False)

    def text(self, text: str, size: float = 9.5, weight: str = "normal", colour: str = "black",
             space_after: float = 0.1) -> None:
        step = size * _LEADING / 72
        for line in _wrap(text, TEXT_IN, size, weight):
            self.need(step)
            self._put(LEFT_IN, line, size, weight, colour)
            self.y += step
        self.y += space_after

    def heading(self, text: str, size: float = 13, keep: float = _KEEP_IN) -> None:
        """A section heading, on a new page unless ``keep`` inches of the next block fit below it."""
        self.need(size * _LEADING / 72 + 0.18 + max(keep, _KEEP_IN))
        self.y += 0.1
        self.text(text, size, "bold", space_after=0.08)

    def start_height(self, block: Paragraph | Table | ReportFigure) -> float:
        """The room a block asks for where it starts (a paragraph asks for none beyond the heading's own)."""
        if isinstance(block, Table):
            return self._table_layout(block, _TABLE_SIZE)[-1]
        if isinstance(block, ReportFigure):
            return self._image_layout(block)[-1]
        return 0.0

    def _rule(self, width: float) -> None:
        y = 1 - self.y / HEIGHT_IN
        self.page.add_artist(Line2D([LEFT_IN / WIDTH_IN, (LEFT_IN + TEXT_IN) / WIDTH_IN], [y, y], linewidth=width,
                                    color="black", transform=self.page.transFigure))

    @staticmethod
    def _table_layout(table: Table, size: float) -> tuple[list[float], list[list[str]], list[list[list[str]]],
                                                             list[float], float]:
        """Column widths, wrapped header and cells, row heights, and the room the table needs to start: all of
        it if it fits on a page, else its caption, header and first row."""
        widths = _column_widths(table, size)
        step = size * _LEADING / 72
        header = [_wrap(h, w - _PAD_IN, size, "bold") for h, w in zip(table.header, widths, strict=True)]
        rows = [[_wrap(c, w - _PAD_IN - (_INDENT_IN if i == 0 and row.level else 0), size)
                 for i, (c, w) in enumerate(zip(row.cells, widths, strict=False))] for row in table.rows]
        caption = len(_wrap(table.title, TEXT_IN, 9, "bold")) * 9 * _LEADING / 72 + max(map(len, header)) * step + 0.2
        heights = [max(len(c) for c in cells) * step for cells in rows]
        notes = sum(len(_wrap(note, TEXT_IN, 7)) for note in table.notes) * 7 * _LEADING / 72 + 0.06
        whole = caption + sum(heights) + notes
        start = whole if whole <= _WHOLE_TABLE_IN else caption + sum(heights[:_FIRST_ROWS])
        return widths, header, rows, heights, start

    def table(self, table: Table, size: float = _TABLE_SIZE) -> None:
        widths, header, rows, heights, start = self._table_layout(table, size)
        step = size * _LEADING / 72
        self.need(start)
        self.text(table.title, 9, "bold", space_after=0.04)

        def put_header() -> None:
            self._rule(1.0)
            self.y += 0.03
            self._cells(header, widths, size, "bold", 0)
            self.y += max(map(len, header)) * step + 0.02
            self._rule(0.6)
            self.y += 0.03

        put_header()
        for row, cells, height in zip(table.rows, rows, heights, strict=True):
            if height > self._room():
                self._rule(0.6)
                self._new_page()
                self.text(f"{table.title} (continued)", 9, "bold", space_after=0.04)
                put_header()
            self._cells(cells, widths, size, "normal", row.level)
            self.y += height
        self._rule(1.0)
        self.y += 0.06
        for note in table.notes:
            self.text(note, 7, colour=_GREY, space_after=0.0)
        self.y += 0.15

    def _cells(self, cells: list[list[str]], widths: list[float], size: float, weight: str, level: int) -> None:
        x, top = LEFT_IN, self.y
        step = size * _LEADING / 72
        for i, (lines, width) in enumerate(zip(cells, widths, strict=False)):
            indent = _INDENT_IN if i == 0 and level else 0.0
            for k, line in enumerate(lines):
                self.y = top + k * step
                self._put(x + indent, line, size, weight)
            x += width
        self.y = top

    @staticmethod
    def _image_layout(figure: ReportFigure) -> tuple[float, float, float]:
        """Width and height on the page (inches, at the figure's resolution, within the limits) and the room the
        figure needs with its caption; the size is read from the PNG header."""
        width_px, height_px = (int.from_bytes(figure.png[at:at + 4], "big") for at in (16, 20))
        width = min(TEXT_IN, width_px / figure.dpi)
        height = width * height_px / width_px
        limit = min(FIGURE_MAX_IN, HEIGHT_IN - TOP_IN - BOTTOM_IN - 0.6)
        if height > limit:
            width, height = width * limit / height, limit
        caption = _wrap(figure.title, TEXT_IN, 8)
        return width, height, height + len(caption) * 8 * _LEADING / 72 + 0.2

    def image(self, figure: ReportFigure) -> None:
        """Place the figure here if it fits, else let it float to the top of the next page."""
        start = self._image_layout(figure)[-1]
        if self.floating or (start > self._room() and self.y > TOP_IN):
            self.floating.append(figure)
        else:
            self._place_image(figure)

    def _place_image(self, figure: ReportFigure) -> None:
        width, height, start = self._image_layout(figure)
        pixels = imread(io.BytesIO(figure.png), format="png")
        self.need(start)
        x = LEFT_IN + (TEXT_IN - width) / 2
        axes = self.page.add_axes((x / WIDTH_IN, 1 - (self.y + height) / HEIGHT_IN, width / WIDTH_IN,
                                   height / HEIGHT_IN))
        axes.imshow(pixels, interpolation="none")
        axes.set_axis_off()
        self.y += height + 0.08
        self.text(figure.title, 8, colour=_GREY, space_after=0.2)

    def number_pages(self, title: str) -> None:
        for i, page in enumerate(self.pages, start=1):
            page.text(0.5, 0.45 / HEIGHT_IN, f"{title} — page {i} of {len(self.pages)}", fontsize=7, color=_GREY,
                      ha="center", va="bottom", parse_math=False)


def _column_widths(table: Table, size: float) -> list[float]:
    """Natural widths; when they exceed the line, the widest columns wrap down to their longest word."""
    columns = list(zip(table.header, *[r.cells + ("",) * (len(table.header) - len(r.cells)) for r in table.rows],
                       strict=True))
    natural, shortest = [], []
    for j, column in enumerate(columns):
        indent = _INDENT_IN if j == 0 and any(r.level for r in table.rows) else 0.0
        natural.append(max(_width_in(c, size, "bold" if i == 0 else "normal") for i, c in enumerate(column))
                       + _PAD_IN + indent)
        shortest.append(max(_width_in(w, size, "bold" if i == 0 else "normal")
                            for i, c in enumerate(column) for w in c.split(" ")) + _PAD_IN + indent)
    if sum(natural) <= TEXT_IN:
        return natural
    low, high = 0.0, max(natural)
    for _ in range(40):
        cap = (low + high) / 2
        if sum(min(n, max(s, cap)) for n, s in zip(natural, shortest, strict=True)) > TEXT_IN:
            high = cap
        else:
            low = cap
    return [min(n, max(s, low)) for n, s in zip(natural, shortest, strict=True)]


def render_pdf(report: "StudyReport") -> bytes:
    """The whole report as PDF bytes (A4, DejaVu Sans embedded; no creation or modification date)."""
    pages = _Pages()
    pages.text(report.title, 16, "bold", space_after=0.08)
    pages.text(report.meta, 8.5, colour=_GREY, space_after=0.15)
    for number, section in enumerate(report.sections, start=1):
        pages.heading(f"{number}. {section.title}", keep=pages.start_height(section.blocks[0]) if section.blocks
                      else 0.0)
        if section.omitted:
            pages.text(section.omitted, 9.5, colour="#8a4b00")
        for block in section.blocks:
            if isinstance(block, Paragraph):
                pages.text(block.text)
            elif isinstance(block, Table):
                pages.table(block)
            else:
                pages.image(block)
    pages.finish()
    pages.number_pages(report.title)
    buffer = io.BytesIO()
    metadata = {"Title": report.title, "Creator": "openidds report", "CreationDate": None, "ModDate": None}
    with rc_context({"pdf.fonttype": 3, "font.family": "DejaVu Sans"}), PdfPages(buffer, metadata=metadata) as pdf:
        for page in pages.pages:
            pdf.savefig(page)
    return buffer.getvalue()

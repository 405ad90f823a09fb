"""The report as one self-contained HTML page: inline style, figures as SVG data URIs, nothing fetched."""

import base64
from html import escape
from string import Template
from typing import TYPE_CHECKING

from openidds.outcomes.report.document import Block, Paragraph, ReportFigure, Section, Table

if TYPE_CHECKING:
    from openidds.outcomes.report.study import StudyReport

_PAGE = Template("""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>$title</title>
<style>
body { font-family: "DejaVu Sans", Helvetica, Arial, sans-serif; color: #1a1a1a; margin: 0; background: #fff; }
main { max-width: 62rem; margin: 0 auto; padding: 2rem 1.5rem 4rem; line-height: 1.5; }
h1 { font-size: 1.7rem; margin: 0 0 0.4rem; }
h2 { font-size: 1.3rem; margin: 2.2rem 0 0.6rem; border-bottom: 1px solid #ccc; padding-bottom: 0.2rem; }
.meta { color: #555; font-size: 0.9rem; }
nav ol { columns: 2; font-size: 0.95rem; }
table { border-collapse: collapse; margin: 1.2rem 0 0.3rem; font-size: 0.88rem; width: 100%; }
caption { text-align: left; font-weight: bold; padding-bottom: 0.4rem; }
thead th { border-top: 2px solid #222; border-bottom: 1px solid #222; text-align: left; padding: 0.3rem 0.5rem;
           vertical-align: bottom; }
tbody td { padding: 0.2rem 0.5rem; vertical-align: top; }
tbody tr:last-child td { border-bottom: 2px solid #222; }
td.level1 { padding-left: 1.6rem; }
.notes { font-size: 0.8rem; color: #444; margin: 0 0 1rem; }
.notes p { margin: 0.15rem 0; }
figure { margin: 1.5rem 0; }
figure img { max-width: 100%; height: auto; display: block; }
figcaption { font-size: 0.88rem; color: #333; margin-top: 0.3rem; }
.files { color: #666; }
.omitted { color: #8a4b00; font-style: italic; }
</style>
</head>
<body>
<main>
<h1>$title</h1>
<p class="meta">$meta</p>
<nav><ol>
$contents
</ol></nav>
$sections
</main>
</body>
</html>
""")


_INDENT = ' class="level1"'


def _table(table: Table) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in table.header)
    body = []
    for row in table.rows:
        cells = [f"<td{_INDENT if i == 0 and row.level else ''}>{escape(c)}</td>" for i, c in enumerate(row.cells)]
        cells += ["<td></td>"] * (len(table.header) - len(row.cells))
        body.append(f"<tr>{''.join(cells)}</tr>")
    notes = "".join(f"<p>{escape(n)}</p>" for n in table.notes)
    return (f'<table id="table-{table.number}">\n<caption>{escape(table.title)}</caption>\n'
            f"<thead><tr>{head}</tr></thead>\n<tbody>\n" + "\n".join(body) + "\n</tbody>\n</table>\n"
            f'<div class="notes">{notes}</div>')


def _figure(figure: ReportFigure) -> str:
    data = base64.b64encode(figure.svg).decode("ascii")
    return (f'<figure id="{figure.stem}">\n<img src="data:image/svg+xml;base64,{data}" alt="{escape(figure.caption)}">'
            f'\n<figcaption>{escape(figure.title)} <span class="files">(files: figures/{figure.stem}.png, '
            f"figures/{figure.stem}.svg)</span></figcaption>\n</figure>")


def _block(block: Block) -> str:
    if isinstance(block, Paragraph):
        return f"<p>{escape(block.text)}</p>"
    if isinstance(block, Table):
        return _table(block)
    return _figure(block)


def _section(number: int, section: Section) -> str:
    body = ([f'<p class="omitted">{escape(section.omitted)}</p>'] if section.omitted
            else [_block(b) for b in section.blocks])
    return (f'<section id="{section.key}">\n<h2>{number}. {escape(section.title)}</h2>\n' + "\n".join(body)
            + "\n</section>")


def render_html(report: "StudyReport") -> str:
    """The whole report as a UTF-8 HTML document (a string; the caller writes it)."""
    contents = "\n".join(f'<li><a href="#{s.key}">{escape(s.title)}</a>{" (omitted)" if s.omitted else ""}</li>'
                         for s in report.sections)
    sections = "\n".join(_section(i, s) for i, s in enumerate(report.sections, start=1))
    return _PAGE.substitute(title=escape(report.title), meta=escape(report.meta), contents=contents,
                            sections=sections)

"""A self-contained HTML page: inline style, relative image links, tables as HTML, no external assets."""

from __future__ import annotations

import html
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import pandas as pd

__all__ = ["Figure", "Section", "render_page", "table_html"]

_STYLE = """
body { font-family: -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; max-width: 1100px;
       margin: 2em auto; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { font-size: 1.6em; margin-bottom: 0.2em; }
h2 { font-size: 1.25em; margin-top: 2em; border-bottom: 1px solid #ddd; padding-bottom: 0.2em; }
p.lead { color: #555; margin-top: 0; }
.verdict { background: #f6f8fa; border-left: 4px solid #4e79a7; padding: 0.6em 1em; }
.verdict.mixed { border-left-color: #f28e2b; }
table { border-collapse: collapse; font-size: 0.85em; margin: 0.8em 0; }
th, td { border: 1px solid #ddd; padding: 0.25em 0.6em; text-align: right; }
th { background: #f0f0f0; }
td:first-child, th:first-child { text-align: left; }
td.best { font-weight: bold; background: #e8f1e4; }
figure { margin: 1em 0; }
figure img { max-width: 100%; border: 1px solid #eee; }
figcaption { font-size: 0.9em; color: #444; }
pre { background: #f6f8fa; padding: 0.8em; overflow-x: auto; font-size: 0.85em; }
details summary { cursor: pointer; color: #4e79a7; }
footer { margin-top: 3em; font-size: 0.8em; color: #777; }
"""


@dataclass(frozen=True)
class Figure:
    """An image of the report: ``src`` relative to the page, and what it shows."""

    src: str
    caption: str
    alt: str = ""


@dataclass(frozen=True)
class Section:
    """A heading, paragraphs (plain text, escaped), then raw HTML blocks and figures."""

    title: str
    paragraphs: Sequence[str] = ()
    blocks: Sequence[str] = ()
    figures: Sequence[Figure] = ()
    anchor: str = ""


def table_html(
    table: pd.DataFrame, *, best: Iterable[tuple[int, int]] = (), float_format: str = "{:.3f}"
) -> str:
    """Render ``table`` as an HTML table; cells at ``best`` (row, column positions) are highlighted.

    Parameters
    ----------
    table
        The table; its index becomes the first column.
    best
        ``(row, column)`` positions (0-based, data columns) to mark as best.
    float_format
        Format of floating-point cells; NaN shows as an en dash.

    Returns
    -------
    The ``<table>`` element.
    """
    marked = set(best)
    head = "".join(f"<th>{html.escape(str(c))}</th>" for c in [table.index.name or "", *table.columns])
    rows = []
    for i, (label, values) in enumerate(table.iterrows()):
        cells = [f"<td>{html.escape(str(label))}</td>"]
        for j, value in enumerate(values):
            cls = ' class="best"' if (i, j) in marked else ""
            cells.append(f"<td{cls}>{html.escape(_cell(value, float_format))}</td>")
        rows.append(f"<tr>{''.join(cells)}</tr>")
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table>"


def _cell(value, float_format: str) -> str:
    if isinstance(value, float):
        return "\u2013" if value != value else float_format.format(value)
    return str(value)


def render_page(title: str, lead: str, sections: Sequence[Section], *, footer: str = "") -> str:
    """Render a whole page: ``title``, a ``lead`` line, a table of contents and the sections.

    Text is escaped; ``Section.blocks`` are inserted as they are (built with :func:`table_html`
    or escaped by the caller). Images are linked by their relative ``src``.
    """
    toc = "".join(
        f'<li><a href="#{_anchor(s, i)}">{html.escape(s.title)}</a></li>' for i, s in enumerate(sections)
    )
    body = [f"<h1>{html.escape(title)}</h1>", f'<p class="lead">{html.escape(lead)}</p>', f"<ul>{toc}</ul>"]
    for i, section in enumerate(sections):
        body.append(f'<h2 id="{_anchor(section, i)}">{html.escape(section.title)}</h2>')
        body.extend(f"<p>{html.escape(p)}</p>" for p in section.paragraphs)
        body.extend(section.blocks)
        for fig in section.figures:
            body.append(
                f'<figure><img src="{html.escape(fig.src)}" alt="{html.escape(fig.alt or fig.caption)}">'
                f"<figcaption>{html.escape(fig.caption)}</figcaption></figure>"
            )
    if footer:
        body.append(f"<footer>{html.escape(footer)}</footer>")
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>{html.escape(title)}</title>\n<style>{_STYLE}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )


def _anchor(section: Section, i: int) -> str:
    return section.anchor or f"section-{i + 1}"

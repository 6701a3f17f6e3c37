"""Report folders: a run's table, figures and explanations as a self-contained ``index.html``.

* :class:`DemoReport`: what :func:`gex_impute.datasets.demo` found (table, verdict, files,
  timings), its terminal :meth:`~DemoReport.summary` and its page :meth:`~DemoReport.html`;
* :func:`write_demo_folder`: the folder (completed h5ad, metrics TSV, figures drawn with
  :mod:`gex_impute.pl`, ``index.html``, ``report.json``);
* :func:`staged_folder`: build a folder under a temporary name and rename it when complete;
* :func:`render_page`, :func:`table_html`: the HTML building blocks (no external assets).

matplotlib and scanpy are imported only when figures are drawn.
"""

from __future__ import annotations

from ._demo import REAL_DATA_COMMANDS, DemoReport
from ._folder import staged_folder
from ._html import Figure, Section, render_page, table_html
from ._tables import ProtocolResult, combine_tables, protocol_results, text_table, wide_table
from ._write import write_demo_folder

__all__ = [
    "REAL_DATA_COMMANDS",
    "DemoReport",
    "Figure",
    "ProtocolResult",
    "Section",
    "combine_tables",
    "protocol_results",
    "render_page",
    "staged_folder",
    "table_html",
    "text_table",
    "wide_table",
    "write_demo_folder",
]

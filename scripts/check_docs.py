"""Check a built documentation site: every API page shows its signature, the tutorial its figures.

Sphinx can build without a warning and still show nothing: autosummary stubs read by the wrong
parser render their directives as plain text, and a library that switches matplotlib's backend
hides a notebook's figures. This reads every generated API page and fails when one has no
signature, or shows a directive as text, and fails a tutorial without a figure.

    .venv/bin/python scripts/check_docs.py docs/_build/html
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path


def problems(html_dir: Path) -> list[str]:
    """The generated API pages under ``html_dir`` that show no signature, or directives as text."""
    pages = sorted((html_dir / "api" / "generated").glob("gex_impute.*.html"))
    if not pages:
        return [f"no API pages under {html_dir / 'api' / 'generated'}: was the site built?"]
    found = []
    for page in pages:
        text = page.read_text(encoding="utf-8")
        if 'class="sig ' not in text and 'class="sig-object' not in text:
            found.append(f"{page.name}: no signature")
        if re.search(r"\.\. (currentmodule|autofunction|autoclass|automodule)::", text):
            found.append(f"{page.name}: a directive is shown as text")
    tutorial = html_dir / "tutorial.html"
    if not tutorial.exists():
        found.append("tutorial.html: missing")
    elif "<img" not in tutorial.read_text(encoding="utf-8"):
        found.append("tutorial.html: no figure (were the plots drawn where the notebook cannot show them?)")
    return found


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("html_dir", type=Path, help="the built site (sphinx-build -b html docs DIR)")
    found = problems(parser.parse_args().html_dir)
    for line in found:
        print(line, file=sys.stderr)
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())

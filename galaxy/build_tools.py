"""Generate the Galaxy tool wrappers (galaxy/gex_impute_*.xml) and workflows (galaxy/workflows/).

Usage::

    python galaxy/build_tools.py            # (re)write them
    python galaxy/build_tools.py --outdir D # write them under D instead (D/*.xml, D/workflows/)
    python galaxy/build_tools.py --check    # exit 1 when a committed file differs

Every wrapper calls the ``gex-impute`` CLI; the builders live in ``galaxy/builders/`` (one module
per tool). The methods, their hyperparameters, defaults, ranges and help come from the package's
method registry (``gex_impute.methods.registry()``), so the wrappers cannot disagree with the
code once regenerated (tests/test_galaxy.py runs ``--check``). ``galaxy/macros.xml``
(hand-written) holds the version tokens, requirements, citation and the shared options.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

import builders  # noqa: E402
from builders import workflows  # noqa: E402


def render_all() -> dict[str, str]:
    """Return {path relative to galaxy/: text} for every generated file."""
    out = builders.render_tools()
    out.update(workflows.render_workflows(out))
    return out


def main(argv: list[str] | None = None) -> int:
    """Write (or ``--check``) the generated files; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outdir", type=Path, default=HERE, help="where to write them (default: galaxy/)")
    parser.add_argument(
        "--check", action="store_true", help="compare with the files in --outdir; write nothing"
    )
    args = parser.parse_args(argv)
    rendered = render_all()
    if args.check:
        status = 0
        for name, text in rendered.items():
            path = args.outdir / name
            current = path.read_text() if path.exists() else ""
            if current != text:
                status = 1
                sys.stdout.writelines(
                    difflib.unified_diff(
                        current.splitlines(True), text.splitlines(True), str(path), "generated"
                    )
                )
        if status:
            print("galaxy/ is out of date: run python galaxy/build_tools.py", file=sys.stderr)
        return status
    for name, text in rendered.items():
        path = args.outdir / name
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{path.name}.tmp")
        tmp.write_text(text)
        tmp.replace(path)
        print(f"wrote {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

#!/usr/bin/env bash
# Every check CI runs, in order, on an installed checkout (bash scripts/setup.sh first):
# lint and format, types, the test suite with doctests, the docs (tutorial executed, warnings
# as errors), the Galaxy tools and workflows in a real throw-away Galaxy server, and the suite
# against the newest releases of every dependency and against the lower bounds that pyproject.toml
# declares (scripts/compat.sh newest / lowest, each in its own throw-away virtualenv).
#
#   bash scripts/check.sh                 # everything
#   SKIP_COMPAT=1 bash scripts/check.sh   # without the two dependency-set runs (saves ~15 min)
set -euo pipefail
cd "$(dirname "$0")/.."
export MPLBACKEND=Agg
step() { printf '\n==== %s [%s]\n' "$1" "$(date +%T)"; }
step "ruff check";            .venv/bin/ruff check .
step "ruff format --check";   .venv/bin/ruff format --check .
step "mypy";                  .venv/bin/mypy
step "pytest (+ doctests)";   .venv/bin/python -m pytest
step "docs";                  .venv/bin/sphinx-build -W --keep-going -q -b html docs docs/_build/html
step "docs: API pages";       .venv/bin/python scripts/check_docs.py docs/_build/html
step "galaxy";                bash galaxy/run_tool_tests.sh
if [[ -z "${SKIP_COMPAT:-}" ]]; then
    step "newest dependencies"; bash scripts/compat.sh newest
    step "lowest dependencies"; bash scripts/compat.sh lowest
fi
step "all checks passed"

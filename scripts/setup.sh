#!/usr/bin/env bash
# Create .venv and install gex_impute with its test extras.
# torch==2.13.0 first: a CPU wheel on disk here, so `torch>=2.2` is already satisfied and pip
# does not pull a multi-GB CUDA build. On a GPU machine, install the CUDA torch you want first.
set -euo pipefail
cd "$(dirname "$0")/.."
PYTHON=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PYTHON" -m venv .venv
.venv/bin/python -m pip install --quiet --upgrade pip
.venv/bin/python -m pip install --quiet "torch==2.13.0"
.venv/bin/python -m pip install --quiet -e ".[test,galaxy,docs,dev]"

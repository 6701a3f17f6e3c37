#!/usr/bin/env bash
# Run the test suite against the NEWEST releases of every dependency, or the LOWEST versions
# that pyproject.toml declares (its ">=" bounds), each in its own throw-away virtualenv.
#
#   bash scripts/compat.sh newest    # .venv-newest: pip's newest resolvable set
#   bash scripts/compat.sh lowest    # .venv-lowest: every direct dependency pinned to its lower bound
#
# torch stays at the CPU build on disk (2.13.0) in both: its lower bound, 2.2, would pull a
# multi-GB CUDA build. anndata (every release so far) requires pandas<3; the newest run therefore
# also runs the genome, methods, data-contract and reader/writer tests with pandas 3 installed over
# it, so that pandas' copy-on-write behaviour and its string dtype are exercised.
set -euo pipefail
cd "$(dirname "$0")/.."
which=${1:?usage: scripts/compat.sh newest|lowest}
PYTHON=${PYTHON:-python3}
venv=".venv-$which"
rm -rf "$venv"
"$PYTHON" -m venv "$venv"
pip=("$venv/bin/python" -m pip install --quiet --disable-pip-version-check)
"${pip[@]}" "torch==2.13.0"
case "$which" in
newest)
    keep_torch=$(mktemp)
    echo "torch==2.13.0" > "$keep_torch"
    "${pip[@]}" --upgrade --upgrade-strategy eager -c "$keep_torch" -e ".[test]"
    ;;
lowest)
    constraints=$(mktemp)
    "$venv/bin/python" - "$constraints" <<'PY'
import re, sys, tomllib
deps = tomllib.load(open("pyproject.toml", "rb"))["project"]["dependencies"]
with open(sys.argv[1], "w") as out:
    for dep in deps:
        m = re.match(r"^([A-Za-z0-9_.-]+)(\[[^\]]*\])?>=([^,;\s]+)", dep)
        if m and m.group(1) != "torch":
            out.write(f"{m.group(1)}=={m.group(3)}\n")
PY
    echo "lower bounds:" $(cat "$constraints")
    "${pip[@]}" -c "$constraints" -e ".[test]"
    ;;
*)
    echo "unknown set '$which'; use newest or lowest" >&2
    exit 2
    ;;
esac
"$venv/bin/python" -m pip list --format=freeze 2>/dev/null | grep -iE '^(anndata|numpy|pandas|scanpy|scikit-learn|scipy|xgboost|dask|zarr|h5py|torch)=' | tr '\n' ' '
echo
# the Galaxy wrapper tests need the galaxy extra (galaxyxml, planemo), not the package's dependencies
"$venv/bin/python" -m pytest -q -p no:cacheprovider -x --ignore=tests/test_galaxy.py --ignore=tests/test_galaxy_workflows.py
if [[ "$which" == newest ]]; then
    "${pip[@]}" --no-deps --upgrade "pandas>=3"
    echo "pandas $("$venv/bin/python" -c 'import pandas; print(pandas.__version__)') over anndata's pin:"
    "$venv/bin/python" -m pytest -q -p no:cacheprovider -x -W "ignore::DeprecationWarning" \
        tests/test_genome.py tests/test_baselines.py tests/test_methods_params.py tests/test_data.py tests/test_io.py
fi

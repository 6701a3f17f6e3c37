#!/usr/bin/env bash
# Run the <tests> of every Galaxy wrapper in galaxy/ inside a real, throw-away Galaxy server, then
# the workflows of galaxy/workflows/ in the same server (galaxy/run_workflow_tests.py: planemo
# workflow tests + Python checks of the downloaded outputs).
#
#   galaxy/run_tool_tests.sh [TOOL_ID ...]       # default: every galaxy/gex_impute_*.xml
#
# Environment:
#   GALAXY_VENV    virtualenv holding the `galaxy` package (created with pip when absent;
#                  default: <repo>/.galaxy/venv, git-ignored). Reuse one: GALAXY_VENV=/tmp/G
#   PROJECT_VENV   virtualenv holding `gex-impute` (default: <repo>/.venv); its bin/ goes first
#                  on the server's PATH, so the jobs run the working tree's CLI
#   GALAXY_PORT    loopback port (default: a free one)
#   GALAXY_KEEP    1 = keep the server's temporary folder (config, database, logs, job dirs)
#   GALAXY_START_TIMEOUT  seconds to wait for the server (default 600)
#   TEST_DATA      folder with the tests' input files (default: <repo>/test-data)
#   GALAXY_TOOL_TESTS  0 = skip the tool tests (e.g. to run the workflows only)
#   GALAXY_WORKFLOWS   0 = skip the workflow tests; a list of names = only those
#                      (default: every galaxy/workflows/*.ga with a -tests.yml; skipped when tool
#                      ids are given on the command line)
#
# The server shows a job's command line to its (non-admin) test user (expose_dataset_path; else
# only admins see it), so that the tools' <assert_command> assertions can check it.
#
# Steps (see ../shared/GALAXY_OFFLINE.md): write a minimal galaxy.yml and tool_conf.xml into a
# temporary folder, start gunicorn on 127.0.0.1, poll /api/version, create a user and its API key
# with the bootstrap admin key, run galaxy-tool-test for each tool id, stop the server by its
# process id (trap), print a summary and exit 1 when any test failed or errored.
# The workflows need every tool: they run after the tool tests, when no tool id is given.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
GALAXY_VENV="${GALAXY_VENV:-$ROOT/.galaxy/venv}"
PROJECT_VENV="${PROJECT_VENV:-$ROOT/.venv}"
START_TIMEOUT="${GALAXY_START_TIMEOUT:-600}"
TEST_DATA="${TEST_DATA:-$ROOT/test-data}"
T0=$(date +%s)

log() { printf '[run_tool_tests %4ss] %s\n' "$(($(date +%s) - T0))" "$*"; }
die() { log "ERROR: $*" >&2; exit 1; }

# ---- the tools -----------------------------------------------------------------------------
if [[ $# -gt 0 ]]; then
    TOOL_IDS=("$@")
else
    TOOL_IDS=()
    for xml in "$ROOT"/galaxy/gex_impute_*.xml; do
        TOOL_IDS+=("$(basename "$xml" .xml)")
    done
fi
[[ ${#TOOL_IDS[@]} -gt 0 ]] || die "no tool XML found in $ROOT/galaxy"
for id in "${TOOL_IDS[@]}"; do
    [[ -f "$ROOT/galaxy/$id.xml" ]] || die "no wrapper $ROOT/galaxy/$id.xml"
done
[[ -d "$TEST_DATA" ]] || die "no test data folder $TEST_DATA; run scripts/make_test_data.py"

# ---- the CLI the jobs will run -------------------------------------------------------------
if [[ -x "$PROJECT_VENV/bin/gex-impute" ]]; then
    CLI_BIN="$PROJECT_VENV/bin"
elif command -v gex-impute >/dev/null 2>&1; then
    CLI_BIN="$(dirname "$(command -v gex-impute)")"
else
    die "gex-impute not found (looked in $PROJECT_VENV/bin and PATH); install the package first"
fi
log "gex-impute from $CLI_BIN ($("$CLI_BIN/gex-impute" --version))"

# ---- the Galaxy virtualenv -----------------------------------------------------------------
if [[ ! -x "$GALAXY_VENV/bin/galaxy-tool-test" || ! -x "$GALAXY_VENV/bin/gunicorn" ]]; then
    log "creating the Galaxy virtualenv $GALAXY_VENV (pip install galaxy; a few minutes, ~1.6 GB)"
    python3 -m venv "$GALAXY_VENV"
    "$GALAXY_VENV/bin/pip" install --quiet galaxy
fi
log "Galaxy $("$GALAXY_VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("galaxy"))') from $GALAXY_VENV"

# ---- configuration in a temporary folder ---------------------------------------------------
WORK="$(mktemp -d "${TMPDIR:-/tmp}/gex_impute_galaxy.XXXXXX")"
SERVER_PID=""
declare -A TEST_PIDS=()
cleanup() {
    local status=$?
    for pid in "${TEST_PIDS[@]}"; do
        kill -TERM "$pid" 2>/dev/null || true
    done
    if [[ -n "$SERVER_PID" ]] && kill -0 "$SERVER_PID" 2>/dev/null; then
        log "stopping the Galaxy server (pid $SERVER_PID)"
        kill -TERM "$SERVER_PID" 2>/dev/null || true
        for _ in $(seq 1 30); do
            kill -0 "$SERVER_PID" 2>/dev/null || break
            sleep 1
        done
        kill -KILL "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [[ "${GALAXY_KEEP:-0}" == 1 ]]; then
        log "kept $WORK"
    else
        rm -rf "$WORK"
    fi
    exit "$status"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

PORT="${GALAXY_PORT:-$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1]); s.close()')}"
URL="http://127.0.0.1:$PORT"
ADMIN_KEY="$(python3 -c 'import secrets; print(secrets.token_hex(16))')"
mkdir -p "$WORK/data"

{
    echo '<?xml version="1.0"?>'
    echo '<toolbox monitor="false">'
    echo '  <section id="gex_impute" name="gex_impute">'
    for id in "${TOOL_IDS[@]}"; do
        echo "    <tool file=\"$ROOT/galaxy/$id.xml\"/>"
    done
    echo '  </section>'
    echo '</toolbox>'
} >"$WORK/tool_conf.xml"

cat >"$WORK/galaxy.yml" <<EOF
galaxy:
  data_dir: $WORK/data
  database_connection: sqlite:///$WORK/data/universe.sqlite?isolation_level=IMMEDIATE
  tool_config_file: $WORK/tool_conf.xml
  bootstrap_admin_api_key: $ADMIN_KEY
  admin_users: admin@example.org
  conda_auto_init: false
  conda_auto_install: false
  enable_celery_tasks: false
  database_auto_migrate: true
  watch_tools: 'false'
  cleanup_job: onsuccess
  expose_dataset_path: true
EOF

# ---- start the server ----------------------------------------------------------------------
log "starting Galaxy on $URL (log: $WORK/server.log)"
(
    cd "$WORK"
    export GALAXY_CONFIG_FILE="$WORK/galaxy.yml"
    # Galaxy's own jobs (uploads, metadata) need its python: the job script activates
    # $VIRTUAL_ENV, which puts $GALAXY_VENV/bin first; gex-impute is then found in $CLI_BIN
    export VIRTUAL_ENV="$GALAXY_VENV"
    export PATH="$CLI_BIN:$GALAXY_VENV/bin:$PATH"
    exec "$GALAXY_VENV/bin/gunicorn" 'galaxy.webapps.galaxy.fast_factory:factory()' \
        -k galaxy.webapps.galaxy.workers.Worker -b "127.0.0.1:$PORT" \
        --workers 1 --preload --timeout 600
) >"$WORK/server.log" 2>&1 &
SERVER_PID=$!

deadline=$(($(date +%s) + START_TIMEOUT))
until curl -fsS "$URL/api/version" >/dev/null 2>&1; do
    if ! kill -0 "$SERVER_PID" 2>/dev/null; then
        tail -n 40 "$WORK/server.log" >&2
        die "the Galaxy server exited before answering"
    fi
    if [[ $(date +%s) -gt $deadline ]]; then
        tail -n 40 "$WORK/server.log" >&2
        die "the Galaxy server did not answer within ${START_TIMEOUT}s"
    fi
    sleep 3
done
log "Galaxy answers: $(curl -fsS "$URL/api/version")"

# ---- a user and its API key ----------------------------------------------------------------
USER_ID="$(curl -fsS -X POST -H 'Content-Type: application/json' \
    -d '{"username": "tooltester", "email": "tooltester@example.org", "password": "tooltester-pass"}' \
    "$URL/api/users?key=$ADMIN_KEY" | python3 -c 'import json, sys; print(json.load(sys.stdin)["id"])')"
USER_KEY="$(curl -fsS -X POST "$URL/api/users/$USER_ID/api_key?key=$ADMIN_KEY" | python3 -c 'import json, sys; print(json.load(sys.stdin))')"
[[ -n "$USER_KEY" ]] || die "could not create an API key for the test user"

# ---- the tests: one galaxy-tool-test per tool, run side by side (most of a test's time is
# Galaxy's upload and metadata jobs waiting on each other, not CPU) ------------------------------
TOOL_IDS_TO_TEST=("${TOOL_IDS[@]}")
if [[ "${GALAXY_TOOL_TESTS:-1}" == 0 ]]; then
    log "skipping the tool tests (GALAXY_TOOL_TESTS=0)"
    TOOL_IDS_TO_TEST=()
fi
for id in "${TOOL_IDS_TO_TEST[@]}"; do
    log "testing $id (log: $WORK/tool_test_$id.log)"
    "$GALAXY_VENV/bin/galaxy-tool-test" -u "$URL" -a "$ADMIN_KEY" -k "$USER_KEY" -t "$id" \
        --test-data "$TEST_DATA" -j "$WORK/results_$id.json" -o "$WORK/outputs_$id" \
        >"$WORK/tool_test_$id.log" 2>&1 &
    TEST_PIDS[$id]=$!
done
FAILED_TOOLS=()
for id in "${TOOL_IDS_TO_TEST[@]}"; do
    if wait "${TEST_PIDS[$id]}"; then
        log "$id: passed"
    else
        FAILED_TOOLS+=("$id")
        log "$id: FAILED; the end of its log:"
        tail -n 40 "$WORK/tool_test_$id.log" >&2
    fi
done

# ---- summary -------------------------------------------------------------------------------
python3 - "$WORK" "${TOOL_IDS_TO_TEST[@]}" <<'EOF'
import json
import sys
from pathlib import Path

work, ids = Path(sys.argv[1]), sys.argv[2:]
print(f"\n{'tool':28} {'tests':>5} {'passed':>6} {'failed':>6}")
total = bad = 0
for tool_id in ids:
    path = work / f"results_{tool_id}.json"
    tests = json.loads(path.read_text())["tests"] if path.exists() else []
    ok = sum(1 for t in tests if t.get("data", {}).get("status") == "success")
    total += len(tests)
    bad += len(tests) - ok
    print(f"{tool_id:28} {len(tests):5d} {ok:6d} {len(tests) - ok:6d}")
    for t in tests:
        data = t.get("data", {})
        if data.get("status") != "success":
            problems = [str(p) for p in data.get("output_problems") or []]
            if data.get("execution_problem"):
                problems.append(str(data["execution_problem"]))
            # the last line of each problem is the most telling (exception message, assertion)
            short = "; ".join(p.strip().splitlines()[-1] for p in problems if p.strip())
            print(f"  FAILED {t.get('id')}: {data.get('status')}: {short[:500]}")
print(f"{'total':28} {total:5d} {total - bad:6d} {bad:6d}\n")
EOF

log "tool tests done"

# ---- the workflows (after the tool tests; same server) -----------------------------------------
WORKFLOW_STATUS=0
WORKFLOW_SELECTION="${GALAXY_WORKFLOWS:-}"
if [[ $# -gt 0 && -z "$WORKFLOW_SELECTION" ]]; then
    WORKFLOW_SELECTION=0  # a subset of the tools: the workflows may need the others
fi
if [[ "$WORKFLOW_SELECTION" != 0 ]]; then
    read -r -a WORKFLOW_NAMES <<<"$WORKFLOW_SELECTION"
    log "running the workflows ${WORKFLOW_NAMES[*]:-(all)} (reports and outputs: $WORK/workflows)"
    "$PROJECT_VENV/bin/python" "$ROOT/galaxy/run_workflow_tests.py" --url "$URL" --admin-key "$ADMIN_KEY" \
        --user-key "$USER_KEY" --work "$WORK/workflows" --planemo "$PROJECT_VENV/bin/planemo" \
        "${WORKFLOW_NAMES[@]}" || WORKFLOW_STATUS=1
else
    log "skipping the workflow tests"
fi

if [[ ${#FAILED_TOOLS[@]} -gt 0 || $WORKFLOW_STATUS -ne 0 ]]; then
    [[ ${#FAILED_TOOLS[@]} -gt 0 ]] && log "FAILED tools: ${FAILED_TOOLS[*]}"
    [[ $WORKFLOW_STATUS -ne 0 ]] && log "FAILED: workflow tests"
    log "server log: $WORK/server.log; GALAXY_KEEP=1 keeps it"
    exit 1
fi
log "all Galaxy tool and workflow tests passed"

"""Run the Galaxy workflows of galaxy/workflows/ in a running Galaxy server and check their outputs.

Called by galaxy/run_tool_tests.sh after the tool tests (same throw-away server)::

    python galaxy/run_workflow_tests.py --url URL --admin-key KEY --user-key KEY --work DIR [NAME ...]

For each workflow ``NAME.ga`` with a ``NAME-tests.yml``:

1. ``planemo test`` against the server (engine external_galaxy): uploads the test inputs, invokes
   the workflow, waits for it and checks the outputs with the assertions of the tests file;
2. downloads every output of the invocation through the API (bioblend) and runs the Python
   checks of galaxy/workflow_checks.py (outputs against inputs);
3. invokes the workflow once more as a script would, with the first test's inputs: the ``.ga``
   imported as is, no upgrade messages on its steps, and invoked through the API with
   bioblend's defaults (``allow_tool_state_corrections=False``, which planemo sets to True);
   every job of that invocation must end ok, and its outputs pass the same Python checks;
4. prints a summary: wall time of each test, the outputs produced (label, datatype, size) and
   each check; exit status 1 when a test or a check failed.

Needs planemo and bioblend (in the project's virtualenv: pip install -e ".[galaxy]").
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import yaml

HERE = Path(__file__).resolve().parent
WORKFLOWS = HERE / "workflows"
sys.path.insert(0, str(HERE))

from workflow_checks import CHECKS, Result  # noqa: E402


def _job_paths(tests_file: Path, job: dict[str, Any]) -> dict[str, Any]:
    """The test job's inputs: file paths made absolute (relative to the tests file), values as is."""
    out: dict[str, Any] = {}
    for label, value in job.items():
        if isinstance(value, dict) and value.get("class") == "File":
            out[label] = (tests_file.parent / value["path"]).resolve()
        else:
            out[label] = value
    return out


def _download_outputs(gi, invocation_id: str, folder: Path) -> tuple[dict[str, Path], list[dict]]:
    """Every labelled output dataset of an invocation -> local file (those in state ok); and
    a description of each (label, name, datatype, size, state; the job's last stderr line when
    the dataset is in error)."""
    invocation = gi.invocations.show_invocation(invocation_id)
    folder.mkdir(parents=True, exist_ok=True)
    files, described = {}, []
    for label, ref in sorted(invocation.get("outputs", {}).items()):
        details = gi.datasets.show_dataset(ref["id"])
        entry = {
            "label": label,
            "name": details["name"],
            "ext": details["extension"],
            "state": details["state"],
        }
        if details["state"] == "ok":
            path = folder / f"{label}.{details['extension']}"
            gi.datasets.download_dataset(ref["id"], file_path=str(path), use_default_filename=False)
            files[label] = path
            entry["bytes"] = path.stat().st_size
        else:
            job = gi.jobs.show_job(details["creating_job"], full_details=True)
            lines = (job.get("stderr") or "").strip().splitlines()
            entry["bytes"] = 0
            entry["error"] = lines[-1][:300] if lines else f"job state {job.get('state')}"
        described.append(entry)
    return files, described


def _invocation_seconds(gi, invocation_id: str) -> float:
    """From the invocation's creation to its last job's end (the server's own clock)."""
    from datetime import datetime

    invocation = gi.invocations.show_invocation(invocation_id)
    start = datetime.fromisoformat(invocation["create_time"])
    ends = [
        datetime.fromisoformat(gi.jobs.show_job(step["job_id"])["update_time"])
        for step in invocation["steps"]
        if step.get("job_id")
    ]
    return (max(ends) - start).total_seconds() if ends else float("nan")


def _upgrade_messages(gi, workflow_id: str, history_id: str) -> dict[str, Any]:
    """{step label: messages} of the steps Galaxy would correct (the run form's view)."""
    form = gi.workflows._get(id=f"{workflow_id}/download", params={"style": "run", "history_id": history_id})
    messages = {}
    for step in form["steps"]:
        found = step.get("messages") or step.get("upgrade_messages")
        if found:
            messages[str(step.get("step_label") or step.get("step_index"))] = found
    if form.get("has_upgrade_messages") and not messages:
        messages["(workflow)"] = "has_upgrade_messages"
    return messages


def invoke_as_exported(name: str, planemo_invocation: str, args: argparse.Namespace, gi) -> list[Result]:
    """Step 3 of the module docstring: import ``name``.ga, check it, invoke it without tool state
    corrections on the inputs of planemo's invocation ``planemo_invocation``; return the checks."""
    from bioblend import ConnectionError as BioblendConnectionError

    shown = gi.invocations.show_invocation(planemo_invocation)
    inputs: dict[str, Any] = {
        ref["label"]: {"src": ref["src"], "id": ref["id"]} for ref in shown["inputs"].values()
    }
    for ref in shown.get("input_step_parameters", {}).values():
        inputs[ref["label"]] = ref["parameter_value"]
    history = gi.histories.create_history(f"{name}: invoked as exported")["id"]
    workflow = gi.workflows.import_workflow_from_local_path(str(WORKFLOWS / f"{name}.ga"))["id"]
    messages = _upgrade_messages(gi, workflow, history)
    checks: list[Result] = [("as exported: no step has upgrade messages", not messages, str(messages)[:300])]
    try:
        invocation = gi.workflows.invoke_workflow(
            workflow, inputs=inputs, history_id=history, inputs_by="name"
        )  # allow_tool_state_corrections: bioblend's default, False
    except BioblendConnectionError as err:
        return [*checks, ("as exported: invocation accepted", False, str(err.body)[:300])]
    checks.append(("as exported: invocation accepted", True, "allow_tool_state_corrections=False"))
    shown = gi.invocations.wait_for_invocation(invocation["id"], maxwait=args.timeout, check=False)
    states = []
    for step in shown["steps"]:
        if step.get("job_id"):
            states.append(gi.jobs.wait_for_job(step["job_id"], maxwait=args.timeout, check=False)["state"])
    checks.append(
        (
            "as exported: invocation scheduled, every job ok",
            shown["state"] == "scheduled" and bool(states) and set(states) == {"ok"},
            f"invocation {shown['state']}, jobs {states}",
        )
    )
    files, described = _download_outputs(gi, invocation["id"], args.work / name / "as_exported")
    bad = [f"{o['label']}: {o['state']} {o.get('error', '')}" for o in described if o["state"] != "ok"]
    checks.append(("as exported: every output ok", not bad, "; ".join(bad) or f"{len(described)} outputs"))
    if files and name in CHECKS:
        job = {label: value for label, value in inputs.items() if not isinstance(value, dict)}
        tests_file = WORKFLOWS / f"{name}-tests.yml"
        job.update(_job_paths(tests_file, yaml.safe_load(tests_file.read_text())[0]["job"]))
        checks += [(f"as exported: {w}", ok, d) for w, ok, d in CHECKS[name](files, job)]
    return checks


def run_one(name: str, args: argparse.Namespace, gi) -> dict[str, Any]:
    """Test workflow ``name``; return its report."""
    workflow = WORKFLOWS / f"{name}.ga"
    tests_file = WORKFLOWS / f"{name}-tests.yml"
    report: dict[str, Any] = {"workflow": name, "tests": []}
    cases = yaml.safe_load(tests_file.read_text())
    missing = [
        str(path)
        for case in cases
        for path in _job_paths(tests_file, case["job"]).values()
        if isinstance(path, Path) and not path.exists()
    ]
    if missing:
        report["error"] = f"test inputs missing: {missing}"
        return report
    out_json = args.work / f"{name}.json"
    command = [
        args.planemo,
        "test",
        "--engine",
        "external_galaxy",
        "--galaxy_url",
        args.url,
        "--galaxy_admin_key",
        args.admin_key,
        "--galaxy_user_key",
        args.user_key,
        "--test_output_json",
        str(out_json),
        "--test_output",
        str(args.work / f"{name}.html"),
        "--summary",
        "compact",
        "--test_timeout",
        str(args.timeout),
        str(workflow),
    ]
    start = time.perf_counter()
    with open(args.work / f"{name}.planemo.log", "w") as log:
        status = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, check=False).returncode
    report["planemo_seconds"] = round(time.perf_counter() - start, 1)
    report["planemo_status"] = status
    tests = json.loads(out_json.read_text())["tests"] if out_json.exists() else []
    if not tests:
        report["error"] = (
            f"planemo test wrote no results (exit {status}); see {args.work / f'{name}.planemo.log'}"
        )
    for index, (case, test) in enumerate(zip(cases, tests, strict=False)):
        data = test["data"]
        entry: dict[str, Any] = {"id": test["id"], "status": data.get("status")}
        problems = [str(p) for p in data.get("output_problems") or []]
        if data.get("execution_problem"):
            problems.append(str(data["execution_problem"]))
        entry["problems"] = [p.strip().splitlines()[-1][:300] for p in problems if p.strip()]
        details = (data.get("invocation_details") or {}).get("details") or {}
        invocation_id = details.get("invocation_id")
        if invocation_id:
            entry["invocation_seconds"] = round(_invocation_seconds(gi, invocation_id), 1)
            files, entry["outputs"] = _download_outputs(gi, invocation_id, args.work / name / str(index))
            if files and name in CHECKS:  # also after a failed step: check what was produced
                try:
                    checks = CHECKS[name](files, _job_paths(tests_file, case["job"]))
                except Exception as err:  # a check that cannot run is a failed check
                    checks = [("checks ran", False, f"{type(err).__name__}: {err}")]
                entry["checks"] = [{"what": w, "ok": ok, "detail": d} for w, ok, d in checks]
            if index == 0:  # once per workflow: the file invoked as a script would (no corrections)
                try:
                    plain = invoke_as_exported(name, invocation_id, args, gi)
                except Exception as err:  # a check that cannot run is a failed check
                    plain = [("as exported: ran", False, f"{type(err).__name__}: {err}"[:300])]
                entry.setdefault("checks", []).extend(
                    {"what": w, "ok": ok, "detail": d} for w, ok, d in plain
                )
        report["tests"].append(entry)
    return report


def _failed(report: dict[str, Any]) -> bool:
    return bool(report.get("error")) or any(
        t["status"] != "success" or not all(c["ok"] for c in t.get("checks", [])) for t in report["tests"]
    )


def print_summary(reports: list[dict[str, Any]]) -> None:
    """A readable summary of every workflow test."""
    for report in reports:
        print(f"\nworkflow {report['workflow']}: planemo test {report.get('planemo_seconds', '-')} s wall")
        if report.get("error"):
            print(f"  ERROR {report['error']}")
        for test in report["tests"]:
            print(f"  {test['id']}: {test['status']}; invocation {test.get('invocation_seconds', '-')} s")
            for problem in test["problems"]:
                print(f"    problem: {problem}")
            for output in test.get("outputs", []):
                size = f"{output['bytes']:>9} bytes" if output["state"] == "ok" else f"{output['state']:>15}"
                print(f"    output {output['label']:16} {output['ext']:8} {size}  {output['name']}")
                if output.get("error"):
                    print(f"      {output['error']}")
            for check in test.get("checks", []):
                print(f"    {'ok  ' if check['ok'] else 'FAIL'} {check['what']}: {check['detail']}")


def main(argv: list[str] | None = None) -> int:
    """Run the workflow tests; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="workflow names (default: every workflow with tests)")
    parser.add_argument("--url", required=True)
    parser.add_argument("--admin-key", required=True)
    parser.add_argument("--user-key", required=True)
    parser.add_argument("--work", type=Path, required=True, help="folder for reports and downloaded outputs")
    parser.add_argument(
        "--planemo", default=shutil.which("planemo") or str(Path(sys.executable).parent / "planemo")
    )
    parser.add_argument("--timeout", type=int, default=1200, help="seconds per workflow test")
    args = parser.parse_args(argv)
    from bioblend.galaxy import GalaxyInstance

    names = args.names or sorted(p.name.removesuffix("-tests.yml") for p in WORKFLOWS.glob("*-tests.yml"))
    args.work.mkdir(parents=True, exist_ok=True)
    gi = GalaxyInstance(args.url, key=args.user_key)
    reports = [run_one(name, args, gi) for name in names]
    (args.work / "workflow_tests.json").write_text(json.dumps(reports, indent=2, default=str))
    print_summary(reports)
    failed = [r["workflow"] for r in reports if _failed(r)]
    print(
        f"\nworkflow tests: {len(reports) - len(failed)} of {len(reports)} passed"
        + (f"; FAILED: {failed}" if failed else "")
    )
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())

"""The Galaxy workflows of galaxy/workflows/: lint-clean, tested, and wired to existing tool inputs.

They run in a real Galaxy server via galaxy/run_tool_tests.sh (galaxy/run_workflow_tests.py).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parent.parent
GALAXY = ROOT / "galaxy"
WORKFLOWS = sorted((GALAXY / "workflows").glob("*.ga"))


def _tool_paths(tool_id: str) -> dict[str, set[str]]:
    """{parameter path (a|b|c): allowed values (select/conditional options; empty = any)}."""
    from galaxy.util.xml_macros import load

    root = load(str(GALAXY / f"{tool_id}.xml")).getroot()
    paths: dict[str, set[str]] = {}

    def walk(node, prefix: str) -> None:
        for child in node:
            if child.tag == "param":
                name = child.get("name") or child.get("argument", "").lstrip("-").replace("-", "_")
                values = {o.get("value") for o in child.findall("option")}
                paths.setdefault(prefix + name, set()).update(values)
            elif child.tag == "conditional":
                cond = prefix + child.get("name") + "|"
                test = child.find("param")
                paths[cond + test.get("name")] = {w.get("value") for w in child.findall("when")}
                for when in child.findall("when"):
                    walk(when, cond)
            elif child.tag in ("section", "repeat"):
                walk(child, prefix + child.get("name") + "|")

    walk(root.find("inputs"), "")
    return paths


def _flatten(state: dict, prefix: str = "") -> dict[str, object]:
    out: dict[str, object] = {}
    for key, value in state.items():
        if key.startswith("__"):
            continue
        if isinstance(value, dict) and "__class__" not in value:
            out.update(_flatten(value, f"{prefix}{key}|"))
        else:
            out[prefix + key] = value
    return out


def test_both_workflows_present():
    assert {p.stem for p in WORKFLOWS} == {"complete_cohort", "apply_model"}


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.stem for p in WORKFLOWS])
def test_steps_use_existing_tool_parameters(path):
    pytest.importorskip("galaxy.util.xml_macros")
    workflow = json.loads(path.read_text())
    assert workflow["license"] and workflow["creator"] and workflow["annotation"]
    macros = (GALAXY / "macros.xml").read_text()
    version = macros.split('"@TOOL_VERSION@">')[1].split("<")[0]
    suffix = macros.split('"@VERSION_SUFFIX@">')[1].split("<")[0]
    labels = set()
    for step in workflow["steps"].values():
        labels.update(o["label"] for o in step.get("workflow_outputs", []))
        if step["type"] != "tool":
            continue
        assert step["tool_version"] == f"{version}+galaxy{suffix}", step["tool_id"]
        paths = _tool_paths(step["tool_id"])
        for key in step["input_connections"]:
            assert key in paths, f"{path.name}, {step['label']}: no input {key!r} in {step['tool_id']}"
        for key, value in _flatten(json.loads(step["tool_state"])).items():
            assert key in paths, f"{path.name}, {step['label']}: no parameter {key!r} in {step['tool_id']}"
            allowed = paths[key]
            chosen = value if isinstance(value, list) else [value]
            if allowed and not isinstance(value, bool) and value is not None:
                assert set(map(str, chosen)) <= allowed, f"{path.name}, {step['label']}: {key}={value!r}"
    # every workflow output is checked by its tests
    tests = yaml.safe_load(path.with_name(f"{path.stem}-tests.yml").read_text())
    for case in tests:
        assert set(case["outputs"]) == labels, f"{path.name}: outputs without assertions"


def _missing_from_state(node, state: dict, prefix: str = "") -> list[str]:
    """The parameters of the tool's active cases (``node``: its expanded <inputs>) absent from
    ``state``, and data inputs neither connected nor asked at run time."""
    missing: list[str] = []
    for child in node:
        if child.tag == "param":
            name = child.get("name") or child.get("argument", "").lstrip("-").replace("-", "_")
            if name not in state:
                missing.append(prefix + name)
            elif child.get("type") == "data" and not (
                isinstance(state[name], dict)
                and state[name].get("__class__") in ("ConnectedValue", "RuntimeValue")
            ):
                missing.append(f"{prefix}{name} (data input: {state[name]!r})")
        elif child.tag in ("conditional", "section"):
            name = child.get("name")
            if not isinstance(state.get(name), dict):
                missing.append(prefix + name)
                continue
            inner = state[name]
            if child.tag == "section":
                missing += _missing_from_state(child, inner, f"{prefix}{name}|")
                continue
            test = child.find("param")
            whens = child.findall("when")
            values = [w.get("value") for w in whens]
            chosen = str(inner.get(test.get("name")))
            if chosen not in values or inner.get("__current_case__") != values.index(chosen):
                missing.append(
                    f"{prefix}{name} (case {chosen!r}, __current_case__ {inner.get('__current_case__')})"
                )
                continue
            missing += _missing_from_state(whens[values.index(chosen)], inner, f"{prefix}{name}|")
    return missing


@pytest.mark.parametrize("path", WORKFLOWS, ids=[p.stem for p in WORKFLOWS])
def test_steps_hold_the_full_tool_state(path):
    """Every parameter of a tool step's active cases is in its tool_state, as Galaxy's own export
    writes it: else Galaxy reports upgrade messages and refuses an API invocation without
    allow_tool_state_corrections (sweep O, item 2)."""
    pytest.importorskip("galaxy.util.xml_macros")
    from galaxy.util.xml_macros import load

    workflow = json.loads(path.read_text())
    for step in workflow["steps"].values():
        if step["type"] != "tool":
            continue
        inputs = load(str(GALAXY / f"{step['tool_id']}.xml")).getroot().find("inputs")
        state = json.loads(step["tool_state"])
        missing = _missing_from_state(inputs, state)
        assert not missing, f"{path.name}, {step['label']}: not in tool_state: {missing}"
        connected = {k for k, v in _flatten(state).items() if v == {"__class__": "ConnectedValue"}}
        assert connected == set(step["input_connections"]), f"{path.name}, {step['label']}"


def test_full_state_rejects_unknown_parameters():
    """The builder refuses a step value or a connection that names no parameter of the tool."""
    pytest.importorskip("galaxy.util.xml_macros")
    sys.path.insert(0, str(GALAXY))
    try:
        from builders import tool_state
    finally:
        sys.path.pop(0)
    inputs = tool_state.expanded_inputs((GALAXY / "gex_impute_impute.xml").read_text(), GALAXY / "macros.xml")
    full = tool_state.full_state(inputs, {"advanced": {"seed": 3}}, {"expression|input"})
    assert full["advanced"]["seed"] == 3 and full["advanced"]["layer"] == ""
    assert full["expression"] == {
        "format": "h5ad",
        "__current_case__": 0,
        "input": {"__class__": "ConnectedValue"},
    }
    with pytest.raises(ValueError, match="advanced|sed"):
        tool_state.full_state(inputs, {"advanced": {"sed": 3}}, set())
    with pytest.raises(ValueError, match="connections"):
        tool_state.full_state(inputs, {}, {"expression|inptu"})
    with pytest.raises(ValueError, match="no case"):
        tool_state.full_state(inputs, {"expression": {"format": "csv"}}, set())


def test_checks_cover_every_workflow():
    sys.path.insert(0, str(GALAXY))
    try:
        from workflow_checks import CHECKS
    finally:
        sys.path.pop(0)
    assert set(CHECKS) == {p.stem for p in WORKFLOWS}


def test_test_inputs_exist():
    for path in WORKFLOWS:
        tests_file = path.with_name(f"{path.stem}-tests.yml")
        for case in yaml.safe_load(tests_file.read_text()):
            for value in case["job"].values():
                if isinstance(value, dict) and value.get("class") == "File":
                    assert (tests_file.parent / value["path"]).exists(), value["path"]


def test_planemo_workflow_lint_clean():
    planemo = shutil.which("planemo") or str(Path(sys.executable).parent / "planemo")
    if not Path(planemo).exists():
        pytest.skip("planemo is not installed (pip install planemo)")
    result = subprocess.run(
        [planemo, "workflow_lint", "--fail_level", "warn", str(GALAXY / "workflows")],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "WARNING" not in result.stdout and "ERROR" not in result.stdout, result.stdout


def test_saved_model_fixture_still_loads(tmp_path):
    """The apply_model tests' models still load (else remake them: see apply_model-tests.yml)."""
    from gex_impute.methods import load_model

    model = load_model(GALAXY / "workflows" / "test-data" / "model_hybrid.zip")
    assert model.name == "hybrid"
    # a one-member archive's params.json (what an upload with auto-detect keeps of it), read as the
    # wrappers read a 'json' dataset: a model folder holding it
    folder = tmp_path / "model"
    folder.mkdir()
    shutil.copy(GALAXY / "workflows" / "test-data" / "model_additive.json", folder / "params.json")
    assert load_model(folder).name == "additive"


def test_apply_model_takes_what_an_upload_makes_of_a_model():
    """Saved model: zip (the fit tool's output, or Type 'zip'), npz and json (auto-detect)."""
    workflow = json.loads((GALAXY / "workflows" / "apply_model.ga").read_text())
    step = next(s for s in workflow["steps"].values() if s["label"] == "Saved model")
    assert set(json.loads(step["tool_state"])["format"]) == {"zip", "npz", "json"}
    assert "Type 'zip'" in step["annotation"]
    tests = yaml.safe_load((GALAXY / "workflows" / "apply_model-tests.yml").read_text())
    assert {case["job"]["Saved model"]["filetype"] for case in tests} == {"npz", "json"}


def test_complete_cohort_evaluates_the_hybrid_it_fits():
    """The evaluate step gets the fit step's epochs and trees (the same workflow inputs), no CNN."""
    workflow = json.loads((GALAXY / "workflows" / "complete_cohort.ga").read_text())
    steps = {s["label"]: s for s in workflow["steps"].values()}
    source = {
        label: {key: [c["id"] for c in conns] for key, conns in steps[label]["input_connections"].items()}
        for label in ("fit", "evaluate")
    }
    for name in ("max_epochs", "n_estimators"):
        assert source["fit"][f"method_cond|hp|{name}"] == source["evaluate"][f"hybrid|{name}"], name
    fit_state = json.loads(steps["fit"]["tool_state"])
    evaluate_state = json.loads(steps["evaluate"]["tool_state"])
    assert fit_state["method_cond"]["hp"]["use_sequence"] is False
    assert evaluate_state["hybrid"]["use_sequence"] == "false"
    assert "hybrid" in evaluate_state["methods"]

"""The Galaxy workflows of galaxy/workflows/: written in gxformat2 (Format2) here, saved as ``.ga``.

Each workflow is a Format2 dictionary (readable, and checked against the tools' parameter names
by tests/test_galaxy_workflows.py) converted to Galaxy's native ``.ga`` JSON by gxformat2, with
deterministic uuids and a readable layout so that the committed files are reproducible. A tool
step's ``state`` here holds only what the step sets; the ``.ga`` gets the full state (every
parameter of the tool, defaults included, read from the generated tool XML by
:mod:`.tool_state`), as Galaxy's own export has it, so that the workflow invokes as exported
(without ``allow_tool_state_corrections``). Their
tests (``<name>-tests.yml``, planemo's workflow-test format) are hand-written files next to them.
"""

from __future__ import annotations

import json
import re
import uuid
from pathlib import Path
from typing import Any

from . import tool_state
from .common import GCT_FORMATS, GCT_HELP

HERE = Path(__file__).resolve().parent.parent  # galaxy/
NAMESPACE = uuid.UUID("6f1c2b1e-3f5d-4b7e-9a55-0c2f4d1e9a10")
CREATOR = [{"class": "Organization", "name": "gex_impute developers"}]
LICENSE = "MIT"


def tool_version() -> str:
    """``@TOOL_VERSION@+galaxy@VERSION_SUFFIX@`` with the tokens of macros.xml filled in."""
    text = (HERE / "macros.xml").read_text()
    tokens = dict(re.findall(r'<token name="(@[A-Z_]+@)">([^<]*)</token>', text))
    return f"{tokens['@TOOL_VERSION@']}+galaxy{tokens['@VERSION_SUFFIX@']}"


def _tool(tool: str, position: tuple[int, int], connections: dict[str, str], state: dict, doc: str) -> dict:
    return {
        "tool_id": f"gex_impute_{tool}",
        "tool_version": tool_version(),
        "doc": doc,
        "position": {"left": position[0], "top": position[1]},
        "in": connections,
        "state": state,
    }


def _data(doc: str, fmt: str | list[str], position: tuple[int, int], *, optional: bool = False) -> dict:
    out: dict[str, Any] = {
        "type": "data",
        "format": fmt,
        "doc": doc,
        "position": {"left": position[0], "top": position[1]},
    }
    if optional:
        out["optional"] = True
    return out


def complete_cohort() -> dict:
    """Workflow (a): GTEx GCT + sample attributes + GTF -> annotate -> fit -> complete, and evaluate."""
    return {
        "class": "GalaxyWorkflow",
        "label": "gex_impute: complete a GTEx-style cohort",
        "doc": "From the files a GTEx user downloads (gene TPM GCT, SampleAttributesDS, optionally "
        "SubjectPhenotypesDS) and a gene annotation (GTF): place the genes (annotate), fit the hybrid "
        "model on the observed profiles (without promoter sequences: none are given), complete the "
        "cohort to one row per donor x tissue with that model (h5ad, GCT and a heatmap) and measure "
        "how well whole absent profiles are recovered (protocol P3: held-out donor x tissue "
        "profiles, hybrid against baselines).",
        "license": LICENSE,
        "release": tool_version().split("+")[0],
        "creator": CREATOR,
        "inputs": {
            "GCT": _data(f"Gene expression matrix. {GCT_HELP}", list(GCT_FORMATS), (0, 0)),
            "Sample attributes": _data(
                "GTEx SampleAttributesDS: SAMPID, SMTSD (tissue), ...", "tabular", (0, 130)
            ),
            "Subject phenotypes": _data(
                "GTEx SubjectPhenotypesDS: SUBJID, SEX, AGE, ... (optional).",
                "tabular",
                (0, 260),
                optional=True,
            ),
            "Gene annotation": _data("GTF (e.g. GENCODE) with the genes of the GCT.", "gtf", (0, 390)),
            "Training epochs": {
                "type": "int",
                "default": 12,
                "doc": "Maximum training epochs of the hybrid model's networks (the fitted model and the "
                "evaluated one).",
                "position": {"left": 0, "top": 520},
            },
            "XGBoost trees": {
                "type": "int",
                "default": 600,
                "doc": "Trees of the hybrid model's XGBoost stage (the fitted model and the evaluated one).",
                "position": {"left": 0, "top": 620},
            },
            "Evaluation settings": {
                "type": "text",
                "optional": True,
                "doc": "Optional further hyperparameters of the evaluated methods, METHOD.NAME=VALUE "
                "separated by spaces (e.g. 'additive.alpha=2'). The hybrid model is evaluated with the "
                "fit step's settings: the training epochs and XGBoost trees above, no promoter CNN.",
                "position": {"left": 0, "top": 720},
            },
        },
        "outputs": {
            "annotated": {"outputSource": "annotate/output"},
            "model": {"outputSource": "fit/model"},
            "completed": {"outputSource": "complete/output"},
            "completed_gct": {"outputSource": "complete/gct"},
            "profiles_plot": {"outputSource": "complete/plot"},
            "metrics": {"outputSource": "evaluate/table"},
            "metrics_plot": {"outputSource": "evaluate/plot"},
        },
        "steps": {
            "annotate": _tool(
                "annotate",
                (300, 100),
                {
                    "expression|input": "GCT",
                    "expression|sample_attributes": "Sample attributes",
                    "expression|subject_phenotypes": "Subject phenotypes",
                    "annotation": "Gene annotation",
                },
                {"expression": {"format": "gct"}, "sequence": {"source": "none"}},
                "Read the GCT with its sample tables and add gene coordinates.",
            ),
            "fit": _tool(
                "fit",
                (600, 0),
                {
                    "expression|input": "annotate/output",
                    "method_cond|hp|max_epochs": "Training epochs",
                    "method_cond|hp|n_estimators": "XGBoost trees",
                },
                {
                    "expression": {"format": "h5ad"},
                    "method_cond": {"method": "hybrid", "hp": {"use_sequence": False}},
                    "advanced": {"donor_key": "donor"},
                },
                "Fit the hybrid model (no promoter CNN; donors from the GTEx sample ids) and save it.",
            ),
            "complete": _tool(
                "complete",
                (900, 0),
                {"expression|input": "annotate/output", "model_source|model": "fit/model"},
                {
                    "expression": {"format": "h5ad"},
                    "model_source": {"source": "saved"},
                    "cohort": {"aggregate": "mean"},
                    "extra": {"gct": True, "plot": True},
                },
                "One row per donor x tissue; absent profiles estimated by the saved model.",
            ),
            "evaluate": _tool(
                "evaluate",
                (600, 400),
                {
                    "expression|input": "annotate/output",
                    "hyperparameters": "Evaluation settings",
                    "hybrid|max_epochs": "Training epochs",
                    "hybrid|n_estimators": "XGBoost trees",
                },
                {
                    "expression": {"format": "h5ad"},
                    "protocol": {"protocol": "samples"},
                    "fraction": 0.2,
                    "methods": ["hybrid", "mean", "additive"],
                    "hybrid": {"use_sequence": "false"},
                    "advanced": {"donor_key": "donor"},
                },
                "Hold out observed donor x tissue profiles (P3) and score the methods on them; the "
                "hybrid model with the fit step's settings (epochs, trees, no promoter CNN).",
            ),
        },
    }


def apply_model() -> dict:
    """Workflow (b): a saved model archive applied to new data (impute)."""
    return {
        "class": "GalaxyWorkflow",
        "label": "gex_impute: apply a saved model to new data",
        "doc": "Fill the missing values of an expression dataset (h5ad with the genes and tissues the "
        "model was fitted on) with a model archive saved by the gex_impute fit tool; observed values "
        "are kept, layers imputed and imputed_mask are added.",
        "license": LICENSE,
        "release": tool_version().split("+")[0],
        "creator": CREATOR,
        "inputs": {
            "Expression data": _data("AnnData (h5ad) with missing values (NaN).", "h5ad", (0, 0)),
            "Saved model": _data(
                "Model archive from the gex_impute fit tool (or 'gex-impute fit'). Upload it with Type "
                "'zip'; auto-detect makes 'npz' of a hybrid model and unpacks a one-member archive into "
                "'json' (params.json), which are accepted too.",
                ["zip", "npz", "json"],
                (0, 150),
            ),
            "Donor column": {
                "type": "text",
                "optional": True,
                "doc": "Optional: obs column of each sample's donor. Empty: the column the model was "
                "fitted with (none for a model fitted without donors).",
                "position": {"left": 0, "top": 300},
            },
            "Donors unknown": {
                "type": "boolean",
                "default": False,
                "doc": "Yes: the data has no donor column; a model fitted with donors is applied "
                "without them (its donor-based estimates unused).",
                "position": {"left": 0, "top": 400},
            },
        },
        "outputs": {"imputed": {"outputSource": "impute/output"}},
        "steps": {
            "impute": _tool(
                "impute",
                (300, 50),
                {
                    "expression|input": "Expression data",
                    "model_source|model": "Saved model",
                    "advanced|donor_key": "Donor column",
                    "advanced|no_donors": "Donors unknown",
                },
                {
                    "expression": {"format": "h5ad"},
                    "model_source": {"source": "saved"},
                },
                "Impute with the saved model.",
            )
        },
    }


#: file stem under galaxy/workflows/ -> Format2 definition
WORKFLOWS = {"complete_cohort": complete_cohort, "apply_model": apply_model}


def _stable_uuid(text: str) -> str:
    """A version-4-shaped uuid derived from ``text`` (Galaxy accepts only version 4)."""
    return str(uuid.UUID(bytes=uuid.uuid5(NAMESPACE, text).bytes, version=4))


def _deterministic_uuids(native: dict, seed: str) -> dict:
    """Replace gxformat2's random uuids by ones derived from names so that the .ga is reproducible."""

    def walk(node: Any, path: str) -> Any:
        if isinstance(node, dict):
            return {
                k: (_stable_uuid(f"{seed}:{path}/{k}") if k == "uuid" else walk(v, f"{path}/{k}"))
                for k, v in node.items()
            }
        if isinstance(node, list):
            return [walk(v, f"{path}/{i}") for i, v in enumerate(node)]
        return node

    return walk(native, "")


def with_full_states(format2: dict, tools: dict[str, str]) -> dict:
    """``format2`` with each tool step's ``state`` completed to the tool's full state.

    ``tools`` maps a tool's file name (``gex_impute_fit.xml``) to its generated XML text.
    """
    out = json.loads(json.dumps(format2))
    for label, step in out["steps"].items():
        inputs = tool_state.expanded_inputs(tools[f"{step['tool_id']}.xml"], HERE / "macros.xml")
        try:
            step["state"] = tool_state.full_state(inputs, step.get("state", {}), set(step.get("in", {})))
        except ValueError as err:
            raise ValueError(f"step {label!r} ({step['tool_id']}): {err}") from err
    return out


def to_native(format2: dict, name: str, tools: dict[str, str]) -> dict:
    """The ``.ga`` dictionary of a Format2 workflow (``tools``: see :func:`with_full_states`)."""
    from gxformat2.converter import python_to_workflow

    native = python_to_workflow(with_full_states(format2, tools), None, None)
    native = _deterministic_uuids(native, name)
    for step in native["steps"].values():  # give every workflow output a stable uuid too
        for output in step.get("workflow_outputs", []):
            output.setdefault("uuid", _stable_uuid(f"{name}:{step['id']}:{output['label']}"))
    return native


def render_workflows(tools: dict[str, str] | None = None) -> dict[str, str]:
    """Return {path relative to galaxy/: .ga text}; ``tools``: the generated tool XML (rendered
    when not given)."""
    if tools is None:
        from . import render_tools

        tools = render_tools()
    return {
        f"workflows/{name}.ga": json.dumps(to_native(build(), name, tools), indent=4, sort_keys=False) + "\n"
        for name, build in WORKFLOWS.items()
    }

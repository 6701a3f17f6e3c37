"""The ``fit`` wrapper: fit a model and save it as an archive for the impute/complete tools."""

from __future__ import annotations

from . import common, methods
from .common import Gx, ToolSpec

HELP = """
**What it does**

Fits a model on an expression dataset (``gex-impute fit``) and saves it as a zip archive, so it
can fill other datasets with the same genes and tissues (the *impute* and *complete* tools,
"Use a model saved by the fit tool"). The archive holds ``params.json`` (hyperparameters,
package version, gene ids, tissues) and the fitted arrays and network weights; no pickles.
With *Calibrate prediction intervals* it also holds the calibration of the model's prediction
intervals (split conformal), used by the *impute* tool's interval level.

**Input**

An AnnData (``h5ad``) or a GTEx GCT with its sample attributes. Gene coordinates (``chrom``,
``tss``, ``strand`` in ``var``; see the *annotate* tool) are needed only by COORDINATE_METHODS.
The hybrid model fits without them, and uses them (genomic context) and the ``promoter``
sequences (its promoter CNN) when ``var`` has them; OTHER_METHODS fit on the expression
values alone. Methods that can be saved:

METHODS

**Output**

A zip archive of the fitted model.

**Example**

On ``sim.h5ad`` the hybrid model with 2 epochs and 20 trees fits in seconds on 2 CPU cores::

    gex-impute fit sim.h5ad --method hybrid --param max_epochs=2 --param n_estimators=20 --output model.zip
"""

COMMAND = r"""
LINK_EXPRESSION
gex-impute fit
EXPRESSION_ARGS
    --output model.zip
    METHOD_OPTIONS
    --log-transform '$advanced.log_transform'
    #if $advanced.calibrate:
    --calibrate
    #end if
    DONOR_OPTIONS
    @COMMON_OPTIONS@
&& mv model.zip '$model'
"""

H5AD = "expression|input"


def _and(names: list[str]) -> str:
    """``a``, ``b`` and ``c``."""
    quoted = [f"``{n}``" for n in names]
    return " and ".join([", ".join(quoted[:-1]), quoted[-1]]) if len(quoted) > 1 else "".join(quoted)


def _help(specs: dict, names: list[str]) -> str:
    """The help: which methods need gene coordinates (the registry's requires_coordinates)."""
    needs = [n for n in names if specs[n].requires_coordinates]
    others = [n for n in names if n not in needs and n != "hybrid"]
    return (  # the longer placeholders first: they end in METHODS
        HELP.replace("COORDINATE_METHODS", _and(needs))
        .replace("OTHER_METHODS", _and(others))
        .replace("METHODS", methods.methods_help(specs, names))
    )


def build(gx: Gx, specs: dict):
    """The galaxyxml Tool."""
    names = methods.savable(specs)
    command = (
        COMMAND.replace("LINK_EXPRESSION", common.LINK_EXPRESSION)
        .replace("EXPRESSION_ARGS", common.EXPRESSION_ARGS)
        .replace(
            "METHOD_OPTIONS", methods.method_cheetah("method_cond", names, specs).replace("\n", "\n    ")
        )
        .replace("DONOR_OPTIONS", common.donor_cheetah().replace("\n", "\n    "))
    )
    tool = common.new_tool(
        gx,
        ToolSpec(
            "gex_impute_fit",
            "Fit an imputation model",
            "and save it for reuse",
            command,
            operations=("operation_3664", "operation_3557"),  # Statistical modelling, Imputation
            help=_help(specs, names),
        ),
    )
    inputs = tool.inputs
    inputs.append(common.expression_input(gx))
    inputs.append(methods.method_conditional(gx, "method_cond", names, specs))
    calibrate = gx.p.BooleanParam(
        "calibrate",
        checked=False,
        truevalue="true",
        falsevalue="false",
        label="Calibrate prediction intervals",
        help="Save the calibration of prediction intervals with the model (extra fits per kind of "
        "missingness: whole genes, whole profiles, scattered entries; at most 10 each), so the impute tool "
        "gives intervals from it without refitting.",
    )
    inputs.append(common.advanced_section(gx, common.log_transform_param(gx), calibrate))
    tool.outputs.append(gx.p.OutputData("model", format="zip", label="${tool.name} on ${on_string}: model"))

    test = common.new_test(
        gx,
        {
            "expression|format": "h5ad",
            H5AD: ("sim.h5ad", "h5ad"),
            "method_cond|method": "hybrid",
            "method_cond|hp|max_epochs": 2,
            "method_cond|hp|n_estimators": 20,
            "advanced|donor_key": "donor",
        },
        expect_num_outputs=1,
    )
    common.check_output(
        gx,
        test,
        "model",
        "zip",
        [
            # the fitted state: the hyperparameters given, every gene and tissue of sim.h5ad, and the
            # donors of its 'donor' column (named: an empty field uses none)
            (
                "has_archive_member",
                {
                    "path": r"params\.json",
                    "_children": [
                        ("has_json_property_with_text", {"property": "class", "text": "HybridImputer"}),
                        ("has_json_property_with_value", {"property": "max_epochs", "value": "2"}),
                        ("has_json_property_with_value", {"property": "n_estimators", "value": "20"}),
                        ("has_json_property_with_text", {"property": "donor_key_", "text": "donor"}),
                        ("has_json_property_with_value", {"property": "has_donor_", "value": "true"}),
                        ("has_json_property_with_value", {"property": "log1p_", "value": "true"}),
                        ("has_text", {"text": '"ENSGSIM00000150"'}),
                        ("has_text", {"text": '"Whole Blood"'}),
                    ],
                },
            ),
            ("has_archive_member", {"path": r"xgboost\.json"}),
            ("has_archive_member", {"path": r"arrays/cnn_profile_\.npy"}),
        ],
    )
    tool.tests.append(test)
    tool.tests.append(
        common.failure_test(
            gx,
            {
                "expression|format": "h5ad",
                H5AD: ("sim_unannotated.h5ad", "h5ad"),
                "method_cond|method": "distance",
            },
            "needs gene coordinates",
        )
    )
    return tool

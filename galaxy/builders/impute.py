"""The ``impute`` wrapper: fill the missing entries of the samples present."""

from __future__ import annotations

from . import common, methods
from .common import Gx, ToolSpec

HELP = """
**What it does**

Fills every missing (NaN) entry of a genotype-tissue expression matrix with ``gex-impute impute``:
either with a method fitted on the input itself, or with a model saved by the *fit* tool.
Observed values are never changed. To add the donor x tissue profiles that are absent altogether
(one row per donor x tissue), use the *complete* tool.

**Input**

- an AnnData (``h5ad``) with samples in ``obs`` (a tissue column, default ``tissue``; optionally
  a donor column) and genes in ``var``, or the transposed layout (genes in ``obs``), or
- a GTEx GCT (``*_gene_tpm.gct.gz``, genes x samples) with its sample attributes table
  (``SampleAttributesDS``: ``SAMPID``, ``SMTSD``) and optionally the subject phenotypes.

**Donors** (advanced options): those of the column the input registered (a GTEx GCT input's
donors are registered when read), else a saved model's column (none if it was fitted without),
else the column ``donor`` if the input has one, else none, as in the ``gex-impute`` command; a donor
column named there is used instead. Data without the donors a model was fitted with: tick
*Donors unknown*, else the job stops saying that the donor column is not found.

Methods that use genomic context (``hybrid``, ``distance``, ``nearest_gene``) need ``var``
columns ``chrom``, ``tss`` and ``strand`` (and ``promoter`` sequences for the hybrid model's
CNN): run the *annotate* tool first if they are absent.

**Methods**

METHODS

**Output**

An AnnData with

- ``layers['imputed']``: the complete matrix, in the input's units (observed values kept)
- ``layers['imputed_mask']``: True where a value was imputed
- ``layers['imputed_lower']`` and ``layers['imputed_upper']`` when a prediction interval
  level is set (offered for the methods that give intervals)
- ``uns['imputed']``: method, parameters, package version and fit diagnostics

Layers of an earlier result of the same name are replaced in the output (the input dataset is
never changed) unless *Replace an earlier result of this name* is unticked.

**Example**

With ``sim.h5ad`` from the project's test data (24 samples = 6 donors x 4 tissues, 150 genes,
missing whole genes, whole samples and scattered entries) and method ``distance`` with k = 10,
the output holds ``layers/imputed`` without any NaN and ``layers/imputed_mask`` marking the
filled entries; the command run is::

    gex-impute impute sim.h5ad --output imputed.h5ad --method distance --param k=10
"""

COMMAND = r"""
LINK_EXPRESSION
LINK_MODEL
gex-impute impute
EXPRESSION_ARGS
    --output output.h5ad
    MODEL_OPTIONS
    --key-added '$key_added'
#if $overwrite:
    --overwrite
#end if
    --log-transform '$advanced.log_transform'
    DONOR_OPTIONS
    @COMMON_OPTIONS@
&& mv output.h5ad '$output'
"""

H5AD = "expression|input"
INTERVAL_HELP = "E.g. 0.9: also write layers[name_lower] and layers[name_upper]. Empty: none."


def build(gx: Gx, specs: dict):
    """The galaxyxml Tool."""
    link_model, model_options = methods.model_source_cheetah(specs, interval=True)
    command = (
        COMMAND.replace("LINK_EXPRESSION", common.LINK_EXPRESSION)
        .replace("LINK_MODEL", link_model)
        .replace("EXPRESSION_ARGS", common.EXPRESSION_ARGS)
        .replace("MODEL_OPTIONS", model_options.replace("\n", "\n    "))
        .replace("DONOR_OPTIONS", common.donor_cheetah().replace("\n", "\n    "))
    )
    tool = common.new_tool(
        gx,
        ToolSpec(
            "gex_impute_impute",
            "Impute gene expression",
            "fill missing tissue-specific expression",
            command,
            operations=("operation_3557",),  # Imputation
            help=HELP.replace("METHODS", methods.methods_help(specs)),
        ),
    )
    inputs = tool.inputs
    inputs.append(common.expression_input(gx))
    inputs.append(methods.model_source(gx, specs, interval_help=INTERVAL_HELP))
    key = common.name_param(
        gx,
        "key_added",
        value="imputed",
        label="Name of the output layer",
        help="The result is written to layers[name] and the mask to layers[name_mask] (with an interval "
        "level, the bounds to layers[name_lower] and layers[name_upper]).",
    )
    inputs.append(key)
    inputs.append(
        gx.p.BooleanParam(
            "overwrite",
            checked=True,
            truevalue="true",
            falsevalue="false",
            label="Replace an earlier result of this name",
            help="When the input already holds layers[name] (e.g. it was imputed before), the output gets "
            "the new ones in their place; the input dataset itself is never changed (the output is a new "
            "dataset). No: stop with an error instead (--overwrite is not passed).",
        )
    )
    inputs.append(common.advanced_section(gx, common.log_transform_param(gx), donor_help="model_else_none"))
    tool.outputs.append(
        gx.p.OutputData("output", format="h5ad", label="${tool.name} on ${on_string}: AnnData")
    )
    _tests(gx, tool)
    return tool


def _tests(gx: Gx, tool) -> None:
    method = "model_source|method_cond"
    test = common.new_test(
        gx,
        {
            "expression|format": "h5ad",
            H5AD: ("sim.h5ad", "h5ad"),
            "model_source|source": "method",
            f"{method}|method": "hybrid",
            f"{method}|hp|max_epochs": 2,
            f"{method}|hp|n_estimators": 20,
            "advanced|donor_key": "donor",
        },
        expect_num_outputs=1,
    )
    common.check_output(
        gx,
        test,
        "output",
        "h5ad",
        [
            ("has_h5_keys", {"keys": "layers/imputed,layers/imputed_mask,uns/imputed"}),
            ("has_h5_attribute", {"key": "encoding-type", "value": "anndata"}),
        ],
    )
    # the donors of column 'donor' (named: an empty field uses none), the job's cores, a new dataset
    common.check_command(test, has=("--donor-key 'donor'", "n_jobs=", "--overwrite"), lacks=("--no-donors",))
    # sim.h5ad has 532 missing entries; the package logs this line only after checking that every
    # estimate is finite (else the job fails), so no NaN is left in layers['imputed']
    common.check_log(test, "imputed 532 entries with hybrid")
    tool.tests.append(test)

    # a GTEx GCT + sample attributes, kNN, a custom layer name and 90% prediction intervals
    test = common.new_test(
        gx,
        {
            "expression|format": "gct",
            "expression|input": ("expression.gct.gz", "tabular"),
            "expression|sample_attributes": ("sample_attributes.tsv", "tabular"),
            "model_source|source": "method",
            f"{method}|method": "knn",
            f"{method}|hp|n_neighbors": 5,
            f"{method}|interval": 0.9,
            "key_added": "filled",
            "overwrite": "false",
            "advanced|no_donors": "true",
        },
        expect_num_outputs=1,
    )
    layers = "layers/filled,layers/filled_mask,layers/filled_lower,layers/filled_upper"
    keys = f"{layers},uns/filled,obs/tissue,obs/donor"
    common.check_output(
        gx,
        test,
        "output",
        "h5ad",
        [
            ("has_h5_keys", {"keys": keys}),
            ("has_h5_attribute", {"key": "encoding-type", "value": "anndata"}),
        ],
    )
    # "Donors unknown": --no-donors instead of any donor column; 232 missing entries, all filled
    common.check_command(test, has=("--no-donors", "--interval '0.9'"), lacks=("--donor-key", "--overwrite"))
    common.check_log(test, "imputed 232 entries with knn")
    tool.tests.append(test)

    tool.tests.append(
        common.failure_test(
            gx,
            {
                "expression|format": "h5ad",
                H5AD: ("sim_unannotated.h5ad", "h5ad"),
                "model_source|source": "method",
                f"{method}|method": "distance",
            },
            "needs gene coordinates",
        )
    )

"""The ``complete`` wrapper: one row per donor x tissue, the absent profiles estimated."""

from __future__ import annotations

from . import common, methods
from .common import Gx, ToolSpec

HELP = """
**What it does**

Completes a cohort (``gex-impute complete``): the output has one row per donor x tissue over
the donors and tissues present in the input (or those named). Observed samples keep their
values; missing values inside them and the donor x tissue profiles that were never measured
are estimated, by a method fitted on the input or by a model saved by the *fit* tool.

**Input**

- an AnnData (``h5ad``) with samples in ``obs`` (tissue and donor columns, default ``tissue``
  and ``donor``) and genes in ``var``, or
- a GTEx GCT (``*_gene_tpm.gct.gz``, genes x samples) with its sample attributes table
  (``SampleAttributesDS``) and optionally the subject phenotypes (``SubjectPhenotypesDS``).

Methods that use genomic context need gene coordinates in ``var`` (the *annotate* tool).
Methods:

METHODS

**Outputs**

- the completed cohort (AnnData): one row per donor x tissue (but those ruled out by sex, see
  below); ``obs['imputed_profile']`` is True for the profiles that were absent and are now
  estimated; observed values unchanged; with a prediction interval level, the lower and upper
  bounds as layers
- optionally the completed matrix as a GCT: genes x profiles, one column per row of the
  AnnData, with two kinds of column names. An observed profile kept as its sample keeps the
  sample id (e.g. ``GTEX-1117F-0226-SM-5GZZ7``); an estimated (absent) profile, or several
  samples averaged into one, is named ``DONOR|Tissue`` (e.g. ``GTEX-1117F|Whole Blood``,
  spaces included). The tissue of a sample-id column is in the AnnData's ``obs``, not in the GCT
- optionally a PNG heatmap of the observed and completed profiles (donors x tissues)

When a donor has several samples of one tissue, they are kept as separate rows or averaged
(*Donors and tissues*: "Several samples of one donor and tissue").

Tissues that only one sex has (prostate, uterus, ...) get no profile for donors of the other sex,
going by the donors' sex column (*Donors and tissues*: "Sex column"; a GTEx GCT input has it
with the subject phenotypes); ``uns['completed']['sex_specific_tissues']`` lists them. Tick
"Estimate every donor x tissue profile" to estimate those profiles too.

The donors are those of the column the input registered (a GTEx GCT input's donors are registered
when read), else of the column a saved model was fitted with, else of ``donor``; a donor column
named in the advanced options is used instead.

**Example**

A GTEx-style GCT of a few donors and tissues with some donor x tissue samples absent, completed
with the ``mean`` method; every donor x tissue pair is a row of the output::

    gex-impute complete gene_tpm.gct.gz --sample-attributes SampleAttributesDS.txt \\
        --method mean --output completed.h5ad --gct-output completed.gct --plot profiles.png
"""

COMMAND = r"""
LINK_EXPRESSION
LINK_MODEL
gex-impute complete
EXPRESSION_ARGS
    --output completed.h5ad
    MODEL_OPTIONS
#if str($cohort.donors).strip():
    --donors '$cohort.donors'
#end if
#if str($cohort.tissues).strip():
    --tissues '$cohort.tissues'
#end if
    --aggregate '$cohort.aggregate'
#if $cohort.no_sex:
    --no-sex
#elif str($cohort.sex_key).strip():
    --sex-key '$cohort.sex_key'
#end if
#if $extra.gct:
    --gct-output completed.gct
#end if
#if $extra.plot:
    --plot profiles.png
#end if
    --log-transform '$advanced.log_transform'
    DONOR_OPTIONS
    @COMMON_OPTIONS@
&& mv completed.h5ad '$output'
#if $extra.gct:
&& mv completed.gct '$gct'
#end if
#if $extra.plot:
&& mv profiles.png '$plot'
#end if
"""

H5AD = "expression|input"
#: characters allowed in donor and tissue lists (GTEx tissues: "Brain - Cortex", "Cells - ...")
LIST_PATTERN = r"^[A-Za-z0-9 _.,()+-]*$"
#: a column name, as the macros' Tissue and Donor column fields take it
KEY_PATTERN, KEY_MESSAGE = r"^[A-Za-z0-9_.-]*$", "Letters, digits, '_', '.' and '-' only"


def _list_param(gx: Gx, name: str, label: str, help: str):  # noqa: A002
    param = gx.p.TextParam(name, value="", optional=True, label=label, help=help)
    param.append(gx.p.ValidatorParam("regex", message="Names separated by commas", text=LIST_PATTERN))
    return param


def _sex_params(gx: Gx) -> list:
    """``--sex-key`` (empty: the CLI's default, 'sex') and ``--no-sex`` (tl.complete's ``sex_key``)."""
    sex_key = gx.p.TextParam(
        "sex_key",
        value="",
        optional=True,
        label="Sex column",
        help="Column holding each donor's sex (a GTEx GCT input gets 'sex' from the subject "
        "phenotypes); empty: 'sex'. A tissue whose observed donors all have one sex gets no profile "
        "for donors of the other (no female prostate) when it bears the name of a GTEx sex-specific "
        "tissue, or when that many donors of one sex would come together by chance with a probability "
        "below 1e-3. Donors of unknown sex get every profile; without a 'sex' column, every profile "
        "is estimated.",
    )
    sex_key.append(gx.p.ValidatorParam("regex", message=KEY_MESSAGE, text=KEY_PATTERN))
    no_sex = gx.p.BooleanParam(
        "no_sex",
        checked=False,
        truevalue="true",
        falsevalue="false",
        label="Estimate every donor x tissue profile, even those a donor's sex rules out",
        help="Ignores the Sex column.",
    )
    return [sex_key, no_sex]


def build(gx: Gx, specs: dict):
    """The galaxyxml Tool."""
    p = gx.p
    link_model, model_options = methods.model_source_cheetah(specs, interval=True)
    command = (
        COMMAND.replace("LINK_EXPRESSION", common.LINK_EXPRESSION)
        .replace("LINK_MODEL", link_model)
        .replace("EXPRESSION_ARGS", common.EXPRESSION_ARGS)
        .replace("MODEL_OPTIONS", model_options.replace("\n", "\n    "))
        .replace("DONOR_OPTIONS", common.donor_cheetah(no_donors=False).replace("\n", "\n    "))
    )
    tool = common.new_tool(
        gx,
        ToolSpec(
            "gex_impute_complete",
            "Complete a cohort",
            "estimate the absent donor x tissue expression profiles",
            command,
            operations=("operation_3557", "operation_0531"),  # Imputation, Heat map generation
            help=HELP.replace("METHODS", methods.methods_help(specs)),
        ),
    )
    inputs = tool.inputs
    inputs.append(common.expression_input(gx))
    inputs.append(
        methods.model_source(
            gx, specs, interval_help="E.g. 0.9: also write the interval bounds as layers. Empty: none."
        )
    )
    cohort = p.Section("cohort", "Donors and tissues", expanded="true")
    cohort.append(
        _list_param(
            gx, "donors", "Donors", "Comma-separated donor ids to complete; empty: every donor present."
        )
    )
    cohort.append(
        _list_param(
            gx, "tissues", "Tissues", "Comma-separated tissue names to complete; empty: every tissue present."
        )
    )
    cohort.append(
        p.SelectParam(
            "aggregate",
            label="Several samples of one donor and tissue",
            options={"none": "keep each sample as a row", "mean": "average them into one row"},
            default="none",
        )
    )
    cohort.extend(_sex_params(gx))
    inputs.append(cohort)
    extra = p.Section("extra", "Additional outputs", expanded="true")
    extra.append(
        p.BooleanParam(
            "gct",
            checked=False,
            truevalue="true",
            falsevalue="false",
            label="Also write the completed matrix as GCT",
            help="Genes x profiles. Columns: an observed sample keeps its sample id; an estimated "
            "(or averaged) profile is named DONOR|Tissue. The h5ad's obs has each column's tissue.",
        )
    )
    extra.append(
        p.BooleanParam(
            "plot",
            checked=True,
            truevalue="true",
            falsevalue="false",
            label="Heatmap of the observed and completed profiles (PNG)",
        )
    )
    inputs.append(extra)
    inputs.append(
        common.advanced_section(
            gx,
            common.log_transform_param(gx),
            donor_help="complete",
            no_donors=False,  # completing needs the donors: the CLI refuses --no-donors
        )
    )
    outputs = tool.outputs
    outputs.append(
        p.OutputData("output", format="h5ad", label="${tool.name} on ${on_string}: completed cohort")
    )
    gct = p.OutputData("gct", format="tabular", label="${tool.name} on ${on_string}: completed GCT")
    gct.append(p.OutputFilter("extra['gct']"))
    outputs.append(gct)
    plot = p.OutputData("plot", format="png", label="${tool.name} on ${on_string}: profiles")
    plot.append(p.OutputFilter("extra['plot']"))
    outputs.append(plot)
    _tests(gx, tool)
    return tool


def _tests(gx: Gx, tool) -> None:
    method = "model_source|method_cond"
    gct_input = {
        "expression|format": "gct",
        "expression|input": ("expression.gct.gz", "tabular"),
        "expression|sample_attributes": ("sample_attributes.tsv", "tabular"),
    }
    # GCT in, every output: 6 donors x 4 tissues = 24 rows; the GCT holds them as columns. The
    # GCT.gz typed 'gz', as Galaxy's auto-detect types a GTEx download
    test = common.new_test(
        gx,
        {
            **gct_input,
            "expression|input": ("expression.gct.gz", "gz"),
            "model_source|source": "method",
            f"{method}|method": "mean",
            "extra|gct": "true",
            "extra|plot": "true",
        },
        expect_num_outputs=3,
    )
    common.check_output(
        gx,
        test,
        "output",
        "h5ad",
        [
            ("has_h5_keys", {"keys": "obs/imputed_profile,obs/tissue,obs/donor,X"}),
            ("has_h5_attribute", {"key": "encoding-type", "value": "anndata"}),
        ],
    )
    common.check_output(
        gx,
        test,
        "gct",
        "tabular",
        [
            ("has_line", {"line": "#1.2"}),
            ("has_line_matching", {"expression": r"^\d+\t24$"}),
            ("has_line_matching", {"expression": r"^Name\tDescription(\t[^\t]+){24}$"}),
        ],
    )
    common.check_output(
        gx, test, "plot", "png", [("has_image_width", {"min": 200}), ("has_image_height", {"min": 200})]
    )
    # an empty Donor column leaves the CLI its default: here the GCT's donors, registered when read
    common.check_command(test, lacks=("--donor-key", "--no-donors"))
    tool.tests.append(test)

    tool.tests.append(
        common.failure_test(
            gx,
            {
                **gct_input,
                "model_source|source": "method",
                f"{method}|method": "mean",
                "cohort|tissues": "Nowhere",
                "extra|plot": "false",
            },
            "are not in column 'tissue'",
        )
    )

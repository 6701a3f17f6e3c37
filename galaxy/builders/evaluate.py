"""The ``evaluate`` wrapper: score methods on held-out observed values (table + PNG)."""

from __future__ import annotations

import math

from gex_impute.cli._arguments import DEFAULT_METHODS

from . import common, methods
from .common import Gx, ToolSpec
from .metrics_table import column_names, column_names_action

HELP = """
**What it does**

Measures how well each method recovers known values (``gex-impute evaluate``): a fraction of the
*observed* values is hidden, every method estimates them from what is left, and the estimates are
compared with the hidden truth (on the log1p scale for TPM/count-like data). The hidden values are
never visible to the methods; hyperparameters set to ``auto`` are chosen on reference genes only.

**Protocols**

- ``genes`` (P1): whole genes hidden in every sample, the case of genes never measured
- ``entries`` (P2): scattered single entries hidden
- ``samples`` (P3): whole donor x tissue profiles hidden, optionally in K folds so that every
  profile is held out once; needs the donor column. A donor's profiles go to different folds, so
  K must be at least the largest number of profiles of one donor (about 50 in GTEx, which has
  donors with about 50 tissues) and at most the number of profiles; leave *Number of folds*
  empty for one split of the given fraction

**Donors** (advanced options): those of the column the input registered (a GTEx GCT input's
donors are registered when read), else the column ``donor`` if the input has one, else none, as in
the ``gex-impute`` command; a donor column named there is used instead. The ``samples`` protocol
needs them.

**Input**

An AnnData (``h5ad``) or a GTEx GCT with its sample attributes, as for the *impute* tool;
``hybrid``, ``distance`` and ``nearest_gene`` need gene coordinates in ``var`` (run the
*annotate* tool first if absent). Methods:

METHODS

With no method ticked, the command's default selection is compared:
DEFAULT_SELECTION.

Under the ``genes`` protocol (P1) only WHOLE_GENE_METHODS estimate a gene that has no
value in any sample (from its gene coordinates; hybrid also from the promoter sequence). The
others (OTHER_METHODS) cannot predict such an unseen gene: they serve every held-out value
from their fallback (``n_fallback`` equals ``n_heldout``, so their rows are alike). Completing
absent donor x tissue profiles, as the *complete* tool does, is measured by the ``samples``
protocol (P3).

The hybrid model runs on the job's cores; its epochs, trees and use of promoter sequences can be
set in *Hybrid model settings* (a workflow can connect them to the values it fits a model with).

**Outputs**

- a table (tabular, one row per method) with the columns ``method``, ``protocol``, ``pearson``,
  ``spearman``, ``mse`` (all on the log1p scale for TPM/count-like data), ``mean_gene_r``,
  ``mean_sample_r`` and ``mean_tissue_r`` (the mean Pearson r per gene, per sample and per
  tissue), ``n_heldout`` (held-out values), ``n_folds``, ``fit_seconds``, ``predict_seconds``,
  ``n_fallback`` (values served by a method's fallback) and ``log1p`` (whether the log1p scale
  was used); with a prediction interval level, also ``coverage`` and ``mean_width`` (after
  ``n_heldout``) and ``interval`` (last)
- a PNG with the metrics per method

**Example**

On ``sim.h5ad`` with protocol ``entries``, 20% held out, methods ``mean``, ``knn`` and
``distance``, the table has one header line and three method rows::

    gex-impute evaluate sim.h5ad --protocol entries --fraction 0.2 --methods mean,knn,distance \\
        --output metrics.tsv --plot metrics.png
"""

COMMAND = r"""
LINK_EXPRESSION
gex-impute evaluate
EXPRESSION_ARGS
    --output metrics.tsv
    --plot metrics.png
    --protocol '$protocol.protocol'
#if str($protocol.protocol) == 'samples':
    #if str($protocol.n_folds).strip():
    --n-folds '$protocol.n_folds'
    #end if
#end if
    --fraction '$fraction'
#if $methods:
    --methods '$methods'
#end if
#for $setting in str($hyperparameters).split():
    --param '$setting'
#end for
HYBRID_OPTIONS
INTERVAL_OPTION
    --log-transform '$advanced.log_transform'
    DONOR_OPTIONS
    @COMMON_OPTIONS@
&& mv metrics.tsv '$table'
&& mv metrics.png '$plot'
"""

H5AD = "expression|input"
#: hyperparameters of the hybrid model offered as fields (section ``hybrid``), so that a workflow can
#: give them the values it fits a model with (complete_cohort.ga: epochs and trees)
HYBRID_FIELDS = ("use_sequence", "max_epochs", "n_estimators")


def _hybrid_section(gx: Gx, spec):
    """Section ``hybrid``: optional fields for :data:`HYBRID_FIELDS` (empty: the package default)."""
    p = gx.p
    section = p.Section(
        "hybrid",
        "Hybrid model settings",
        expanded="false",
        help="Used when hybrid is compared; each value set is passed as --param hybrid.NAME=VALUE, after "
        "the Hyperparameters text (so it wins over the same name there). Empty: the package default.",
    )
    for hp in methods.hyperparameters(spec):
        if hp.name not in HYBRID_FIELDS:
            continue
        label = f"hybrid: {hp.name}"
        if hp.kind == "boolean":
            default = "yes" if hp.default else "no"
            param = p.SelectParam(
                hp.name,
                options={"true": "yes", "false": "no"},
                optional=True,
                label=label,
                help=f"{hp.help} Empty: the default ({default}).",
            )
        else:
            cls = p.IntegerParam if hp.kind == "integer" else p.FloatParam
            bounds = {}
            if hp.low is not None and math.isfinite(hp.low):
                bounds["min"] = methods.format_number(hp.low)
            if hp.high is not None and math.isfinite(hp.high):
                bounds["max"] = methods.format_number(hp.high)
            param = cls(
                hp.name,
                value="",
                optional=True,
                label=label,
                help=f"{hp.help} Empty: the default ({methods.format_number(hp.default)}).",
                **bounds,
            )
        section.append(param)
    return section


def _hybrid_cheetah(specs: dict) -> str:
    """Cheetah: the job's cores and the hybrid section's values, when hybrid is compared."""
    if "hybrid" not in specs:
        return ""
    # an empty selection is the CLI's default one
    condition = "'hybrid' in str($methods).split(',')"
    if "hybrid" in DEFAULT_METHODS:
        condition = f"not $methods or {condition}"
    lines = [f"#if {condition}:", '    --param "hybrid.n_jobs=\\${GALAXY_SLOTS:-1}"']
    for hp in methods.hyperparameters(specs["hybrid"]):
        if hp.name in HYBRID_FIELDS:
            # an unset optional select reads 'None', an unset number ''
            if hp.kind == "boolean":
                test = f"str($hybrid.{hp.name}) in ('true', 'false')"
            else:
                test = f"str($hybrid.{hp.name}).strip()"
            lines += [
                f"    #if {test}:",
                f"    --param 'hybrid.{hp.name}=$hybrid.{hp.name}'",
                "    #end if",
            ]
    lines.append("#end if")
    return "\n".join(lines)


#: the methods that estimate a gene with no value in any sample (protocol genes, P1) from its
#: genomic context (gene coordinates; the hybrid model also the promoter sequence); the others
#: serve such a gene from their fallback (n_fallback = n_heldout). The package has no flag for
#: it: tests/test_galaxy_evaluate.py checks this list against gex_impute.tl.evaluate
WHOLE_GENE_METHODS = ("hybrid", "distance", "nearest_gene")


def _whole_gene_methods(specs: dict) -> list[str]:
    return [name for name in specs if name in WHOLE_GENE_METHODS]


def _literals(names) -> str:
    return ", ".join(f"``{name}``" for name in names)


def _help(specs: dict) -> str:
    """The help text: the methods, the default selection and which methods apply to P1."""
    whole_gene = _whole_gene_methods(specs)
    return (  # the longer placeholders first: they end in METHODS
        HELP.replace("WHOLE_GENE_METHODS", _literals(whole_gene))
        .replace("OTHER_METHODS", _literals(n for n in specs if n not in whole_gene))
        .replace("DEFAULT_SELECTION", _literals(DEFAULT_METHODS))
        .replace("METHODS", methods.methods_help(specs))
    )


def build(gx: Gx, specs: dict):
    """The galaxyxml Tool."""
    interval = ""
    if any(methods.gives_intervals(spec) for spec in specs.values()):
        interval = "#if str($advanced.interval).strip():\n    --interval '$advanced.interval'\n#end if"
    hybrid = _hybrid_cheetah(specs)
    command = (
        COMMAND.replace("LINK_EXPRESSION", common.LINK_EXPRESSION)
        .replace("EXPRESSION_ARGS", common.EXPRESSION_ARGS)
        .replace("INTERVAL_OPTION\n", interval + "\n" if interval else "")
        .replace("HYBRID_OPTIONS\n", hybrid + "\n" if hybrid else "")
        .replace("DONOR_OPTIONS", common.donor_cheetah().replace("\n", "\n    "))
    )
    tool = common.new_tool(
        gx,
        ToolSpec(
            "gex_impute_evaluate",
            "Evaluate imputation methods",
            "on held-out known expression",
            command,
            operations=(
                "operation_2428",
                "operation_3557",
                "operation_0337",
            ),  # Validation, Imputation, Visualisation
            help=_help(specs),
        ),
    )
    p = gx.p
    inputs = tool.inputs
    inputs.append(common.expression_input(gx))
    protocol = p.Conditional("protocol")
    protocol.append(
        p.SelectParam(
            "protocol",
            label="Protocol (what is held out)",
            options={
                "genes": "genes (P1): whole genes in every sample",
                "entries": "entries (P2): scattered entries",
                "samples": "samples (P3): whole donor x tissue profiles",
            },
            default="genes",
        )
    )
    protocol.append(p.When("genes"))
    protocol.append(p.When("entries"))
    when = p.When("samples")
    when.append(
        p.IntegerParam(
            "n_folds",
            value="",
            optional=True,
            min=2,
            label="Number of folds",
            help="K folds: every observed profile is held out once, a donor's profiles in different "
            "folds, so K must be at least the largest number of profiles of one donor (about 50 in "
            "GTEx) and at most the number of profiles (the job stops naming both bounds otherwise). "
            "Empty: one split of the given fraction.",
        )
    )
    protocol.append(when)
    inputs.append(protocol)
    inputs.append(p.FloatParam("fraction", value=0.2, min=0.01, max=0.99, label="Fraction held out"))
    select = p.SelectParam(
        "methods",
        multiple=True,
        display="checkboxes",
        optional=True,
        label="Methods to compare",
        help=f"None ticked: the command's default selection ({', '.join(DEFAULT_METHODS)}). Protocol "
        f"genes (P1): only {', '.join(_whole_gene_methods(specs))} estimate a gene unseen in every "
        "sample; the others serve it from their fallback.",
        options={m: methods.method_label(specs[m]) for m in specs},
    )
    inputs.append(select)
    settings = p.TextParam(
        "hyperparameters",
        value="",
        optional=True,
        label="Hyperparameters",
        help="METHOD.NAME=VALUE separated by spaces, e.g. 'hybrid.max_epochs=5 knn.n_neighbors=10'; "
        "each is passed as --param. The parameters of each method are listed in the impute tool.",
    )
    settings.append(
        p.ValidatorParam(
            "regex",
            message="METHOD.NAME=VALUE separated by spaces; values of letters, digits and . , _ + -",
            text=r"^(\s*[a-z0-9_]+\.[a-z0-9_]+=[A-Za-z0-9_.,+-]+)*\s*$",
        )
    )
    inputs.append(settings)
    if "hybrid" in specs:
        inputs.append(_hybrid_section(gx, specs["hybrid"]))
    extra = [common.log_transform_param(gx)]
    if any(methods.gives_intervals(spec) for spec in specs.values()):
        extra.append(
            common.interval_param(
                gx, help="E.g. 0.9: also score the methods' prediction intervals. Empty: none."
            )
        )
    inputs.append(common.advanced_section(gx, *extra))
    table = p.OutputData("table", format="tabular", label="${tool.name} on ${on_string}: metrics")
    column_names_action(table, intervals=any(methods.gives_intervals(spec) for spec in specs.values()))
    tool.outputs.append(table)
    tool.outputs.append(p.OutputData("plot", format="png", label="${tool.name} on ${on_string}: figure"))
    _tests(gx, tool)
    return tool


def _tests(gx: Gx, tool) -> None:
    r_any = r"-?(0(\.\d+)?|1(\.0+)?)"  # a Pearson r in [-1, 1]
    # (protocol, methods, [(method, Pearson r pattern)], extra params): the tissue mean is strong
    # on scattered entries and whole samples; every row holds a real correlation, never nan
    cases = [
        (
            "entries",
            "mean,knn,distance",
            [("mean", r"0\.[89]\d*"), ("knn", r"0\.[5-9]\d*"), ("distance", r_any)],
            {"hyperparameters": "knn.n_neighbors=5 distance.k=10"},
        ),
        (
            "samples",
            "mean,additive",
            [("mean", r"0\.[89]\d*"), ("additive", r"0\.[5-9]\d*")],
            {"protocol|n_folds": 4, "advanced|interval": 0.9},
        ),
    ]
    for protocol_name, methods_value, rows, extra in cases:
        params = {
            "expression|format": "h5ad",
            H5AD: ("sim.h5ad", "h5ad"),
            "protocol|protocol": protocol_name,
            "fraction": 0.2,
            "methods": methods_value,
            "advanced|donor_key": "donor",
            **extra,
        }
        test = common.new_test(gx, params, expect_num_outputs=2)
        # the header: the columns the help lists, in order (the interval ones only with a level)
        names = column_names(interval="advanced|interval" in extra)
        header = "^" + r"\t".join(names) + "$"
        table_asserts = [
            ("has_n_lines", {"n": len(rows) + 1}),
            ("has_line_matching", {"expression": header}),
            ("has_n_columns", {"min": 8}),
        ]
        for method, r in rows:
            expression = rf"^{method}\t{protocol_name}\t{r}\t{r_any}\t\d+(\.\d+)?(e[-+]\d+)?\t.*"
            table_asserts.append(("has_line_matching", {"expression": expression}))
        table = common.check_output(gx, test, "table", "tabular", table_asserts)
        # Galaxy's column_names metadata: the same names (set by the output's <actions>)
        common.add_assertion(table, "metadata", name="column_names", value=",".join(names))
        common.check_output(
            gx, test, "plot", "png", [("has_image_width", {"min": 300}), ("has_image_height", {"min": 200})]
        )
        # the donors of column 'donor' (named; P3 needs them); hybrid not compared:
        # none of its settings is passed (the CLI refuses a --param of a method not compared)
        common.check_command(test, has=("--donor-key 'donor'",), lacks=("hybrid.", "--no-donors"))
        tool.tests.append(test)

    tool.tests.append(
        common.failure_test(
            gx,
            {
                "expression|format": "h5ad",
                H5AD: ("sim_unannotated.h5ad", "h5ad"),
                "protocol|protocol": "genes",
                "methods": "distance",
            },
            "needs gene coordinates",
        )
    )

"""Generate the Galaxy tool wrappers in galaxy/ with galaxyxml.

Usage::

    python galaxy/build_tools.py            # (re)write galaxy/gex_impute_*.xml
    python galaxy/build_tools.py --outdir D # write them to D instead
    python galaxy/build_tools.py --check    # exit 1 when the committed XML differs

Every wrapper calls the ``gex-impute`` CLI. ``galaxy/macros.xml`` (hand-written) holds the version
tokens, the requirements, the citation and the options shared by every tool.

Where galaxyxml 0.5 cannot express an element, this script adds it with lxml on the node that
galaxyxml built (marked "lxml:" below): the ``<assert_contents>`` assertions of test outputs and the
``<expand>`` of the shared options inside a section-less ``<inputs>`` (galaxyxml's own ``Expand``
is used where it fits). The command is a hand-written Cheetah template (``command_override``),
because galaxyxml's generated command line cannot express the symlinks, conditionals and
``--param`` mapping the CLI needs.
"""

from __future__ import annotations

import argparse
import difflib
import logging
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
PROFILE = "24.0"
VERSION = "@TOOL_VERSION@+galaxy@VERSION_SUFFIX@"

AUTO = "Leave empty to choose it by validation on reference genes (never on the evaluation targets)."


def _hp(name, kind, label, *, value=None, min=None, optional=False, help=None):  # noqa: A002
    """A hyperparameter: ``name`` is a constructor parameter of the method class."""
    return {
        "name": name,
        "kind": kind,
        "label": label,
        "value": value,
        "min": min,
        "optional": optional,
        "help": help,
    }


# method -> (label, hyperparameters exposed in the wrappers and passed as --param NAME=VALUE)
METHODS: dict[str, tuple[str, list[dict]]] = {
    "hybrid": (
        "hybrid: promoter CNN + tissue transformer + XGBoost (the paper's model)",
        [
            _hp("use_sequence", "boolean", "Use the promoter CNN", value=True),
            _hp("use_tissue_encoder", "boolean", "Use the tissue transformer", value=True),
            _hp("use_neighbours", "boolean", "Use neighbouring genes' values", value=True),
            _hp("use_xgboost", "boolean", "Combine the features with XGBoost", value=True),
            _hp("max_epochs", "integer", "Maximum training epochs of the networks", value=20, min=1),
            _hp("n_estimators", "integer", "XGBoost trees", value=600, min=1),
        ],
    ),
    "distance": (
        "distance: inverse-distance weighted nearest genes (the paper's comparator)",
        [
            _hp("k", "integer", "Number of nearest reference genes", min=1, optional=True, help=AUTO),
            _hp("window", "integer", "Window around the TSS (bp)", min=1, optional=True, help=AUTO),
        ],
    ),
    "nearest_gene": (
        "nearest_gene: value of the single nearest reference gene",
        [_hp("window", "integer", "Window around the TSS (bp)", min=1, optional=True, help=AUTO)],
    ),
    "knn": (
        "knn: scikit-learn KNNImputer over genes",
        [_hp("n_neighbors", "integer", "Number of neighbours", value=20, min=1)],
    ),
    "softimpute": (
        "softimpute: iterative low-rank SVD",
        [_hp("rank", "integer", "Rank", min=1, optional=True, help=AUTO)],
    ),
    "additive": ("additive: gene + tissue (+ donor) effects", []),
    "mean": ("mean: gene mean in the same tissue", []),
}
DEFAULT_METHOD = "hybrid"
#: methods ticked by default in the evaluation tool
EVALUATE_DEFAULT = ("distance", "knn", "mean", "additive", "hybrid")
#: methods whose fitted model can be saved
SAVABLE = ("hybrid",)


def _gx():
    logging.getLogger("galaxyxml").setLevel(logging.WARNING)
    import galaxyxml.tool as gxt
    import galaxyxml.tool.parameters as gxp

    logging.getLogger().handlers.clear()  # galaxyxml calls logging.basicConfig at import
    return gxt, gxp


def _tool(gxt, gxp, tool_id: str, name: str, description: str, command: str):
    tool = gxt.Tool(
        name,
        tool_id,
        VERSION,
        description,
        "gex-impute",
        version_command="gex-impute --version",
        command_override=[command.strip("\n")],
        macros=["macros.xml"],
        profile=PROFILE,
    )
    tool.command = gxp.Command(detect_errors="exit_code")
    tool.requirements = gxp.Expand(macro="requirements")
    tool.citations = gxp.Expand(macro="citations")
    tool.inputs = gxp.Inputs()
    tool.outputs = gxp.Outputs()
    tool.tests = gxp.Tests()
    return tool


def _assert(parent, tag: str, children: list | None = None, **attrib):
    """lxml: add an assertion element (galaxyxml has no classes for assert_contents)."""
    from lxml import etree

    node = parent if isinstance(parent, etree._Element) else parent.node
    el = etree.SubElement(node, tag, {k: str(v) for k, v in attrib.items()})
    for child_tag, child_attrib in children or ():
        etree.SubElement(el, child_tag, {k: str(v) for k, v in child_attrib.items()})
    return el


def _test_output(gxp, test, name: str, ftype: str, assertions: list[tuple[str, dict]]):
    out = gxp.TestOutput(name=name, ftype=ftype)
    test.append(out)
    contents = _assert(out, "assert_contents")
    for tag, attrib in assertions:
        children = attrib.pop("_children", None)
        _assert(contents, tag, children, **attrib)
    return out


def _common_expand(gxp, inputs):
    inputs.append(gxp.Expand(macro="common_options"))


def _method_conditional(gxp, name: str, methods: list[str], default: str):
    cond = gxp.Conditional(name)
    cond.append(
        gxp.SelectParam(
            "method",
            label="Method",
            options={m: METHODS[m][0] for m in methods},
            default=default,
        )
    )
    for method in methods:
        when = gxp.When(method)
        for hp in METHODS[method][1]:
            if hp["kind"] == "boolean":
                param = gxp.BooleanParam(
                    hp["name"], checked=hp["value"], truevalue="true", falsevalue="false", label=hp["label"]
                )
            else:
                cls = gxp.IntegerParam if hp["kind"] == "integer" else gxp.FloatParam
                param = cls(
                    hp["name"],
                    value="" if hp["value"] is None else hp["value"],
                    min=hp["min"],
                    optional=True if hp["optional"] else None,
                    label=hp["label"],
                    help=hp["help"],
                )
            when.append(param)
        cond.append(when)
    return cond


def _method_cheetah(prefix: str, methods: list[str]) -> str:
    lines = [f"--method '${prefix}.method'"]
    first = True
    for method in methods:
        params = METHODS[method][1]
        if not params:
            continue
        lines.append(f"{'#if' if first else '#elif'} str(${prefix}.method) == '{method}':")
        first = False
        for hp in params:
            value = f"${prefix}.{hp['name']}"
            if hp["optional"]:
                lines.append(f"    #if str({value}).strip():")
                lines.append(f"        --param '{hp['name']}={value}'")
                lines.append("    #end if")
            else:
                lines.append(f"    --param '{hp['name']}={value}'")
    if not first:
        lines.append("#end if")
    return "\n".join(lines)


def _input_h5ad(gxp, name: str = "input", label: str = "Expression data (AnnData)"):
    return gxp.DataParam(
        name,
        format="h5ad",
        label=label,
        help="Samples x genes (tissue column in obs) or genes x samples; missing entries are NaN.",
    )


# --------------------------------------------------------------------------------------------
# tools
# --------------------------------------------------------------------------------------------
IMPUTE_HELP = """
**What it does**

Fills every missing (NaN) entry of a genotype-tissue expression matrix with ``gex-impute impute``:
either with a method fitted on the input itself, or with a model saved by the *fit* tool.
Observed values are never changed.

**Input**

An AnnData (``h5ad``) with samples in ``obs`` (a tissue column, default ``tissue``; optionally a
donor column) and genes in ``var``, or the transposed layout (genes in ``obs``). Methods that use
genomic context (``hybrid``, ``distance``, ``nearest_gene``) need ``var`` columns ``chrom``,
``tss`` and ``strand`` (and ``promoter`` sequences for the hybrid model's CNN): run the *annotate*
tool first if they are absent.

**Methods**

- ``hybrid``: promoter CNN + tissue transformer + XGBoost over the genomic context (the paper's model)
- ``distance``: the k nearest reference genes' values in the same sample, weighted by inverse
  genomic distance (the paper's comparator); ``nearest_gene``: the single nearest gene
- ``knn`` (KNNImputer), ``softimpute`` (low-rank SVD), ``additive`` (gene + tissue + donor
  effects), ``mean`` (gene mean in the tissue)

**Output**

The input AnnData with

- ``layers['imputed']``: the complete matrix, in the input's units
- ``layers['imputed_mask']``: True where a value was imputed
- ``uns['imputed']``: method, parameters, package version and fit diagnostics

**Example**

With ``sim.h5ad`` from the project's test data (24 samples = 6 donors x 4 tissues, 150 genes,
15% of the entries missing: whole genes, whole samples and scattered entries) and method
``distance`` with k = 10, the output holds ``layers/imputed`` without any NaN and
``layers/imputed_mask`` marking the 535 filled entries; the command run is::

    gex-impute impute sim.h5ad --output imputed.h5ad --method distance --param k=10
"""


def build_impute(gxt, gxp):
    command = r"""
ln -s '$input' input.h5ad &&
gex-impute impute input.h5ad
    --output output.h5ad
#if str($model_source.source) == 'method':
    METHOD_CHEETAH
#else:
    --model '$model_source.model'
#end if
    --key-added '$key_added'
    @COMMON_OPTIONS@
&& mv output.h5ad '$output'
""".replace(
        "METHOD_CHEETAH", _method_cheetah("model_source.method_cond", list(METHODS)).replace("\n", "\n    ")
    )
    tool = _tool(
        gxt,
        gxp,
        "gex_impute_impute",
        "Impute gene expression",
        "fill missing tissue-specific expression",
        command,
    )
    inputs = tool.inputs
    inputs.append(_input_h5ad(gxp))
    source = gxp.Conditional("model_source")
    source.append(
        gxp.SelectParam(
            "source",
            label="Model",
            options={"method": "Fit a method on this dataset", "saved": "Use a model saved by the fit tool"},
            default="method",
        )
    )
    when = gxp.When("method")
    when.append(_method_conditional(gxp, "method_cond", list(METHODS), DEFAULT_METHOD))
    source.append(when)
    when = gxp.When("saved")
    when.append(gxp.DataParam("model", format="zip", label="Saved model (zip from the fit tool)"))
    source.append(when)
    inputs.append(source)
    inputs.append(
        gxp.TextParam(
            "key_added",
            value="imputed",
            label="Name of the output layer",
            help="The result is written to layers[name] and the mask to layers[name_mask].",
        )
    )
    _common_expand(gxp, inputs)
    tool.outputs.append(
        gxp.OutputData("output", format="h5ad", label="${tool.name} on ${on_string}: AnnData")
    )

    # tests
    for method, params in (("distance", {"k": 10}),):
        test = gxp.Test(expect_num_outputs="1")
        test.append(gxp.TestParam("input", value="sim.h5ad", ftype="h5ad"))
        test.append(gxp.TestParam("model_source|source", value="method"))
        test.append(gxp.TestParam("model_source|method_cond|method", value=method))
        for k, v in params.items():
            test.append(gxp.TestParam(f"model_source|method_cond|{k}", value=str(v)))
        _test_output(
            gxp,
            test,
            "output",
            "h5ad",
            [
                (
                    "has_h5_keys",
                    {"keys": "layers/imputed,layers/imputed_mask,uns/imputed,obs/tissue,var/tss"},
                ),
                ("has_h5_attribute", {"key": "encoding-type", "value": "anndata"}),
            ],
        )
        tool.tests.append(test)
    test = gxp.Test(expect_num_outputs="1")
    test.append(gxp.TestParam("input", value="sim.h5ad", ftype="h5ad"))
    test.append(gxp.TestParam("model_source|source", value="method"))
    test.append(gxp.TestParam("model_source|method_cond|method", value="hybrid"))
    test.append(gxp.TestParam("model_source|method_cond|max_epochs", value="2"))
    test.append(gxp.TestParam("model_source|method_cond|n_estimators", value="20"))
    _test_output(
        gxp,
        test,
        "output",
        "h5ad",
        [("has_h5_keys", {"keys": "layers/imputed,layers/imputed_mask,uns/imputed"})],
    )
    tool.tests.append(test)
    test = gxp.Test(expect_num_outputs="1")
    test.append(gxp.TestParam("input", value="sim.h5ad", ftype="h5ad"))
    test.append(gxp.TestParam("model_source|source", value="method"))
    test.append(gxp.TestParam("model_source|method_cond|method", value="knn"))
    test.append(gxp.TestParam("model_source|method_cond|n_neighbors", value="5"))
    test.append(gxp.TestParam("key_added", value="filled"))
    _test_output(gxp, test, "output", "h5ad", [("has_h5_keys", {"keys": "layers/filled,layers/filled_mask"})])
    tool.tests.append(test)
    tool.help = IMPUTE_HELP
    return tool


EVALUATE_HELP = """
**What it does**

Measures how well each method recovers known values (``gex-impute evaluate``): a fraction of the
*observed* entries is hidden, every method imputes them from what is left, and the predictions are
compared with the hidden truth (on the log1p scale for TPM/count-like data). The hidden values are
never visible to the methods.

**Protocols**

- ``genes`` (P1): whole genes hidden in every sample, the case of genes never measured
- ``entries`` (P2): scattered single entries hidden
- ``samples`` (P3): whole donor x tissue profiles hidden; needs the donor column

**Input**

An AnnData (``h5ad``) as for the impute tool; ``hybrid``, ``distance`` and ``nearest_gene`` need
gene coordinates in ``var`` (run the *annotate* tool first if absent).

**Outputs**

- a table (tabular, one row per method) with the columns ``method``, ``pearson``, ``spearman``,
  ``mse``, the mean per-gene and per-tissue Pearson r, the number of held-out entries, fit and
  predict seconds and the number of entries served by a method's fallback
- a PNG with bar charts of Pearson r, Spearman rho and MSE per method

**Example**

On ``sim.h5ad`` with protocol ``entries``, 20% held out, methods ``mean``, ``knn`` and
``distance``, the table has one header line and three method rows; ``knn`` usually reaches the
highest Pearson r on scattered entries::

    gex-impute evaluate sim.h5ad --protocol entries --fraction 0.2 --methods mean,knn,distance \\
        --output metrics.tsv --plot metrics.png
"""


def build_evaluate(gxt, gxp):
    command = r"""
ln -s '$input' input.h5ad &&
gex-impute evaluate input.h5ad
    --output metrics.tsv
    --plot metrics.png
    --protocol '$protocol.protocol'
#if str($protocol.protocol) == 'samples':
    --donor-key '$protocol.donor_key'
#end if
    --fraction '$fraction'
    --methods '$methods'
    --quiet
    @COMMON_OPTIONS@
&& mv metrics.tsv '$table'
&& mv metrics.png '$plot'
"""
    tool = _tool(
        gxt,
        gxp,
        "gex_impute_evaluate",
        "Evaluate imputation methods",
        "on held-out known expression",
        command,
    )
    inputs = tool.inputs
    inputs.append(_input_h5ad(gxp))
    protocol = gxp.Conditional("protocol")
    protocol.append(
        gxp.SelectParam(
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
    protocol.append(gxp.When("genes"))
    protocol.append(gxp.When("entries"))
    when = gxp.When("samples")
    donor = gxp.TextParam(
        "donor_key",
        value="donor",
        label="Donor column",
        help="Column holding each sample's donor; profiles are held out per donor.",
    )
    donor.append(
        gxp.ValidatorParam(
            "regex", message="Letters, digits, '_', '.' and '-' only", text="^[A-Za-z0-9_.-]+$"
        )
    )
    when.append(donor)
    protocol.append(when)
    inputs.append(protocol)
    inputs.append(
        gxp.FloatParam(
            "fraction",
            value=0.2,
            min=0.01,
            max=0.9,
            label="Fraction held out",
        )
    )
    methods = gxp.SelectParam(
        "methods",
        multiple=True,
        display="checkboxes",
        label="Methods to compare",
        options={m: METHODS[m][0] for m in METHODS},
    )
    for option in methods.children:
        if option.node.get("value") in EVALUATE_DEFAULT:
            option.node.set("selected", "true")
    validator = gxp.ValidatorParam("no_options", message="Select at least one method")
    validator.node.text = None  # galaxyxml always adds a (here meaningless) text
    methods.append(validator)
    inputs.append(methods)
    _common_expand(gxp, inputs)
    tool.outputs.append(
        gxp.OutputData("table", format="tabular", label="${tool.name} on ${on_string}: metrics")
    )
    tool.outputs.append(gxp.OutputData("plot", format="png", label="${tool.name} on ${on_string}: figure"))

    header = r"^method\tprotocol\tpearson\tspearman\tmse\t.*"
    r_any = r"-?(0(\.\d+)?|1(\.0+)?)"  # a Pearson r in [-1, 1]
    # (protocol, methods, [(method, Pearson r pattern)]): the tissue mean is strong on scattered
    # entries and whole samples; every row holds a real correlation, never nan
    cases = [
        (
            "entries",
            "mean,knn,distance",
            [("mean", r"0\.[89]\d*"), ("knn", r"0\.[5-9]\d*"), ("distance", r_any)],
        ),
        ("genes", "mean,knn,distance", [("mean", r_any), ("knn", r_any), ("distance", r_any)]),
        ("samples", "mean,additive", [("mean", r"0\.[89]\d*"), ("additive", r"0\.[5-9]\d*")]),
    ]
    for protocol_name, methods_value, rows in cases:
        test = gxp.Test(expect_num_outputs="2")
        test.append(gxp.TestParam("input", value="sim.h5ad", ftype="h5ad"))
        test.append(gxp.TestParam("protocol|protocol", value=protocol_name))
        if protocol_name == "samples":
            test.append(gxp.TestParam("protocol|donor_key", value="donor"))
        test.append(gxp.TestParam("fraction", value="0.2"))
        test.append(gxp.TestParam("methods", value=methods_value))
        table_asserts = [
            ("has_n_lines", {"n": len(rows) + 1}),
            ("has_line_matching", {"expression": header}),
            ("has_n_columns", {"min": 8}),
        ]
        for method, r in rows:
            expression = rf"^{method}\t{protocol_name}\t{r}\t{r_any}\t\d+(\.\d+)?(e[-+]\d+)?\t.*"
            table_asserts.append(("has_line_matching", {"expression": expression}))
        _test_output(gxp, test, "table", "tabular", table_asserts)
        _test_output(
            gxp,
            test,
            "plot",
            "png",
            [("has_image_width", {"min": 300}), ("has_image_height", {"min": 200})],
        )
        tool.tests.append(test)
    tool.help = EVALUATE_HELP
    return tool


FIT_HELP = """
**What it does**

Fits a model on an expression dataset (``gex-impute fit``) and saves it as a zip archive, so it
can impute other datasets with the same genes and tissues (the *impute* tool, "Use a model saved
by the fit tool"). The archive holds ``params.json`` (hyperparameters, package version, gene ids,
tissues), ``nets.pt`` (torch state dicts of the networks) and ``xgboost.json`` (the booster); no
pickles.

**Input**

An AnnData (``h5ad``) with gene coordinates (``chrom``, ``tss``, ``strand``) and, for the promoter
CNN, ``promoter`` sequences in ``var`` (see the *annotate* tool).

**Output**

A zip archive of the saved model.

**Example**

On ``sim.h5ad`` the hybrid model fits in well under a minute on 2 CPU cores::

    gex-impute fit sim.h5ad --method hybrid --output model.zip
"""


def build_fit(gxt, gxp):
    command = r"""
ln -s '$input' input.h5ad &&
gex-impute fit input.h5ad
    --output model.zip
    METHOD_CHEETAH
    @COMMON_OPTIONS@
&& mv model.zip '$model'
""".replace("METHOD_CHEETAH", _method_cheetah("method_cond", list(SAVABLE)).replace("\n", "\n    "))
    tool = _tool(gxt, gxp, "gex_impute_fit", "Fit an imputation model", "and save it for reuse", command)
    inputs = tool.inputs
    inputs.append(_input_h5ad(gxp))
    inputs.append(_method_conditional(gxp, "method_cond", list(SAVABLE), SAVABLE[0]))
    _common_expand(gxp, inputs)
    tool.outputs.append(gxp.OutputData("model", format="zip", label="${tool.name} on ${on_string}: model"))
    test = gxp.Test(expect_num_outputs="1")
    test.append(gxp.TestParam("input", value="sim.h5ad", ftype="h5ad"))
    test.append(gxp.TestParam("method_cond|method", value="hybrid"))
    test.append(gxp.TestParam("method_cond|max_epochs", value="2"))
    test.append(gxp.TestParam("method_cond|n_estimators", value="20"))
    _test_output(
        gxp,
        test,
        "model",
        "zip",
        [
            (
                "has_archive_member",
                {"path": r"params\.json", "_children": [("has_text", {"text": "HybridImputer"})]},
            ),
            ("has_archive_member", {"path": r"xgboost\.json"}),
            ("has_archive_member", {"path": r"nets\.pt"}),
        ],
    )
    tool.tests.append(test)
    tool.help = FIT_HELP
    return tool


ANNOTATE_HELP = """
**What it does**

Adds genomic context to the genes of an expression dataset (``gex-impute annotate``), which the
``hybrid``, ``distance`` and ``nearest_gene`` methods need:

- gene coordinates from an annotation: ``var`` columns ``chrom``, ``start``, ``end`` (0-based,
  end exclusive), ``strand``, ``tss`` (strand-aware) and ``gene_type``. Genes are matched by id
  (Ensembl version suffixes ignored); chromosome names ``chr1``/``1`` and ``chrM``/``MT`` are
  reconciled; genes that cannot be placed are reported in the job's log.
- promoter sequences (``var['promoter']``, upstream to downstream in the gene's orientation),
  either cut from a genome FASTA around each TSS (reverse complement on the minus strand, N
  padding at contig ends) or taken from sequences keyed by gene id (FASTA, or a table of id and
  sequence, optionally with a table mapping promoter ids to gene ids).

**Inputs**

- an AnnData (``h5ad``) with genes in ``var`` (or in ``obs`` for the transposed layout)
- a gene annotation: GTF, GFF3, BED6 (name = gene id) or a table with gene id, chrom, start,
  end, strand
- optionally a genome FASTA or keyed promoter sequences

**Output**

The AnnData with the new ``var`` columns.

**Example**

``sim_unannotated.h5ad`` + ``genes.gtf`` + ``genome.fa`` with 1,000 bp upstream and 500 bp
downstream gives every gene a ``tss`` and a 1,500 bp ``promoter``::

    gex-impute annotate sim_unannotated.h5ad --annotation genes.gtf --fasta genome.fa \\
        --upstream 1000 --downstream 500 --output annotated.h5ad
"""


def build_annotate(gxt, gxp):
    command = r"""
#set $ann_ext = {'gtf': 'gtf', 'gff3': 'gff3', 'bed': 'bed', 'bed6': 'bed'}.get($annotation.ext, 'tsv')
ln -s '$input' input.h5ad &&
ln -s '$annotation' 'annotation.$ann_ext' &&
#if str($sequence.source) == 'fasta':
    ln -s '$sequence.fasta' genome.fa &&
#elif str($sequence.source) == 'keyed':
    #set $seq_ext = 'fa' if $sequence.promoters.is_of_type('fasta') else 'tsv'
    ln -s '$sequence.promoters' 'promoters.$seq_ext' &&
    #if $sequence.mapping:
        ln -s '$sequence.mapping' mapping.tsv &&
    #end if
#end if
gex-impute annotate input.h5ad
    --output output.h5ad
    --annotation 'annotation.$ann_ext'
#if str($sequence.source) == 'fasta':
    --fasta genome.fa
#elif str($sequence.source) == 'keyed':
    --promoters 'promoters.$seq_ext'
    #if $sequence.mapping:
        --promoter-mapping mapping.tsv
    #end if
#end if
#if str($sequence.source) != 'none':
    --upstream '$sequence.upstream'
    --downstream '$sequence.downstream'
#end if
&& mv output.h5ad '$output'
"""
    tool = _tool(
        gxt, gxp, "gex_impute_annotate", "Annotate genes", "with coordinates and promoter sequences", command
    )
    inputs = tool.inputs
    inputs.append(_input_h5ad(gxp))
    inputs.append(
        gxp.DataParam(
            "annotation",
            format="gtf,gff3,bed6,bed,tabular",
            label="Gene annotation",
            help="GTF/GFF3 gene records, BED6 with the gene id as name, or a table with gene id, chrom, "
            "start, end and strand columns.",
        )
    )
    seq = gxp.Conditional("sequence")
    seq.append(
        gxp.SelectParam(
            "source",
            label="Promoter sequences",
            options={
                "fasta": "Cut from a genome FASTA around each TSS",
                "keyed": "Sequences keyed by gene or promoter id",
                "none": "None (coordinates only)",
            },
            default="fasta",
        )
    )

    def _flanks(when):
        when.append(gxp.IntegerParam("upstream", value=1000, min=0, label="Bases upstream"))
        when.append(gxp.IntegerParam("downstream", value=500, min=0, label="Bases downstream"))

    when = gxp.When("fasta")
    when.append(gxp.DataParam("fasta", format="fasta", label="Genome FASTA"))
    _flanks(when)
    seq.append(when)
    when = gxp.When("keyed")
    when.append(
        gxp.DataParam(
            "promoters",
            format="fasta,tabular",
            label="Promoter sequences",
            help="FASTA with gene ids as names, or a table of id and sequence (such as EPD core promoters).",
        )
    )
    when.append(
        gxp.DataParam(
            "mapping",
            format="tabular",
            optional=True,
            label="Promoter id to gene id mapping",
            help="Needed when the sequences are keyed by promoter ids rather than gene ids.",
        )
    )
    _flanks(when)
    seq.append(when)
    seq.append(gxp.When("none"))
    inputs.append(seq)
    tool.outputs.append(
        gxp.OutputData("output", format="h5ad", label="${tool.name} on ${on_string}: AnnData")
    )

    test = gxp.Test(expect_num_outputs="1")
    test.append(gxp.TestParam("input", value="sim_unannotated.h5ad", ftype="h5ad"))
    test.append(gxp.TestParam("annotation", value="genes.gtf", ftype="gtf"))
    test.append(gxp.TestParam("sequence|source", value="fasta"))
    test.append(gxp.TestParam("sequence|fasta", value="genome.fa", ftype="fasta"))
    _test_output(
        gxp,
        test,
        "output",
        "h5ad",
        [
            (
                "has_h5_keys",
                {"keys": "var/chrom,var/start,var/end,var/strand,var/tss,var/gene_type,var/promoter"},
            )
        ],
    )
    tool.tests.append(test)
    test = gxp.Test(expect_num_outputs="1")
    test.append(gxp.TestParam("input", value="sim_unannotated.h5ad", ftype="h5ad"))
    test.append(gxp.TestParam("annotation", value="genes.bed", ftype="bed6"))
    test.append(gxp.TestParam("sequence|source", value="keyed"))
    test.append(gxp.TestParam("sequence|promoters", value="promoters.tsv", ftype="tabular"))
    _test_output(
        gxp, test, "output", "h5ad", [("has_h5_keys", {"keys": "var/chrom,var/tss,var/strand,var/promoter"})]
    )
    tool.tests.append(test)
    test = gxp.Test(expect_num_outputs="1")
    test.append(gxp.TestParam("input", value="sim_unannotated.h5ad", ftype="h5ad"))
    test.append(gxp.TestParam("annotation", value="genes.tsv", ftype="tabular"))
    test.append(gxp.TestParam("sequence|source", value="none"))
    _test_output(
        gxp, test, "output", "h5ad", [("has_h5_keys", {"keys": "var/chrom,var/start,var/end,var/tss"})]
    )
    tool.tests.append(test)
    tool.help = ANNOTATE_HELP
    return tool


BUILDERS = {
    "gex_impute_annotate": build_annotate,
    "gex_impute_evaluate": build_evaluate,
    "gex_impute_fit": build_fit,
    "gex_impute_impute": build_impute,
}


def render_all() -> dict[str, str]:
    """Return {file name: XML text} for every tool."""
    gxt, gxp = _gx()
    out = {}
    for tool_id, build in BUILDERS.items():
        xml = build(gxt, gxp).export()
        out[f"{tool_id}.xml"] = xml if xml.endswith("\n") else xml + "\n"
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--outdir", type=Path, default=HERE, help="where to write the XML (default: galaxy/)")
    parser.add_argument(
        "--check", action="store_true", help="compare with the files in --outdir; write nothing"
    )
    args = parser.parse_args(argv)
    rendered = render_all()
    if args.check:
        status = 0
        for name, text in rendered.items():
            path = args.outdir / name
            current = path.read_text() if path.exists() else ""
            if current != text:
                status = 1
                sys.stdout.writelines(
                    difflib.unified_diff(
                        current.splitlines(True), text.splitlines(True), str(path), "generated"
                    )
                )
        if status:
            print("galaxy XML is out of date: run python galaxy/build_tools.py", file=sys.stderr)
        return status
    args.outdir.mkdir(parents=True, exist_ok=True)
    for name, text in rendered.items():
        (args.outdir / name).write_text(text)
        print(f"wrote {args.outdir / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

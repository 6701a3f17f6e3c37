"""What every wrapper shares: the galaxyxml import, the tool skeleton, inputs, tests, export.

Where galaxyxml 0.5 cannot express an element, the helpers here add it with lxml on the node that
galaxyxml built (marked "lxml:"): ``<assert_contents>`` / ``<assert_stderr>`` assertions, attributes
of ``<expand>``, and the EDAM elements, which galaxyxml writes in an order that ``planemo lint``
flags (operations before topics), so :func:`export` places them itself.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path
from types import ModuleType
from typing import Any

PROFILE = "24.0"
VERSION = "@TOOL_VERSION@+galaxy@VERSION_SUFFIX@"

#: EDAM topics of every tool: Gene expression, Transcriptomics, Machine learning
EDAM_TOPICS = ("topic_0203", "topic_3308", "topic_3474")

#: bio.tools id. None: ``planemo lint`` checks a bio.tools xref against https://bio.tools (its
#: BioToolsValid linter calls the API every time); offline, and while gex_impute has no entry
#: there, any xref gives the warning "No entry ... in bio.tools". Set it once the entry exists.
BIOTOOLS_ID: str | None = None

#: the package's one-line error message, checked by every tool's failure test
ERROR_PREFIX = "gex-impute: error: "

NAME_VALIDATOR = ("^[A-Za-z0-9_.-]+$", "Letters, digits, '_', '.' and '-' only")


@dataclass
class Gx:
    """The galaxyxml modules (imported lazily: galaxyxml configures the root logger at import)."""

    tool: ModuleType
    p: ModuleType


def load_galaxyxml() -> Gx:
    """Import galaxyxml quietly."""
    logging.getLogger("galaxyxml").setLevel(logging.WARNING)
    import galaxyxml.tool as gxt
    import galaxyxml.tool.parameters as gxp

    logging.getLogger().handlers.clear()  # galaxyxml calls logging.basicConfig at import
    return Gx(tool=gxt, p=gxp)


@dataclass
class ToolSpec:
    """The parts of a wrapper that galaxyxml's Tool constructor does not take."""

    tool_id: str
    name: str
    description: str
    command: str
    operations: tuple[str, ...]
    help: str
    extra: dict[str, Any] = field(default_factory=dict)


def new_tool(gx: Gx, spec: ToolSpec):
    """A galaxyxml Tool with the suite's version, profile, macros, requirements and citation."""
    tool = gx.tool.Tool(
        spec.name,
        spec.tool_id,
        VERSION,
        spec.description,
        "gex-impute",
        version_command="gex-impute --version",
        command_override=[spec.command.strip("\n")],
        macros=["macros.xml"],
        profile=PROFILE,
    )
    tool.command = gx.p.Command(detect_errors="exit_code")
    tool.requirements = gx.p.Expand(macro="requirements")
    tool.citations = gx.p.Expand(macro="citations")
    tool.inputs = gx.p.Inputs()
    tool.outputs = gx.p.Outputs()
    tool.tests = gx.p.Tests()
    tool.help = spec.help
    tool._gex_operations = spec.operations  # read by export()
    return tool


def export(tool) -> str:
    """The tool's XML: galaxyxml's export plus EDAM topics/operations (and xref) after <macros>."""
    from lxml import etree

    text = tool.export()
    parser = etree.XMLParser(remove_blank_text=True, strip_cdata=False)
    root = etree.fromstring(text.encode(), parser)
    anchor = root.find("macros")
    extra = []
    topics = etree.Element("edam_topics")
    for term in EDAM_TOPICS:
        etree.SubElement(topics, "edam_topic").text = term
    extra.append(topics)
    operations = etree.Element("edam_operations")
    for term in tool._gex_operations:
        etree.SubElement(operations, "edam_operation").text = term
    extra.append(operations)
    if BIOTOOLS_ID:
        xrefs = etree.Element("xrefs")
        etree.SubElement(xrefs, "xref", type="bio.tools").text = BIOTOOLS_ID
        extra.append(xrefs)
    for element in reversed(extra):
        anchor.addnext(element)
    _add_field_labels(root, etree.tostring(root, encoding="unicode"))
    xml = etree.tostring(root, pretty_print=True, encoding="unicode")
    return xml if xml.endswith("\n") else xml + "\n"


def _add_field_labels(root, xml: str) -> None:
    """lxml: ``<environment_variables>`` after ``<command>``: the job's GEX_IMPUTE_FIELD_LABELS
    (:mod:`.labels`), so that the CLI's messages name the form fields."""
    from lxml import etree

    from . import labels

    found = labels.field_labels(xml, Path(__file__).resolve().parent.parent / "macros.xml")
    variables = etree.Element("environment_variables")
    etree.SubElement(variables, "environment_variable", name=labels.ENV).text = labels.environment_json(found)
    root.find("command").addnext(variables)


# ----------------------------------------------------------------------------------------------
# inputs
# ----------------------------------------------------------------------------------------------
def name_param(gx: Gx, name: str, *, value: str, label: str, help: str, optional: bool = False):  # noqa: A002
    """A text parameter holding a column/layer name (a safe character set)."""
    param = gx.p.TextParam(name, value=value, optional=True if optional else None, label=label, help=help)
    pattern, message = NAME_VALIDATOR
    if optional:
        pattern = pattern.replace("+$", "*$")
    param.append(gx.p.ValidatorParam("regex", message=message, text=pattern))
    return param


#: Galaxy datatypes the GCT field takes: 'gz' is what Galaxy (26.1) auto-detect makes of the GTEx
#: download *_gene_tpm.gct.gz (kept compressed; the CLI reads gzip and stops with a clear error
#: on a file that is no GCT); 'tabular'/'txt' when the Type is chosen on upload
GCT_FORMATS = ("tabular", "txt", "gz")

#: the GCT field's help (also the workflows' GCT input)
GCT_HELP = (
    "GCT v1.2 as distributed by GTEx (*_gene_tpm.gct.gz, plain or gzip): genes x samples. Upload the "
    "downloaded .gct.gz as is: auto-detect types it 'gz', which is accepted here; Type 'tabular' works too."
)


def expression_input(gx: Gx):
    """Conditional ``expression``: an AnnData, or a GTEx GCT with its sample (and subject) tables."""
    cond = gx.p.Conditional("expression")
    cond.append(
        gx.p.SelectParam(
            "format",
            label="Expression data",
            options={
                "h5ad": "AnnData (h5ad)",
                "gct": "GTEx GCT (genes x samples) with the sample attributes table",
            },
            default="h5ad",
        )
    )
    when = gx.p.When("h5ad")
    when.append(
        gx.p.DataParam(
            "input",
            format="h5ad",
            label="Expression data (AnnData)",
            help="Samples x genes (tissue, optionally donor, columns in obs) or genes x samples; "
            "missing entries are NaN.",
        )
    )
    cond.append(when)
    when = gx.p.When("gct")
    when.append(
        gx.p.DataParam(
            "input",
            format=",".join(GCT_FORMATS),
            label="Expression matrix (GCT)",
            help=GCT_HELP,
        )
    )
    when.append(
        gx.p.DataParam(
            "sample_attributes",
            format="tabular,txt",
            label="Sample attributes (SampleAttributesDS)",
            help="GTEx table with SAMPID and SMTSD (the tissue) for every sample of the GCT.",
        )
    )
    when.append(
        gx.p.DataParam(
            "subject_phenotypes",
            format="tabular,txt",
            optional=True,
            label="Subject phenotypes (SubjectPhenotypesDS)",
            help="Optional GTEx table with SUBJID, SEX, AGE, ...: copied to the donors' obs columns.",
        )
    )
    cond.append(when)
    return cond


#: Cheetah: symlink the expression input(s) with names the CLI recognises
LINK_EXPRESSION = r"""
#if str($expression.format) == 'gct':
ln -s '$expression.input' input.gct &&
ln -s '$expression.sample_attributes' sample_attributes.txt &&
#if $expression.subject_phenotypes:
ln -s '$expression.subject_phenotypes' subject_phenotypes.txt &&
#end if
#else:
ln -s '$expression.input' input.h5ad &&
#end if
""".strip("\n")

#: Cheetah: the CLI's input argument(s)
EXPRESSION_ARGS = r"""
#if str($expression.format) == 'gct':
    input.gct --sample-attributes sample_attributes.txt
    #if $expression.subject_phenotypes:
    --subject-phenotypes subject_phenotypes.txt
    #end if
#else:
    input.h5ad
#end if
""".strip("\n")


def _expand(gx: Gx, macro: str, **tokens: str):
    """An ``<expand>`` of a macro of macros.xml, with token values (lxml: galaxyxml's Expand takes none)."""
    expand = gx.p.Expand(macro=macro)
    for name, value in tokens.items():
        expand.node.set(name, value)
    return expand


#: what an empty field uses first: a GTEx GCT's donors are registered when read (read_gct)
_REGISTERED = (
    "Empty: the column the input registered (a GTEx GCT input's donors, registered when read, or an "
    "h5ad written by gex_impute)"
)

#: help of the Donor column (macros.xml ``donor_option``) -> what an empty field means. An empty
#: field passes no --donor-key: the CLI's default, which is the Python API's (one default everywhere)
DONOR_HELP = {
    # fit, evaluate: the one the input registered, else 'donor' where there is one, else none
    "none": f"{_REGISTERED}, else the column 'donor' if the input has one, else none (donors unused), "
    "as in the gex-impute command and the Python API. A column named here is used instead.",
    # impute: registered, else the saved model's column (none for a model fitted without), else 'donor'
    "model_else_none": f"{_REGISTERED}, else the one a saved model was fitted with (none if it was "
    "fitted without), else the column 'donor' if the input has one, else none (donors unused), as in "
    "the gex-impute command and the Python API. A column named here is used instead. Data without "
    "donors: tick 'Donors unknown'.",
    # complete: registered, else the saved model's column, else 'donor'; donors are needed
    "complete": f"{_REGISTERED}, else the one the saved model was fitted with, else 'donor'. A column "
    "named here is used instead. Completing needs each sample's donor.",
}


def advanced_section(gx: Gx, *extra, donor_help: str = "none", no_donors: bool = True):
    """Section ``advanced``: the sample columns of macros.xml, then ``extra`` parameters.

    ``donor_help`` is a key of :data:`DONOR_HELP`; ``no_donors`` adds "Donors unknown"
    (``--no-donors``). Pass the options with :func:`donor_cheetah` and ``@COMMON_OPTIONS@``.
    """
    section = gx.p.Section("advanced", "Advanced options", expanded="false")
    section.append(_expand(gx, "tissue_option"))
    section.append(_expand(gx, "donor_option", donor_help=DONOR_HELP[donor_help]))
    if no_donors:
        section.append(_expand(gx, "no_donors_option"))
    section.append(_expand(gx, "value_options"))
    for param in extra:
        section.append(param)
    return section


def donor_cheetah(*, no_donors: bool = True) -> str:
    """Cheetah: ``--no-donors`` when ticked, else ``--donor-key`` when the form names one.

    An empty Donor column passes nothing: the CLI's default, which is the API's.
    """
    lines = []
    keyword = "#if"
    if no_donors:
        lines += ["#if $advanced.no_donors:", "    --no-donors"]
        keyword = "#elif"
    lines += [f"{keyword} str($advanced.donor_key).strip():", "    --donor-key '$advanced.donor_key'"]
    lines.append("#end if")
    return "\n".join(lines)


def log_transform_param(gx: Gx):
    """``--log-transform``: auto / true / false."""
    return gx.p.SelectParam(
        argument="--log-transform",
        label="Model log1p of the values",
        help="auto: for non-negative TPM/count-like data (maximum above 30). Results are returned "
        "in the input's units.",
        options={"auto": "auto", "true": "yes", "false": "no (data already on a log scale)"},
        default="auto",
    )


def interval_param(gx: Gx, *, help: str):  # noqa: A002
    """``--interval``: an optional nominal level in (0, 1)."""
    return gx.p.FloatParam(
        argument="--interval",
        value="",
        optional=True,
        min=0.01,
        max=0.99,
        label="Prediction interval level",
        help=help,
    )


# ----------------------------------------------------------------------------------------------
# tests
# ----------------------------------------------------------------------------------------------
def add_assertion(parent, tag: str, children: list | None = None, **attrib):
    """lxml: add an assertion element (galaxyxml has no classes for assert_contents)."""
    from lxml import etree

    node = parent if isinstance(parent, etree._Element) else parent.node
    el = etree.SubElement(node, tag, {k: str(v) for k, v in attrib.items()})
    for child_tag, child_attrib in children or ():
        etree.SubElement(el, child_tag, {k: str(v) for k, v in child_attrib.items()})
    return el


def new_test(gx: Gx, params: dict[str, Any], *, expect_num_outputs: int | None = None, **attrib):
    """A ``<test>`` with ``params`` ({name: value} or {name: (file, ftype)})."""
    kwargs = {k: str(v) for k, v in attrib.items()}
    if expect_num_outputs is not None:
        kwargs["expect_num_outputs"] = str(expect_num_outputs)
    test = gx.p.Test(**kwargs)
    for name, value in params.items():
        if isinstance(value, tuple):
            test.append(gx.p.TestParam(name, value=value[0], ftype=value[1]))
        else:
            test.append(gx.p.TestParam(name, value=str(value)))
    return test


def check_output(gx: Gx, test, name: str, ftype: str, assertions: list[tuple[str, dict]]):
    """An ``<output>`` of a test with ``<assert_contents>``."""
    out = gx.p.TestOutput(name=name, ftype=ftype)
    test.append(out)
    contents = add_assertion(out, "assert_contents")
    for tag, attrib in assertions:
        attrib = dict(attrib)
        children = attrib.pop("_children", None)
        add_assertion(contents, tag, children, **attrib)
    return out


def failure_test(gx: Gx, params: dict[str, Any], *messages: str):
    """A test of a bad input: the job fails with the package's one-line ``gex-impute: error: ...``
    holding each of ``messages``."""
    test = new_test(gx, params, expect_failure="true")
    stderr = add_assertion(test, "assert_stderr")
    add_assertion(stderr, "has_text", text=ERROR_PREFIX)
    for message in messages:
        add_assertion(stderr, "has_text", text=message)
    return test


def check_command(test, *, has: tuple[str, ...] = (), lacks: tuple[str, ...] = ()) -> None:
    """``<assert_command>``: the job's command line holds each of ``has`` and none of ``lacks``."""
    command = add_assertion(test, "assert_command")
    for text in has:
        add_assertion(command, "has_text", text=text)
    for text in lacks:
        add_assertion(command, "not_has_text", text=text)


def check_log(test, *texts: str) -> None:
    """``<assert_stderr>``: the job's log (the CLI logs to stderr) holds each of ``texts``."""
    stderr = add_assertion(test, "assert_stderr")
    for text in texts:
        add_assertion(stderr, "has_text", text=text)

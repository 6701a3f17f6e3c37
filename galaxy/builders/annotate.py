"""The ``annotate`` wrapper: gene coordinates and promoter sequences into ``var``."""

from __future__ import annotations

from gex_impute.pp.promoters import MAX_FLANK

from . import common
from .common import Gx, ToolSpec

HELP = """
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

It also turns a GTEx GCT with its sample attributes (and subject phenotypes) into the AnnData
the other tools read.

**Inputs**

- an AnnData (``h5ad``) with genes in ``var`` (or in ``obs`` for the transposed layout), or a
  GTEx GCT (``*_gene_tpm.gct.gz``) with its sample attributes table
- a gene annotation: GTF, GFF3, BED (6 columns or more; name = gene id) or a table with a
  header naming gene id, chrom, start, end, strand; its Galaxy datatype tells how it is read
  (``gtf``, ``gff3``, ``gff``, ``bed`` and its subtypes; any other tabular type as a table). A
  table's coordinates are 0-based with an exclusive end (BED/UCSC style) unless set to 1-based.
- optionally a genome FASTA (promoters cut with the bases upstream / downstream given) or keyed
  promoter sequences (used as given: their length is theirs)

The samples' tissue column (set in the advanced options; else the one the h5ad registered, else
``tissue``) tells whether the samples are in ``obs`` or in ``var``.

**Output**

An AnnData (samples x genes) with the new ``var`` columns.

**Example**

``sim_unannotated.h5ad`` + ``genes.gtf`` + ``genome.fa`` with 1,000 bp upstream and 500 bp
downstream gives every gene a ``tss`` and a 1,500 bp ``promoter``::

    gex-impute annotate sim_unannotated.h5ad --annotation genes.gtf --fasta genome.fa \\
        --upstream 1000 --downstream 500 --output annotated.h5ad
"""

COMMAND = r"""
## the annotation's format from its Galaxy datatype (subtypes included: bed12, bedstrict, ...);
## a plain 'gff' is GFF3 without its header or a GTF-like GFF2: the CLI tells them by the attributes
#if $annotation.is_of_type('gtf'):
    #set $ann_format = 'gtf'
#elif $annotation.is_of_type('gff3'):
    #set $ann_format = 'gff3'
#elif $annotation.is_of_type('gff'):
    #set $ann_format = 'auto'
#elif $annotation.is_of_type('bed'):
    #set $ann_format = 'bed'
#else:
    #set $ann_format = 'tsv'
#end if
LINK_EXPRESSION
ln -s '$annotation' annotation &&
#if str($sequence.source) == 'fasta':
    ln -s '$sequence.fasta' genome.fa &&
#elif str($sequence.source) == 'keyed':
    #set $seq_ext = 'fa' if $sequence.promoters.is_of_type('fasta') else 'tsv'
    ln -s '$sequence.promoters' 'promoters.$seq_ext' &&
    #if $sequence.mapping:
        ln -s '$sequence.mapping' mapping.tsv &&
    #end if
#end if
gex-impute annotate
EXPRESSION_ARGS
    --output output.h5ad
    --annotation annotation
    --annotation-format '$ann_format'
    --bed-tss '$bed_tss'
    --coordinates '$coordinates'
#if str($sequence.source) == 'fasta':
    --fasta genome.fa
    --upstream '$sequence.upstream'
    --downstream '$sequence.downstream'
#elif str($sequence.source) == 'keyed':
    --promoters 'promoters.$seq_ext'
    #if $sequence.mapping:
        --promoter-mapping mapping.tsv
    #end if
#end if
#if str($advanced.tissue_key).strip():
    --tissue-key '$advanced.tissue_key'
#end if
#if str($advanced.gene_id_key).strip():
    --gene-id-key '$advanced.gene_id_key'
#end if
&& mv output.h5ad '$output'
"""

H5AD = "expression|input"


def build(gx: Gx, specs: dict):  # noqa: ARG001 - same signature as the other builders
    """The galaxyxml Tool."""
    p = gx.p
    command = COMMAND.replace("LINK_EXPRESSION", common.LINK_EXPRESSION).replace(
        "EXPRESSION_ARGS", common.EXPRESSION_ARGS
    )
    tool = common.new_tool(
        gx,
        ToolSpec(
            "gex_impute_annotate",
            "Annotate genes",
            "with coordinates and promoter sequences",
            command,
            operations=("operation_0226", "operation_1813"),  # Annotation, Sequence retrieval
            help=HELP,
        ),
    )
    inputs = tool.inputs
    inputs.append(common.expression_input(gx))
    inputs.append(
        p.DataParam(
            "annotation",
            format="gtf,gff3,gff,bed,tabular",
            label="Gene annotation",
            help="GTF/GFF3 gene records, BED (6 columns or more) with the gene id as name, or a table with "
            "a header naming gene id, chrom, start, end and strand columns. Read as its Galaxy datatype "
            "says: gtf, gff3 (gff: GFF3 or GTF-like, told by the attributes), bed and its subtypes "
            "(bed6, bed12, ...); any other tabular datatype as a table.",
        )
    )
    inputs.append(
        p.SelectParam(
            "bed_tss",
            label="BED intervals are",
            options={
                "start": "Gene bodies (the TSS is the start on +, the end on -)",
                "window_center": "Windows centred on the TSS (e.g. 20 kb around a CAGE TSS)",
            },
            default="start",
            help="Applies to a BED annotation only.",
        )
    )
    inputs.append(
        p.SelectParam(
            argument="--coordinates",
            label="Coordinates of a table annotation",
            options={
                "0-based": "0-based start, end exclusive (BED/UCSC style, e.g. a UCSC table export)",
                "1-based": "1-based start, end inclusive (Ensembl/biomaRt style)",
            },
            default="0-based",
            help="Applies to a table (tabular) annotation only: GTF/GFF3 are always read as 1-based and "
            "BED as 0-based, and an Ensembl BioMart export (its column names) is always read as 1-based. "
            "A wrong choice moves every gene by 1 base without a message.",
        )
    )
    seq = p.Conditional("sequence")
    seq.append(
        p.SelectParam(
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

    def flanks(when):  # cut from a genome only: keyed sequences are used as given
        when.append(p.IntegerParam("upstream", value=1000, min=0, max=MAX_FLANK, label="Bases upstream"))
        when.append(
            p.IntegerParam(
                "downstream", value=500, min=1, max=MAX_FLANK, label="Bases downstream (TSS base included)"
            )
        )

    when = p.When("fasta")
    when.append(p.DataParam("fasta", format="fasta", label="Genome FASTA"))
    flanks(when)
    seq.append(when)
    when = p.When("keyed")
    when.append(
        p.DataParam(
            "promoters",
            format="fasta,tabular",
            label="Promoter sequences",
            help="FASTA with gene ids as names, or a table of id and sequence (such as EPD core promoters); "
            "used as given (no upstream/downstream cut).",
        )
    )
    when.append(
        p.DataParam(
            "mapping",
            format="tabular",
            optional=True,
            label="Promoter id to gene id mapping",
            help="Needed when the sequences are keyed by promoter ids rather than gene ids.",
        )
    )
    seq.append(when)
    seq.append(p.When("none"))
    inputs.append(seq)
    advanced = p.Section("advanced", "Advanced options", expanded="false")
    advanced.append(gx.p.Expand(macro="tissue_option"))
    advanced.append(
        common.name_param(
            gx,
            "gene_id_key",
            value="",
            optional=True,
            label="Gene id column",
            help="Column of the genes (var) holding Ensembl gene ids, when the gene names are symbols "
            "(e.g. scanpy's gene_ids). Empty: the gene names are the ids.",
        )
    )
    inputs.append(advanced)
    tool.outputs.append(p.OutputData("output", format="h5ad", label="${tool.name} on ${on_string}: AnnData"))
    _tests(gx, tool)
    return tool


def _tests(gx: Gx, tool) -> None:
    h5ad = {"expression|format": "h5ad", H5AD: ("sim_unannotated.h5ad", "h5ad")}
    # (params, h5 keys, command has, command lacks)
    cases = [
        (
            {
                "annotation": ("genes.gtf", "gtf"),
                "sequence|source": "fasta",
                "sequence|fasta": ("genome.fa", "fasta"),
            },
            "var/chrom,var/start,var/end,var/strand,var/tss,var/gene_type,var/promoter",
            ("--annotation-format 'gtf'", "--upstream '1000'", "--downstream '500'"),
            (),
        ),
        (  # keyed sequences are used as given: no flanks
            {
                "annotation": ("genes.bed", "bed6"),
                "sequence|source": "keyed",
                "sequence|promoters": ("promoters.tsv", "tabular"),
            },
            "var/chrom,var/tss,var/strand,var/promoter",
            ("--annotation-format 'bed'",),
            ("--upstream", "--downstream"),
        ),
        (  # a GFF3 typed 'gff' (as one without its version line is): the CLI reads the attributes
            {
                "annotation": ("genes.gff3", "gff"),
                "sequence|source": "none",
                "advanced|tissue_key": "tissue",
            },
            "var/chrom,var/start,var/end,var/strand,var/tss",
            ("--annotation-format 'auto'", "--tissue-key 'tissue'"),
            ("--fasta", "--promoters"),
        ),
    ]
    for params, keys, has, lacks in cases:
        test = common.new_test(gx, {**h5ad, **params}, expect_num_outputs=1)
        common.check_output(gx, test, "output", "h5ad", [("has_h5_keys", {"keys": keys})])
        common.check_command(test, has=has, lacks=lacks)
        common.check_log(test, "placed 150 of 150 genes")
        tool.tests.append(test)

    # a GTEx GCT with its sample attributes and a table of coordinates: the AnnData gets the
    # tissues, the donors (from the sample ids) and the coordinates
    test = common.new_test(
        gx,
        {
            "expression|format": "gct",
            "expression|input": ("expression.gct.gz", "tabular"),
            "expression|sample_attributes": ("sample_attributes.tsv", "tabular"),
            "annotation": ("genes.tsv", "tabular"),
            "coordinates": "0-based",
            "sequence|source": "none",
        },
        expect_num_outputs=1,
    )
    keys = "obs/tissue,obs/donor,var/chrom,var/start,var/end,var/tss"
    common.check_output(gx, test, "output", "h5ad", [("has_h5_keys", {"keys": keys})])
    common.check_command(test, has=("--annotation-format 'tsv'", "--coordinates '0-based'"))
    tool.tests.append(test)

    # a table of promoter sequences given as the annotation
    tool.tests.append(
        common.failure_test(
            gx,
            {**h5ad, "annotation": ("promoters.tsv", "tabular"), "sequence|source": "none"},
            "annotation table lacks column",
        )
    )
    # the tissue column named in the form is the one looked for; the message names the form's
    # field with the flag (GEX_IMPUTE_FIELD_LABELS, set by the wrapper)
    tool.tests.append(
        common.failure_test(
            gx,
            {
                **h5ad,
                "annotation": ("genes.gtf", "gtf"),
                "sequence|source": "none",
                "advanced|tissue_key": "SMTSD",
            },
            "tissue_key 'SMTSD' not found",
            "Pass 'Tissue column' (--tissue-key) naming the column",
        )
    )

"""The ``gex-impute`` argument parser: subcommands, options, help text (generated from the registry)."""

from __future__ import annotations

import argparse
import textwrap

from ._arguments import (
    _FRACTION,
    DEFAULT_METHODS,
    _choice,
    _non_empty,
    _number,
    _output,
    _Parser,
    _sex_options,
)

PROG = "gex-impute"


#: = :data:`gex_impute.pp.promoters.MAX_FLANK` (here so that ``--help`` imports no pandas; a test compares)
MAX_FLANK = 50_000
#: the API's defaults the help names where the CLI passes nothing (a test compares): the hybrid's
#: ``device``, :func:`gex_impute.tl.complete`'s ``block_size``
DEFAULT_DEVICE = "auto"
DEFAULT_BLOCK_SIZE = 512


def _method_epilog() -> str:
    """One line per registered method, from the method registry (so help and code agree)."""
    from ..methods import available_methods, method_spec

    lines = ["methods (see --param KEY=VALUE for their hyperparameters):"]
    for name in available_methods():
        spec = method_spec(name)
        params = ", ".join(f"{p.name}={p.default!r}" for p in spec.params.values())
        lines.append(f"  {name:<15} {spec.description}")
        if params:
            indent = " " * 18
            lines.append(textwrap.fill(params, width=100, initial_indent=indent, subsequent_indent=indent))
    return "\n".join(lines)


def _common(
    p: argparse.ArgumentParser,
    *,
    donor_help: str = "the column donor if the input has one, else none: donors unused",
    data: bool | str = True,
    seed: bool = True,
) -> None:
    """Add the options every subcommand has.

    ``data=False``: none about an input's columns (it reads none); ``"tissue"``: only
    ``--tissue-key``; ``seed=False``: no ``--seed`` (nothing random). ``donor_help``: the donor
    column the API uses when the input registered none (the CLI passes none of its own, so that the
    command, the Galaxy tools and the Python API share one default).
    """
    g = p.add_argument_group("common options")
    if data:
        g.add_argument(
            "--tissue-key",
            default=None,
            help="obs column of each sample's tissue (default: the one the input registered, else tissue)",
        )
    if data is True:
        g.add_argument(
            "--donor-key",
            default=None,
            help="obs column of each sample's donor "
            f"(default: the one the input registered, else {donor_help})",
        )
        g.add_argument(
            "--no-donors",
            action="store_true",
            help="the samples' donors are unknown: use no donor column (e.g. to apply a model fitted "
            "with one to data without it)",
        )
        g.add_argument(
            "--layer",
            default=None,
            help="layer holding the expression values (default: the one the input registered, else X)",
        )
    if seed:
        g.add_argument(
            "--seed",
            type=_number(int, low=0, high=2**32 - 1),
            default=0,
            help="random seed, 0 to 4294967295 (default: %(default)s)",
        )
    g.add_argument("-q", "--quiet", action="store_true", help="print errors only")
    g.add_argument(
        "--debug", "-v", "--verbose", dest="debug", action="store_true", help="debug logs and tracebacks"
    )


def _input(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="expression file: h5ad, GTEx GCT (.gct/.gct.gz) or a genes x tissues TSV")
    p.add_argument(
        "--sample-attributes",
        default=None,
        metavar="TSV",
        help="GTEx sample attributes (SAMPID, SMTSD, ...) for a GCT input",
    )
    p.add_argument(
        "--subject-phenotypes",
        default=None,
        metavar="TSV",
        help="GTEx subject phenotypes (SUBJID, SEX, AGE, ...) for a GCT input",
    )


def _method_options(p: argparse.ArgumentParser, *, model: bool) -> None:
    g = p.add_argument_group("method")
    if model:
        g.add_argument("--model", default=None, help="a model archive saved by 'gex-impute fit' (.zip)")
    g.add_argument("--method", default=None, help="method name (default: hybrid); see the list below")
    g.add_argument("--param", action="append", metavar="KEY=VALUE", help="a hyperparameter (repeatable)")
    device = "torch device of the hybrid model: auto, cpu, cuda, cuda:N"
    if model:
        device += "; with --model (a hybrid), the device of the refits that calibrate --interval"
    g.add_argument("--device", default=None, help=f"{device} (default: {DEFAULT_DEVICE})")
    _choice(
        g,
        "--log-transform",
        ("auto", "true", "false"),
        "model log1p of the values; auto = for non-negative TPM/count-like data",
    )


def build_parser() -> argparse.ArgumentParser:
    """Build the ``gex-impute`` argument parser."""
    from .. import __version__
    from . import _commands as cmd

    fmt = argparse.RawDescriptionHelpFormatter
    parser = _Parser(
        prog=PROG,
        description="Estimate missing genotype-tissue-specific gene expression "
        "(h5ad or GTEx files in, h5ad out).",
        epilog="Run 'gex-impute <command> --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="<command>", required=True, parser_class=_Parser)

    p = sub.add_parser(
        "simulate",
        help="write a simulated cohort",
        formatter_class=fmt,
        description="Write a simulated donor x tissue x gene cohort: an .h5ad file, or a "
        "folder (sim.h5ad + genome.fa/genes.gtf/GCT when asked; --preset gtex_v8 writes the "
        "GTEx v8 files as downloaded: gene TPM GCT.gz, SampleAttributesDS, SubjectPhenotypesDS).",
    )
    _output(p, "an .h5ad file or a folder")
    _choice(
        p,
        "--preset",
        ("default", "gtex_v8"),
        "default: the original simulator (a few values far above real TPM); gtex_v8: 948 donors x "
        "54 tissues with GTEx's skewed tissue availability and expression scale",
    )
    p.add_argument("--n-donors", type=_number(int, low=1), default=None, help="donors (preset default)")
    p.add_argument("--n-tissues", type=_number(int, low=1), default=None, help="tissues (preset default)")
    p.add_argument("--n-genes", type=_number(int, low=1), default=None, help="genes (preset default)")
    p.add_argument("--fasta", action="store_true", help="also write the genome FASTA (folder output)")
    p.add_argument(
        "--gtf",
        action="store_true",
        help="also write the gene GTF (folder output; always with --preset gtex_v8)",
    )
    p.add_argument(
        "--gct",
        action="store_true",
        help="also write GCT + sample attributes (folder output; always with --preset gtex_v8, "
        "as GTEx's files)",
    )
    _common(p, data=False)
    p.set_defaults(func=cmd.simulate)

    p = sub.add_parser(
        "annotate",
        help="attach gene coordinates and promoter sequences",
        description="Add var columns chrom, start, end, strand, tss (GTF/GFF3/BED/TSV) and "
        "promoter sequences (cut from a genome FASTA, or keyed sequences).",
    )
    _input(p)
    _output(p, "output h5ad (or a .zarr store)")
    p.add_argument("--annotation", default=None, help="gene annotation: GTF, GFF3, BED6 or TSV")
    _choice(
        p,
        "--annotation-format",
        ("auto", "gtf", "gff3", "bed", "tsv"),
        "format of --annotation; auto = from its name (e.g. .gtf.gz) and first lines",
    )
    seq = p.add_mutually_exclusive_group()
    seq.add_argument("--fasta", default=None, help="genome FASTA to cut promoters from")
    seq.add_argument("--promoters", default=None, help="promoter sequences keyed by gene (FASTA or TSV)")
    p.add_argument("--promoter-mapping", default=None, help="TSV mapping promoter ids to gene ids")
    _choice(
        p,
        "--bed-tss",
        ("start", "window_center"),
        "BED annotation: intervals are gene bodies (start) or windows centred on the TSS",
    )
    _choice(
        p,
        "--coordinates",
        ("0-based", "1-based"),
        "TSV annotation: BED-like 0-based or inclusive 1-based coordinates",
    )
    _choice(
        p,
        "--chrom-style",
        ("keep", "ucsc", "ensembl"),
        "chromosome names as in the annotation, or as ucsc (chr1) / ensembl (1)",
    )
    p.add_argument(
        "--upstream",
        type=_number(int, low=0, high=MAX_FLANK),
        default=1000,
        help="bp upstream of the TSS (default: %(default)s)",
    )
    p.add_argument(
        "--downstream",
        type=_number(int, low=1, high=MAX_FLANK),
        default=500,
        help="bp downstream of the TSS, TSS base included (default: %(default)s)",
    )
    p.add_argument(
        "--gene-id-key",
        default=None,
        help="gene column holding the Ensembl ids, when the gene names are symbols (e.g. scanpy's gene_ids)",
    )
    _common(p, data="tissue", seed=False)  # annotate reads the tissues only, and draws nothing
    p.set_defaults(func=cmd.annotate)

    epilog = _method_epilog()
    p = sub.add_parser(
        "fit",
        help="fit a model and save it",
        formatter_class=fmt,
        epilog=epilog,
        description="Fit a method on an expression file and save it as a model archive "
        "(.zip: params.json + arrays/weights, no pickle). Apply it with --model.",
    )
    _input(p)
    _output(p, "model archive: a .zip file, or a folder for any other name")
    _method_options(p, model=False)
    p.add_argument(
        "--calibrate",
        action="store_true",
        help="also calibrate prediction intervals on the input (refits per missingness pattern, at most 10) "
        "and save them with the model, so that impute --model --interval needs no refit",
    )
    _common(p)
    p.set_defaults(func=cmd.fit)

    p = sub.add_parser(
        "impute",
        help="fill the missing entries of existing samples",
        formatter_class=fmt,
        epilog=epilog,
        description="Fill every missing (NaN) entry. Writes layers[KEY] "
        "(observed values kept), layers[KEY_mask] (True where imputed), uns[KEY] and, with "
        "--interval, layers[KEY_lower] / layers[KEY_upper].",
    )
    _input(p)
    _output(
        p,
        "output h5ad (or a .zarr store)",
        overwrite="replace an existing output file and the input's layers of an earlier --key-added",
    )
    _method_options(p, model=True)
    p.add_argument("--key-added", default="imputed", help="layer name of the result (default: %(default)s)")
    p.add_argument(
        "--interval",
        type=_FRACTION,
        default=None,
        help="also write prediction intervals at this level, e.g. 0.9",
    )
    _common(
        p,
        donor_help="the one --model was fitted with (none if it was fitted without), else the column "
        "donor if the input has one, else none",
    )
    p.set_defaults(func=cmd.impute)

    p = sub.add_parser(
        "complete",
        help="add and estimate the absent donor x tissue profiles",
        formatter_class=fmt,
        epilog=epilog,
        description="Complete a cohort: one row per donor x tissue over the donors and tissues "
        "present (or those named). Observed samples keep their values; absent profiles are "
        "estimated (obs['imputed_profile']). Output: .h5ad or .zarr, written block by block.",
    )
    _input(p)
    _output(p, "completed cohort (.h5ad or .zarr)")
    _method_options(p, model=True)
    p.add_argument("--donors", default=None, help="comma-separated donors to complete (default: all)")
    p.add_argument("--tissues", default=None, help="comma-separated tissues to complete (default: all)")
    _choice(
        p,
        "--aggregate",
        ("none", "mean"),
        "several samples of one donor x tissue: keep each (none) or average them (mean)",
    )
    _sex_options(p)
    p.add_argument(
        "--interval",
        type=_FRACTION,
        default=None,
        help="also write prediction intervals at this level, e.g. 0.9",
    )
    p.add_argument(
        "--gct-output", default=None, type=_non_empty, help="also write the completed matrix as GCT"
    )
    p.add_argument("--plot", default=None, type=_non_empty, help="PNG heatmap of observed/completed profiles")
    p.add_argument(
        "--block-size",
        type=_number(int, low=1),
        default=None,
        help=f"rows estimated per block (default: {DEFAULT_BLOCK_SIZE})",
    )
    p.add_argument(
        "--scheduler",
        default=None,
        help="a dask.distributed scheduler address (tcp://host:8786): the blocks are estimated and "
        "the hybrid's XGBoost boosters trained on its workers; an address that does not answer as a "
        "scheduler within 30 s stops the run (default: none, all in this process)",
    )
    _common(p, donor_help="the one --model was fitted with, else donor")
    p.set_defaults(func=cmd.complete)

    p = sub.add_parser(
        "evaluate",
        help="score methods on held-out observed values (TSV + PNG)",
        formatter_class=fmt,
        epilog=epilog,
        description="Hide observed values under a protocol (genes: whole genes, P1; entries: "
        "scattered entries, P2; samples: whole donor x tissue profiles, P3, needs --donor-key), "
        "estimate them with each method and score them: one row per method.",
    )
    _input(p)
    _output(p, "output table, one row per method: comma-separated for a .csv name, else tab-separated")
    p.add_argument("--plot", default=None, type=_non_empty, help="output PNG of the metrics per method")
    _choice(
        p,
        "--protocol",
        ("genes", "entries", "samples"),
        "what is held out: whole genes (P1), scattered entries (P2) or whole profiles (P3)",
    )
    p.add_argument(
        "--fraction",
        type=_FRACTION,
        default=0.2,
        help="fraction held out (default: %(default)s)",
    )
    p.add_argument(
        "--n-folds",
        type=_number(int, low=2),
        default=None,
        help="samples protocol: K folds, each profile held out once (default: none, one split "
        "holding out --fraction)",
    )
    p.add_argument("--methods", default=None, help=f"comma-separated (default: {','.join(DEFAULT_METHODS)})")
    p.add_argument(
        "--param",
        action="append",
        metavar="METHOD.KEY=VALUE",
        help="a hyperparameter of one method, e.g. hybrid.max_epochs=5 (repeatable)",
    )
    p.add_argument(
        "--interval",
        type=_FRACTION,
        default=None,
        help="also score prediction intervals at this level (coverage, width)",
    )
    _choice(
        p,
        "--log-transform",
        ("auto", "true", "false"),
        "model log1p of the values; auto = for non-negative TPM/count-like data",
    )
    _common(p)
    p.set_defaults(func=cmd.evaluate)

    p = sub.add_parser(
        "demo",
        help="the whole job on a simulated GTEx-shaped cohort (~1 min)",
        description="Simulate a small GTEx-shaped cohort, complete its absent profiles, "
        "evaluate the hybrid against the baselines under P1, P2 and P3, and write a report "
        "folder (completed h5ad, metrics TSV, figures, index.html).",
    )
    p.add_argument(
        "-o",
        "--output-dir",
        default="gex_impute_demo",
        type=_non_empty,
        help="report folder (default: %(default)s)",
    )
    p.add_argument(
        "--overwrite", action="store_true", help="replace an earlier report folder (one with a report.json)"
    )
    _common(p, data=False)
    p.set_defaults(func=cmd.demo)
    return parser

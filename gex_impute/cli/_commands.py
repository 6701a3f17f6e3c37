"""One function per subcommand: check the outputs, read, call the public API, write, report."""

from __future__ import annotations

import argparse
import logging
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from .._data import PROFILE_COLUMN
from .._utils import COHORT_MARKERS, DEMO_MARKERS, MODEL_MARKERS, ZARR_MARKERS
from ._arguments import DEFAULT_METHODS, UsageError
from ._outputs import _check, _is_zarr, _write, _written

if TYPE_CHECKING:
    from anndata import AnnData

    from ..methods import BaseImputer

logger = logging.getLogger("gex_impute")


# -- translation helpers ------------------------------------------------------------------------
def _progress(args: argparse.Namespace) -> bool:
    """Progress bars only on a terminal: none in logs (Galaxy, CI, pipes)."""
    return not args.quiet and sys.stderr.isatty()


def _log_transform(args: argparse.Namespace) -> bool | Literal["auto"]:
    return "auto" if args.log_transform == "auto" else args.log_transform == "true"


def _keys(args: argparse.Namespace) -> dict[str, Any]:
    donor_key = False if getattr(args, "no_donors", False) else args.donor_key
    return {"tissue_key": args.tissue_key, "donor_key": donor_key, "layer": args.layer}


def _key_values(items: list[str] | None, option: str) -> dict[str, str]:
    pairs: dict[str, str] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            msg = f"{option} {item!r} is not of the form KEY=VALUE (e.g. {option} n_neighbors=10)"
            raise UsageError(msg)
        pairs[key.strip()] = value.strip()
    return pairs


def _sex_key(args: argparse.Namespace) -> dict[str, Any]:
    """``complete``'s ``sex_key``: None with ``--no-sex``, the column named, else the API's default."""
    if args.no_sex:
        return {"sex_key": None}
    return {} if args.sex_key is None else {"sex_key": args.sex_key}


def _list(text: str | None) -> list[str] | None:
    if text is None:
        return None
    items = [t.strip() for t in text.split(",") if t.strip()]
    if not items:
        msg = f"{text!r} names nothing; give a comma-separated list"
        raise UsageError(msg)
    return items


def _method(args: argparse.Namespace, name: str | None, params: dict[str, str]) -> BaseImputer:
    """Build a method from its name and ``--param`` strings (validated by the registry)."""
    from ..methods import coerce_params, get_method, method_spec

    name = name or "hybrid"
    values = coerce_params(name, params)
    names = set(method_spec(name).params)
    if "random_state" in names:
        values.setdefault("random_state", args.seed)
    if "progress" in names:
        values.setdefault("progress", _progress(args))
    if getattr(args, "device", None) is not None:
        if "device" not in names:
            msg = f"--device applies to the hybrid model only, not to method {name!r}"
            raise UsageError(msg)
        values.setdefault("device", args.device)
    return get_method(name, **values)


def _model_or_method(args: argparse.Namespace) -> BaseImputer:
    from ..methods import load_model

    if args.model is not None:
        if args.method is not None or args.param:
            msg = "give either --model (a saved model) or --method/--param, not both"
            raise UsageError(msg)
        model = load_model(args.model)
        device = getattr(args, "device", None)
        if device is not None:  # the device of its refits (--interval without a saved calibration)
            if "device" not in model.get_params():
                msg = (
                    f"--device applies to the hybrid model only, not to the saved {model.name!r} model "
                    f"{args.model!r}; drop --device"
                )
                raise UsageError(msg)
            model.set_params(device=device)
        return model
    return _method(args, args.method, _key_values(args.param, "--param"))


def _read(args: argparse.Namespace) -> AnnData:
    from .. import io

    if args.subject_phenotypes is not None and args.sample_attributes is None:
        logger.warning("--subject-phenotypes is used together with --sample-attributes (GCT input)")
    return io.read_expression(
        args.input, sample_attributes=args.sample_attributes, subject_phenotypes=args.subject_phenotypes
    )


# -- subcommands --------------------------------------------------------------------------------
def simulate(args: argparse.Namespace) -> int:
    """``gex-impute simulate``."""
    from .. import datasets, io

    out = Path(args.output)
    as_file = out.suffix.lower() == ".h5ad"
    if as_file and (args.fasta or args.gtf or args.gct or args.preset == "gtex_v8"):
        msg = "--fasta/--gtf/--gct and --preset gtex_v8 write several files: give a folder as --output"
        raise UsageError(msg)
    _check(args, args.output, "--output", directory=not as_file, markers=COHORT_MARKERS)
    sizes = {
        k: getattr(args, k) for k in ("n_donors", "n_tissues", "n_genes") if getattr(args, k) is not None
    }
    adata = datasets.simulate(preset=args.preset, random_state=args.seed, **sizes)
    if as_file:
        io.write_h5ad(adata, out)
    else:  # the whole folder or nothing: built beside it, renamed when complete
        from .._utils import OUTPUT_MARKER
        from ..report import staged_folder

        with staged_folder(out) as tmp:
            if args.preset == "gtex_v8":
                datasets.write_gtex_files(adata, tmp, fasta=args.fasta, gtf=True)
            else:
                datasets.write_dataset(tmp, adata, fasta=args.fasta, gtf=args.gtf, gct=args.gct)
            # marks the folder as this command's, so that --overwrite may replace it later
            (tmp / OUTPUT_MARKER).write_text("written by gex-impute simulate\n")
    _written(args, out)
    return 0


def annotate(args: argparse.Namespace) -> int:
    """``gex-impute annotate``."""
    from .. import pp

    if args.annotation is None and args.fasta is None and args.promoters is None:
        msg = "nothing to do: give --annotation and/or --fasta or --promoters"
        raise UsageError(msg)
    if args.promoter_mapping is not None and args.promoters is None:
        msg = "--promoter-mapping only applies with --promoters"
        raise UsageError(msg)
    _check(args, args.output, "--output", directory=_is_zarr(args.output), markers=ZARR_MARKERS)
    adata = _read(args)
    if args.annotation is not None:
        pp.annotate_genes(
            adata,
            args.annotation,
            format=args.annotation_format,
            tissue_key=args.tissue_key,
            bed_tss=args.bed_tss,
            coordinates=args.coordinates,
            chrom_style=args.chrom_style,
            gene_id_key=args.gene_id_key,
        )
    if args.fasta is not None or args.promoters is not None:
        pp.add_promoters(
            adata,
            fasta=args.fasta,
            sequences=args.promoters,
            mapping=args.promoter_mapping,
            upstream=args.upstream,
            downstream=args.downstream,
            gene_id_key=args.gene_id_key,
            tissue_key=args.tissue_key,
        )
    _write(adata, args.output)
    _written(args, args.output)
    return 0


def fit(args: argparse.Namespace) -> int:
    """``gex-impute fit``."""
    from ..methods._archive import check_archive_path

    zipped = check_archive_path(args.output, overwrite=args.overwrite)  # before the fit
    _check(args, args.output, "--output", directory=not zipped, markers=MODEL_MARKERS)
    model = _method(args, args.method, _key_values(args.param, "--param"))
    adata = _read(args)
    start = time.perf_counter()
    model.fit(adata, log_transform=_log_transform(args), **_keys(args))
    if args.calibrate:
        model.calibrate(adata, **_keys(args))
    logger.info("fitted %s in %.1f s", model.name, time.perf_counter() - start)
    model.save(args.output, overwrite=args.overwrite)
    _written(args, args.output)
    return 0


def impute(args: argparse.Namespace) -> int:
    """``gex-impute impute``."""
    from .. import tl
    from ..tl.impute import check_key_name

    _check(args, args.output, "--output", directory=_is_zarr(args.output), markers=ZARR_MARKERS)
    check_key_name(args.key_added)  # before the read
    method = _model_or_method(args)
    adata = _read(args)
    # a saved model is applied as it is (model=); a method is fitted on the input (method=)
    saved = args.model is not None
    tl.impute(
        adata,
        method=method,
        model=method if saved else None,
        key_added=args.key_added,
        log_transform=_log_transform(args),
        random_state=args.seed,
        interval=args.interval,
        progress=_progress(args),
        overwrite=args.overwrite,
        **_keys(args),
    )
    _write(adata, args.output)
    _written(args, args.output)
    return 0


def complete(args: argparse.Namespace) -> int:
    """``gex-impute complete``."""
    from .. import io, pl, tl
    from ..tl._output import SUFFIXES

    if Path(args.output).suffix.lower() not in SUFFIXES:  # before the read, not after
        msg = f"--output {args.output!r} must end in .h5ad or .zarr (the format is chosen from the suffix)"
        raise UsageError(msg)
    _check(args, args.output, "--output", directory=_is_zarr(args.output), markers=ZARR_MARKERS)
    _check(args, args.gct_output, "--gct-output")
    _check(args, args.plot, "--plot", plot=True)
    if args.no_donors:
        msg = "complete estimates donor x tissue profiles and needs each sample's donor: drop --no-donors"
        raise UsageError(msg)
    method = _model_or_method(args)
    donors, tissues = _list(args.donors), _list(args.tissues)  # usage errors before the read
    client = None
    if args.scheduler is not None:  # an unreachable scheduler, too: before the read
        from ._scheduler import connect

        client = connect(args.scheduler)
    try:
        adata = _read(args)
        tl.complete(
            adata,
            method=method,
            donors=donors,
            tissues=tissues,
            aggregate=None if args.aggregate == "none" else args.aggregate,
            interval=args.interval,
            out=args.output,
            client=client,
            random_state=args.seed,
            progress=_progress(args),
            overwrite=args.overwrite,
            **_keys(args),
            **({} if args.block_size is None else {"block_size": args.block_size}),
            **_sex_key(args),
        )
    finally:
        if client is not None:
            client.close()
    _written(args, args.output)
    zarr = _is_zarr(args.output)
    completed = io.read_zarr(args.output) if zarr else io.read_h5ad(args.output, backed="r")
    n_new = int(completed.obs[PROFILE_COLUMN].sum())
    if not args.quiet:
        print(f"completed {completed.n_obs} profiles ({n_new} estimated) x {completed.n_vars} genes")
    if args.gct_output is not None:
        io.write_gct(completed, args.gct_output)
        _written(args, args.gct_output)
    if args.plot is not None:  # the donor and tissue columns complete() recorded
        pl.profiles(completed, save=Path(args.plot))  # a path, never scanpy's figdir suffix
    return 0


def _evaluation_methods(args: argparse.Namespace) -> dict[str, BaseImputer]:
    names = _list(args.methods) or list(DEFAULT_METHODS)
    per_method: dict[str, dict[str, str]] = {name: {} for name in names}
    for key, value in _key_values(args.param, "--param").items():
        name, dot, param = key.partition(".")
        if not dot or name not in per_method:
            msg = f"--param {key}={value}: write METHOD.KEY=VALUE with METHOD one of {names}"
            raise UsageError(msg)
        per_method[name][param] = value
    return {name: _method(args, name, params) for name, params in per_method.items()}


def evaluate(args: argparse.Namespace) -> int:
    """``gex-impute evaluate``."""
    from .. import io, pl, tl

    _check(args, args.output, "--output")
    _check(args, args.plot, "--plot", plot=True)
    methods = _evaluation_methods(args)
    adata = _read(args)
    table = tl.evaluate(
        adata,
        protocol=args.protocol,
        fraction=args.fraction,
        n_folds=args.n_folds,
        methods=methods,
        interval=args.interval,
        log_transform=_log_transform(args),
        random_state=args.seed,
        progress=_progress(args),
        skip_unusable=args.methods is None,
        **_keys(args),
    )
    io.write_table(table, args.output)  # comma-separated for a .csv name
    _written(args, args.output)
    if args.plot is not None:
        split = f"{args.n_folds} folds" if args.n_folds is not None else f"{args.fraction:.0%} held out"
        pl.metrics(table, title=f"protocol {args.protocol!r}, {split}", save=Path(args.plot))
    if not args.quiet:
        print(tl.format_table(table))
    return 0


def demo(args: argparse.Namespace) -> int:
    """``gex-impute demo``."""
    from .. import datasets

    _check(args, args.output_dir, "--output-dir", directory=True, markers=DEMO_MARKERS)
    report = datasets.demo(args.output_dir, random_state=args.seed, progress=_progress(args), overwrite=True)
    if not args.quiet:
        print(report.summary())
    return 0

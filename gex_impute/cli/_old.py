"""Command-line interface: ``gex-impute <subcommand>``, a thin layer over the Python API.

Subcommands
-----------
``simulate``
    Write a simulated dataset (h5ad; genome FASTA, GTF and GCT when asked).
``annotate``
    Attach gene coordinates (GTF/GFF3/BED/TSV) and promoter sequences (genome FASTA or keyed
    sequences) to an expression file.
``fit``
    Fit a model and save it to a directory (or a ``.zip``).
``impute``
    Fill the missing entries with a method or a saved model.
``evaluate``
    Hold out known entries under a protocol, score several methods, write a TSV and a PNG.
``demo``
    Simulate, evaluate, impute and print a metrics table.

Expression inputs are h5ad files or GTEx GCT files (with ``--sample-attributes``); the format is
sniffed from the file's content, so Galaxy's ``.dat`` files work too. User mistakes give one
``gex-impute: error: ...`` line on stderr and exit status 1; ``--verbose`` shows tracebacks.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import shutil
import sys
import tempfile
import time
import zipfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd
    from anndata import AnnData

logger = logging.getLogger("gex_impute")

PROG = "gex-impute"
#: methods the ``demo`` and ``evaluate`` subcommands compare by default
DEFAULT_METHODS = ("hybrid", "distance", "knn", "mean", "additive")
#: the demo fits a lighter hybrid model so that the whole demo takes about two minutes on 2 CPU cores
DEMO_HYBRID_PARAMS = {"max_epochs": 5, "n_estimators": 200}
#: the errors a user can cause by bad input; shown as one line, without a traceback
USER_ERRORS = (
    ValueError,
    KeyError,
    FileNotFoundError,
    IsADirectoryError,
    NotADirectoryError,
    PermissionError,
)

_HDF5_MAGIC = b"\x89HDF\r\n\x1a\n"
_GZIP_MAGIC = b"\x1f\x8b"
_ZIP_MAGIC = b"PK\x03\x04"


class CLIError(Exception):
    """A user mistake detected by the CLI itself (reported as one line, exit status 1)."""


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def _existing_file(path: str | Path, what: str) -> Path:
    path = Path(path)
    if not path.exists():
        msg = f"{what} {str(path)!r} does not exist; check the path."
        raise FileNotFoundError(msg)
    if path.is_dir():
        msg = f"{what} {str(path)!r} is a directory, expected a file."
        raise IsADirectoryError(msg)
    return path


def _sniff(path: Path) -> str:
    """Guess an expression file's format from its content (then its suffix)."""
    with open(path, "rb") as fh:
        head = fh.read(8)
    if head.startswith(_HDF5_MAGIC):
        return "h5ad"
    if head.startswith(_GZIP_MAGIC):
        import gzip

        with gzip.open(path, "rb") as fh:
            first = fh.readline(64)
        return "gct" if first.startswith(b"#1.") else "unknown"
    if head.startswith(b"#1."):
        return "gct"
    name = path.name.lower()
    for suffix, fmt in (
        (".h5ad", "h5ad"),
        (".gct", "gct"),
        (".gct.gz", "gct"),
        (".tsv", "table"),
        (".txt", "table"),
    ):
        if name.endswith(suffix):
            return fmt
    return "unknown"


def read_input(path: str | Path, *, sample_attributes: str | Path | None = None) -> AnnData:
    """Read an expression file: h5ad, or a GTEx GCT (plain or gzip) with optional sample attributes.

    Parameters
    ----------
    path
        The file; its format is sniffed from the content (HDF5 -> h5ad, ``#1.2`` -> GCT), then
        from the suffix (``.tsv`` -> a genes x tissues table).
    sample_attributes
        GTEx sample-attributes table (SAMPID, SMTS, SMTSD) for a GCT input.

    Returns
    -------
    The AnnData.

    Examples
    --------
    >>> from gex_impute.cli import read_input
    >>> adata = read_input("test-data/sim.h5ad")  # doctest: +SKIP
    """
    path = _existing_file(path, "input file")
    if sample_attributes is not None:
        sample_attributes = _existing_file(sample_attributes, "sample attributes file")
    fmt = _sniff(path)
    from . import io

    if fmt == "h5ad":
        adata = io.read_h5ad(path)
    elif fmt == "gct":
        adata = io.read_gct(path, sample_attributes=sample_attributes)
    elif fmt == "table" and sample_attributes is None:
        adata = io.read_tissue_table(path)
    else:
        # let the package's reader decide (and explain what it cannot read)
        adata = io.read_expression(path, sample_attributes=sample_attributes)
    logger.info("read %s: %d x %d (%s)", path, adata.n_obs, adata.n_vars, fmt)
    return adata


def write_h5ad(adata: AnnData, path: str | Path) -> None:
    """Write ``adata`` to ``path`` atomically (a failed write leaves no file)."""
    from . import io

    io.write_h5ad(adata, path)
    logger.info("wrote %s", path)


def write_table(df: pd.DataFrame, path: str | Path, *, index: bool = True) -> None:
    """Write a tab-separated table atomically."""
    from ._utils import atomic_path

    with atomic_path(path, suffix=".tsv") as tmp:
        df.to_csv(tmp, sep="\t", index=index, float_format="%.6g")
    logger.info("wrote %s", path)


def _parse_value(text: str) -> Any:
    low = text.lower()
    if low in ("true", "false"):
        return low == "true"
    if low in ("none", "null"):
        return None
    for cast in (int, float):
        try:
            return cast(text)
        except ValueError:
            pass
    return text


def parse_params(items: Sequence[str] | None) -> dict[str, Any]:
    """Parse repeated ``KEY=VALUE`` options into a dict (ints, floats, booleans, None, strings)."""
    params: dict[str, Any] = {}
    for item in items or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            msg = f"--param {item!r} is not of the form KEY=VALUE (e.g. --param k=20)."
            raise CLIError(msg)
        params[key.strip()] = _parse_value(value.strip())
    return params


def _methods(text: str) -> list[str]:
    methods = [m.strip() for m in text.split(",") if m.strip()]
    if not methods:
        msg = f"--methods {text!r} names no method; give a comma-separated list such as 'mean,knn'."
        raise CLIError(msg)
    return methods


def _resolve_methods(methods: Sequence[str], *, explicit: bool) -> list[str]:
    """Keep the requested methods that are registered; unknown explicit names are an error."""
    from .methods import available_methods

    available = available_methods()
    unknown = [m for m in methods if m not in available]
    if unknown and explicit:
        msg = f"unknown method(s) {unknown}; choose from {available}."
        raise CLIError(msg)
    for m in unknown:
        logger.warning("method %r is not available in this installation; skipped", m)
    kept = [m for m in methods if m in available]
    if not kept:
        msg = f"none of the methods {list(methods)} is available; choose from {available}."
        raise CLIError(msg)
    return kept


def _usable_methods(adata: AnnData, args: argparse.Namespace, methods: Sequence[str]) -> list[str]:
    """Drop (with a warning) default methods whose needs (coordinates, donors) ``adata`` lacks."""
    from ._data import from_anndata
    from .methods import get_method

    data, _ = from_anndata(
        adata,
        tissue_key=args.tissue_key,
        donor_key=args.donor_key,
        layer=args.layer,
        log_transform=_log_transform(args.log_transform),
    )
    kept = []
    for name in methods:
        try:
            get_method(name)._check_data(data)
        except ValueError as err:
            logger.warning("skipping method %r: %s", name, err)
            continue
        kept.append(name)
    if not kept:
        msg = f"none of the methods {list(methods)} can run on this input; see the warnings above."
        raise CLIError(msg)
    return kept


def _default_method() -> str:
    """Return the method ``impute`` uses when none is named: the API's default when registered."""
    import inspect

    from .impute import impute
    from .methods import available_methods

    default = inspect.signature(impute).parameters["method"].default
    if isinstance(default, str) and default in available_methods():
        return default
    return "distance"


def _log_transform(value: str) -> bool | str:
    return {"auto": "auto", "true": True, "false": False}[value]


@contextlib.contextmanager
def _unpacked_model(path: Path) -> Iterator[Path]:
    """Yield a model directory: ``path`` itself, or a temporary copy of a zip's content."""
    with open(path, "rb") as fh:
        is_zip = fh.read(4) == _ZIP_MAGIC
    if not is_zip:
        yield path
        return
    with tempfile.TemporaryDirectory(prefix="gex_impute_model_") as tmp:
        with zipfile.ZipFile(path) as zf:
            for name in zf.namelist():
                target = (Path(tmp) / name).resolve()
                if Path(tmp).resolve() not in target.parents and target != Path(tmp).resolve():
                    msg = f"model archive {str(path)!r} holds an unsafe path {name!r}."
                    raise ValueError(msg)
            zf.extractall(tmp)
        entries = [p for p in Path(tmp).iterdir() if not p.name.startswith(".")]
        # a zip of a folder (one top-level directory) or of its content
        yield entries[0] if len(entries) == 1 and entries[0].is_dir() else Path(tmp)


def load_model(path: str | Path):
    """Load a model saved by ``gex-impute fit`` (a directory or a ``.zip`` of it)."""
    path = Path(path)
    if not path.exists():
        msg = f"model {str(path)!r} does not exist; create one with 'gex-impute fit'."
        raise FileNotFoundError(msg)
    from .methods.hybrid import HybridImputer

    with _unpacked_model(path) if path.is_file() else contextlib.nullcontext(path) as folder:
        model = HybridImputer.load(folder)
    logger.info("loaded model from %s", path)
    return model


def save_model(model, path: str | Path) -> None:
    """Save ``model`` to a directory, or to a zip archive when ``path`` ends with ``.zip``.

    Atomic: the directory or archive appears only when saving succeeded.
    """
    path = Path(path)
    if not hasattr(model, "save"):
        msg = (
            f"method {model.name!r} cannot be saved (it has no save()); only models such as 'hybrid' "
            f"can. Use 'gex-impute impute --method {model.name}' directly instead."
        )
        raise CLIError(msg)
    if path.exists() and path.is_dir() and any(path.iterdir()):
        msg = f"output {str(path)!r} is a non-empty directory; remove it or choose another path."
        raise CLIError(msg)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=f".{path.name}.", dir=path.parent) as tmp:
        folder = Path(tmp) / "model"
        model.save(folder)
        if path.suffix.lower() == ".zip":
            from ._utils import atomic_path

            with atomic_path(path, suffix=".zip") as tmp_zip:
                with zipfile.ZipFile(tmp_zip, "w", compression=zipfile.ZIP_DEFLATED) as zf:
                    for file in sorted(folder.rglob("*")):
                        if file.is_file():
                            zf.write(file, file.relative_to(folder).as_posix())
        else:
            if path.exists():
                path.rmdir()  # an empty directory, checked above
            shutil.move(str(folder), str(path))
    logger.info("saved model to %s", path)


def plot_metrics(table: pd.DataFrame, path: str | Path, *, title: str | None = None) -> None:
    """Bar charts of Pearson r and MSE per method, written atomically as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from . import pl
    from ._utils import atomic_path

    metrics = [m for m in ("pearson", "spearman", "mse") if m in table.columns]
    if not metrics:
        msg = f"the evaluation table has none of the columns pearson/spearman/mse: {list(table.columns)}"
        raise ValueError(msg)
    n = len(table)
    fig, axes = plt.subplots(
        1, len(metrics), figsize=(max(3.2, 0.7 * n + 1.5) * len(metrics), 3.6), squeeze=False
    )
    for ax, metric in zip(axes[0], metrics, strict=True):
        pl.method_comparison(table, metric, ax=ax)
        ax.set_title(metric)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    with atomic_path(path, suffix=".png") as tmp:
        fig.savefig(tmp, dpi=100, format="png")
    plt.close(fig)
    logger.info("wrote %s", path)


def _show_progress(args: argparse.Namespace) -> bool:
    return (not args.quiet) and sys.stderr.isatty()


def _api_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {"tissue_key": args.tissue_key, "donor_key": args.donor_key, "layer": args.layer}


# --------------------------------------------------------------------------------------------
# subcommands
# --------------------------------------------------------------------------------------------
def _simulate_kwargs(args: argparse.Namespace) -> dict[str, Any]:
    return {
        "n_donors": args.n_donors,
        "n_tissues": args.n_tissues,
        "n_genes": args.n_genes,
        "n_chromosomes": args.n_chromosomes,
        "random_state": args.seed,
    }


def cmd_simulate(args: argparse.Namespace) -> int:
    """``gex-impute simulate``: write a simulated dataset."""
    from . import datasets

    out = Path(args.output)
    adata = datasets.simulate(**_simulate_kwargs(args))
    if out.suffix == ".h5ad":
        if args.fasta or args.gtf or args.gct:
            msg = "--fasta/--gtf/--gct need a directory as --output (not an .h5ad file)."
            raise CLIError(msg)
        write_h5ad(adata, out)
        return 0
    if out.exists() and not out.is_dir():
        msg = f"--output {str(out)!r} exists and is not a directory; give a folder or an .h5ad path."
        raise CLIError(msg)
    # write_dataset writes each file atomically (temp file + rename)
    datasets.write_dataset(out, adata, fasta=args.fasta, gtf=args.gtf, gct=args.gct)
    return 0


def cmd_annotate(args: argparse.Namespace) -> int:
    """``gex-impute annotate``: attach coordinates and promoter sequences."""
    from . import pp

    if args.annotation is None and args.fasta is None and args.promoters is None:
        msg = "nothing to do: give --annotation and/or --fasta or --promoters."
        raise CLIError(msg)
    if args.fasta is not None and args.promoters is not None:
        msg = "give either --fasta (cut promoters from a genome) or --promoters (keyed sequences), not both."
        raise CLIError(msg)
    if args.promoter_mapping is not None and args.promoters is None:
        msg = "--promoter-mapping only applies with --promoters."
        raise CLIError(msg)
    adata = read_input(args.input, sample_attributes=args.sample_attributes)
    if args.annotation is not None:
        pp.annotate_genes(
            adata, str(_existing_file(args.annotation, "annotation file")), tissue_key=args.tissue_key
        )
    if args.fasta is not None or args.promoters is not None:
        pp.add_promoters(
            adata,
            fasta=None if args.fasta is None else str(_existing_file(args.fasta, "genome FASTA")),
            sequences=None
            if args.promoters is None
            else str(_existing_file(args.promoters, "promoter file")),
            mapping=None
            if args.promoter_mapping is None
            else str(_existing_file(args.promoter_mapping, "promoter mapping file")),
            upstream=args.upstream,
            downstream=args.downstream,
            tissue_key=args.tissue_key,
        )
    write_h5ad(adata, args.output)
    return 0


def _build_method(args: argparse.Namespace, method: str):
    """Instantiate ``method`` with the ``--param`` hyperparameters (checked against its signature)."""
    from .methods import _base, get_method

    _base._load_builtin_methods()
    cls = _base._REGISTRY[method]
    valid = cls._param_names()
    if hasattr(args, "hybrid_param"):  # evaluate / demo: hyperparameters for the hybrid model only
        option = "--hybrid-param"
        params = parse_params(args.hybrid_param) if method == "hybrid" else {}
        if method == "hybrid" and args.command == "demo":
            params = {**DEMO_HYBRID_PARAMS, **params}
    else:
        option = "--param"
        params = parse_params(getattr(args, "param", None))
    unknown = sorted(set(params) - set(valid))
    if unknown:
        msg = f"unknown {option} {unknown} for method {method!r}; valid: {valid}."
        raise CLIError(msg)
    if "random_state" in valid and "random_state" not in params:
        params["random_state"] = args.seed
    if "device" in valid and getattr(args, "device", None) is not None:
        params.setdefault("device", args.device)
    if "progress" in valid and "progress" not in params:
        params["progress"] = _show_progress(args)  # no bars in logs (Galaxy, CI, pipes)
    return get_method(method, **params)


def cmd_fit(args: argparse.Namespace) -> int:
    """``gex-impute fit``: fit a model and save it."""
    _resolve_methods([args.method], explicit=True)
    model = _build_method(args, args.method)
    if not hasattr(model, "save"):
        save_model(model, args.output)  # raises the explanatory error before the (long) fit
    adata = read_input(args.input, sample_attributes=args.sample_attributes)
    start = time.perf_counter()
    model.fit(adata, log_transform=_log_transform(args.log_transform), **_api_kwargs(args))
    logger.info("fitted %s in %.1f s", args.method, time.perf_counter() - start)
    save_model(model, args.output)
    return 0


def cmd_impute(args: argparse.Namespace) -> int:
    """``gex-impute impute``: fill missing entries."""
    from .impute import impute

    if args.model is not None and (args.method is not None or args.param):
        msg = "give either --model (a saved model) or --method/--param, not both."
        raise CLIError(msg)
    method = None
    if args.model is None:
        method = args.method or _default_method()
        _resolve_methods([method], explicit=True)
        instance = _build_method(args, method) if args.param else None  # check --param early
    adata = read_input(args.input, sample_attributes=args.sample_attributes)
    kwargs = dict(
        tissue_key=args.tissue_key,
        donor_key=args.donor_key,
        layer=args.layer,
        key_added=args.key_added,
        log_transform=_log_transform(args.log_transform),
        random_state=args.seed,
        progress=_show_progress(args),
    )
    if args.model is not None:
        model = load_model(args.model)
        impute(adata, model=model, **kwargs)
    else:
        # an instance with the given hyperparameters (seed, progress); impute() fits it on adata
        impute(adata, method=instance or _build_method(args, method), **kwargs)
    write_h5ad(adata, args.output)
    return 0


def _evaluate(adata: AnnData, args: argparse.Namespace, protocol: str, methods: list[str]) -> pd.DataFrame:
    from .evaluate import evaluate

    kwargs: dict[str, Any] = dict(
        protocol=protocol,
        fraction=args.fraction,
        methods=[(name, _build_method(args, name)) for name in methods],
        random_state=args.seed,
        **_api_kwargs(args),
    )
    import inspect

    accepted = inspect.signature(evaluate).parameters
    if "progress" in accepted:
        kwargs["progress"] = _show_progress(args)
    if "log_transform" in accepted:
        kwargs["log_transform"] = _log_transform(args.log_transform)
    start = time.perf_counter()
    table = evaluate(adata, **kwargs)
    logger.info("evaluated %s on protocol %r in %.1f s", methods, protocol, time.perf_counter() - start)
    if "method" in table.columns:
        table = table.set_index("method")
    table.index.name = "method"
    return table


def cmd_evaluate(args: argparse.Namespace) -> int:
    """``gex-impute evaluate``: score methods on held-out entries; TSV + PNG."""
    methods = _resolve_methods(
        _methods(args.methods) if args.methods else list(DEFAULT_METHODS), explicit=bool(args.methods)
    )
    adata = read_input(args.input, sample_attributes=args.sample_attributes)
    if not args.methods:
        methods = _usable_methods(adata, args, methods)
    table = _evaluate(adata, args, args.protocol, methods)
    write_table(table, args.output)
    if args.plot is not None:
        plot_metrics(table, args.plot, title=f"protocol {args.protocol!r}, {args.fraction:.0%} held out")
    if not args.quiet:
        print(format_table(table), file=sys.stdout)
    return 0


def format_table(table: pd.DataFrame) -> str:
    """Render an evaluation table for the terminal (the main metrics, 3 decimals)."""
    preferred = [
        "protocol",
        "pearson",
        "spearman",
        "mse",
        "per_gene_r",
        "mean_gene_r",
        "per_tissue_r",
        "mean_tissue_r",
        "n_heldout",
        "n_fallback",
        "fit_seconds",
        "predict_seconds",
    ]
    cols = [c for c in preferred if c in table.columns] or list(table.columns)
    return table[cols].to_string(float_format=lambda x: f"{x:.3f}")


def cmd_demo(args: argparse.Namespace) -> int:
    """``gex-impute demo``: simulate -> evaluate (P2 entries, P1 genes) -> impute -> print."""
    import pandas as pd

    from . import datasets
    from .impute import impute

    explicit = bool(args.methods)
    methods = _resolve_methods(
        _methods(args.methods) if explicit else list(DEFAULT_METHODS), explicit=explicit
    )
    start = time.perf_counter()
    adata = datasets.simulate(**_simulate_kwargs(args))
    donor_key = args.donor_key or ("donor" if "donor" in adata.obs.columns else None)
    args.donor_key = donor_key
    import numpy as np

    n_missing = int(np.isnan(np.asarray(adata.X, dtype=float)).sum())
    print(
        f"Simulated {adata.n_obs} samples ({adata.obs[args.tissue_key].nunique()} tissues) x "
        f"{adata.n_vars} genes, {n_missing} missing entries ({n_missing / adata.X.size:.1%}).",
    )
    tables = []
    for protocol, label in (("entries", "P2 entries"), ("genes", "P1 genes")):
        table = _evaluate(adata, args, protocol, methods)
        table["protocol"] = label
        tables.append(table)
    result = pd.concat(tables)
    print(f"\nHeld-out accuracy ({args.fraction:.0%} held out, seed {args.seed}; log1p scale):")
    print(format_table(result))
    method = args.impute_method or _pick_best(result, methods)
    impute(
        adata,
        method=_build_method(args, method),
        tissue_key=args.tissue_key,
        donor_key=donor_key,
        layer=args.layer,
        random_state=args.seed,
        progress=_show_progress(args),
    )
    imputed = adata.layers["imputed"]
    mask = adata.layers.get("imputed_mask")
    n_filled = int(np.asarray(mask).sum()) if mask is not None else n_missing
    truth = adata.layers.get("truth")
    line = f"\nImputed {n_filled} missing entries with {method!r}"
    if truth is not None and mask is not None and n_filled:
        m = np.asarray(mask, dtype=bool)
        r = np.corrcoef(np.log1p(imputed[m]), np.log1p(np.asarray(truth)[m]))[0, 1]
        line += f"; Pearson r against the simulated truth (log1p) = {r:.3f}"
    print(line + ".")
    if args.output_dir is not None:
        out = Path(args.output_dir)
        write_h5ad(adata, out / "demo_imputed.h5ad")
        write_table(result, out / "demo_metrics.tsv")
        print(f"Wrote {out / 'demo_imputed.h5ad'} and {out / 'demo_metrics.tsv'}.")
    logger.info("demo finished in %.1f s", time.perf_counter() - start)
    return 0


def _pick_best(result: pd.DataFrame, methods: list[str]) -> str:
    """Return the method with the best mean Pearson r over the demo's protocols."""
    if "pearson" not in result.columns:
        return methods[0]
    scores = result.groupby(level=0)["pearson"].mean()
    return str(scores.idxmax())


# --------------------------------------------------------------------------------------------
# parser
# --------------------------------------------------------------------------------------------
def _common_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    g = common.add_argument_group("common options")
    g.add_argument(
        "--tissue-key", default="tissue", help="column holding each sample's tissue (default: %(default)s)"
    )
    g.add_argument("--donor-key", default=None, help="column holding each sample's donor (default: none)")
    g.add_argument("--layer", default=None, help="layer holding the expression values (default: X)")
    g.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    verbosity = g.add_mutually_exclusive_group()
    verbosity.add_argument("-q", "--quiet", action="store_true", help="only print errors")
    verbosity.add_argument("-v", "--verbose", action="store_true", help="debug logs and tracebacks")
    return common


def _input_args(p: argparse.ArgumentParser) -> None:
    p.add_argument("input", help="expression file: h5ad, or GTEx GCT (.gct/.gct.gz)")
    p.add_argument(
        "--sample-attributes",
        default=None,
        metavar="TSV",
        help="GTEx sample attributes (SAMPID, SMTS, SMTSD) for a GCT input",
    )


def _log_arg(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--log-transform",
        choices=("auto", "true", "false"),
        default="auto",
        help="model log1p of the values; auto = for non-negative TPM/count-like data (default: auto)",
    )


def _simulate_args(p: argparse.ArgumentParser, *, n_donors: int, n_tissues: int, n_genes: int) -> None:
    g = p.add_argument_group("simulation size")
    g.add_argument("--n-donors", type=int, default=n_donors, help="donors (default: %(default)s)")
    g.add_argument("--n-tissues", type=int, default=n_tissues, help="tissues (default: %(default)s)")
    g.add_argument("--n-genes", type=int, default=n_genes, help="genes (default: %(default)s)")
    g.add_argument("--n-chromosomes", type=int, default=3, help="chromosomes (default: %(default)s)")


def build_parser() -> argparse.ArgumentParser:
    """Build the ``gex-impute`` argument parser."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Impute missing genotype-tissue-specific gene expression (h5ad in, h5ad out).",
        epilog="Run 'gex-impute <command> --help' for the options of a command.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    common = _common_parser()

    p = sub.add_parser(
        "simulate",
        parents=[common],
        help="write a simulated dataset",
        description="Write a simulated donor x tissue x gene dataset. An --output ending in .h5ad "
        "writes that file; otherwise --output is a folder receiving sim.h5ad and, when asked, "
        "genome.fa, genes.gtf and expression.gct + sample_attributes.tsv.",
    )
    p.add_argument("-o", "--output", required=True, help="an .h5ad file or a folder")
    p.add_argument("--fasta", action="store_true", help="also write the genome FASTA (folder output)")
    p.add_argument("--gtf", action="store_true", help="also write the gene GTF (folder output)")
    p.add_argument("--gct", action="store_true", help="also write GCT + sample attributes (folder output)")
    _simulate_args(p, n_donors=20, n_tissues=8, n_genes=2000)
    p.set_defaults(func=cmd_simulate)

    p = sub.add_parser(
        "annotate",
        parents=[common],
        help="attach gene coordinates and promoter sequences",
        description="Add var columns chrom, start, end, strand, tss, gene_type from an annotation "
        "and promoter sequences cut from a genome FASTA or taken from keyed sequences.",
    )
    _input_args(p)
    p.add_argument("-o", "--output", required=True, help="output h5ad")
    p.add_argument("--annotation", default=None, help="gene annotation: GTF, GFF3, BED6 or TSV")
    seq = p.add_mutually_exclusive_group()
    seq.add_argument("--fasta", default=None, help="genome FASTA to cut promoters from")
    seq.add_argument("--promoters", default=None, help="promoter sequences keyed by gene (FASTA or TSV)")
    p.add_argument("--promoter-mapping", default=None, help="TSV mapping promoter ids to gene ids")
    p.add_argument("--upstream", type=int, default=1000, help="bp upstream of the TSS (default: %(default)s)")
    p.add_argument(
        "--downstream", type=int, default=500, help="bp downstream of the TSS (default: %(default)s)"
    )
    p.set_defaults(func=cmd_annotate)

    p = sub.add_parser(
        "fit",
        parents=[common],
        help="fit a model and save it",
        description="Fit a model on an expression file and save it to a folder, or a zip archive "
        "when --output ends with .zip. Reuse it with 'gex-impute impute --model'.",
    )
    _input_args(p)
    p.add_argument("-o", "--output", required=True, help="model folder or .zip")
    p.add_argument("--method", default="hybrid", help="method to fit (default: %(default)s)")
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="hyperparameter (repeatable)")
    p.add_argument("--device", default=None, help="torch device for the hybrid model: auto, cpu, cuda")
    _log_arg(p)
    p.set_defaults(func=cmd_fit)

    p = sub.add_parser(
        "impute",
        parents=[common],
        help="fill missing entries",
        description="Fill every missing (NaN) entry. Writes layers[KEY] (observed values kept), "
        "layers[KEY_mask] (True where imputed) and uns[KEY].",
    )
    _input_args(p)
    p.add_argument("-o", "--output", required=True, help="output h5ad")
    p.add_argument("--method", default=None, help="imputation method (default: the API's default)")
    p.add_argument("--model", default=None, help="a model saved by 'gex-impute fit' (folder or .zip)")
    p.add_argument("--param", action="append", metavar="KEY=VALUE", help="hyperparameter (repeatable)")
    p.add_argument("--device", default=None, help="torch device for the hybrid model: auto, cpu, cuda")
    p.add_argument("--key-added", default="imputed", help="layer name for the result (default: %(default)s)")
    _log_arg(p)
    p.set_defaults(func=cmd_impute)

    p = sub.add_parser(
        "evaluate",
        parents=[common],
        help="score methods on held-out entries (TSV + PNG)",
        description="Hide a fraction of the observed entries under a protocol (genes: whole genes; "
        "entries: scattered entries; samples: whole donor x tissue profiles, needs --donor-key), "
        "impute them with each method and score them.",
    )
    _input_args(p)
    p.add_argument("-o", "--output", required=True, help="output TSV (one row per method)")
    p.add_argument("--plot", default=None, help="output PNG with the metrics per method")
    p.add_argument("--protocol", choices=("genes", "entries", "samples"), default="genes")
    p.add_argument("--fraction", type=float, default=0.2, help="fraction held out (default: %(default)s)")
    p.add_argument("--methods", default=None, help=f"comma-separated (default: {','.join(DEFAULT_METHODS)})")
    p.add_argument(
        "--hybrid-param",
        action="append",
        metavar="KEY=VALUE",
        help="hyperparameter of the hybrid model (repeatable)",
    )
    _log_arg(p)
    p.set_defaults(func=cmd_evaluate)

    p = sub.add_parser(
        "demo",
        parents=[common],
        help="simulate, evaluate, impute and print a metrics table",
        description="The main job on simulated data: simulate a dataset, evaluate the methods on "
        "scattered entries (P2) and whole genes (P1), impute with the best one and print the table.",
    )
    p.add_argument("--methods", default=None, help=f"comma-separated (default: {','.join(DEFAULT_METHODS)})")
    p.add_argument(
        "--impute-method", default=None, help="method for the final imputation (default: the best)"
    )
    p.add_argument("--fraction", type=float, default=0.2, help="fraction held out (default: %(default)s)")
    p.add_argument("--output-dir", default=None, help="also write the imputed h5ad and the table here")
    p.add_argument(
        "--hybrid-param",
        action="append",
        metavar="KEY=VALUE",
        help="hyperparameter of the hybrid model (repeatable; the demo uses "
        + ", ".join(f"{k}={v}" for k, v in DEMO_HYBRID_PARAMS.items())
        + " unless given)",
    )
    _simulate_args(p, n_donors=10, n_tissues=5, n_genes=400)
    _log_arg(p)
    p.set_defaults(func=cmd_demo)
    return parser


# --------------------------------------------------------------------------------------------
# entry point
# --------------------------------------------------------------------------------------------
class _OneLineFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"{PROG}: {record.levelname.lower()}: {record.getMessage()}"


def _error_message(err: BaseException) -> str:
    if isinstance(err, KeyError) and err.args:
        text = str(err.args[0])
    else:
        text = str(err) or type(err).__name__
    return " ".join(text.split())  # one line


def main(argv: Sequence[str] | None = None) -> int:
    """Run ``gex-impute`` with ``argv`` (``sys.argv[1:]`` when None); return the exit status.

    Examples
    --------
    >>> from gex_impute.cli import main
    >>> main(["simulate", "-o", "sim.h5ad", "--n-genes", "200"])  # doctest: +SKIP
    0
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    level = logging.DEBUG if args.verbose else logging.WARNING if args.quiet else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s")
        if args.verbose
        else _OneLineFormatter()
    )
    old_level, old_propagate = logger.level, logger.propagate
    logger.addHandler(handler)
    logger.setLevel(level)
    logger.propagate = False
    try:
        return int(args.func(args) or 0)
    except (CLIError, *USER_ERRORS) as err:
        if args.verbose:
            import traceback

            traceback.print_exc(file=sys.stderr)
        print(f"{PROG}: error: {_error_message(err)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{PROG}: interrupted", file=sys.stderr)
        return 130
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)
        logger.propagate = old_propagate


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())

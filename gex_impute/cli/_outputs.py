"""Output paths of the subcommands: checked before any work, written, reported."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .._utils import check_output_path
from ._arguments import UsageError

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("gex_impute")


def _inputs(args: argparse.Namespace) -> tuple[str | None, ...]:
    names = (
        "input",
        "sample_attributes",
        "subject_phenotypes",
        "annotation",
        "fasta",
        "promoters",
        "promoter_mapping",
        "model",
    )
    return tuple(v for v in (getattr(args, n, None) for n in names) if isinstance(v, str))


def _check(
    args: argparse.Namespace, path: str | None, what: str, *, plot: bool = False, **kwargs: Any
) -> None:
    """Check an output path before any work: writable, not an input, not another output's path."""
    if path is None:
        return
    check_output_path(path, what=what, inputs=_inputs(args), overwrite=args.overwrite, **kwargs)
    if plot:
        _check_plot_format(path, what)
    seen: dict[Path, str] = args.__dict__.setdefault("_outputs", {})
    resolved = Path(path).resolve()
    if resolved in seen:
        msg = f"{what} and {seen[resolved]} name the same file {path!r}; give each output its own path"
        raise UsageError(msg)
    seen[resolved] = what


def _check_plot_format(path: str, what: str) -> None:
    from ..errors import ParameterError
    from ..pl._utils import image_format

    try:
        image_format(path, what=what)
    except ParameterError as err:
        raise UsageError(str(err).replace(f"{what}=", f"{what} ", 1)) from None


def _write(adata: AnnData, path: str) -> None:
    """Write ``adata``: a zarr store for a ``.zarr`` path, else an h5ad file (Galaxy's .dat names too)."""
    from .. import io

    if _is_zarr(path):
        io.write_zarr(adata, path)
    else:
        io.write_h5ad(adata, path)


def _is_zarr(path: str) -> bool:
    return Path(path.rstrip("/")).suffix.lower() == ".zarr"


def _written(args: argparse.Namespace, path: str | Path) -> None:
    """Log ``path`` as written and keep it in ``args._written`` (named if a later step fails)."""
    args.__dict__.setdefault("_written", []).append(str(path))
    logger.info("wrote %s", path)

"""``gi.tl.complete``: one expression profile per donor x tissue, absent ones estimated.

The method is fitted once on all observed samples. Observed samples keep their values
bitwise (their missing entries are filled, as :func:`gex_impute.tl.impute` does); absent
donor x tissue profiles are estimated block by block, each block as all-missing rows appended
to the observed data (the context); a method that can only predict every row of its input
gets a few large batches of blocks instead, so that its full predictions stay few whatever
the cohort size. Blocks (or batches) run here one after the other, or on a
dask.distributed cluster (``client=``), and are written as they arrive: into an in-memory
AnnData, or into an ``.h5ad`` / ``.zarr`` store (``out=``) so that the completed matrix never
exists whole in memory.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Generator, Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .._data import (
    detect_orientation,
    fingerprint,
    from_anndata,
    input_matrix,
    output_dtype,
    resolve_keys,
    sample_annotation,
)
from .._errors import DataError, ParameterError
from ..methods._base import BaseImputer
from ._assemble import Holes, missing_per_row, observed_block
from ._blocks import Context, estimate_holes, estimate_profiles
from ._dask import check_client, run_blocks
from ._grid import plan_grid
from ._methods import check_level, h5ad_safe, is_fitted, resolve_method
from ._methods import method_params as recorded_params
from ._output import MemoryWriter, StoreWriter, check_output_path

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("gex_impute")

__all__ = ["complete"]


def _check_int(name: str, value: Any, low: int) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        msg = f"{name}={value!r} must be an integer >= {low}."
        raise ParameterError(msg)
    return int(value)


def _blocks(n_rows: int, block_size: int) -> list[tuple[int, int]]:
    return [(s, min(s + block_size, n_rows)) for s in range(0, n_rows, block_size)]


def _estimate_holes(method, context: Context, level, dtype, client, block_size) -> Holes:
    """Fill the missing entries of observed samples (by blocks when the method predicts rows)."""
    counts = missing_per_row(context.data.values)
    rows = np.flatnonzero(counts)
    parts = []
    if len(rows):
        step = block_size if hasattr(method, "predict_rows") else len(rows)  # else: one full prediction
        tasks = [(rows[s : s + step], level, dtype) for s in range(0, len(rows), step)]
        parts = list(run_blocks(estimate_holes, (method, context), tasks, client=client))
    return Holes(context.data.values, counts, parts)


def _prediction_batches(grid, blocks, limit: int) -> list[list[tuple[int, int]]]:
    """Group consecutive output blocks that hold absent profiles, at most ``limit`` of them per group.

    A group is estimated by one prediction; a block is never split (a group holds at least one).
    """
    batches: list[list[tuple[int, int]]] = []
    n_rows = limit  # start a new group at the first block
    for start, stop in blocks:
        n = int(grid.estimated[start:stop].sum())
        if n == 0:
            continue
        if n_rows + n > limit:
            batches.append([])
            n_rows = 0
        batches[-1].append((start, stop))
        n_rows += n
    return batches


def _profile_results(
    method, context: Context, grid, batches, level, dtype, client
) -> Generator[dict, None, None]:
    """Estimates of the absent profiles, one result per block that has any, in block order.

    Each batch of blocks is estimated by one prediction; its result is cut back into blocks.
    """
    columns = list(context.data.obs.columns)
    sizes = [[int(grid.estimated[a:b].sum()) for a, b in batch] for batch in batches]

    def tasks():
        for batch in batches:
            rows = np.concatenate(
                [start + np.flatnonzero(grid.estimated[start:stop]) for start, stop in batch]
            )
            obs = grid.obs.iloc[rows].reindex(columns=columns)
            yield grid.donor[rows], grid.tissue[rows], obs, level, dtype

    results = run_blocks(estimate_profiles, (method, context), tasks(), client=client)
    try:
        for result, counts in zip(results, sizes, strict=True):
            offsets = np.cumsum([0, *counts])
            for a, b in zip(offsets[:-1], offsets[1:], strict=True):
                yield {name: values[a:b] for name, values in result.items()}
    finally:
        results.close()  # cancels what is still pending on a cluster


def _write_blocks(writer, adata, grid, holes, results, blocks, *, key_added, progress, desc, **read) -> int:
    """Assemble every output block (observed rows + estimated profiles) and write it; count estimates."""
    from .._utils import progress_bar

    n_imputed = 0
    bounds = ("lower", "upper") if read["level"] is not None else ()
    with progress_bar(blocks, enabled=progress, desc=desc, unit="block") as bar:
        for start, stop in bar:
            x, extra = observed_block(adata, grid, holes, start, stop, **read)
            estimated = np.flatnonzero(grid.estimated[start:stop])
            if len(estimated):
                result = next(results)
                x[estimated] = result["x"]
                extra["mask"][estimated] = True
                for b in bounds:
                    extra[b][estimated] = result[b]
            n_imputed += int(extra["mask"].sum())
            writer.write(start, stop, x, {f"{key_added}_{k}": v for k, v in extra.items()})
    return n_imputed


def _calibrate(method, data, *, has_absent: bool) -> None:
    """Calibrate the method's intervals once, for the patterns complete() asks about.

    Those of the observed samples' missing entries, and whole profiles when absent ones are
    estimated; patterns calibrated before are kept. (Left to ``predict_interval``, each block's
    prediction would calibrate its own copy of the method again.)
    """
    if not hasattr(method, "calibrate"):
        return
    from ..methods.intervals import PATTERNS, needed_patterns

    wanted = set(needed_patterns(data)) | ({"profiles"} if has_absent else set())
    known = getattr(method, "calibration_", None)
    missing = tuple(p for p in PATTERNS if p in wanted and (known is None or p not in known.patterns))
    if missing:
        method.calibrate(data, patterns=missing)


def _resolve(method, method_params_, log_transform, random_state, progress) -> tuple[BaseImputer, Any, bool]:
    instance = resolve_method(method, random_state, progress, method_params_)
    pretrained = is_fitted(instance)
    if pretrained:
        if log_transform != "auto" and bool(log_transform) != bool(instance.log1p_):
            msg = (
                f"log_transform={log_transform!r} conflicts with the fitted method (log1p="
                f"{instance.log1p_}); leave log_transform='auto' with a fitted method."
            )
            raise ParameterError(msg)
        log_transform = bool(instance.log1p_)
    return instance, log_transform, pretrained


def complete(
    adata: AnnData,
    *,
    donor_key: str | None = None,
    tissue_key: str | None = None,
    donors: Sequence[str] | None = None,
    tissues: Sequence[str] | None = None,
    method: str | BaseImputer = "hybrid",
    aggregate: Literal["mean"] | None = None,
    layer: str | None = None,
    out: str | os.PathLike | None = None,
    overwrite: bool = False,
    key_added: str = "completed",
    client: Any = None,
    block_size: int = 512,
    log_transform: bool | Literal["auto"] = "auto",
    interval: float | None = None,
    random_state: int | None = 0,
    progress: bool = True,
    **method_params: Any,
) -> AnnData | None:
    """Complete the donor x tissue grid: one profile per donor and tissue, absent ones estimated.

    Parameters
    ----------
    adata
        Samples x genes (or the transpose), NaN = missing, with a donor and a tissue column.
        Never modified.
    donor_key
        Column holding each sample's donor; registered
        (:func:`gex_impute._data.register_keys`), else ``"donor"``.
    tissue_key
        Column holding each sample's tissue; registered, else ``"tissue"``.
    donors, tissues
        Donors and tissues to output, in this order; all present in the data when None. The
        method always learns from every observed sample.
    method
        A registered method name (default the hybrid model), built with ``random_state``
        and ``**method_params``, or a :class:`~gex_impute.methods.BaseImputer` instance:
        fitted on ``adata`` unless already fitted (then applied as it is).
    aggregate
        None: several samples of one donor x tissue stay separate rows; ``"mean"``: one row
        holding their mean (where none of them is observed, the mean of their estimates).
    layer
        Layer holding the values; registered, else ``X``.
    out
        None: return the result. A path ending in ``.h5ad`` or ``.zarr``: write the result
        there block by block (atomically: under a temporary name, renamed when complete; a
        missing folder is created) and return None; open it with
        ``anndata.read_h5ad(out, backed="r")`` or ``anndata.read_zarr(out)``. Checked before
        any computation.
    overwrite
        Replace an existing ``out``.
    key_added
        Prefix of the layers and the ``uns`` entry written.
    client
        A ``dask.distributed.Client``: the blocks are estimated on its workers (the fitted
        method and the observed data are scattered once); the result equals the local run.
    block_size
        Output rows per block (memory per block: ``block_size`` x genes values, plus what
        the method needs to predict them). See Notes for the time it costs.
    log_transform
        Model ``log1p`` of the values (True / False / ``"auto"``); results are in the input's units.
    interval
        Level (e.g. ``0.9``) of prediction intervals, for methods that give them; None for none.
    random_state
        Seed given to a name-created method.
    progress
        Show a progress bar over the blocks (and the method's own bars).
    **method_params
        Hyperparameters of a name-created method.

    Returns
    -------
    With ``out=None``, a new AnnData (samples x genes, in the input's units and floating
    dtype), one row per donor x tissue (per input sample where a donor has several in one
    tissue and ``aggregate=None``), donors in order, tissues within donors, with

    - ``X``: observed values bitwise as in the input; missing entries and absent profiles
      estimated;
    - ``layers['completed_mask' | key_added + '_mask']``: True where a value was estimated;
    - ``layers[key_added + '_lower' | '_upper']``: interval bounds (``interval`` only);
    - ``obs``: the donor and tissue columns, ``imputed_profile`` (no observed value in the
      profile), ``sample_id`` (the input sample(s); NaN for absent profiles),
      ``n_samples``, the kept samples' own annotation, and donor-level columns (constant
      within each donor in the input, e.g. sex, age) on every row; index: the sample id, or
      ``"{donor}|{tissue}"`` for absent or aggregated profiles;
    - ``uns['completed' | key_added]``: ``method``, ``params``, ``version``, ``fingerprint``
      (SHA-256 of the input values and names), keys, ``log1p``, counts and timings;
      ``uns['gex_impute']``: the registered keys.

    With ``out``, None (the same AnnData is written to ``out``).

    Notes
    -----
    A method with a ``predict_rows(data, rows)`` method predicts only each block's rows, so
    the time grows linearly with the cohort. Other methods predict every row of their context
    (the observed samples and the absent profiles appended to them) at every prediction, so
    their absent profiles are estimated in batches of about as many profiles as there are
    observed samples (at least ``block_size``): a few predictions (GTEx: two or three)
    whatever the cohort size, each needing the method's memory for about twice the observed
    data; ``uns[key_added]['n_profile_predictions']`` records how many. The output is
    written block by block either way. The result does not depend on ``block_size`` for
    methods whose prediction of a row ignores the other all-missing rows (tested: mean,
    additive, and knn / softimpute / pca_regression in their donors layout); the dask run
    equals the local run for the same ``block_size``.

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=100)
    >>> observed = adata[~np.isnan(adata.X).all(axis=1)].copy()  # drop the all-missing samples
    >>> full = gi.tl.complete(observed, method="mean", progress=False)
    >>> full.n_obs, int(full.obs["imputed_profile"].sum())
    (12, 1)
    """
    from .. import __version__

    # -- everything that can be checked without computing ---------------------------------------
    block_size = _check_int("block_size", block_size, 1)
    level = check_level(interval)
    if not isinstance(key_added, str) or not key_added:
        msg = f"key_added={key_added!r} must be a non-empty string naming the layers to write."
        raise ParameterError(msg)
    if out is not None:
        out = check_output_path(out, overwrite=overwrite, inputs=(getattr(adata, "filename", None),))
    n_threads = check_client(client) if client is not None else 0
    tissue_key, donor_key, layer = resolve_keys(
        adata, tissue_key=tissue_key, donor_key=donor_key, layer=layer, default_donor_key="donor"
    )
    if (
        donor_key is None
        or donor_key not in sample_annotation(adata, detect_orientation(adata, tissue_key)).columns
    ):
        msg = (
            f"complete() needs each sample's donor, but there is no donor column {donor_key!r}; "
            "pass donor_key= naming it (or register it with register_keys)."
        )
        raise DataError(msg)
    instance, log_transform, pretrained = _resolve(
        method, method_params, log_transform, random_state, progress
    )
    if level is not None and not hasattr(instance, "predict_interval"):
        msg = f"method {instance.name!r} gives no prediction intervals; pass interval=None."
        raise ParameterError(msg)

    data, orientation = from_anndata(
        adata, tissue_key=tissue_key, donor_key=donor_key, layer=layer, log_transform=log_transform
    )
    grid = plan_grid(
        data, tissue_key=tissue_key, donor_key=donor_key, donors=donors, tissues=tissues, aggregate=aggregate
    )
    instance._check_data(data)
    blocks = _blocks(len(grid.obs), block_size)
    # a method without predict_rows predicts every row of its context: it estimates about as many
    # absent profiles per prediction as there are observed samples (no fewer than a block), so
    # the number of predictions does not grow with the cohort
    per_prediction = block_size if hasattr(instance, "predict_rows") else max(block_size, data.n_samples)
    batches = _prediction_batches(grid, blocks, per_prediction)
    # the observed values, then room for the largest batch of absent profiles (no copy per batch)
    context = Context(
        data, max([sum(int(grid.estimated[a:b].sum()) for a, b in batch) for batch in batches] or [0])
    )
    data = context.data
    dtype = output_dtype(input_matrix(adata, layer))
    info = {
        "method": str(instance.name),
        "version": str(__version__),
        "fingerprint": fingerprint(adata, layer=layer, orientation=orientation),
        "tissue_key": tissue_key,
        "donor_key": donor_key,
        "layer": "X" if layer is None else layer,
        "log1p": bool(data.log1p),
        "aggregate": h5ad_safe(aggregate),
        "block_size": block_size,
        "n_profile_predictions": len(batches),
        "random_state": h5ad_safe(random_state),
        "interval": h5ad_safe(level),
        "pretrained": pretrained,
        "n_donors": int(grid.obs[donor_key].nunique()),
        "n_tissues": int(grid.obs[tissue_key].nunique()),
        "n_profiles": len(grid.obs),
        "n_estimated_profiles": int(grid.estimated.sum()),
        "n_workers": int(len(client.nthreads())) if client is not None else 0,
        "n_threads": n_threads,
    }

    # -- fit once, fill the observed samples' holes ------------------------------------------------
    start_time = time.perf_counter()
    if not pretrained:
        instance.fit(data)
    fit_seconds = time.perf_counter() - start_time
    if level is not None:
        start_time = time.perf_counter()
        _calibrate(instance, context.data, has_absent=bool(grid.estimated.any()))
        info["calibrate_seconds"] = float(time.perf_counter() - start_time)
    info["params"] = recorded_params(instance)
    start_time = time.perf_counter()
    holes = _estimate_holes(instance, context, level, dtype, client, block_size)

    # -- estimate and write block by block ---------------------------------------------------------
    bounds = ("lower", "upper") if level is not None else ()
    layer_types = {f"{key_added}_mask": np.dtype(bool), **{f"{key_added}_{b}": dtype for b in bounds}}
    uns = {key_added: info, "gex_impute": {"tissue_key": tissue_key, "donor_key": donor_key}}
    var = data.var.copy()
    writer: MemoryWriter | StoreWriter
    if out is None:
        writer = MemoryWriter(grid.obs, var, dtype, layer_types)
    else:
        writer = StoreWriter(out, grid.obs, var, dtype, layer_types, uns, rows_per_chunk=min(block_size, 256))
    results = _profile_results(instance, context, grid, batches, level, dtype, client)
    try:
        n_imputed = _write_blocks(
            writer,
            adata,
            grid,
            holes,
            results,
            blocks,
            key_added=key_added,
            progress=progress,
            desc=f"complete ({instance.name})",
            layer=layer,
            orientation=orientation,
            dtype=dtype,
            level=level,
        )
        info["fit_seconds"] = float(fit_seconds)
        info["predict_seconds"] = float(time.perf_counter() - start_time)
        info["n_imputed"] = n_imputed
        result_adata = writer.finish(uns)
    except BaseException:
        writer.abort()
        raise
    finally:
        results.close()  # cancels what is still pending on a cluster
    logger.info(
        "completed %d donors x %d tissues: %d profiles estimated, %d entries in all, %.1f s",
        info["n_donors"],
        info["n_tissues"],
        info["n_estimated_profiles"],
        n_imputed,
        fit_seconds + info["predict_seconds"],
    )
    return result_adata if out is None else None

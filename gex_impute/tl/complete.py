"""``gi.tl.complete``: one expression profile per donor x tissue, absent ones estimated.

The method is fitted once on all observed samples. Observed samples keep their values
bitwise (their missing entries are filled, as :func:`gex_impute.tl.impute` does); absent
donor x tissue profiles are estimated block by block, each block as all-missing rows appended
to the observed data (the context); a method that can only predict every row of its input
gets a few large batches of blocks instead, so that its full predictions stay few whatever
the cohort size. Blocks (or batches) run here one after the other, or on a
dask.distributed cluster (``client=``, which also trains the hybrid's XGBoost boosters), and
are written as they arrive: into an in-memory AnnData, or into an ``.h5ad`` / ``.zarr`` store
(``out=``) so that the completed matrix never exists whole in memory.

The steps live in: :mod:`._grid` (the donor x tissue rows), :mod:`._estimation` (blocks,
batches, results in order, the write loop), :mod:`._blocks` (what one worker computes),
:mod:`._assemble` (observed rows of a block), :mod:`._dask` (running tasks on a client),
:mod:`._output` (in-memory and store writers), :mod:`._methods` (method handling).
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .._data import (
    PROFILE_COLUMN,
    detect_orientation,
    fingerprint,
    from_anndata,
    input_matrix,
    output_dtype,
    resolve_keys,
    sample_annotation,
)
from .._utils import check_dask_client, log_dask_cluster
from ..errors import DataError, ParameterError
from ..methods._base import BaseImputer
from ._blocks import Context
from ._dask import scattered
from ._estimation import (
    estimate_observed_holes,
    prediction_batches,
    profile_results,
    row_blocks,
    write_blocks,
)
from ._grid import cell_line_profiles, log_skipped, plan_grid
from ._methods import (
    calibrate_patterns,
    check_call_options,
    check_int,
    check_level,
    h5ad_safe,
    resolve_with_scale,
    silenced,
    trains_xgboost,
    used_seed,
    xgboost_training,
)
from ._methods import method_params as recorded_params
from ._output import MemoryWriter, StoreWriter, check_output_path
from ._sex import impossible_profiles
from .impute import check_key_name

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("gex_impute")

__all__ = ["complete"]


def complete(
    adata: AnnData,
    *,
    donor_key: str | None = None,
    tissue_key: str | None = None,
    donors: Sequence[str] | None = None,
    tissues: Sequence[str] | None = None,
    method: str | BaseImputer = "hybrid",
    aggregate: Literal["mean"] | None = None,
    sex_key: str | None = "sex",
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
        (:func:`gex_impute.pp.register_keys`), else the one a fitted ``method`` was fitted
        with, else ``"donor"``.
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
    sex_key
        Column holding each donor's sex. Where it is present, a tissue whose observed donors
        all have one sex gets no profile for donors of the other (a completed cohort holds no
        female prostate) when it bears the name of one of GTEx's sex-specific tissues (SMTSD or
        SMTS: prostate, testis, uterus, ovary, vagina, cervix, fallopian tube), or when that many
        donors of one sex would come together by chance with a probability below 1e-3 given the
        cohort's sex ratio (any species, any naming). Donors of unknown sex get every profile.
        Without a ``"sex"`` column, a donor who gave one of GTEx's sex-specific tissues has that
        sex, and a warning says how many donors' sex stays unknown. None: estimate every donor x
        tissue profile. What was found: ``uns[key_added]['sex_specific_tissues']``.
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
        A ``dask.distributed.Client`` (e.g. ``Client("tcp://scheduler:8786")``): the blocks
        are estimated on its workers (the fitted method and the observed data are scattered
        once), and the hybrid's stacking XGBoost boosters are trained there with ``xgboost.dask``
        (one worker per booster: the boosters equal local ones bit for bit, see
        :func:`gex_impute.methods.hybrid.distributed.training_client`); the result equals the
        local run. Feature construction and the CNN of the hybrid's fit run here.
    block_size
        Output rows per block (memory per block: ``block_size`` x genes values, plus what
        the method needs to predict them). See Notes for the time it costs.
    log_transform
        Model ``log1p`` of the values (True / False / ``"auto"``); results are in the input's units.
    interval
        Level (e.g. ``0.9``) of prediction intervals, for methods that give them; None for none.
    random_state
        Seed given to a name-created method.
        None is seed 0 (never numpy's global random state).
    progress
        Show a progress bar over the blocks (and the method's own bars).
    **method_params
        Hyperparameters of a name-created method.

    Returns
    -------
    With ``out=None``, a new AnnData (samples x genes, in the input's units and floating
    dtype; ``float32`` for ``float16``), one row per donor x tissue (per input sample where a
    donor has several in one tissue and ``aggregate=None``), donors in order, tissues within
    donors, except the absent profiles a donor's sex rules out (``sex_key``) and those of GTEx's
    cell line K-562 (a "donor" with no organs, whose tissue no donor has), with

    - ``X``: observed values bitwise as in the input; missing entries and absent profiles
      estimated;
    - ``layers['completed_mask' | key_added + '_mask']``: True where a value was estimated;
    - ``layers[key_added + '_lower' | '_upper']``: interval bounds (``interval`` only);
    - ``obs``: the donor and tissue columns, ``imputed_profile`` (no observed value in the
      profile), ``sample_id`` (the input sample(s); NaN for absent profiles),
      ``n_samples``, the kept samples' own annotation, and donor-level columns (constant
      within each donor in the input, e.g. sex, age; never a GTEx sample attribute such as
      SMRIN, nor, with one sample per donor, a column other than sex, age, DTHHRDY) and the
      tissue group (``tissue_group`` / ``SMTS``, when constant within each tissue) on every
      row; index: the sample id, or
      ``"{donor}|{tissue}"`` for absent or aggregated profiles;
    - ``uns['completed' | key_added]``: ``method``, ``params``, ``version``, ``fingerprint``
      (SHA-256 of the input values and names), keys, ``log1p``, counts (``n_estimated_profiles``:
      the rows of ``obs['imputed_profile']``) and timings;
      ``uns['gex_impute']``: the registered keys.

    With ``out``, None (the same AnnData is written to ``out``).

    Read back by the package (:func:`~gex_impute.tl.evaluate`, a method's ``fit``), the
    estimated values count as missing, with a warning: nothing is learned from an estimate or
    scored against one. Delete ``layers[key_added + '_mask']`` to use them as data. Where
    ``uns[key_added]`` is gone (``ad.concat`` drops it unless ``uns_merge='same'``), the marks
    that travel with the rows count: every boolean ``layers['*_mask']`` and
    ``obs['imputed_profile']``.

    The estimates are each profile's expected value given the donor's other tissues and similar
    donors: they vary less than measured profiles do (no measurement noise, shrunk towards the
    tissue's mean). Keep them out of tests that treat each row as a measured sample
    (``sc.tl.rank_genes_groups``, QC regressions): ``adata[~adata.obs['imputed_profile']]``.

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
    >>> import numpy as np
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=100)
    >>> observed = adata[~np.isnan(adata.X).all(axis=1)].copy()  # drop the all-missing samples
    >>> full = gi.tl.complete(observed, method="mean", progress=False)
    >>> full.n_obs, int(full.obs["imputed_profile"].sum())
    (12, 1)
    """
    from .. import __version__

    # -- everything that can be checked without computing ---------------------------------------
    check_call_options(method_params, method, caller=complete)  # copy=True, donor= for donor_key=
    block_size = check_int("block_size", block_size, 1)
    level = check_level(interval)
    check_key_name(key_added)
    if out is not None:
        out = check_output_path(out, overwrite=overwrite, inputs=(getattr(adata, "filename", None),))
    n_threads = check_dask_client(client) if client is not None else 0
    if client is not None:
        log_dask_cluster(client)
    if donor_key is False:
        msg = (
            "complete() estimates donor x tissue profiles and needs each sample's donor, but donors "
            "were switched off; pass donor_key= naming the donor column instead."
        )
        raise ParameterError(msg)
    # a fitted model's donor column (as tl.impute uses it), else "donor"
    fitted = method.fitted_donor_key if isinstance(method, BaseImputer) and method.is_fitted else None
    tissue_key, donor_key, layer = resolve_keys(
        adata, tissue_key=tissue_key, donor_key=donor_key, layer=layer, default_donor_key=fitted or "donor"
    )
    if (
        donor_key is None
        or donor_key not in sample_annotation(adata, detect_orientation(adata, tissue_key)).columns
    ):
        msg = (
            f"complete() needs each sample's donor, but there is no donor column {donor_key!r}; "
            "pass donor_key= naming it (or register it with gi.pp.register_keys)."
        )
        raise DataError(msg)
    instance, log_transform, pretrained = resolve_with_scale(
        method, method_params, log_transform, random_state, progress
    )
    if level is not None and not hasattr(instance, "predict_interval"):
        msg = f"method {instance.name!r} gives no prediction intervals; pass interval=None."
        raise ParameterError(msg)

    data, orientation = from_anndata(
        adata, tissue_key=tissue_key, donor_key=donor_key, layer=layer, log_transform=log_transform
    )
    ruled_out, sex_record = impossible_profiles(data, sex_key)
    grid = plan_grid(
        data,
        tissue_key=tissue_key,
        donor_key=donor_key,
        donors=donors,
        tissues=tissues,
        aggregate=aggregate,
        skip={**dict.fromkeys(cell_line_profiles(data), "cell_line"), **dict.fromkeys(ruled_out, "sex")},
    )
    instance._check_data(data)
    if pretrained:  # as predict() checks: refuse what the model cannot serve, log what differs
        instance._check_compatible(data)
    blocks = row_blocks(len(grid.obs), block_size)
    # a method without predict_rows predicts every row of its context: it estimates about as many
    # absent profiles per prediction as there are observed samples (no fewer than a block), so
    # the number of predictions does not grow with the cohort
    per_prediction = block_size if hasattr(instance, "predict_rows") else max(block_size, data.n_samples)
    batches = prediction_batches(grid, blocks, per_prediction)
    # the observed values, then room for the largest batch of absent profiles (no copy per batch)
    context = Context(
        data, max([sum(int(grid.estimated[a:b].sum()) for a, b in batch) for batch in batches] or [0])
    )
    data = context.data
    dtype = output_dtype(input_matrix(adata, layer))
    trains = client is not None and (not pretrained or level is not None)
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
        "random_state": used_seed(instance, random_state),  # the one it used
        "interval": h5ad_safe(level),
        "pretrained": pretrained,
        "n_donors": int(grid.obs[donor_key].nunique()),
        "n_tissues": int(grid.obs[tissue_key].nunique()),
        "n_profiles": len(grid.obs),
        # as obs['imputed_profile']: absent profiles and samples given with no value at all
        "n_estimated_profiles": int(grid.obs[PROFILE_COLUMN].sum()),
        **sex_record,
        "n_ruled_out_profiles": grid.skipped.get("sex", 0),  # absent profiles a donor's sex rules out
        # a cell line's (GTEx's K-562) absent "organs", and its tissue for every donor
        "n_cell_line_profiles": grid.skipped.get("cell_line", 0),
        "n_workers": int(len(client.nthreads())) if client is not None else 0,
        "n_threads": n_threads,
        # boosters are trained by the fit, and by the calibration of intervals
        "xgboost_on_client": bool(trains and trains_xgboost(instance)),
    }

    # -- fit once, fill the observed samples' holes ------------------------------------------------
    # with a client, the hybrid's XGBoost boosters (of the fit and of the calibration) are
    # trained there with xgboost.dask; the rest of the fit runs here
    with xgboost_training(instance, client if trains else None):
        start_time = time.perf_counter()
        if not pretrained:
            instance.fit(data)
        fit_seconds = time.perf_counter() - start_time
        if level is not None:
            start_time = time.perf_counter()
            calibrate_patterns(instance, context.data, has_absent=bool(grid.estimated.any()))
            info["calibrate_seconds"] = float(time.perf_counter() - start_time)
    info["params"] = recorded_params(instance)
    start_time = time.perf_counter()
    # the fitted method and the observed data go to every worker once, for both phases; the
    # workers' copy draws no progress bars of its own (they would be the workers')
    on_workers = silenced(instance, False) if client is not None else instance
    with scattered((on_workers, context), client) as shared:
        holes = estimate_observed_holes(instance, context, level, dtype, client, block_size, shared=shared)

        # -- estimate and write block by block ------------------------------------------------
        bounds = ("lower", "upper") if level is not None else ()
        layer_types = {f"{key_added}_mask": np.dtype(bool), **{f"{key_added}_{b}": dtype for b in bounds}}
        uns = {key_added: info, "gex_impute": {"tissue_key": tissue_key, "donor_key": donor_key}}
        var = data.var.copy()
        writer: MemoryWriter | StoreWriter
        if out is None:
            writer = MemoryWriter(grid.obs, var, dtype, layer_types)
        else:
            writer = StoreWriter(
                out, grid.obs, var, dtype, layer_types, uns, rows_per_chunk=min(block_size, 256)
            )
        results = profile_results(context, grid, batches, level, dtype, client, shared=shared)
        try:
            n_imputed = write_blocks(
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
    log_skipped(grid, tissue_key, sex_record["sex_specific_tissues"])
    logger.info(
        "completed %d donors x %d tissues: %d profiles estimated, %d entries in all, %.1f s",
        info["n_donors"],
        info["n_tissues"],
        info["n_estimated_profiles"],
        n_imputed,
        fit_seconds + info["predict_seconds"],
    )
    return result_adata if out is None else None

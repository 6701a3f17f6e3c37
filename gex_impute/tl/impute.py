"""``gi.tl.impute``: fill every missing entry of an AnnData with one method."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from .._data import from_anndata, merge_predictions, resolve_keys
from .._utils import check_dask_client, log_dask_cluster
from ..errors import ParameterError
from ..methods._base import BaseImputer
from ._methods import (
    check_level,
    fitted_log_scale,
    h5ad_safe,
    interval_rows,
    is_fitted,
    method_params,
    resolve_method,
    silenced,
    trains_xgboost,
    used_seed,
    xgboost_training,
)

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("gex_impute")

__all__ = ["impute"]


#: every layer suffix a result may write (the bounds only with ``interval``)
SUFFIXES = ("", "_mask", "_lower", "_upper")


def check_key_name(key_added: str) -> None:
    """Refuse a ``key_added`` that is not a non-empty string, or the package's own ``uns`` key."""
    from .._data_keys import UNS_KEY

    if not isinstance(key_added, str) or not key_added:
        msg = f"key_added={key_added!r} must be a non-empty string naming the layers to write."
        raise ParameterError(msg)
    if "/" in key_added:
        msg = (
            f"key_added={key_added!r} holds '/', which h5ad and zarr read as a group path (the "
            "file could not be read back); pass a name without '/', e.g. 'imputed_knn'."
        )
        raise ParameterError(msg)
    if key_added == UNS_KEY:
        msg = (
            f"key_added={key_added!r} is where gex_impute keeps the cohort's registered keys "
            "(adata.uns['gex_impute']); pass another key_added, e.g. 'imputed'."
        )
        raise ParameterError(msg)


def check_key_added(
    adata: AnnData, key_added: str, *, overwrite: bool, suffixes: tuple[str, ...], layer: str | None
) -> None:
    """Refuse a bad ``key_added`` (:func:`check_key_name`), one whose results exist, or one naming ``layer``.

    Results are the layers of every suffix in :data:`SUFFIXES` (an earlier run's bounds count
    too: ``overwrite`` removes those this run does not write) and ``adata.uns[key_added]``
    (scanpy's ``uns['pca']``, say); ``overwrite=True`` replaces them. ``layer`` holds the input
    values, which are never written, whatever ``overwrite``.
    """
    check_key_name(key_added)
    existing = [f"layers[{key_added + s!r}]" for s in SUFFIXES if key_added + s in adata.layers]
    if key_added in adata.uns:
        existing.append(f"uns[{key_added!r}]")
    if existing and not overwrite:
        msg = (
            f"key_added={key_added!r} would overwrite the existing {', '.join(existing)}; pass another "
            "key_added, or overwrite=True to replace them."
        )
        raise ParameterError(msg)
    if layer is not None and layer in [key_added + s for s in suffixes]:
        msg = (
            f"key_added={key_added!r} would write the layer {layer!r} that holds the input values; "
            "pass another key_added (the input is never overwritten)."
        )
        raise ParameterError(msg)


def impute(
    adata: AnnData,
    *,
    method: str | BaseImputer = "hybrid",
    tissue_key: str | None = None,
    donor_key: str | Literal[False] | None = None,
    layer: str | None = None,
    key_added: str = "imputed",
    model: BaseImputer | None = None,
    log_transform: bool | Literal["auto"] = "auto",
    interval: float | None = None,
    client: Any = None,
    random_state: int | None = 0,
    progress: bool = True,
    overwrite: bool = False,
    copy: bool = False,
) -> AnnData | None:
    """Fill every missing (NaN) entry of ``adata`` with ``method``.

    Parameters
    ----------
    adata
        Samples x genes (tissue column ``tissue_key`` in ``obs``) or the transpose (tissue
        column in ``var``); missing values are NaN in ``X`` or ``layer``. Dense or sparse.
    method
        A registered method name (see :func:`gex_impute.methods.available_methods`; ``"hybrid"``
        is the hybrid model) or a :class:`~gex_impute.methods.BaseImputer` instance, which is
        fitted on ``adata``. Ignored when ``model`` is given.
    tissue_key
        Column holding each sample's tissue; registered with
        :func:`gex_impute.pp.register_keys`, else ``"tissue"``.
    donor_key
        Column holding each sample's donor (genotype); registered, else a saved ``model``'s,
        else the ``"donor"`` column where the samples have one, else none (donors unknown).
        False: no donors, even where a column is registered or named ``"donor"``.
    layer
        Layer holding the expression values; registered, else ``X``. Never modified.
    key_added
        Name of the layers and ``uns`` entry written.
    model
        An already fitted method (e.g. a loaded :class:`~gex_impute.HybridImputer`), applied
        with ``predict`` only; its own log scale choice is used.
    log_transform
        Model ``log1p`` of the values (True / False / ``"auto"``: log1p for non-negative
        TPM/count-like data, whose maximum passes 30; below it, as for a panel of genes all under
        30 TPM, say True). Imputed values are returned in the input's units.
    interval
        Level (e.g. ``0.9``) of prediction intervals (``predict_interval``; calibrated by split
        conformal prediction on ``adata``, extra fits per missingness pattern (at most 10), unless the
        method or ``model`` brings its own calibration); None for none.
    client
        A ``dask.distributed.Client`` (e.g. ``Client("tcp://scheduler:8786")``): the hybrid's
        stacking XGBoost boosters (of the fit, and of the interval calibration) are trained on
        its workers with ``xgboost.dask``, one worker per booster (the small per-sample boosters
        of a cohort of at most 50 samples are trained here), so the result equals the local
        run's bit for bit; feature construction, the CNN and the prediction run here. Only for
        a method that trains XGBoost (the hybrid); :func:`gex_impute.tl.complete` also
        estimates its blocks on the client.
    random_state
        Seed given to the method (name-created methods with a ``random_state`` parameter).
        None is seed 0 (never numpy's global random state).
    progress
        Show a progress bar over the fit and predict steps (and the method's own bars).
    overwrite
        Replace an earlier result under ``key_added`` (its layers, bounds included, and
        ``uns[key_added]``); refused otherwise.
    copy
        Return a new AnnData instead of writing into ``adata``.

    Returns
    -------
    None, or the new AnnData when ``copy=True``. Writes

    - ``adata.layers['imputed' | key_added]``: observed values unchanged (bitwise), missing
      entries imputed, in the input's units, orientation and floating dtype (``float32`` for
      ``float16`` input, whose range an estimate can pass; ``float64`` for integers);
    - ``adata.layers['imputed_mask' | key_added + '_mask']``: True where a value was imputed;
    - ``adata.layers[key_added + '_lower' | '_upper']``: interval bounds (``interval`` only;
      equal to the value where observed);
    - ``adata.uns['imputed' | key_added]``: ``method``, ``params``, ``version``,
      ``fit_seconds``, ``predict_seconds``, ``n_imputed``, ``n_fallback``, ``log1p``,
      ``random_state`` (the seed the method used), ``tissue_key``, ``donor_key``, ``layer``,
      ``pretrained``, ``xgboost_on_client`` (``client`` given) (and ``interval``, with
      ``interval_calibration``: the genes / profiles / entries hidden per missingness pattern
      to calibrate the intervals), h5ad-writable values only.

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=100)
    >>> gi.tl.impute(adata, method="knn", progress=False)
    >>> bool(adata.layers["imputed_mask"].any())
    True
    """
    from .. import __version__
    from .._utils import progress_bar

    level = check_level(interval)
    suffixes = ("", "_mask") + (("_lower", "_upper") if level is not None else ())
    if model is not None:
        if not isinstance(model, BaseImputer):
            msg = f"model must be a fitted BaseImputer (e.g. HybridImputer.load), not {type(model).__name__}"
            raise TypeError(msg)
        if not is_fitted(model):
            msg = "model= must be fitted; call model.fit(...) or load a saved model first."
            raise ParameterError(msg)
        log_transform = fitted_log_scale(model, log_transform, fix="when passing model=")
        instance = model = silenced(model, progress)
    else:
        instance = resolve_method(method, random_state, progress)
    if level is not None and not hasattr(instance, "predict_interval"):
        msg = f"method {instance.name!r} gives no prediction intervals; pass interval=None."
        raise ParameterError(msg)
    if client is not None:
        check_dask_client(client)
        log_dask_cluster(client)
        if not trains_xgboost(instance) or (model is not None and level is None):
            msg = (
                f"client= trains XGBoost boosters on the cluster, and impute() with method "
                f"{instance.name!r}{' (fitted)' if model is not None else ''} trains none; drop client= "
                "(gi.tl.complete(client=...) also estimates its blocks on the cluster)."
            )
            raise ParameterError(msg)

    # a saved model's donor column (none if it was fitted without), else the data's "donor" column
    fitted_donor = model._default_donor_key() if model is not None else None
    tissue_key, donor_key, layer = resolve_keys(
        adata, tissue_key=tissue_key, donor_key=donor_key, layer=layer, default_donor_key=fitted_donor
    )
    check_key_added(adata, key_added, overwrite=overwrite, suffixes=suffixes, layer=layer)
    data, orientation = from_anndata(
        adata, tissue_key=tissue_key, donor_key=donor_key or False, layer=layer, log_transform=log_transform
    )
    if copy:  # a backed AnnData copies only to a file: load it into memory instead
        adata = adata.to_memory() if adata.isbacked else adata.copy()
    elif adata.isbacked:  # anndata keeps new layers of a backed AnnData in memory only
        logger.warning(
            "adata is backed by %s: the new layers are held in memory and the file is not updated; "
            "save them with adata.write_h5ad(path) (or pass copy=True for an in-memory result).",
            adata.filename,
        )
    missing = np.isnan(data.values)
    anything = bool(missing.any())
    fit_seconds = predict_seconds = 0.0
    if not anything:  # e.g. a GTEx matrix: its holes are absent profiles, not NaN entries
        logger.warning(
            "nothing is missing in %s (%d samples x %d genes): the result is a copy of it, and %s "
            "estimated nothing. Absent donor x tissue profiles are not rows of the data: "
            "gi.tl.complete adds and estimates them.",
            "X" if layer is None else f"layers[{layer!r}]",
            data.n_samples,
            data.n_genes,
            instance.name,
        )
        pred = data.values
    training = xgboost_training(instance, client)  # XGBoost on the client's workers, or nothing
    with (
        training,
        progress_bar(
            total=2 if model is None else 1,
            enabled=progress and anything,
            desc=f"impute ({instance.name})",
        ) as bar,
    ):
        if model is None and anything:
            start = time.perf_counter()
            instance.fit(data)
            fit_seconds = time.perf_counter() - start
            bar.update(1)
        if anything:
            start = time.perf_counter()
            pred = instance.predict(data)
            predict_seconds = time.perf_counter() - start
            bar.update(1)
    if pred.shape != data.values.shape or not np.isfinite(pred[missing]).all():
        msg = f"method {instance.name!r} returned non-finite or mis-shaped predictions; this is a bug in it."
        raise RuntimeError(msg)

    def merged(values: np.ndarray) -> np.ndarray:
        return merge_predictions(
            adata, values, missing, layer=layer, orientation=orientation, log1p=data.log1p
        )

    adata.layers[key_added] = merged(pred)
    adata.layers[f"{key_added}_mask"] = missing.T.copy() if orientation == "genes_x_samples" else missing
    info: dict[str, Any] = {}
    if level is not None:
        del pred
        if anything:
            with xgboost_training(instance, client):  # the calibration may fit copies of the method
                lower, upper = interval_rows(instance, data, np.arange(data.n_samples), level)
        else:  # nothing to bracket: every bound is the observed value
            lower = upper = data.values
        adata.layers[f"{key_added}_lower"] = merged(lower)
        adata.layers[f"{key_added}_upper"] = merged(upper)
        info["interval"] = level
        calibration = getattr(instance, "calibration_", None)
        if calibration is not None:  # the generic split-conformal calibration (methods.intervals)
            info["interval_calibration"] = {
                name: int(table["n_units"]) for name, table in calibration.tables.items()
            }
    else:  # an earlier run's bounds (overwrite=True) would no longer bracket these estimates
        for bound in ("_lower", "_upper"):
            adata.layers.pop(key_added + bound, None)
    adata.uns[key_added] = {
        "method": str(instance.name),
        "params": method_params(instance),
        "version": str(__version__),
        "fit_seconds": float(fit_seconds),
        "predict_seconds": float(predict_seconds),
        "n_imputed": int(missing.sum()),
        "n_fallback": int(getattr(instance, "n_fallback_", 0)),
        "log1p": bool(data.log1p),
        # the seed the method used: an instance given as ``method`` keeps its own
        "random_state": used_seed(instance, random_state),
        "tissue_key": tissue_key,
        "donor_key": h5ad_safe(donor_key),
        "layer": "X" if layer is None else layer,
        "pretrained": model is not None,
        # boosters were trained on the client: by the fit, or by the calibration of intervals
        "xgboost_on_client": client is not None and anything and (model is None or level is not None),
        **info,
    }
    n_fallback, n_imputed = adata.uns[key_added]["n_fallback"], int(missing.sum())
    if model is not None and n_imputed and n_fallback >= 0.5 * n_imputed:  # a saved model, mostly idle
        logger.warning(
            "%d of %d imputed entries (%.0f%%) are the saved %s model's fallback (tissue means), not its "
            "own estimate: it was fitted on data without this kind of missing value (or without what it "
            "needs here); refit on these data (method=%r) or compare methods with tl.evaluate.",
            n_fallback,
            n_imputed,
            100 * n_fallback / n_imputed,
            instance.name,
            instance.name,
        )
    logger.info(
        "imputed %d entries with %s (%d by fallback) in %.1f s",
        n_imputed,
        instance.name,
        n_fallback,
        fit_seconds + predict_seconds,
    )
    return adata if copy else None

"""``gex_impute.impute``: fill every missing entry of an AnnData with one method."""

from __future__ import annotations

import logging
import time
from typing import TYPE_CHECKING, Any, Literal

import numpy as np

from ._data import from_anndata, to_input_units
from .methods._base import BaseImputer, get_method

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("gex_impute")

__all__ = ["impute"]


def _h5ad_safe(value: Any) -> Any:
    """Turn ``value`` into something ``AnnData.write_h5ad`` stores in ``uns``."""
    if value is None:
        return "None"
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return {str(k): _h5ad_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        items = [_h5ad_safe(v) for v in value]
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in items) and items:
            return np.asarray(items)
        if all(isinstance(v, str) for v in items) and items:
            return np.asarray(items, dtype=object)
        if not items:
            return np.asarray([], dtype=np.float64)
        return str(list(value))
    return str(value)


def _method_params(method: BaseImputer) -> dict[str, Any]:
    params = {k: _h5ad_safe(v) for k, v in method.get_params().items()}
    # hyperparameters chosen at fit time (k_, window_, rank_, ...) are worth recording too
    fitted = {
        k: _h5ad_safe(v)
        for k, v in vars(method).items()
        if k.endswith("_")
        and not k.startswith("_")
        and isinstance(v, int | float | str | np.number)
        and k not in ("n_fallback_", "log1p_")
    }
    if fitted:
        params["fitted"] = fitted
    return params


def _resolve_method(method: str | BaseImputer, random_state: int | None, progress: bool) -> BaseImputer:
    if isinstance(method, BaseImputer):
        return method
    if not isinstance(method, str):
        msg = f"method must be a method name or a BaseImputer instance, got {type(method).__name__}"
        raise TypeError(msg)
    instance = get_method(method)
    if "random_state" in instance.get_params():
        instance.set_params(random_state=random_state)
    if "progress" in instance.get_params():  # the method's own bars follow impute(progress=...)
        instance.set_params(progress=progress)
    return instance


def impute(
    adata: AnnData,
    *,
    method: str | BaseImputer = "hybrid",
    tissue_key: str = "tissue",
    donor_key: str | None = None,
    layer: str | None = None,
    key_added: str = "imputed",
    model: BaseImputer | None = None,
    log_transform: bool | Literal["auto"] = "auto",
    random_state: int | None = 0,
    progress: bool = True,
    copy: bool = False,
) -> AnnData | None:
    """Fill every missing (NaN) entry of ``adata`` with ``method``.

    Parameters
    ----------
    adata
        Samples x genes (tissue column ``tissue_key`` in ``obs``) or the transpose (tissue
        column in ``var``); missing values are NaN in ``X`` or ``layer``.
    method
        A registered method name (see :func:`gex_impute.available_methods`; ``"hybrid"`` is
        the hybrid model) or a :class:`~gex_impute.methods.BaseImputer` instance, which is
        fitted on ``adata``. Ignored when ``model`` is given.
    tissue_key
        Column holding each sample's tissue.
    donor_key
        Column holding each sample's donor (genotype), or None when unknown.
    layer
        Layer holding the expression values; ``X`` when None. Never modified.
    key_added
        Name of the layers and ``uns`` entry written.
    model
        An already fitted method (e.g. a loaded :class:`~gex_impute.HybridImputer`), applied
        with ``predict`` only; its own log scale choice is used.
    log_transform
        Model ``log1p`` of the values (True / False / ``"auto"``: log1p for non-negative
        TPM/count-like data). Imputed values are returned in the input's units.
    random_state
        Seed given to the method (name-created methods with a ``random_state`` parameter).
    progress
        Show a progress bar over the fit and predict steps.
    copy
        Return a new AnnData instead of writing into ``adata``.

    Returns
    -------
    None, or the new AnnData when ``copy=True``. Writes

    - ``adata.layers['imputed' | key_added]``: observed values unchanged, missing entries
      imputed, in the input's units and orientation;
    - ``adata.layers['imputed_mask' | key_added + '_mask']``: True where a value was imputed;
    - ``adata.uns['imputed' | key_added]``: ``method``, ``params``, ``version``,
      ``fit_seconds``, ``predict_seconds``, ``n_imputed``, ``n_fallback``, ``log1p``,
      ``random_state``, ``tissue_key``, ``donor_key``, ``layer`` (h5ad-writable values only).

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=100)
    >>> gi.impute(adata, method="knn", progress=False)
    >>> bool(adata.layers["imputed_mask"].any())
    True
    """
    from . import __version__
    from ._utils import progress_bar

    adata = adata.copy() if copy else adata
    if model is not None:
        if not isinstance(model, BaseImputer):
            msg = f"model must be a fitted BaseImputer (e.g. HybridImputer.load), not {type(model).__name__}"
            raise TypeError(msg)
        if not hasattr(model, "log1p_"):
            msg = "model= must be fitted; call model.fit(...) or load a saved model first."
            raise ValueError(msg)
        if log_transform != "auto" and bool(log_transform) != bool(model.log1p_):
            msg = (
                f"log_transform={log_transform!r} conflicts with the model, fitted with "
                f"log1p={model.log1p_}; leave log_transform='auto' when passing model=."
            )
            raise ValueError(msg)
        log_transform = bool(model.log1p_)
        instance = model
    else:
        instance = _resolve_method(method, random_state, progress)

    data, orientation = from_anndata(
        adata, tissue_key=tissue_key, donor_key=donor_key, layer=layer, log_transform=log_transform
    )
    missing = np.isnan(data.values)
    fit_seconds = 0.0
    with progress_bar(
        total=2 if model is None else 1, enabled=progress, desc=f"impute ({instance.name})"
    ) as bar:
        if model is None:
            start = time.perf_counter()
            instance.fit(data)
            fit_seconds = time.perf_counter() - start
            bar.update(1)
        start = time.perf_counter()
        pred = instance.predict(data)
        predict_seconds = time.perf_counter() - start
        bar.update(1)
    if pred.shape != data.values.shape or not np.isfinite(pred[missing]).all():
        msg = f"method {instance.name!r} returned non-finite or mis-shaped predictions; this is a bug in it."
        raise RuntimeError(msg)

    source = adata.X if layer is None else adata.layers[layer]
    from ._data import _dense

    original = _dense(source)  # input units, input orientation
    if orientation == "genes_x_samples":
        missing_in = missing.T
        pred_in = to_input_units(pred, data.log1p).T
    else:
        missing_in = missing
        pred_in = to_input_units(pred, data.log1p)
    out = np.where(missing_in, pred_in, original)
    dtype = getattr(source, "dtype", np.float64)
    if np.issubdtype(dtype, np.floating):
        out = out.astype(dtype, copy=False)
    adata.layers[key_added] = out
    adata.layers[f"{key_added}_mask"] = missing_in.copy()
    adata.uns[key_added] = {
        "method": str(instance.name),
        "params": _method_params(instance),
        "version": str(__version__),
        "fit_seconds": float(fit_seconds),
        "predict_seconds": float(predict_seconds),
        "n_imputed": int(missing.sum()),
        "n_fallback": int(getattr(instance, "n_fallback_", 0)),
        "log1p": bool(data.log1p),
        "random_state": _h5ad_safe(random_state),
        "tissue_key": tissue_key,
        "donor_key": _h5ad_safe(donor_key),
        "layer": "X" if layer is None else layer,
        "pretrained": model is not None,
    }
    logger.info(
        "imputed %d entries with %s (%d by fallback) in %.1f s",
        int(missing.sum()),
        instance.name,
        adata.uns[key_added]["n_fallback"],
        fit_seconds + predict_seconds,
    )
    return adata if copy else None

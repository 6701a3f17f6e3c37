"""Mean expression per tissue of a completed cohort, observed and completed profiles in turn."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from .._data import LOG_SCALE_MAX, PROFILE_COLUMN
from ..errors import DataError, KeyNotFoundError, ParameterError
from ._cohort import _check_columns, _estimated_rows, _keys
from ._utils import check_show_save, finish

if TYPE_CHECKING:
    from anndata import AnnData
    from matplotlib.axes import Axes

__all__ = ["tissue_matrixplot"]

#: values read at a time to pick the genes (a backed, out-of-core cohort is never read whole)
_BLOCK_VALUES = 2**20


def tissue_matrixplot(
    completed: AnnData,
    var_names: Sequence[str] | None = None,
    *,
    tissue_key: str | None = None,
    imputed_key: str = PROFILE_COLUMN,
    n_genes: int = 20,
    layer: str | None = None,
    log1p: bool | Literal["auto"] = "auto",
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | os.PathLike | bool | None = None,
    return_fig: bool = False,
    **kwargs: Any,
):
    """Mean expression per tissue, observed and completed profiles in turn (``sc.pl.matrixplot``).

    One row per tissue and kind of profile (``"<tissue>: observed"`` above
    ``"<tissue>: completed"``), one column per gene.

    Parameters
    ----------
    completed
        The AnnData returned by :func:`gex_impute.tl.complete` (in memory or backed).
    var_names
        Genes to show; by default the ``n_genes`` whose tissue means vary most (on the scale drawn).
    tissue_key, imputed_key
        Columns of ``completed.obs``; the tissue column defaults to the one
        :func:`~gex_impute.tl.complete` recorded (``uns['gex_impute']``), else ``"tissue"``.
    n_genes
        How many genes to pick when ``var_names`` is None.
    layer
        Layer to draw (and pick genes from); ``X`` when None.
    log1p
        Draw the means of ``log1p(values)``: TPM or counts on a linear scale leave most cells at
        the bottom of the colour scale, below one or two highly expressed genes. ``"auto"``: when
        the values are non-negative with a maximum above 30 (TPM, counts), as
        :func:`gex_impute.tl.impute`'s ``log_transform="auto"``. The colour bar says which.
    ax
        Axes to draw on (scanpy splits it into the plot and its legends); a new figure when None.
    show
        True: show the figure (``plt.show()``) and return None, as scanpy. Otherwise return the
        dict of Axes, as :func:`scanpy.pl.matrixplot` does.
    save
        Write the figure, atomically. A path, or a str such as ``'matrix.png'``, names the
        file (format from its suffix). As scanpy: True writes
        ``sc.settings.figdir / 'tissue_matrixplot.pdf'`` (format ``sc.settings.file_format_figs``),
        and a str starting with ``_`` or ``.`` is appended to that name. A figure made here is
        closed once written.
    return_fig
        Return scanpy's ``MatrixPlot`` instead, not yet drawn (``.show()``, ``.make_figure()``,
        ``.savefig()``), as scanpy's ``return_fig=True``; drawn when ``save`` is given.
    **kwargs
        Passed on to :func:`scanpy.pl.matrixplot` (not ``groupby``: the tissue, then observed or
        completed), e.g. ``gene_symbols="symbol"`` to name (and pick by ``var_names``) genes by a
        ``var`` column, ``standard_scale="var"``, ``cmap``, ``colorbar_title``.

    Returns
    -------
    The dict of Axes (as :func:`scanpy.pl.matrixplot` with ``show=False``); None with
    ``show=True``; the ``MatrixPlot`` with ``return_fig=True``.

    Examples
    --------
    >>> import anndata as ad, numpy as np, pandas as pd
    >>> import gex_impute as gi
    >>> obs = pd.DataFrame({"tissue": ["a", "b", "a", "b"], "imputed_profile": [False, True, False, False]},
    ...                    index=list("wxyz"))
    >>> axes = gi.pl.tissue_matrixplot(ad.AnnData(np.eye(4), obs=obs), n_genes=2)
    >>> "mainplot_ax" in axes
    True
    """
    import anndata as ad
    import scanpy as sc

    path = check_show_save(show, save, "tissue_matrixplot")
    if not isinstance(return_fig, bool | np.bool_):
        msg = f"return_fig={return_fig!r}: pass True (return the MatrixPlot) or False."
        raise ParameterError(msg)
    if return_fig and show:
        msg = "show=True returns nothing, so return_fig=True cannot hold: pass one of them."
        raise ParameterError(msg)
    if log1p not in (True, False, "auto"):
        msg = f"log1p={log1p!r}: pass True, False or 'auto'."
        raise ParameterError(msg)
    taken = sorted({"groupby", "adata"} & set(kwargs))
    if taken:
        msg = (
            f"{', '.join(f'{k}=' for k in taken)} is set by tissue_matrixplot (groupby: the tissue "
            "column, then observed / completed); name the tissue column with tissue_key= instead."
        )
        raise ParameterError(msg)
    if var_names is None and (
        isinstance(n_genes, bool) or not isinstance(n_genes, int | np.integer) or n_genes < 1
    ):
        msg = f"n_genes={n_genes!r}: pass a whole number of genes to show, at least 1."
        raise ParameterError(msg)
    tissue_key, _ = _keys(completed, tissue_key, None)
    _check_columns(completed.obs, (tissue_key, imputed_key))
    if layer is not None and layer not in completed.layers:
        msg = f"layer={layer!r} is not a layer of completed (layers: {list(completed.layers.keys())})."
        raise KeyNotFoundError(msg)
    if not completed.var_names.is_unique:
        dup = completed.var_names[completed.var_names.duplicated()].unique()[:3].tolist()
        msg = (
            f"completed.var_names are not unique (e.g. {dup}); make them unique first "
            "(completed.var_names_make_unique()) or pass var_names of unique genes."
        )
        raise DataError(msg)
    estimated = _estimated_rows(completed.obs, imputed_key)
    tissues = pd.Categorical(completed.obs[tissue_key])
    matrix = completed.layers[layer] if layer is not None else completed.X
    means, logged = _tissue_means(matrix, tissues.codes, len(tissues.categories), log1p)
    symbols = kwargs.pop("gene_symbols", None)
    if var_names is None:
        spread = pd.Series(np.nanvar(means, axis=0, ddof=1) if len(means) > 1 else np.zeros(means.shape[1]))
        order = spread.fillna(-1.0).sort_values(ascending=False, kind="stable").index[:n_genes]
        genes = list(completed.var_names[order.to_numpy()])
    elif symbols is not None:  # names in var[gene_symbols], as scanpy's gene_symbols= means
        genes = _genes_of_symbols(completed, list(var_names), symbols)
    else:
        genes = list(var_names)
        unknown = [g for g in genes if g not in completed.var_names]
        if unknown:
            msg = (
                f"genes {unknown[:10]} are not in completed.var_names; name genes of the cohort "
                "(or pass gene_symbols= to name them by a var column)."
            )
            raise KeyNotFoundError(msg)
    sub = completed[:, genes]
    sub = sub.to_memory() if sub.isbacked else sub
    values = sub.layers[layer] if layer is not None else sub.X
    values = np.asarray(values.toarray() if hasattr(values, "toarray") else values, dtype=np.float64)
    lean = ad.AnnData(
        np.log1p(values) if logged else values,
        obs=pd.DataFrame({"profile": _row_groups(tissues, estimated)}, index=completed.obs_names.copy()),
        var=sub.var.copy(),
    )
    kwargs.setdefault("colorbar_title", f"Mean {'log1p(expression)' if logged else 'expression'}\nin group")
    shown = genes if symbols is None else list(lean.var[symbols].astype(str))
    plot = sc.pl.matrixplot(
        lean,
        shown,
        groupby="profile",
        ax=ax,
        show=False,
        return_fig=True,
        **({"gene_symbols": symbols} if symbols is not None else {}),
        **kwargs,
    )
    if return_fig and path is None:
        return plot  # drawn by the caller (plot.show(), plot.make_figure()), as scanpy's return_fig
    plot.make_figure()
    result = plot if return_fig else plot.get_axes()  # scanpy lays out its own grid: no tight_layout
    return finish(plot.fig, result, show=show, path=path, own=ax is None, tight=False)


def _tissue_means(
    matrix: Any, codes: np.ndarray, n_tissues: int, log1p: bool | str
) -> tuple[np.ndarray, bool]:
    """Return the tissues x genes means (NaN skipped) on the scale drawn, and whether it is log1p.

    Reads ``matrix`` in blocks of rows, so a backed cohort is never loaded whole.
    """
    n_rows, n_genes = matrix.shape
    step = max(1, _BLOCK_VALUES // max(n_genes, 1))
    sums = {False: np.zeros((n_tissues, n_genes)), True: np.zeros((n_tissues, n_genes))}
    counts = np.zeros((n_tissues, n_genes))
    low, high = np.inf, -np.inf
    for start in range(0, n_rows, step):
        block = matrix[start : start + step]
        block = np.asarray(block.toarray() if hasattr(block, "toarray") else block, dtype=np.float64)
        rows = codes[start : start + step]
        keep = rows >= 0
        block, rows = block[keep], rows[keep]
        finite = np.isfinite(block)
        if finite.any():
            low, high = min(low, float(block[finite].min())), max(high, float(block[finite].max()))
        onehot = np.zeros((n_tissues, len(rows)))
        onehot[rows, np.arange(len(rows))] = 1.0
        clean = np.where(finite, block, 0.0)
        sums[False] += onehot @ clean
        with np.errstate(invalid="ignore"):  # negative values: refused below when log1p is asked
            sums[True] += onehot @ np.where(finite, np.log1p(np.maximum(clean, 0.0)), 0.0)
        counts += onehot @ finite
    if log1p == "auto":
        logged = bool(low >= 0 and high > LOG_SCALE_MAX)
    else:
        logged = bool(log1p)
        if logged and low < 0:
            msg = (
                f"log1p=True on values below 0 (minimum {low:g}); pass log1p=False for values "
                "already on a log scale."
            )
            raise DataError(msg)
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums[logged] / counts, logged


def _row_groups(tissues: pd.Categorical, estimated: np.ndarray) -> pd.Categorical:
    """``"<tissue>: observed"`` / ``"<tissue>: completed"`` per row, in tissue order, observed first."""
    names = np.asarray(tissues.astype(str), dtype=object)
    labels = np.where(estimated, names + ": completed", names + ": observed")
    order = [f"{t}: {kind}" for t in tissues.categories.astype(str) for kind in ("observed", "completed")]
    return pd.Categorical(labels, categories=order, ordered=True).remove_unused_categories()


def _genes_of_symbols(adata: AnnData, names: list[str], symbols: str) -> list[str]:
    """Map gene symbols (``var[symbols]``) to ``var_names``; a clear error for unknown ones."""
    if symbols not in adata.var.columns:
        msg = f"gene_symbols={symbols!r} is not a column of var (columns: {list(adata.var.columns)})."
        raise KeyNotFoundError(msg)
    lookup = pd.Series(adata.var_names, index=adata.var[symbols].astype(str)).groupby(level=0).first()
    unknown = [n for n in names if n not in lookup.index]
    if unknown:
        msg = f"genes {unknown[:10]} are not in var[{symbols!r}]; name genes of the cohort."
        raise KeyNotFoundError(msg)
    return [str(lookup[n]) for n in names]

"""Plots of a completed cohort: which donor x tissue profiles were observed, and expression by tissue."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np
import pandas as pd

from ..errors import DataError, KeyNotFoundError, ParameterError
from ._utils import axes_or_new, check_show_save, doc_show_save, finish

if TYPE_CHECKING:
    from anndata import AnnData
    from matplotlib.axes import Axes

__all__ = ["profiles", "tissue_matrixplot"]


@overload
def profiles(
    completed: AnnData,
    *,
    donor_key: str | None = ...,
    tissue_key: str | None = ...,
    imputed_key: str = ...,
    ax: Axes | None = ...,
    show: Literal[True],
    save: str | os.PathLike | bool | None = ...,
) -> None: ...
@overload
def profiles(
    completed: AnnData,
    *,
    donor_key: str | None = ...,
    tissue_key: str | None = ...,
    imputed_key: str = ...,
    ax: Axes | None = ...,
    show: Literal[False] | None = ...,
    save: str | os.PathLike | bool | None = ...,
) -> Axes: ...
@doc_show_save()
def profiles(
    completed: AnnData,
    *,
    donor_key: str | None = None,
    tissue_key: str | None = None,
    imputed_key: str = "imputed_profile",
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | os.PathLike | bool | None = None,
) -> Axes | None:
    """Heatmap of the donor x tissue grid: observed profiles, completed ones, and none.

    Parameters
    ----------
    completed
        The AnnData returned by :func:`gex_impute.tl.complete` (one row per donor x tissue;
        ``obs[imputed_key]`` True for the completed profiles).
    donor_key, tissue_key, imputed_key
        Columns of ``completed.obs``; the donor and tissue columns default to those
        :func:`~gex_impute.tl.complete` recorded (``uns['gex_impute']``), else ``"donor"`` /
        ``"tissue"``.
    ax
        Axes to draw on; a new figure when None.
    {show_save}

    Returns
    -------
    The Axes (None with ``show=True``). Tissues are sorted by how many donors gave them, donors by
    how many tissues.

    Examples
    --------
    >>> import anndata as ad, numpy as np, pandas as pd
    >>> import gex_impute as gi
    >>> obs = pd.DataFrame({"donor": ["d1", "d1", "d2", "d2"], "tissue": ["a", "b", "a", "b"],
    ...                     "imputed_profile": [False, True, False, False]}, index=list("wxyz"))
    >>> ax = gi.pl.profiles(ad.AnnData(np.zeros((4, 2)), obs=obs))
    """
    path = check_show_save(show, save, "profiles")
    obs = completed.obs
    tissue_key, donor_key = _keys(completed, tissue_key, donor_key)
    _check_columns(obs, (donor_key, tissue_key, imputed_key))
    state = np.where(_estimated_rows(obs, imputed_key), 1.0, 2.0)
    grid = pd.DataFrame(
        {
            "donor": obs[donor_key].astype(str).to_numpy(),
            "tissue": obs[tissue_key].astype(str).to_numpy(),
            "state": state,
        }
    ).pivot_table(index="tissue", columns="donor", values="state", aggfunc="max")
    observed = (grid == 2).sum(axis=1).sort_values(ascending=False)
    donors = (grid == 2).sum(axis=0).sort_values(ascending=False)
    grid = grid.loc[observed.index, donors.index]
    from matplotlib.colors import ListedColormap

    own = ax is None
    ax = axes_or_new(ax, (min(15.5, 6.5 + 0.02 * grid.shape[1]), min(12.0, 1.5 + 0.18 * grid.shape[0])))
    cmap = ListedColormap(["#f2f2f2", "#f28e2b", "#4e79a7"])
    ax.imshow(
        np.nan_to_num(grid.to_numpy(dtype=float), nan=0.0),
        aspect="auto",
        cmap=cmap,
        vmin=0,
        vmax=2,
        interpolation="nearest",
    )
    ax.set_yticks(np.arange(grid.shape[0]))
    ax.set_yticklabels(grid.index, fontsize=6)
    ax.set_xticks([])
    ax.set_xlabel(f"{grid.shape[1]} donors (sorted by tissues given)")
    n_obs = int((grid == 2).to_numpy().sum())
    n_imp = int((grid == 1).to_numpy().sum())
    n_none = int(grid.isna().to_numpy().sum())
    from matplotlib.patches import Patch

    handles = [
        Patch(color="#4e79a7", label=f"observed ({n_obs})"),
        Patch(color="#f28e2b", label=f"completed ({n_imp})"),
    ]
    if n_none:  # e.g. ruled out by the donor's sex, or a cell line
        handles.append(Patch(facecolor="#f2f2f2", edgecolor="#999999", label=f"not estimated ({n_none})"))
    # beside the grid, where it covers no cell
    ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1.0), fontsize=7, frameon=False)
    return finish(ax, ax, show=show, path=path, own=own)


def tissue_matrixplot(
    completed: AnnData,
    var_names: Sequence[str] | None = None,
    *,
    tissue_key: str | None = None,
    imputed_key: str = "imputed_profile",
    n_genes: int = 20,
    ax: Axes | None = None,
    show: bool | None = None,
    save: str | os.PathLike | bool | None = None,
    return_fig: bool | None = None,
    **kwargs: Any,
):
    """Mean expression per tissue, observed and completed profiles side by side (``sc.pl.matrixplot``).

    Parameters
    ----------
    completed
        The AnnData returned by :func:`gex_impute.tl.complete`.
    var_names
        Genes to show; by default the ``n_genes`` most variable across tissues.
    tissue_key, imputed_key
        Columns of ``completed.obs``; the tissue column defaults to the one
        :func:`~gex_impute.tl.complete` recorded (``uns['gex_impute']``), else ``"tissue"``.
    n_genes
        How many genes to pick when ``var_names`` is None.
    ax
        Axes to draw on (scanpy splits it into the plot and its legends); a new figure when None.
    show
        True: show the figure (``plt.show()``) and return None, as scanpy. False: return the
        dict of Axes, as :func:`scanpy.pl.matrixplot` does. None: as before, return the
        ``MatrixPlot`` and leave showing to matplotlib.
    save
        Write the figure, atomically. A path, or a str such as ``'matrix.png'``, names the
        file (format from its suffix). As scanpy: True writes
        ``sc.settings.figdir / 'tissue_matrixplot.pdf'`` (format ``sc.settings.file_format_figs``),
        and a str starting with ``_`` or ``.`` is appended to that name. A figure made here is
        closed once written.
    return_fig
        Return the ``MatrixPlot`` (scanpy's ``return_fig``); None: True unless ``show`` is given.
    **kwargs
        Passed on to :func:`scanpy.pl.matrixplot` (not ``groupby``: the tissue, then observed or
        completed).

    Returns
    -------
    The scanpy ``MatrixPlot`` (``return_fig``; drawn only when saved), else the dict of Axes
    (``show=False``), or None (``show=True``).

    Examples
    --------
    >>> import anndata as ad, numpy as np, pandas as pd
    >>> import gex_impute as gi
    >>> obs = pd.DataFrame({"tissue": ["a", "b", "a", "b"], "imputed_profile": [False, True, False, False]},
    ...                    index=list("wxyz"))
    >>> axes = gi.pl.tissue_matrixplot(ad.AnnData(np.eye(4), obs=obs), n_genes=2, show=False)
    >>> "mainplot_ax" in axes
    True
    """
    import scanpy as sc

    path = check_show_save(show, save, "tissue_matrixplot")
    if return_fig is None:
        return_fig = show is None
    elif not isinstance(return_fig, bool | np.bool_):
        msg = f"return_fig={return_fig!r}: pass True (return the MatrixPlot), False or None."
        raise ParameterError(msg)
    if return_fig and show:
        msg = "show=True returns nothing, so return_fig=True cannot hold: pass one of them."
        raise ParameterError(msg)
    taken = sorted({"groupby", "adata"} & set(kwargs))
    if taken:
        msg = (
            f"{', '.join(f'{k}=' for k in taken)} is set by tissue_matrixplot (groupby: the tissue "
            "column, then observed / completed); name the tissue column with tissue_key= instead."
        )
        raise ParameterError(msg)
    tissue_key, _ = _keys(completed, tissue_key, None)
    _check_columns(completed.obs, (tissue_key, imputed_key))
    if not completed.var_names.is_unique:
        dup = completed.var_names[completed.var_names.duplicated()].unique()[:3].tolist()
        msg = (
            f"completed.var_names are not unique (e.g. {dup}); make them unique first "
            "(completed.var_names_make_unique()) or pass var_names of unique genes."
        )
        raise DataError(msg)
    symbols = kwargs.pop("gene_symbols", None)
    if var_names is None:
        values = completed.X[:] if completed.isbacked else completed.X
        dense = values.toarray() if hasattr(values, "toarray") else np.asarray(values)
        means = (
            pd.DataFrame(dense, columns=completed.var_names)
            .groupby(completed.obs[tissue_key].to_numpy())
            .mean()
        )
        genes = list(means.var().sort_values(ascending=False).index[:n_genes])
    elif symbols is not None:  # names in var[gene_symbols], as scanpy's gene_symbols= means
        genes = _genes_of_symbols(completed, list(var_names), symbols)
    else:
        genes = list(var_names)
    view = completed[:, genes]
    view = view.to_memory() if view.isbacked else view.copy()
    view.obs["profile"] = np.where(_estimated_rows(view.obs, imputed_key), "completed", "observed")
    view.obs["profile"] = view.obs["profile"].astype("category")
    shown = genes if symbols is None else list(view.var[symbols].astype(str))
    plot = sc.pl.matrixplot(
        view,
        shown,
        groupby=[tissue_key, "profile"],
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


def _keys(adata: AnnData, tissue_key: str | None, donor_key: str | None) -> tuple[str, str]:
    """Return the tissue and donor columns: as given, else as recorded (uns['gex_impute']), else defaults."""
    from .._data_keys import resolve_keys

    tissue, donor, _ = resolve_keys(
        adata, tissue_key=tissue_key, donor_key=donor_key, default_donor_key="donor"
    )
    return tissue, str(donor)


def _check_columns(obs: pd.DataFrame, columns: Sequence[str]) -> None:
    for column in columns:
        if column not in obs.columns:
            msg = f"obs has no column {column!r}; pass the AnnData returned by gex_impute.tl.complete."
            raise KeyNotFoundError(msg)


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


def _estimated_rows(obs: pd.DataFrame, imputed_key: str) -> np.ndarray:
    """Return ``obs[imputed_key]`` as a boolean array; missing values (an outer ``ad.concat``) are refused."""
    column = obs[imputed_key]
    if column.isna().any():  # e.g. an outer ad.concat with samples complete() never saw
        msg = (
            f"obs[{imputed_key!r}] has {int(column.isna().sum())} missing values (rows complete() "
            f"did not write, e.g. joined with ad.concat); mark them first, e.g. measured samples: "
            f"adata.obs[{imputed_key!r}] = adata.obs[{imputed_key!r}].fillna(False).astype(bool)."
        )
        raise DataError(msg)
    return column.to_numpy(dtype=bool)

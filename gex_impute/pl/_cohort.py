"""Plots of a completed cohort: which donor x tissue profiles were observed, and expression by tissue."""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import TYPE_CHECKING, Literal, overload

import numpy as np
import pandas as pd

from ..errors import DataError, KeyNotFoundError
from ._utils import axes_or_new, check_show_save, doc_show_save, finish

if TYPE_CHECKING:
    from anndata import AnnData
    from matplotlib.axes import Axes

__all__ = ["profiles"]

#: donors named under the grid up to this many (more would overprint)
_NAMED_DONORS = 50


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
    how many tissues; donors are named under the grid when there are at most 50.

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
    if grid.shape[1] <= _NAMED_DONORS:
        ax.set_xticks(np.arange(grid.shape[1]))
        ax.set_xticklabels(grid.columns, fontsize=6, rotation=90)
    else:
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


def _estimated_rows(obs: pd.DataFrame, imputed_key: str) -> np.ndarray:
    """Return ``obs[imputed_key]`` as a boolean array.

    Takes booleans (also pandas' nullable ``boolean``), 0 / 1 and the strings ``"True"`` /
    ``"False"`` (a table read back as text); refuses missing values (an outer ``ad.concat``) and
    anything else, naming the fix.
    """
    column = obs[imputed_key]
    if column.isna().any():  # e.g. an outer ad.concat with samples complete() never saw
        msg = (
            f"obs[{imputed_key!r}] has {int(column.isna().sum())} missing values (rows complete() "
            f"did not write, e.g. joined with ad.concat); mark them first, e.g. measured samples: "
            f"adata.obs[{imputed_key!r}] = adata.obs[{imputed_key!r}].fillna(False).astype(bool)."
        )
        raise DataError(msg)
    if pd.api.types.is_bool_dtype(column):
        return column.to_numpy(dtype=bool)
    values = column.astype(object)
    text = values.map(lambda v: v.strip().lower() if isinstance(v, str) else v)
    flags = text.map({True: True, False: False, "true": True, "false": False})  # 1 == True, 0 == False
    if flags.isna().any():
        bad = pd.unique(values[flags.isna()])[:3].tolist()
        msg = (
            f"obs[{imputed_key!r}] ({column.dtype}) holds {bad}, not True / False; it marks the "
            f"profiles complete() estimated. Convert it, e.g. adata.obs[{imputed_key!r}] = "
            f"adata.obs[{imputed_key!r}].astype(str).str.lower().eq('true')."
        )
        raise DataError(msg)
    return flags.to_numpy(dtype=bool)

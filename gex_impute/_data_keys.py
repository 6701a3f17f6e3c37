"""Which columns and layer of an AnnData hold the tissues, donors and values, and which axis the samples.

:func:`register_keys` stores the keys once per AnnData (``adata.uns['gex_impute']``),
:func:`resolve_keys` fills the keys a call left out from there, and :func:`detect_orientation`
finds whether the samples are in ``obs`` or (GTEx GCT layout) in ``var``. Part of the data
contract of :mod:`gex_impute._data`, which re-exports every name.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from ._data_matrix import sample_annotation
from .errors import KeyNotFoundError, ParameterError

if TYPE_CHECKING:
    from anndata import AnnData

__all__ = [
    "Orientation",
    "UNS_KEY",
    "check_anndata",
    "detect_orientation",
    "register_keys",
    "registered_keys",
    "resolve_keys",
]

Orientation = Literal["samples_x_genes", "genes_x_samples"]

#: ``adata.uns`` entry written by :func:`register_keys`
UNS_KEY = "gex_impute"
#: the samples' column read as their donors when no donor column is given nor registered
DONOR_KEY = "donor"


def register_keys(
    adata: AnnData,
    *,
    tissue_key: str = "tissue",
    donor_key: str | None = None,
    layer: str | None = None,
) -> None:
    """Record which columns and layer hold the tissues, donors and values of ``adata``.

    Every gex_impute function that takes ``tissue_key``, ``donor_key`` or ``layer`` reads them
    from here when a call leaves them out (as ``scvi-tools``' ``setup_anndata`` does). Explicit
    arguments always win; ``donor_key=False`` ignores a registered donor column and
    ``layer="X"`` reads ``X`` despite a registered layer.

    Parameters
    ----------
    adata
        Samples x genes or the transpose; checked, not otherwise modified.
    tissue_key
        Column (of ``obs``, or of ``var`` for genes x samples data) with each sample's tissue.
    donor_key
        Column with each sample's donor, on the same axis as ``tissue_key``; None when unknown.
    layer
        Layer holding the expression values; ``X`` when None.

    Returns
    -------
    None. Writes ``adata.uns['gex_impute']``: ``tissue_key``, and ``donor_key`` / ``layer``
    when given.

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=3, n_tissues=2, n_genes=20)
    >>> gi.pp.register_keys(adata, tissue_key="tissue", donor_key="donor")
    >>> adata.uns["gex_impute"]
    {'tissue_key': 'tissue', 'donor_key': 'donor'}
    """
    for name, value in (("tissue_key", tissue_key), ("donor_key", donor_key), ("layer", layer)):
        if value is not None and (not isinstance(value, str) or not value):
            msg = f"{name}={value!r} must be a non-empty string{'' if name == 'tissue_key' else ' or None'}."
            raise ParameterError(msg)
    orientation = detect_orientation(adata, tissue_key)
    samples = adata.obs if orientation == "samples_x_genes" else adata.var
    if donor_key is not None and donor_key not in samples.columns:
        where = "obs" if orientation == "samples_x_genes" else "var"
        msg = f"donor_key {donor_key!r} not found in adata.{where} (columns: {list(samples.columns)})."
        raise KeyNotFoundError(msg)
    if layer is not None and layer != "X" and layer not in adata.layers:
        msg = f"layer {layer!r} not found; available layers: {list(adata.layers.keys())}"
        raise KeyNotFoundError(msg)
    entry = {"tissue_key": tissue_key}
    if donor_key is not None:
        entry["donor_key"] = donor_key
    if layer is not None:
        entry["layer"] = layer
    adata.uns[UNS_KEY] = entry


def registered_keys(adata: AnnData) -> dict[str, str]:
    """Return the keys stored by :func:`register_keys` (an empty dict when none)."""
    entry = adata.uns.get(UNS_KEY, {}) if hasattr(adata, "uns") else {}
    if not isinstance(entry, dict):
        return {}
    return {k: str(v) for k, v in entry.items() if k in ("tissue_key", "donor_key", "layer")}


def resolve_keys(
    adata: AnnData,
    *,
    tissue_key: str | None = None,
    donor_key: str | Literal[False] | None = None,
    layer: str | None = None,
    default_donor_key: str | Literal[False] | None = None,
) -> tuple[str, str | None, str | None]:
    """Fill the keys a call left out from :func:`register_keys`, else from the defaults.

    Parameters
    ----------
    adata
        The AnnData the keys refer to.
    tissue_key, donor_key, layer
        Explicit values win; None means "registered, else default" (``"tissue"``,
        ``default_donor_key``, ``X``). ``donor_key=False``: no donors. ``layer="X"``: ``X``.
    default_donor_key
        Donor column used when none is given nor registered: a name (a fitted model's column,
        or complete()'s ``"donor"``, which the data must have), False (no donors), or None:
        the samples' ``"donor"`` column where there is one, else no donors.

    Returns
    -------
    ``(tissue_key, donor_key, layer)``; ``layer`` None means ``X``.
    """
    registered = registered_keys(adata)
    tissue = tissue_key if tissue_key is not None else registered.get("tissue_key", "tissue")
    if donor_key is False:
        donor = None
    elif donor_key is not None:
        donor = donor_key
    elif "donor_key" in registered:
        donor = registered["donor_key"]
    elif default_donor_key is None:  # a column named "donor" is the donors'
        donor = DONOR_KEY if _has_sample_column(adata, tissue, DONOR_KEY) else None
    else:
        donor = default_donor_key or None
    chosen = layer if layer is not None else registered.get("layer")
    if chosen == "X" and "X" not in getattr(adata, "layers", {}):
        chosen = None
    return tissue, donor, chosen


def _has_sample_column(adata: AnnData, tissue_key: str, column: str) -> bool:
    """Whether the samples' annotation (``obs``, or ``var`` where the tissue column is) has ``column``."""
    try:
        orientation = detect_orientation(adata, tissue_key)
    except TypeError:  # not an AnnData: refused where the data are read
        return False
    except KeyError:  # no tissue column (or two): refused where the data are read; obs meanwhile
        orientation = "samples_x_genes"
    return column in sample_annotation(adata, orientation).columns


def check_anndata(adata: object) -> None:
    """Refuse anything but an AnnData (a table or an array has no ``obs`` / ``var``), saying what to pass."""
    if all(hasattr(adata, name) for name in ("obs", "var", "X", "layers")):
        return
    msg = (
        f"expected an AnnData, got {type(adata).__module__}.{type(adata).__name__}; build one first, e.g. "
        "anndata.AnnData(X=values, obs=samples_table, var=genes_table) (samples x genes, with a tissue "
        "column in obs), or read a file with gex_impute.io.read_expression."
    )
    raise TypeError(msg)


def detect_orientation(adata: AnnData, tissue_key: str) -> Orientation:
    """Find whether samples are in ``obs`` or in ``var`` by where ``tissue_key`` lives.

    Raises
    ------
    TypeError
        When ``adata`` is not an AnnData.
    KeyError
        When ``tissue_key`` is in neither or in both.
    """
    check_anndata(adata)
    in_obs = tissue_key in adata.obs.columns
    in_var = tissue_key in adata.var.columns
    if in_obs and in_var:
        msg = (
            f"tissue_key {tissue_key!r} is a column of both adata.obs and adata.var, so the "
            "orientation is ambiguous; drop or rename one of them."
        )
        raise KeyNotFoundError(msg)
    if in_obs:
        return "samples_x_genes"
    if in_var:
        return "genes_x_samples"
    msg = (
        f"tissue_key {tissue_key!r} not found in adata.obs (columns: {list(adata.obs.columns)}) "
        f"nor in adata.var (columns: {list(adata.var.columns)}). Pass tissue_key= naming the "
        "column that holds each sample's tissue."
    )
    if set(map(str, adata.obs.columns)) <= {"donor"}:  # nothing else is known of the samples (a GCT alone)
        msg += (
            " The samples carry no annotation at all: for a GTEx GCT, read it with its sample "
            "attributes (gex_impute.io.read_expression(gct, sample_attributes=...); CLI: "
            "--sample-attributes)."
        )
    raise KeyNotFoundError(msg)

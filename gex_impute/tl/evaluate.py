"""``gi.tl.evaluate``: honest hold-out evaluation of imputation methods.

Observed entries are hidden following a protocol (:mod:`gex_impute.tl._folds`: ``"genes"``,
``"entries"``, ``"samples"``), every method is fitted on a *copy* of the data in which those
entries are NaN (the truth is unreachable by construction), and its predictions of the
hidden entries are compared with the truth on the model scale (log1p when the data are
TPM/count-like). Metrics pool all folds; optionally they are also given per expression
quintile of the held-out genes, and for methods that give prediction intervals
(``predict_interval``) their coverage and mean width.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal, overload

import numpy as np
import pandas as pd

from .._data import ExpressionData, from_anndata
from .._utils import progress_bar
from ._folds import PROTOCOLS, heldout_folds
from ._method_specs import MethodSpec, usable
from ._method_specs import factories as method_factories
from ._methods import check_level, interval_rows
from ._metrics import QUINTILES, expression_quintiles, interval_scores, score

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("gex_impute")

__all__ = ["BASELINES", "PROTOCOLS", "evaluate", "format_table"]

#: the baseline set, in the order the tables show it
BASELINES = (
    "distance",
    "nearest_gene",
    "mean",
    "additive",
    "knn",
    "knn_samples",
    "softimpute",
    "pca_regression",
)


def format_table(table: pd.DataFrame, *, digits: int = 3) -> str:
    """Render an :func:`~gex_impute.tl.evaluate` table for a terminal: metrics rounded, counts as integers.

    Parameters
    ----------
    table
        A table from :func:`~gex_impute.tl.evaluate` (any index).
    digits
        Decimals of the metrics (seconds get one).

    Returns
    -------
    The table as aligned text.

    Examples
    --------
    >>> from gex_impute.tl import format_table
    >>> import pandas as pd
    >>> print(format_table(pd.DataFrame({"pearson": [0.91234], "n_heldout": [120]}, index=["knn"])))
         pearson  n_heldout
    knn    0.912        120
    """
    shown = table.copy()
    for col in shown.columns:
        values = shown[col]
        if pd.api.types.is_bool_dtype(values) or not pd.api.types.is_numeric_dtype(values):
            continue
        if col.endswith("_seconds"):
            shown[col] = values.round(1)
        elif pd.api.types.is_float_dtype(values):
            shown[col] = values.round(digits)
    return shown.to_string(na_rep="-")


def _run_fold(
    data: ExpressionData, mask: np.ndarray, factories, level: float | None, collected: dict, bar
) -> None:
    """Fit and predict every method on ``data`` with the entries of ``mask`` hidden."""
    hidden = data.values.copy()
    hidden[mask] = np.nan
    idx = np.flatnonzero(mask.ravel())
    rows = np.unique(idx // data.n_genes)
    for label, factory in factories:
        # a fresh copy per method: nothing a method does to its input reaches the next one
        train = data.with_values(hidden.copy())
        train.obs = data.obs.copy()
        train.var = data.var.copy()
        method = factory()
        start = time.perf_counter()
        method.fit(train)
        fit_s = time.perf_counter() - start
        start = time.perf_counter()
        pred = method.predict(train)
        predict_s = time.perf_counter() - start
        pred_held = np.asarray(pred, dtype=np.float64).ravel()[idx]
        if not np.isfinite(pred_held).all():
            msg = f"method {label!r} returned non-finite predictions for held-out entries."
            raise RuntimeError(msg)
        rec = collected[label]
        rec["pred"].append(pred_held)
        rec["idx"].append(idx)
        rec["fit"] += fit_s
        rec["predict"] += predict_s
        # n_fallback_ counts every missing entry; count held-out ones where the method says which
        fb_mask = getattr(method, "fallback_mask_", None)
        if fb_mask is not None and np.shape(fb_mask) == mask.shape:
            flags = np.asarray(fb_mask, dtype=bool).ravel()[idx]
            rec["fallback"] += int(flags.sum())
        else:  # only a count: the quintile rows cannot say where the fallbacks fell
            flags = None
            rec["fallback"] += int(getattr(method, "n_fallback_", 0))
        rec["fallback_flags"].append(flags)
        if level is not None and hasattr(method, "predict_interval"):
            lower, upper = interval_rows(method, train, rows, level)
            # positions of the held-out entries inside the (rows x genes) block
            local = np.searchsorted(rows, idx // data.n_genes) * data.n_genes + idx % data.n_genes
            rec["lower"].append(lower.ravel()[local])
            rec["upper"].append(upper.ravel()[local])
        bar.update(1)


def _table_rows(label, rec, truth, sample_i, gene_i, tissue_i, quintile, by_quintile, extra) -> dict:
    """Return one method's table rows: ``(label, "all")`` and, with ``by_quintile``, one per quintile."""
    pred = np.concatenate(rec["pred"])
    lower = np.concatenate(rec["lower"]) if rec["lower"] else None
    upper = np.concatenate(rec["upper"]) if rec["upper"] else None
    groups = [("all", slice(None))]
    if by_quintile:
        groups += [(name, quintile == q) for q, name in enumerate(QUINTILES)]
    rows = {}
    for name, sel in groups:
        row = score(truth[sel], pred[sel], gene=gene_i[sel], sample=sample_i[sel], tissue=tissue_i[sel])
        if lower is not None and upper is not None:
            row.update(interval_scores(truth[sel], lower[sel], upper[sel]))
        row.update(extra)
        if name != "all":  # per quintile where the method says which entries fell back
            flags = rec["fallback_flags"]
            row["n_fallback"] = (
                int(np.concatenate(flags)[sel].sum()) if all(f is not None for f in flags) else np.nan
            )
        rows[(label, name) if by_quintile else label] = row
    return rows


@overload
def evaluate(
    adata: AnnData,
    *,
    protocol: Literal["genes", "entries", "samples"] = "genes",
    fraction: float | None = 0.2,
    methods: Iterable[MethodSpec | tuple[str, MethodSpec]]
    | Mapping[str, MethodSpec]
    | MethodSpec = BASELINES,
    tissue_key: str | None = None,
    donor_key: str | Literal[False] | None = None,
    layer: str | None = None,
    log_transform: bool | Literal["auto"] = "auto",
    random_state: int | None = 0,
    n_folds: int | None = None,
    by_quintile: bool = False,
    interval: float | None = None,
    skip_unusable: bool = False,
    progress: bool = True,
    return_predictions: Literal[False] = False,
) -> pd.DataFrame: ...


@overload
def evaluate(
    adata: AnnData,
    *,
    protocol: Literal["genes", "entries", "samples"] = "genes",
    fraction: float | None = 0.2,
    methods: Iterable[MethodSpec | tuple[str, MethodSpec]]
    | Mapping[str, MethodSpec]
    | MethodSpec = BASELINES,
    tissue_key: str | None = None,
    donor_key: str | Literal[False] | None = None,
    layer: str | None = None,
    log_transform: bool | Literal["auto"] = "auto",
    random_state: int | None = 0,
    n_folds: int | None = None,
    by_quintile: bool = False,
    interval: float | None = None,
    skip_unusable: bool = False,
    progress: bool = True,
    return_predictions: Literal[True],
) -> tuple[pd.DataFrame, dict[str, pd.DataFrame]]: ...


def evaluate(
    adata: AnnData,
    *,
    protocol: Literal["genes", "entries", "samples"] = "genes",
    fraction: float | None = 0.2,
    methods: Iterable[MethodSpec | tuple[str, MethodSpec]]
    | Mapping[str, MethodSpec]
    | MethodSpec = BASELINES,
    tissue_key: str | None = None,
    donor_key: str | Literal[False] | None = None,
    layer: str | None = None,
    log_transform: bool | Literal["auto"] = "auto",
    random_state: int | None = 0,
    n_folds: int | None = None,
    by_quintile: bool = False,
    interval: float | None = None,
    skip_unusable: bool = False,
    progress: bool = True,
    return_predictions: bool = False,
) -> pd.DataFrame | tuple[pd.DataFrame, dict[str, pd.DataFrame]]:
    """Hide observed entries, impute them with each method and score the predictions.

    Parameters
    ----------
    adata
        Samples x genes or the transpose, NaN = missing; never modified.
    protocol
        ``"genes"`` (P1: whole genes hidden in every sample), ``"entries"`` (P2: scattered
        entries) or ``"samples"`` (P3: whole donor x tissue profiles; needs donors). See
        :func:`gex_impute.tl.heldout_folds`.
    fraction
        Fraction hidden (of the genes with data, of the observed entries, or of the donor x
        tissue profiles). ``None`` with ``protocol="samples"``: each profile in turn.
    methods
        Method names, :class:`~gex_impute.methods.BaseImputer` instances (cloned from their
        parameters for every fold, e.g. ablation configurations), zero-argument factories,
        ``(label, method)`` pairs or a ``{label: method}`` dict. The default,
        ``gex_impute.tl.BASELINES``, is the eight baselines without the hybrid (it fits
        in seconds; add ``"hybrid"`` to compare it, as ``gex-impute evaluate`` does by default),
        leaving out those the data cannot serve (e.g. ``distance`` without coordinates).
    tissue_key, donor_key, layer, log_transform
        As in :func:`gex_impute.tl.impute`: keys left out are the registered ones, and
        ``log_transform="auto"`` models log1p of count- or TPM-like values.
    random_state
        Seed of the hold-out split, also given to methods created by name.
        None is seed 0 (never numpy's global random state).
    n_folds
        ``protocol="samples"`` only: partition the profiles into ``n_folds`` folds, each held
        out once (a donor's profiles in different folds); overrides ``fraction``.
    by_quintile
        Also score the held-out entries per expression quintile of their gene: quintiles of
        the held-out genes' mean over their observed entries in ``adata`` (model scale),
        ``Q1`` lowest. The table is then indexed by ``(method, quintile)``, ``quintile`` in
        ``("all", "Q1", ..., "Q5")``.
    interval
        Level (e.g. ``0.9``) of the prediction intervals scored (``coverage``, ``mean_width``)
        for methods that give them (``predict_interval``; every registered method does, by
        split-conformal calibration on the fold's training data, extra fits per missingness
        pattern, at most 10); None (default) to skip.
    skip_unusable
        Leave out, with a logged warning, the methods whose needs the data do not meet (gene
        coordinates, donors) instead of failing. Always done for the default baseline set.
    progress
        Show a progress bar over folds x methods (and the methods' own bars).
    return_predictions
        Also return, per method, the held-out entries with their truth and prediction.

    Returns
    -------
    A DataFrame indexed by method label (with ``by_quintile``: by method and quintile) with
    ``protocol``, ``pearson``, ``spearman``, ``mse``, ``mean_gene_r``, ``mean_sample_r``,
    ``mean_tissue_r``, ``n_heldout``, ``n_folds``, ``fit_seconds``, ``predict_seconds``,
    ``n_fallback`` (held-out entries served by a method's fallback; a method that gives only
    a count, ``n_fallback_`` without ``fallback_mask_``, reports every entry it filled by its
    fallback, held out or not, and NaN in the quintile rows) and ``log1p`` (metrics on the
    log1p scale); ``n_folds``, ``fit_seconds`` and ``predict_seconds`` are the method's totals
    in every row;
    ``interval`` (the nominal level), ``coverage`` and ``mean_width`` when a method gives
    intervals (NaN for the others); ``gene_mean_low`` / ``gene_mean_high``
    (the quintile's range) with ``by_quintile``. With ``return_predictions=True``, also a
    dict label -> DataFrame (``sample``, ``gene``, ``tissue``, ``observed``, ``predicted``,
    ``quintile``; ``lower``, ``upper`` with intervals).

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=100)
    >>> table = gi.tl.evaluate(adata, protocol="entries", methods=["mean", "knn"], progress=False)
    >>> list(table.index)
    ['mean', 'knn']
    >>> by_q = gi.tl.evaluate(adata, methods=["mean"], by_quintile=True, progress=False)
    >>> by_q.index.get_level_values("quintile").tolist()
    ['all', 'Q1', 'Q2', 'Q3', 'Q4', 'Q5']
    """
    level = check_level(interval)
    data, _ = from_anndata(
        adata, tissue_key=tissue_key, donor_key=donor_key, layer=layer, log_transform=log_transform
    )
    factories = method_factories(methods, random_state, progress)
    if skip_unusable or methods is BASELINES:
        factories = usable(factories, data)

    folds = heldout_folds(
        data, protocol=protocol, fraction=fraction, random_state=random_state, n_folds=n_folds
    )
    collected: dict[str, dict[str, Any]] = {
        label: {
            "pred": [],
            "idx": [],
            "lower": [],
            "upper": [],
            "fit": 0.0,
            "predict": 0.0,
            "fallback": 0,
            "fallback_flags": [],
        }
        for label, _ in factories
    }
    with progress_bar(
        total=len(folds) * len(factories), enabled=progress, desc=f"evaluate {protocol}"
    ) as bar:
        for mask in folds:
            _run_fold(data, mask, factories, level, collected, bar)

    truth_all = data.values
    with np.errstate(invalid="ignore"):
        observed = ~np.isnan(truth_all)
        gene_mean = np.where(observed, truth_all, 0.0).sum(0) / np.maximum(observed.sum(0), 1)
    gene_mean[~observed.any(axis=0)] = np.nan
    table_rows: dict = {}
    predictions = {}
    tissue_codes = data.tissue_codes
    with_intervals = any(rec["lower"] for rec in collected.values())
    for label, rec in collected.items():
        idx = np.concatenate(rec["idx"])
        truth = truth_all.ravel()[idx]
        sample_i, gene_i = np.divmod(idx, data.n_genes)
        distinct = np.unique(gene_i)
        q_of_gene, edges = expression_quintiles(gene_mean, distinct)
        quintile = q_of_gene[np.searchsorted(distinct, gene_i)]
        extra = {
            "n_folds": len(folds),
            "fit_seconds": rec["fit"],
            "predict_seconds": rec["predict"],
            "n_fallback": rec["fallback"],
            "log1p": data.log1p,
        }
        rows = _table_rows(
            label, rec, truth, sample_i, gene_i, tissue_codes[sample_i], quintile, by_quintile, extra
        )
        if by_quintile:
            bounds = np.concatenate(
                [[np.nanmin(gene_mean[distinct])], edges, [np.nanmax(gene_mean[distinct])]]
            )
            for q, name in enumerate(("all", *QUINTILES)):
                lo, hi = (bounds[0], bounds[-1]) if q == 0 else (bounds[q - 1], bounds[q])
                rows[(label, name)].update({"gene_mean_low": float(lo), "gene_mean_high": float(hi)})
        table_rows.update(rows)
        if return_predictions:
            frame = {
                "sample": data.obs.index.to_numpy()[sample_i],
                "gene": data.var.index.to_numpy()[gene_i],
                "tissue": np.asarray(data.tissue)[sample_i],
                "observed": truth,
                "predicted": np.concatenate(rec["pred"]),
                "quintile": np.asarray(QUINTILES)[quintile],
            }
            if rec["lower"]:
                frame["lower"] = np.concatenate(rec["lower"])
                frame["upper"] = np.concatenate(rec["upper"])
            predictions[label] = pd.DataFrame(frame)
    table = pd.DataFrame.from_dict(table_rows, orient="index")
    if with_intervals:
        for col in ("coverage", "mean_width"):
            if col not in table.columns:
                table[col] = np.nan
        table["interval"] = np.where(table["coverage"].notna(), np.nan if level is None else level, np.nan)
    if by_quintile:
        table.index = pd.MultiIndex.from_tuples(table.index, names=["method", "quintile"])
    else:
        table.index.name = "method"
    table.insert(0, "protocol", protocol)
    return (table, predictions) if return_predictions else table

"""``gex_impute.evaluate``: honest hold-out evaluation of imputation methods.

Observed entries are hidden following a protocol, every method is fitted on a *copy* of the
data in which those entries are NaN (the truth is unreachable by construction), and its
predictions of the hidden entries are compared with the truth on the model scale (log1p when
the data are TPM/count-like).

Protocols
---------
``"genes"`` (P1)
    A ``fraction`` of the genes that have observed values is hidden in every sample.
``"entries"`` (P2)
    A ``fraction`` of the observed entries, scattered at random, is hidden.
``"samples"`` (P3, needs ``donor_key``)
    Whole donor x tissue profiles (all samples of one donor in one tissue) are hidden. With a
    float ``fraction``, that fraction of the observed profiles is hidden in one fold, never
    all profiles of a donor, so each donor keeps other tissues as donor-specific information.
    With ``fraction=None`` every profile is held out in turn (one fold per profile; the
    leave-one-profile-out of the primate benchmark); with ``n_folds=K`` the profiles are
    partitioned into K folds, each held out once, a donor's profiles always in different
    folds (K-fold cross-validation; K must be at least the largest number of profiles of one
    donor). Metrics pool all folds.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Mapping
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pandas as pd

from ._data import ExpressionData, from_anndata
from ._utils import check_random_state, progress_bar
from .methods._base import BaseImputer, get_method

if TYPE_CHECKING:
    from anndata import AnnData

logger = logging.getLogger("gex_impute")

__all__ = ["BASELINES", "PROTOCOLS", "evaluate", "heldout_folds", "score"]

PROTOCOLS = ("genes", "entries", "samples")
#: the baseline set, in the order the tables show it
BASELINES = ("distance", "nearest_gene", "mean", "additive", "knn", "softimpute", "pca_regression")

MethodSpec = str | BaseImputer | Callable[[], BaseImputer]


# -- hold-out folds ------------------------------------------------------------------------------
def heldout_folds(
    data: ExpressionData,
    *,
    protocol: Literal["genes", "entries", "samples"] = "genes",
    fraction: float | None = 0.2,
    random_state: int | np.random.Generator | None = 0,
    n_folds: int | None = None,
) -> list[np.ndarray]:
    """Boolean masks of the entries hidden in each fold; only observed entries are ever hidden.

    Parameters
    ----------
    data
        The data (samples x genes, NaN = missing).
    protocol, fraction, random_state, n_folds
        See :func:`evaluate`.

    Returns
    -------
    One ``(n_samples, n_genes)`` bool mask per fold.

    Examples
    --------
    >>> import gex_impute as gi
    >>> from gex_impute._data import from_anndata
    >>> data, _ = from_anndata(gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=50))
    >>> [m.sum() > 0 for m in heldout_folds(data, protocol="entries", fraction=0.1)]
    [True]
    """
    if protocol not in PROTOCOLS:
        msg = f"protocol={protocol!r} is not one of {PROTOCOLS}."
        raise ValueError(msg)
    if fraction is not None and not 0 < fraction < 1:
        msg = f"fraction={fraction!r} must lie strictly between 0 and 1 (or None for leave-one-out samples)."
        raise ValueError(msg)
    if fraction is None and protocol != "samples":
        msg = f"fraction=None (leave-one-profile-out) only applies to protocol='samples', not {protocol!r}."
        raise ValueError(msg)
    if n_folds is not None and protocol != "samples":
        msg = f"n_folds applies to protocol='samples' only, not {protocol!r}; use fraction= instead."
        raise ValueError(msg)
    rng = check_random_state(random_state)
    observed = data.observed
    if protocol == "genes":
        eligible = np.flatnonzero(observed.any(axis=0))
        n = min(max(1, round(fraction * len(eligible))), len(eligible) - 1)
        if n < 1:
            msg = "protocol='genes' needs at least two genes with observed values."
            raise ValueError(msg)
        genes = rng.choice(eligible, size=n, replace=False)
        mask = np.zeros_like(observed)
        mask[:, genes] = True
        return [mask & observed]
    if protocol == "entries":
        flat = np.flatnonzero(observed.ravel())
        n = min(max(1, round(fraction * len(flat))), len(flat) - 1)
        chosen = rng.choice(flat, size=n, replace=False)
        mask = np.zeros(observed.size, dtype=bool)
        mask[chosen] = True
        return [mask.reshape(observed.shape)]
    # samples: whole donor x tissue profiles
    if data.donor is None:
        msg = (
            "protocol='samples' hides whole donor x tissue profiles; pass donor_key= naming the donor column."
        )
        raise ValueError(msg)
    d_codes = np.asarray(data.donor.codes)
    t_codes = np.asarray(data.tissue.codes)
    has_obs = observed.any(axis=1)
    units = sorted({(int(d), int(t)) for d, t, ok in zip(d_codes, t_codes, has_obs, strict=True) if ok})
    if not units:
        msg = "no donor x tissue profile has observed values."
        raise ValueError(msg)

    def unit_mask(unit: tuple[int, int]) -> np.ndarray:
        rows = (d_codes == unit[0]) & (t_codes == unit[1])
        return rows[:, None] & observed

    if n_folds is not None:
        per_donor_max = int(pd.Series([u[0] for u in units]).value_counts().max())
        if not per_donor_max <= n_folds <= len(units):
            msg = (
                f"n_folds={n_folds} must lie between {per_donor_max} (the most profiles of one donor, "
                f"which must land in different folds) and {len(units)} (the number of profiles)."
            )
            raise ValueError(msg)
        # walk the profiles donor by donor (shuffled) and deal them out cyclically, so that a
        # donor's profiles land in consecutive, hence distinct, folds and folds stay balanced
        order = sorted(rng.permutation(len(units)), key=lambda i: units[i][0])
        masks = [np.zeros_like(observed) for _ in range(n_folds)]
        for position, i in enumerate(order):
            masks[position % n_folds] |= unit_mask(units[i])
        return masks
    if fraction is None:
        return [unit_mask(u) for u in units]
    per_donor = pd.Series([u[0] for u in units]).value_counts().to_dict()
    n_target = max(1, round(fraction * len(units)))
    chosen = []
    for i in rng.permutation(len(units)):
        donor = units[i][0]
        if per_donor[donor] > 1:  # keep at least one profile of every donor
            chosen.append(units[i])
            per_donor[donor] -= 1
            if len(chosen) == n_target:
                break
    if not chosen:
        msg = "protocol='samples' needs donors with observed profiles in at least two tissues."
        raise ValueError(msg)
    mask = np.zeros_like(observed)
    for u in chosen:
        mask |= unit_mask(u)
    return [mask]


# -- metrics -------------------------------------------------------------------------------------
def _r(a: np.ndarray, b: np.ndarray) -> float:
    if a.size < 3 or np.ptp(a) == 0 or np.ptp(b) == 0:
        return float("nan")
    return float(np.corrcoef(a, b)[0, 1])


def _mean_group_r(groups: np.ndarray, truth: np.ndarray, pred: np.ndarray) -> float:
    order = np.argsort(groups, kind="stable")
    g, t, p = groups[order], truth[order], pred[order]
    bounds = np.flatnonzero(np.diff(g)) + 1
    rs = [_r(tt, pp) for tt, pp in zip(np.split(t, bounds), np.split(p, bounds), strict=True)]
    rs = np.asarray([r for r in rs if np.isfinite(r)])
    return float(rs.mean()) if rs.size else float("nan")


def score(
    truth: np.ndarray,
    pred: np.ndarray,
    *,
    gene: np.ndarray | None = None,
    sample: np.ndarray | None = None,
    tissue: np.ndarray | None = None,
) -> dict[str, float]:
    """Accuracy of predictions of held-out entries.

    Parameters
    ----------
    truth, pred
        Held-out values and their predictions (1-D, same length, model scale).
    gene, sample, tissue
        Group labels of each entry for the per-gene (across samples), per-sample (across
        genes; HYFA's main metric) and per-tissue mean Pearson r. Groups with fewer than three
        entries or a constant truth/prediction have no r and are left out of the mean.

    Returns
    -------
    ``pearson``, ``spearman``, ``mse``, ``mean_gene_r``, ``mean_sample_r``, ``mean_tissue_r``,
    ``n_heldout``.

    Examples
    --------
    >>> import numpy as np
    >>> score(np.array([1.0, 2.0, 3.0]), np.array([1.1, 2.2, 2.9]))["mse"]
    0.02
    """
    from scipy.stats import spearmanr

    truth = np.asarray(truth, dtype=np.float64)
    pred = np.asarray(pred, dtype=np.float64)
    out = {
        "pearson": _r(truth, pred),
        "spearman": float(spearmanr(truth, pred).statistic)
        if truth.size > 2 and np.ptp(pred) > 0
        else np.nan,
        "mse": round(float(np.mean((truth - pred) ** 2)), 12) if truth.size else float("nan"),
    }
    for key, groups in (("mean_gene_r", gene), ("mean_sample_r", sample), ("mean_tissue_r", tissue)):
        out[key] = _mean_group_r(np.asarray(groups), truth, pred) if groups is not None else float("nan")
    out["n_heldout"] = int(truth.size)
    return out


# -- methods -------------------------------------------------------------------------------------
def _clone(method: BaseImputer) -> BaseImputer:
    return type(method)(**method.get_params())


def _factories(
    methods: Iterable[MethodSpec | tuple[str, MethodSpec]] | Mapping[str, MethodSpec] | MethodSpec,
    random_state: int | None,
) -> list[tuple[str, Callable[[], BaseImputer]]]:
    """Normalise ``methods`` into ``(label, factory)`` pairs; every call gives a fresh instance."""
    if isinstance(methods, str | BaseImputer):
        methods = [methods]
    items = list(methods.items()) if isinstance(methods, Mapping) else list(methods)
    out = []
    for item in items:
        label = None
        if isinstance(item, tuple):
            if len(item) != 2 or not isinstance(item[0], str):
                msg = f"a methods entry {item!r} must be a name, an instance or a (label, method) pair"
                raise ValueError(msg)
            label, item = item
        if isinstance(item, str):
            name = item

            def factory(name=name):
                instance = get_method(name)
                if "random_state" in instance.get_params():
                    instance.set_params(random_state=random_state)
                return instance

            get_method(name)  # fail early on unknown names
            out.append((label or name, factory))
        elif isinstance(item, BaseImputer):
            out.append((label or item.name, lambda item=item: _clone(item)))
        elif callable(item):
            out.append((label or getattr(item, "name", getattr(item, "__name__", "method")), item))
        else:
            msg = f"cannot use {item!r} as a method: pass a registered name, a BaseImputer or a factory"
            raise TypeError(msg)
    labels = [lab for lab, _ in out]
    if len(set(labels)) != len(labels):
        msg = f"method labels must be unique, got {labels}; pass (label, method) pairs or a dict."
        raise ValueError(msg)
    return out


def evaluate(
    adata: AnnData,
    *,
    protocol: Literal["genes", "entries", "samples"] = "genes",
    fraction: float | None = 0.2,
    methods: Iterable[MethodSpec | tuple[str, MethodSpec]]
    | Mapping[str, MethodSpec]
    | MethodSpec = BASELINES,
    tissue_key: str = "tissue",
    donor_key: str | None = None,
    layer: str | None = None,
    log_transform: bool | Literal["auto"] = "auto",
    random_state: int | None = 0,
    n_folds: int | None = None,
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
        entries) or ``"samples"`` (P3: whole donor x tissue profiles; needs ``donor_key``).
        See the module docstring.
    fraction
        Fraction hidden (of the genes with data, of the observed entries, or of the donor x
        tissue profiles). ``None`` with ``protocol="samples"``: each profile in turn.
    methods
        Method names, :class:`~gex_impute.methods.BaseImputer` instances (cloned from their
        parameters for every fold, e.g. ablation configurations), zero-argument factories,
        ``(label, method)`` pairs or a ``{label: method}`` dict. With the default baseline
        set, methods whose needs are not met (gene coordinates, donors) are skipped.
    tissue_key, donor_key, layer, log_transform
        As in :func:`gex_impute.impute`.
    random_state
        Seed of the hold-out split, also given to methods created by name.
    n_folds
        ``protocol="samples"`` only: partition the profiles into ``n_folds`` folds, each held
        out once (a donor's profiles in different folds); overrides ``fraction``.
    progress
        Show a progress bar over folds x methods.
    return_predictions
        Also return, per method, the held-out entries with their truth and prediction.

    Returns
    -------
    A DataFrame indexed by method label with ``protocol``, ``pearson``, ``spearman``, ``mse``,
    ``mean_gene_r``, ``mean_sample_r``, ``mean_tissue_r``, ``n_heldout``, ``n_folds``,
    ``fit_seconds``, ``predict_seconds``, ``n_fallback`` (held-out entries served by a
    method's fallback) and ``log1p`` (metrics on the log1p scale). With
    ``return_predictions=True``, also a dict label -> DataFrame (``sample``, ``gene``,
    ``tissue``, ``observed``, ``predicted``).

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=100)
    >>> table = gi.evaluate(adata, protocol="entries", methods=["mean", "knn"], progress=False)
    >>> list(table.index)
    ['mean', 'knn']
    """
    data, _ = from_anndata(
        adata, tissue_key=tissue_key, donor_key=donor_key, layer=layer, log_transform=log_transform
    )
    default_set = methods is BASELINES
    factories = _factories(methods, random_state)
    if default_set:
        kept = []
        for label, factory in factories:
            probe = factory()
            try:
                probe._check_data(data)
            except ValueError as err:
                logger.info("skipping %s: %s", label, err)
                continue
            kept.append((label, factory))
        factories = kept

    folds = heldout_folds(
        data, protocol=protocol, fraction=fraction, random_state=random_state, n_folds=n_folds
    )
    truth_all = data.values
    collected: dict[str, dict[str, Any]] = {
        label: {"pred": [], "idx": [], "fit": 0.0, "predict": 0.0, "fallback": 0} for label, _ in factories
    }
    with progress_bar(
        total=len(folds) * len(factories), enabled=progress, desc=f"evaluate {protocol}"
    ) as bar:
        for mask in folds:
            hidden = truth_all.copy()
            hidden[mask] = np.nan
            # a fresh copy per method: nothing a method does to its input reaches the next one
            idx = np.flatnonzero(mask.ravel())
            for label, factory in factories:
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
                    rec["fallback"] += int(np.asarray(fb_mask).ravel()[idx].sum())
                else:
                    rec["fallback"] += int(getattr(method, "n_fallback_", 0))
                bar.update(1)

    rows = {}
    predictions = {}
    n_genes = data.n_genes
    tissue_codes = np.asarray(data.tissue.codes)
    for label, rec in collected.items():
        idx = np.concatenate(rec["idx"])
        pred = np.concatenate(rec["pred"])
        truth = truth_all.ravel()[idx]
        sample_i, gene_i = np.divmod(idx, n_genes)
        row = {"protocol": protocol}
        row.update(score(truth, pred, gene=gene_i, sample=sample_i, tissue=tissue_codes[sample_i]))
        row.update(
            {
                "n_folds": len(folds),
                "fit_seconds": rec["fit"],
                "predict_seconds": rec["predict"],
                "n_fallback": rec["fallback"],
                "log1p": data.log1p,
            }
        )
        rows[label] = row
        if return_predictions:
            predictions[label] = pd.DataFrame(
                {
                    "sample": data.obs.index.to_numpy()[sample_i],
                    "gene": data.var.index.to_numpy()[gene_i],
                    "tissue": np.asarray(data.tissue)[sample_i],
                    "observed": truth,
                    "predicted": pred,
                }
            )
    table = pd.DataFrame.from_dict(rows, orient="index")
    table.index.name = "method"
    return (table, predictions) if return_predictions else table

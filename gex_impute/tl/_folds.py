"""Hold-out folds of :func:`gex_impute.tl.evaluate`: which observed entries each fold hides.

Protocols
---------
``"genes"`` (P1)
    A ``fraction`` of the genes that have observed values is hidden in every sample.
``"entries"`` (P2)
    A ``fraction`` of the observed entries, scattered at random, is hidden.
``"samples"`` (P3, needs donors)
    Whole donor x tissue profiles (all samples of one donor in one tissue) are hidden. With a
    float ``fraction``, that fraction of the observed profiles is hidden in one fold, never
    all profiles of a donor, so each donor keeps other tissues as donor-specific information.
    With ``fraction=None`` every profile is held out in turn (one fold per profile; the
    leave-one-profile-out of the primate benchmark); with ``n_folds=K`` the profiles are
    partitioned into K folds, each held out once, a donor's profiles always in different
    folds (K-fold cross-validation; K must be at least the largest number of profiles of one
    donor).
"""

from __future__ import annotations

from typing import Literal

import numpy as np
import pandas as pd

from .._data import ExpressionData
from .._utils import check_random_state
from ..errors import DataError, ParameterError

__all__ = ["PROTOCOLS", "heldout_folds"]

PROTOCOLS = ("genes", "entries", "samples")


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
        See :func:`gex_impute.tl.evaluate`.

    Returns
    -------
    One ``(n_samples, n_genes)`` bool mask per fold.

    Examples
    --------
    >>> from gex_impute.tl import heldout_folds
    >>> import gex_impute as gi
    >>> from gex_impute._data import from_anndata
    >>> data, _ = from_anndata(gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=50))
    >>> folds = heldout_folds(data, protocol="entries", fraction=0.1)
    >>> len(folds), int(folds[0].sum()) == round(0.1 * data.observed.sum())
    (1, True)
    """
    if protocol not in PROTOCOLS:
        msg = f"protocol={protocol!r} is not one of {PROTOCOLS}."
        raise ParameterError(msg)
    if fraction is not None and not 0 < fraction < 1:
        msg = f"fraction={fraction!r} must lie strictly between 0 and 1 (or None for leave-one-out samples)."
        raise ParameterError(msg)
    if fraction is None and protocol != "samples":
        msg = f"fraction=None (leave-one-profile-out) only applies to protocol='samples', not {protocol!r}."
        raise ParameterError(msg)
    if n_folds is not None and protocol != "samples":
        msg = f"n_folds applies to protocol='samples' only, not {protocol!r}; use fraction= instead."
        raise ParameterError(msg)
    rng = check_random_state(random_state)
    observed = data.observed
    share = 0.0 if fraction is None else float(fraction)  # None only reaches protocol="samples"
    if protocol == "genes":
        eligible = np.flatnonzero(observed.any(axis=0))
        n = min(max(1, round(share * len(eligible))), len(eligible) - 1)
        if n < 1:
            msg = "protocol='genes' needs at least two genes with observed values."
            raise DataError(msg)
        genes = rng.choice(eligible, size=n, replace=False)
        mask = np.zeros_like(observed)
        mask[:, genes] = True
        return [mask & observed]
    if protocol == "entries":
        flat = np.flatnonzero(observed.ravel())
        n = min(max(1, round(share * len(flat))), len(flat) - 1)
        chosen = rng.choice(flat, size=n, replace=False)
        mask = np.zeros(observed.size, dtype=bool)
        mask[chosen] = True
        return [mask.reshape(observed.shape)]
    # samples: whole donor x tissue profiles
    if data.donor is None:
        hint = " (the data have a 'donor' column: donor_key='donor')" if "donor" in data.obs.columns else ""
        msg = (
            "protocol='samples' hides whole donor x tissue profiles; pass donor_key= naming the donor "
            f"column{hint}."
        )
        raise ParameterError(msg)
    d_codes = np.asarray(data.donor.codes)
    t_codes = np.asarray(data.tissue.codes)
    has_obs = np.asarray(observed.any(axis=1))
    units = sorted({(int(d), int(t)) for d, t, ok in zip(d_codes, t_codes, has_obs, strict=True) if ok})
    if not units:
        msg = "no donor x tissue profile has observed values."
        raise DataError(msg)

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
            raise ParameterError(msg)
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
    n_target = max(1, round(share * len(units)))
    picked: list[tuple[int, int]] = []
    for i in rng.permutation(len(units)):
        donor = units[i][0]
        if per_donor[donor] > 1:  # keep at least one profile of every donor
            picked.append(units[i])
            per_donor[donor] -= 1
            if len(picked) == n_target:
                break
    if not picked:
        msg = "protocol='samples' needs donors with observed profiles in at least two tissues."
        raise DataError(msg)
    mask = np.zeros_like(observed)
    for u in picked:
        mask |= unit_mask(u)
    return [mask]

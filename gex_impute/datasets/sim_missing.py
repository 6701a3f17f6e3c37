"""What the simulator hides: genes missing in every sample, whole samples, scattered entries."""

from __future__ import annotations

import logging

import numpy as np

logger = logging.getLogger("gex_impute")

__all__ = ["draw_missing_genes", "drop_samples", "scatter_entries"]


def draw_missing_genes(r_miss: np.random.Generator, n_genes: int, frac: float) -> np.ndarray:
    """Genes missing in every sample."""
    return np.sort(r_miss.choice(n_genes, size=round(frac * n_genes), replace=False))


def drop_samples(
    r_miss: np.random.Generator,
    donor_of: np.ndarray,
    tissue_of: np.ndarray,
    n_donors: int,
    n_tissues: int,
    frac: float,
) -> np.ndarray:
    """Choose the samples missing entirely so that no tissue or donor loses all of its samples."""
    n_samples = donor_of.size
    n_miss = round(frac * n_samples)
    left_t = np.bincount(tissue_of, minlength=n_tissues)
    left_d = np.bincount(donor_of, minlength=n_donors)
    missing: list[int] = []
    for s in r_miss.permutation(n_samples):
        if len(missing) == n_miss:
            break
        if left_t[tissue_of[s]] > 1 and left_d[donor_of[s]] > 1:
            left_t[tissue_of[s]] -= 1
            left_d[donor_of[s]] -= 1
            missing.append(s)
    if len(missing) < n_miss:
        logger.warning(
            "simulate: only %d of %d requested missing samples could be removed while keeping "
            "every tissue and donor observed",
            len(missing),
            n_miss,
        )
    return np.sort(np.asarray(missing, dtype=np.int64))


def scatter_entries(
    X: np.ndarray,
    frac: float,
    rng: np.random.Generator,
    *,
    per_sample: tuple[np.ndarray, np.ndarray] | None = None,
) -> None:
    """Set a share ``frac`` of ``X``'s entries to NaN, in place.

    ``per_sample=(donor_of, tissue_of)``: each row draws its own from a seed of ``rng`` and its
    donor and tissue, so a sample's missing entries do not depend on which other rows there are
    (``gtex_v8``: the same whether absent profiles are kept or dropped). Otherwise one draw over
    the whole matrix from ``rng`` (the original simulator's).
    """
    if frac <= 0:
        return
    if per_sample is None:
        X[rng.random(X.shape, dtype=np.float32) < frac] = np.nan
        return
    seed = int(rng.integers(0, 2**63 - 1))
    for i, (d, t) in enumerate(zip(*per_sample, strict=True)):
        row_rng = np.random.default_rng([seed, int(d), int(t)])
        X[i, row_rng.random(X.shape[1], dtype=np.float32) < frac] = np.nan

"""Missing patterns of the data and the self-supervised masking that mimics them.

The hybrid model learns by hiding observed entries of the reference genes (genes with data)
the way entries are missing in the data: whole genes, whole samples and scattered entries.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Masking", "absent_profiles", "make_masking", "missing_patterns", "mixture"]


def missing_patterns(observed: np.ndarray) -> dict[str, float]:
    """Share of the missing entries that belong to each pattern.

    Parameters
    ----------
    observed
        Boolean ``(n_samples, n_genes)`` mask of observed entries.

    Returns
    -------
    ``{"genes": ..., "samples": ..., "entries": ...}``: fraction of missing entries in genes
    missing in every sample, in samples missing for every gene, and scattered elsewhere. All zero
    when nothing is missing.

    Examples
    --------
    >>> import numpy as np
    >>> from gex_impute.methods.hybrid import missing_patterns
    >>> obs = np.ones((4, 5), bool)
    >>> obs[:, 0] = False
    >>> missing_patterns(obs)["genes"]
    1.0
    """
    missing = ~observed
    n = missing.sum()
    if n == 0:
        return {"genes": 0.0, "samples": 0.0, "entries": 0.0}
    whole_gene = missing.all(axis=0)
    whole_sample = missing.all(axis=1)
    genes = missing[:, whole_gene].sum()
    samples = missing[np.ix_(whole_sample, ~whole_gene)].sum()
    entries = n - genes - samples
    return {"genes": float(genes / n), "samples": float(samples / n), "entries": float(entries / n)}


def absent_profiles(tissue_codes: np.ndarray, donor_codes: np.ndarray | None) -> int:
    """Count the donor x tissue profiles with no sample (absent rows of the donor x tissue grid).

    Examples
    --------
    >>> import numpy as np
    >>> absent_profiles(np.array([0, 1, 0]), np.array([0, 0, 1]))  # donor 1 never gave tissue 1
    1
    """
    if donor_codes is None or len(donor_codes) == 0:
        return 0
    pairs = np.unique(np.stack([donor_codes, tissue_codes]), axis=1).shape[1]
    return int(len(np.unique(donor_codes)) * len(np.unique(tissue_codes)) - pairs)


def mixture(observed: np.ndarray, *, n_absent_profiles: int = 0) -> dict[str, float]:
    """Masking mixture for training: the data's own pattern shares, each kept above a small floor.

    ``n_absent_profiles`` donor x tissue profiles that have no row at all (a GTEx-style cohort:
    the rows a completion will ask about) count as whole-sample missingness, as if they were
    all-NaN rows.
    """
    if n_absent_profiles:
        observed = np.vstack([observed, np.zeros((n_absent_profiles, observed.shape[1]), dtype=bool)])
    shares = missing_patterns(observed)
    if sum(shares.values()) == 0:
        shares = {"genes": 1 / 3, "samples": 1 / 3, "entries": 1 / 3}
    floor = 0.05
    mix = {k: max(v, floor) for k, v in shares.items()}
    if observed.shape[0] < 3:
        mix["samples"] = 0.0
    total = sum(mix.values())
    return {k: v / total for k, v in mix.items()}


@dataclass
class Masking:
    """One masking round: the masked matrix and the masked entries to learn from."""

    values: np.ndarray  # masked copy of the data
    rows: np.ndarray  # sample index of each training entry
    cols: np.ndarray  # gene index of each training entry
    pattern: np.ndarray  # 0 genes, 1 samples, 2 entries
    target: np.ndarray


def make_masking(
    values: np.ndarray,
    fold_genes: np.ndarray,
    mix: dict[str, float],
    rng: np.random.Generator,
    entry_rate: float = 0.2,
) -> Masking:
    """Mask the reference genes ``fold_genes`` according to the pattern mixture ``mix``."""
    observed = ~np.isnan(values)
    n_samples = values.shape[0]
    masked = values.copy()
    mask = np.zeros(values.shape, dtype=bool)
    pattern = np.full(values.shape, -1, dtype=np.int8)
    genes = rng.permutation(fold_genes)
    n_whole = int(round(mix["genes"] * len(genes)))
    whole, rest = genes[:n_whole], genes[n_whole:]
    mask[:, whole] = True
    pattern[:, whole] = 0
    if mix["samples"] > 0 and len(rest):
        # whole samples: all genes are hidden in those samples (as in a missing profile), the
        # fold's genes there become training entries
        n_s = max(1, int(round(0.15 * n_samples)))
        samples = rng.choice(n_samples, size=min(n_s, n_samples - 1), replace=False)
        share = mix["samples"] / max(mix["samples"] + mix["entries"], 1e-12)
        take = rest[rng.random(len(rest)) < share] if mix["entries"] > 0 else rest
        if mix["samples"] >= 0.25:
            # a real pattern of the data: the profile is missing for every gene (neighbours too)
            masked[samples, :] = np.nan
        else:
            # a minor share kept for robustness: hide it for the chosen genes only, so the
            # other genes' features keep the data's own missingness
            masked[np.ix_(samples, take)] = np.nan
        sub = np.zeros(values.shape, dtype=bool)
        sub[np.ix_(samples, take)] = True
        mask |= sub
        pattern[sub & (pattern < 0)] = 1
    if mix["entries"] > 0 and len(rest):
        rate = entry_rate
        sub = np.zeros(values.shape, dtype=bool)
        sub[:, rest] = rng.random((n_samples, len(rest))) < rate
        sub &= ~mask
        mask |= sub
        pattern[sub] = 2
    mask &= observed
    masked[mask] = np.nan
    rows, cols = np.nonzero(mask)
    return Masking(masked, rows, cols, pattern[rows, cols], values[rows, cols])

"""Missing patterns of the data, the sample layout, and the masking that produces training rows.

Missing entries fall into three patterns: whole genes (a gene with no value anywhere), whole
profiles (a sample with no value at all) and scattered entries. The hybrid fits one model per
pattern present; its training rows come from hiding observed entries the same way
(:func:`hide`), at a small extra rate so that the base estimates behave as at prediction time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from .._conformal import PATTERNS, entry_patterns  # the one rule for pattern codes

__all__ = [
    "PATTERNS",
    "Layout",
    "entry_patterns",
    "entry_patterns_at",
    "entry_rate",
    "gene_rounds",
    "hide",
    "missing_patterns",
]


@dataclass(frozen=True)
class Layout:
    """Which tissue and donor each sample belongs to (codes), shared by the feature builders."""

    tissue: np.ndarray
    n_tissues: int
    donor: np.ndarray | None
    n_donors: int

    @property
    def unit(self) -> np.ndarray:
        """(donor, tissue) unit code of each sample (the sample index when donors are unknown)."""
        if self.donor is None:
            return np.arange(len(self.tissue))
        return self.donor * self.n_tissues + self.tissue


def entry_patterns_at(
    rows: np.ndarray, cols: np.ndarray, gene_absent: np.ndarray, row_absent: np.ndarray
) -> np.ndarray:
    """Pattern codes (as :func:`entry_patterns`) of the missing entries ``(rows, cols)`` only.

    ``gene_absent`` and ``row_absent`` are :func:`~gex_impute.methods._conformal.absent_genes_and_rows`
    of the matrix.

    Examples
    --------
    >>> import numpy as np
    >>> from gex_impute.methods.hybrid.masking import entry_patterns, entry_patterns_at
    >>> from gex_impute.methods._conformal import absent_genes_and_rows
    >>> v = np.array([[1.0, np.nan, np.nan], [np.nan, np.nan, np.nan], [2.0, np.nan, 3.0]])
    >>> r, c = np.nonzero(np.isnan(v))
    >>> codes = entry_patterns_at(r, c, *absent_genes_and_rows(v))
    >>> bool((codes == entry_patterns(~np.isnan(v))[r, c]).all())
    True
    """
    out = np.full(len(rows), 2, dtype=np.int8)
    out[row_absent[rows]] = 1
    out[gene_absent[cols]] = 0
    return out


def missing_patterns(observed: np.ndarray) -> dict[str, float]:
    """Share of the missing entries that belong to each pattern.

    Parameters
    ----------
    observed
        Boolean ``(n_samples, n_genes)`` mask of observed entries.

    Returns
    -------
    ``{"genes": ..., "profiles": ..., "entries": ...}``: fractions of the missing entries in
    genes missing everywhere, in samples missing every gene, and scattered elsewhere (all
    zero when nothing is missing).

    Examples
    --------
    >>> import numpy as np
    >>> from gex_impute.methods.hybrid import missing_patterns
    >>> obs = np.ones((4, 5), bool)
    >>> obs[:, 0] = False
    >>> missing_patterns(obs)["genes"]
    1.0
    """
    pat = entry_patterns(np.asarray(observed, dtype=bool))
    n = int((pat >= 0).sum())
    return {name: float((pat == i).sum() / n) if n else 0.0 for i, name in enumerate(PATTERNS)}


def entry_rate(observed: np.ndarray) -> float:
    """Rate of scattered missingness inside the observed samples x observed genes."""
    inner = observed[np.ix_(observed.any(1), observed.any(0))]
    return float(1.0 - inner.mean()) if inner.size else 0.0


def hide(
    values: np.ndarray,
    layout: Layout,
    patterns: Sequence[str],
    rng: np.random.Generator,
    *,
    rate: float,
    gene_frac: float = 0.1,
    profile_frac: float = 0.1,
    genes: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Hide observed entries of ``values`` following ``patterns``.

    Whole genes: ``gene_frac`` of the observed genes at random, or exactly ``genes`` when
    given (the masked rounds hide disjoint gene sets, :func:`gene_rounds`); whole profiles:
    ``profile_frac`` of the observed donor x tissue units (each donor keeps one); scattered
    entries: each observed entry with probability ``rate``.

    Returns
    -------
    ``(masked copy, rows, cols, pattern codes, hidden values)`` of the hidden entries.
    """
    obs = ~np.isnan(values)
    n, p = values.shape
    pat = np.full((n, p), -1, dtype=np.int8)
    if "genes" in patterns and genes is not None:
        pat[:, np.asarray(genes, dtype=np.int64)] = 0
    elif "genes" in patterns:
        observed_genes = np.flatnonzero(obs.any(0))
        k = min(max(1, int(round(gene_frac * len(observed_genes)))), len(observed_genes) - 1)
        if k > 0:
            pat[:, rng.choice(observed_genes, size=k, replace=False)] = 0
    if "profiles" in patterns:
        unit = layout.unit
        units = np.unique(unit[obs.any(1)])
        k = max(1, int(round(profile_frac * len(units))))
        order = rng.permutation(units)
        if layout.donor is not None:  # keep at least one observed profile per donor
            left = np.bincount(units // layout.n_tissues, minlength=layout.n_donors)
            chosen: list[int] = []
            for u in order:
                if len(chosen) >= k:
                    break
                if left[u // layout.n_tissues] > 1:
                    chosen.append(u)
                    left[u // layout.n_tissues] -= 1
        else:
            chosen = list(order[:k])
        srows = np.isin(unit, chosen)
        pat[srows, :] = np.where(pat[srows, :] < 0, 1, pat[srows, :])
    if "entries" in patterns and rate > 0:
        pat[(rng.random((n, p)) < rate) & (pat < 0)] = 2
    pat[~obs] = -1
    hidden = pat >= 0
    masked = values.copy()
    masked[hidden] = np.nan
    rows, cols = np.nonzero(hidden)
    return masked, rows, cols, pat[rows, cols], values[rows, cols]


def gene_rounds(
    observed: np.ndarray, rng: np.random.Generator, *, gene_frac: float = 0.1
) -> list[np.ndarray]:
    """Split the observed genes into disjoint sets of about ``gene_frac`` of them, one per masked round.

    The whole-gene model learns rules over genes (a hidden gene's neighbours, promoter, ...):
    what limits it is how many distinct genes it saw hidden, so successive rounds hide new
    genes instead of drawing again. At most ``len(genes) - 1`` genes are ever hidden at once.

    Examples
    --------
    >>> import numpy as np
    >>> from gex_impute.methods.hybrid.masking import gene_rounds
    >>> obs = np.ones((3, 20), bool)
    >>> sets = gene_rounds(obs, np.random.default_rng(0), gene_frac=0.25)
    >>> [len(s) for s in sets], len(np.unique(np.concatenate(sets)))
    ([5, 5, 5, 5], 20)
    """
    genes = np.flatnonzero(np.asarray(observed, dtype=bool).any(0))
    if len(genes) < 2:
        return []
    n_sets = max(2, int(np.ceil(1.0 / gene_frac)))
    return [np.sort(s) for s in np.array_split(rng.permutation(genes), n_sets) if len(s)]

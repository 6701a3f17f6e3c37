"""Conformal building blocks of :mod:`.intervals`: pattern codes, entry scales, the calibration record.

* :func:`entry_patterns` / :func:`row_patterns`: how each missing entry is missing (whole gene,
  whole profile, scattered entry);
* :func:`entry_scale`: the spread that normalises a conformity score;
* :class:`Calibration`: the scores per pattern and prediction bin, JSON-able, with the
  conformal quantile that turns them into interval half-widths.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from ..errors import ParameterError

if TYPE_CHECKING:
    pass

logger = logging.getLogger("gex_impute")

__all__ = [
    "N_BINS",
    "PATTERNS",
    "Calibration",
    "absent_genes_and_rows",
    "check_level",
    "entry_patterns",
    "entry_scale",
    "row_patterns",
]

#: missingness patterns, in the order of their codes (0, 1, 2)
PATTERNS = ("genes", "profiles", "entries")
#: quantile bins of the prediction per pattern, when every bin gets this many scores
N_BINS, MIN_PER_BIN = 5, 50


def check_level(level: Any, name: str = "level") -> float:
    """Return ``level`` as a float strictly between 0 and 1, else raise ParameterError."""
    if isinstance(level, bool) or not isinstance(level, int | float | np.floating) or not 0 < level < 1:
        msg = f"{name}={level!r} must be a probability strictly between 0 and 1 (e.g. 0.9)."
        raise ParameterError(msg)
    # a numpy float32 level is recorded as written (0.9, not 0.8999999761581421)
    return float(str(level)) if isinstance(level, np.floating) else float(level)


def entry_patterns(observed: np.ndarray) -> np.ndarray:
    """Pattern code of every entry: 0 whole gene, 1 whole profile, 2 scattered; -1 observed.

    Examples
    --------
    >>> from gex_impute.methods._conformal import entry_patterns
    >>> import numpy as np
    >>> observed = np.array([[True, False, False], [False, False, False], [True, False, True]])
    >>> entry_patterns(observed).tolist()
    [[-1, 0, 2], [1, 0, 1], [-1, 0, -1]]
    """
    missing = ~observed
    out = np.where(missing, 2, -1).astype(np.int8)
    out[missing.all(axis=1), :] = 1
    out[:, missing.all(axis=0)] = 0
    out[observed] = -1
    return out


#: genes (columns) per pass when summarising a large matrix, to bound the memory of copies
_CHUNK = 2048


def absent_genes_and_rows(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Genes without any observed value and samples without any, in row blocks (no n x p copy)."""
    gene_absent, row_absent, _ = scan_observed(values)
    return gene_absent, row_absent


def scan_observed(values: np.ndarray) -> tuple[np.ndarray, np.ndarray, tuple[float, float]]:
    """:func:`absent_genes_and_rows` and the observed values' range ``(min, max)`` (inf, -inf: none)."""
    n, p = values.shape
    gene_seen, row_seen = np.zeros(p, dtype=bool), np.zeros(n, dtype=bool)
    lo, hi = np.inf, -np.inf
    step = max(1, (_CHUNK * 512) // max(p, 1))
    for a in range(0, n, step):
        block = values[a : a + step]
        observed = ~np.isnan(block)
        gene_seen |= observed.any(axis=0)
        row_seen[a : a + step] = observed.any(axis=1)
        if row_seen[a : a + step].any():
            lo, hi = min(lo, float(np.nanmin(block))), max(hi, float(np.nanmax(block)))
    return ~gene_seen, ~row_seen, (lo, hi)


def row_patterns(
    values: np.ndarray, rows: np.ndarray, *, absent: tuple[np.ndarray, np.ndarray] | None = None
) -> np.ndarray:
    """Pattern codes (as :func:`entry_patterns`) of the rows ``rows`` of ``values``, all rows as context.

    ``absent``: :func:`absent_genes_and_rows` of ``values`` when the caller has it already.
    """
    gene_absent, row_absent = absent_genes_and_rows(values) if absent is None else absent
    block = values[rows]
    out = np.where(np.isnan(block), 2, -1).astype(np.int8)
    out[row_absent[rows], :] = 1
    out[:, gene_absent] = 0
    return out


def _scale_tables(values: np.ndarray, codes: np.ndarray, n_groups: int) -> tuple[np.ndarray, ...]:
    """Per-tissue and overall spread of every gene over the observed entries, a few genes at a time."""
    from scipy import sparse

    n, p = values.shape
    onehot = sparse.csr_matrix((np.ones(n), (codes, np.arange(n))), shape=(n_groups, n))
    sd, count = np.empty((n_groups, p)), np.empty((n_groups, p))
    gene_sd, gene_count = np.empty(p), np.empty(p)
    for a in range(0, p, _CHUNK):
        block = values[:, a : a + _CHUNK]
        observed = ~np.isnan(block)
        x = np.where(observed, block, 0.0)
        x2 = x * x
        o = observed.astype(np.float64)
        c, s1, s2 = onehot @ o, onehot @ x, onehot @ x2
        gc, g1, g2 = o.sum(axis=0), x.sum(axis=0), x2.sum(axis=0)
        with np.errstate(invalid="ignore", divide="ignore"):
            sd[:, a : a + _CHUNK] = np.sqrt(np.maximum(s2 / c - (s1 / c) ** 2, 0.0))
            gene_sd[a : a + _CHUNK] = np.sqrt(np.maximum(g2 / gc - (g1 / gc) ** 2, 0.0))
        count[:, a : a + _CHUNK], gene_count[a : a + _CHUNK] = c, gc
    return sd, count, gene_sd, gene_count


def entry_scale(
    values: np.ndarray, tissue_codes: np.ndarray, rows: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    """Scale of the entries ``(rows, cols)``: the gene's spread in the observed ``values``.

    The gene's standard deviation within the entry's tissue (at least 3 observed samples),
    else across all samples (at least 3), else the tissue's median spread over genes, else the
    median of all; never below 1% of the median spread.
    """
    codes = np.asarray(tissue_codes, dtype=np.int64)
    codes = np.where(codes < 0, codes.max(initial=0) + 1, codes)
    n_groups = int(codes.max(initial=0)) + 1
    sd, count, gene_sd, gene_count = _scale_tables(values, codes, n_groups)
    sd = np.where(count >= 3, sd, np.nan)
    gene_sd = np.where(gene_count >= 3, gene_sd, np.nan)
    with np.errstate(invalid="ignore"), _quiet():
        tissue_median = np.nanmedian(np.where(np.isnan(sd), gene_sd[None, :], sd), axis=1)
        overall = np.nanmedian(np.concatenate([sd.ravel(), gene_sd]))
    if not np.isfinite(overall) or overall <= 0:
        overall = 1.0
    scale = sd[codes[rows], cols]
    scale = np.where(np.isnan(scale), gene_sd[cols], scale)
    scale = np.where(np.isnan(scale), tissue_median[codes[rows]], scale)
    scale = np.where(np.isnan(scale) | (scale <= 0), overall, scale)
    return np.maximum(scale, 0.01 * overall)


class _quiet:
    """Silence numpy's 'All-NaN slice' RuntimeWarning (pytest runs with filterwarnings=error)."""

    def __enter__(self):
        import warnings

        self._ctx = warnings.catch_warnings()
        self._ctx.__enter__()
        warnings.simplefilter("ignore", RuntimeWarning)

    def __exit__(self, *exc):
        return self._ctx.__exit__(*exc)


@dataclass
class Calibration:
    """Conformity scores per missingness pattern and prediction bin.

    Attributes
    ----------
    tables
        Pattern name -> ``{"edges": [...], "counts": [...], "n_units": int}``: the bin edges
        of the prediction and the number of scores per bin (in the order of ``scores``).
    scores
        All scores, each bin's sorted ascending, bins concatenated pattern by pattern in the
        order of ``tables``.
    settings
        How they were obtained (``fraction``, ``n_rounds``, ``random_state``).
    """

    tables: dict[str, dict[str, Any]] = field(default_factory=dict)
    scores: np.ndarray = field(default_factory=lambda: np.zeros(0))
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def patterns(self) -> tuple[str, ...]:
        """The patterns calibrated."""
        return tuple(self.tables)

    def _bins(self) -> dict[str, list[np.ndarray]]:
        out: dict[str, list[np.ndarray]] = {}
        start = 0
        for name, table in self.tables.items():
            out[name] = []
            for n in table["counts"]:
                out[name].append(self.scores[start : start + n])
                start += n
        return out

    def add(self, pattern: str, scores: np.ndarray, pred: np.ndarray, n_units: int) -> None:
        """Add (or replace) the scores of ``pattern`` with the predictions they belong to."""
        n_bins = N_BINS if len(scores) >= N_BINS * MIN_PER_BIN else 1
        edges = np.quantile(pred, np.linspace(0, 1, n_bins + 1)[1:-1]) if n_bins > 1 else np.zeros(0)
        which = np.searchsorted(edges, pred)
        bins = self._bins()
        bins[pattern] = [np.sort(scores[which == b]) for b in range(n_bins)]
        self.tables[pattern] = {
            "edges": [float(e) for e in edges],
            "counts": [len(b) for b in bins[pattern]],
            "n_units": int(n_units),
        }
        parts = [b for name in self.tables for b in bins[name]]
        self.scores = np.concatenate(parts) if parts else np.zeros(0)

    def half_width(
        self, scale: np.ndarray, pattern: np.ndarray, pred: np.ndarray, level: float
    ) -> np.ndarray:
        """Half-widths ``quantile * scale`` of entries of pattern codes ``pattern``, predictions ``pred``.

        An entry whose pattern was not calibrated gets the quantile of all scores pooled.
        """
        out = np.empty(len(pred))
        bins = self._bins()
        pooled = np.sort(self.scores)
        fewest = len(pooled)
        for code in np.unique(pattern):
            sel = np.flatnonzero(pattern == code)
            name = PATTERNS[int(code)]
            if name not in bins:
                out[sel] = _conformal_quantile(pooled, level)
                continue
            which = np.searchsorted(np.asarray(self.tables[name]["edges"]), pred[sel])
            for b in np.unique(which):
                scores = bins[name][int(b)] if len(bins[name][int(b)]) else pooled
                fewest = min(fewest, len(scores))
                out[sel[which == b]] = _conformal_quantile(scores, level)
        needed = math.ceil(level / (1 - level) - 1e-9) if level < 1 else math.inf
        if len(pred) and fewest < needed:
            logger.warning(
                "the %g intervals rest on as few as %d calibration scores, fewer than the %s that level "
                "needs: they use the largest score and may cover less than %g (calibrate on more data, "
                "or ask for a lower level).",
                level,
                fewest,
                needed,
                level,
            )
        return out * scale

    def to_state(self) -> tuple[dict[str, Any], np.ndarray]:
        """JSON-able description and the scores array (for the model archive)."""
        return {"tables": self.tables, "settings": self.settings}, np.asarray(self.scores, dtype=np.float64)

    @classmethod
    def from_state(cls, state: dict[str, Any], scores: np.ndarray) -> Calibration:
        """Rebuild from :meth:`to_state`; raise ValueError when the two do not fit together."""
        tables = dict(state.get("tables", {}))
        unknown = sorted(set(tables) - set(PATTERNS))
        total = sum(int(n) for t in tables.values() for n in t.get("counts", []))
        if unknown or total != len(scores) or scores.ndim != 1:
            msg = (
                f"the calibration does not match its scores (patterns {sorted(tables)}, "
                f"{total} scores listed, {scores.shape} stored)"
            )
            raise ValueError(msg)
        for t in tables.values():
            if len(t["edges"]) + 1 != len(t["counts"]):
                msg = "the calibration's bin edges and counts disagree"
                raise ValueError(msg)
        scores = np.asarray(scores, dtype=np.float64)
        counts = [int(n) for name in tables for n in tables[name]["counts"]]
        bin_of = np.repeat(np.arange(len(counts)), counts)  # bins concatenated, each sorted
        unsorted = (np.diff(scores) < 0) & (np.diff(bin_of) == 0)
        if not np.isfinite(scores).all() or (scores < 0).any() or unsorted.any():
            msg = "the calibration scores must be finite, non-negative and sorted within each bin"
            raise ValueError(msg)
        return cls(tables=tables, scores=scores, settings=state.get("settings", {}))


def _conformal_quantile(sorted_scores: np.ndarray, level: float) -> float:
    """Return the ``ceil((n + 1) level) / n`` empirical quantile (the largest score when that exceeds n)."""
    n = len(sorted_scores)
    if n == 0:
        return float("inf")
    k = math.ceil((n + 1) * level) - 1
    return float(sorted_scores[min(max(k, 0), n - 1)])

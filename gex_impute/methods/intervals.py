"""Prediction intervals for every method: split-conformal calibration on pattern-matched hidden entries.

A method's error depends on *how* an entry is missing: a whole gene (no value of it anywhere),
a whole donor x tissue profile (no value of the sample) or a scattered entry. Calibration
therefore hides observed entries the same way as the missing ones, refits a clone of the
method on what is left, and collects conformity scores ``|y - prediction| / scale`` of the
hidden entries, one pool per missingness pattern and prediction quintile (Mondrian split
conformal). ``scale`` is the gene's spread within the tissue (then across samples, then the
tissue's typical spread), so intervals widen where a gene varies more.

Only a *small* share is hidden on top of what is already missing (``fraction``, default 5% of
the pattern's units, at least :data:`MIN_UNITS` genes or profiles, at most :data:`MAX_SHARE`
of them per refit): hiding more makes the refit clone worse than the method at test time, and
the intervals too wide. More refits (``n_rounds``) hide other units each, for more scores.
Each pattern is calibrated in its own refits, so hiding one kind of unit does not change the
errors of another.

The calibration is a :class:`Calibration` (JSON-able pattern tables plus one array of scores)
kept by the method (``calibration_``) and saved with it.
"""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

from .._errors import DataError, ParameterError

if TYPE_CHECKING:
    from .._data import ExpressionData
    from ._base import BaseImputer

logger = logging.getLogger("gex_impute")

__all__ = [
    "MIN_UNITS",
    "PATTERNS",
    "Calibration",
    "calibrate",
    "check_level",
    "entry_patterns",
    "entry_scale",
    "interval_bounds",
    "row_patterns",
]

#: missingness patterns, in the order of their codes (0, 1, 2)
PATTERNS = ("genes", "profiles", "entries")
#: fewest genes or profiles hidden per calibration round (when the data have them)
MIN_UNITS = 25
#: most of a pattern's units hidden in one round
MAX_SHARE = 0.25
#: most refits per pattern with ``n_rounds="auto"`` (rounds until MIN_UNITS units are hidden)
MAX_ROUNDS = 3
#: quantile bins of the prediction per pattern, when every bin gets this many scores
N_BINS, MIN_PER_BIN = 5, 50


def check_level(level: Any, name: str = "level") -> float:
    """Return ``level`` as a float strictly between 0 and 1, else raise ParameterError."""
    if isinstance(level, bool) or not isinstance(level, int | float | np.floating) or not 0 < level < 1:
        msg = f"{name}={level!r} must be a probability strictly between 0 and 1 (e.g. 0.9)."
        raise ParameterError(msg)
    return float(level)


def entry_patterns(observed: np.ndarray) -> np.ndarray:
    """Pattern code of every entry: 0 whole gene, 1 whole profile, 2 scattered; -1 observed.

    Examples
    --------
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


def _absent(values: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Genes without any observed value and samples without any, in row blocks (no n x p copy)."""
    n, p = values.shape
    gene_seen, row_seen = np.zeros(p, dtype=bool), np.zeros(n, dtype=bool)
    step = max(1, (_CHUNK * 512) // max(p, 1))
    for a in range(0, n, step):
        observed = ~np.isnan(values[a : a + step])
        gene_seen |= observed.any(axis=0)
        row_seen[a : a + step] = observed.any(axis=1)
    return ~gene_seen, ~row_seen


def row_patterns(values: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """Pattern codes (as :func:`entry_patterns`) of the rows ``rows`` of ``values``, all rows as context."""
    gene_absent, row_absent = _absent(values)
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
        for code in np.unique(pattern):
            sel = np.flatnonzero(pattern == code)
            name = PATTERNS[int(code)]
            if name not in bins:
                out[sel] = _conformal_quantile(pooled, level)
                continue
            which = np.searchsorted(np.asarray(self.tables[name]["edges"]), pred[sel])
            for b in np.unique(which):
                scores = bins[name][int(b)]
                out[sel[which == b]] = _conformal_quantile(scores if len(scores) else pooled, level)
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
        return cls(
            tables=tables, scores=np.asarray(scores, dtype=np.float64), settings=state.get("settings", {})
        )


def _conformal_quantile(sorted_scores: np.ndarray, level: float) -> float:
    """Return the ``ceil((n + 1) level) / n`` empirical quantile (the largest score when that exceeds n)."""
    n = len(sorted_scores)
    if n == 0:
        return float("inf")
    k = math.ceil((n + 1) * level) - 1
    return float(sorted_scores[min(max(k, 0), n - 1)])


# -- hiding ------------------------------------------------------------------------------------
def _n_hidden(n_units: int, fraction: float) -> int:
    """Units hidden per round: ``fraction`` of them, at least MIN_UNITS, at most MAX_SHARE."""
    return max(1, min(max(math.ceil(fraction * n_units), MIN_UNITS), math.floor(MAX_SHARE * n_units)))


def _rounds(n_rounds: int | str, per_round: int) -> int:
    """Refits: ``n_rounds``, or with ``"auto"`` enough for MIN_UNITS units (at most MAX_ROUNDS)."""
    if n_rounds == "auto":
        return min(MAX_ROUNDS, math.ceil(MIN_UNITS / max(per_round, 1)))
    return int(n_rounds)


def _profile_units(data: ExpressionData, observed: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each row's profile unit (donor x tissue, or the row without donors) and each unit's donor."""
    has = observed.any(axis=1)
    if data.donor is None:
        unit = np.arange(data.n_samples)
        return np.where(has, unit, -1), np.where(has, unit, -1)
    pair = data.donor_codes * (int(data.tissue_codes.max(initial=0)) + 1) + data.tissue_codes  # type: ignore[operator]
    return np.where(has, pair, -1), np.where(has, data.donor_codes, -1)  # type: ignore[arg-type]


def _hide_rounds(
    data: ExpressionData, pattern: str, fraction: float, n_rounds: int | str, rng: np.random.Generator
) -> list[np.ndarray]:
    """Masks of observed entries to hide, one per round, disjoint, following ``pattern``."""
    observed = data.observed
    masks = []
    if pattern == "genes":
        genes = rng.permutation(np.flatnonzero(observed.any(axis=0)))
        k = _n_hidden(len(genes), fraction)
        for r in range(_rounds(n_rounds, k)):
            chosen = genes[r * k : (r + 1) * k]
            if len(chosen) == 0 or len(genes) < 2:
                break
            mask = np.zeros_like(observed)
            mask[:, chosen] = True
            masks.append(mask & observed)
    elif pattern == "profiles":
        unit, unit_donor = _profile_units(data, observed)
        units, first = np.unique(unit[unit >= 0], return_index=True)
        donors = unit_donor[unit >= 0][first]
        k = _n_hidden(len(units), fraction)
        order = rng.permutation(len(units))
        for _ in range(_rounds(n_rounds, k)):
            # each round is its own refit: every donor keeps a profile in it; rounds hide other profiles
            left = dict(zip(*np.unique(donors, return_counts=True), strict=True))
            picked: list[int] = []
            for i in order:
                if left[donors[i]] > 1 or data.donor is None:  # keep a profile of every donor
                    picked.append(int(units[i]))
                    left[donors[i]] -= 1
                    if len(picked) == k:
                        break
            if not picked or (data.donor is None and len(units) - len(picked) < 2):
                break
            taken = set(picked)
            order = np.asarray([i for i in order if int(units[i]) not in taken], dtype=np.int64)
            masks.append(np.isin(unit, picked)[:, None] & observed)
    else:
        flat = rng.permutation(np.flatnonzero(observed.ravel()))
        k = max(1, math.ceil(fraction * len(flat)))
        for r in range(_rounds(n_rounds, MIN_UNITS)):
            chosen = flat[r * k : (r + 1) * k]
            if len(chosen) == 0 or len(flat) < 2:
                break
            mask = np.zeros(observed.size, dtype=bool)
            mask[chosen] = True
            masks.append(mask.reshape(observed.shape))
    return masks


def _clone(method: BaseImputer) -> BaseImputer:
    params = method.get_params()
    if "progress" in params:
        params["progress"] = False
    return type(method)(**params)


def calibrate(
    method: BaseImputer,
    data: ExpressionData,
    *,
    patterns: tuple[str, ...] | None = None,
    fraction: float = 0.05,
    n_rounds: int | str = 1,
    random_state: int | None = 0,
    calibration: Calibration | None = None,
) -> Calibration:
    """Calibrate ``method``'s intervals on ``data``: hide, refit a clone, score, per pattern.

    Parameters
    ----------
    method
        The method (its hyperparameters are cloned; it is not refitted itself).
    data
        Model-scale data; rows without any observed value are left out (they carry nothing to
        hide and would make the result depend on which empty rows a caller appends).
    patterns
        Patterns to calibrate (:data:`PATTERNS`); None: those of the missing entries of
        ``data`` (``"entries"`` when nothing is missing).
    fraction
        Share of the pattern's units (genes, profiles, observed entries) hidden per round, on
        top of what is missing (at least :data:`MIN_UNITS` genes or profiles).
    n_rounds
        Refits per pattern, each hiding other units (more scores, more time); ``"auto"``:
        enough for :data:`MIN_UNITS` genes or profiles, at most :data:`MAX_ROUNDS`.
    random_state
        Seed of the hiding.
    calibration
        An existing calibration to add the patterns to.

    Returns
    -------
    The calibration.
    """
    if not 0 < fraction <= MAX_SHARE:
        msg = f"fraction={fraction!r} must lie in (0, {MAX_SHARE}]."
        raise ParameterError(msg)
    if n_rounds != "auto" and (isinstance(n_rounds, bool) or not isinstance(n_rounds, int) or n_rounds < 1):
        msg = f"n_rounds={n_rounds!r} must be a positive integer or 'auto'."
        raise ParameterError(msg)
    if patterns is None:  # those of the data as given (before its empty rows are left out)
        patterns = needed_patterns(data) or ("entries",)
    keep = data.observed.any(axis=1)
    if not keep.all():
        data = _subset_rows(data, np.flatnonzero(keep))
    unknown = sorted(set(patterns) - set(PATTERNS))
    if unknown:
        msg = f"unknown missingness patterns {unknown}; choose among {PATTERNS}."
        raise ParameterError(msg)
    calibration = calibration or Calibration()
    calibration.settings = {
        "fraction": float(fraction),
        "n_rounds": n_rounds,
        "random_state": random_state,
    }
    for code, pattern in enumerate(PATTERNS):
        if pattern not in patterns:
            continue
        # one stream per pattern: adding a pattern later gives the same scores as calibrating it first
        rng = np.random.default_rng([0 if random_state is None else int(random_state), code])
        masks = _hide_rounds(data, pattern, fraction, n_rounds, rng)
        if pattern == "profiles" and not masks:
            logger.info("calibration: no profile can be hidden (every donor has one); using the others")
            continue
        if not masks:
            msg = f"cannot calibrate intervals for missing {pattern}: too few observed values to hide."
            raise DataError(msg)
        scores, preds, n_units = [], [], 0
        for mask in masks:
            hidden = data.values.copy()
            hidden[mask] = np.nan
            train = data.with_values(hidden)
            clone = _clone(method)
            clone.fit(train)
            rows, cols = np.nonzero(mask)
            pred = _predict_hidden(clone, train, rows, cols)
            scale = entry_scale(hidden, data.tissue_codes, rows, cols)
            truth = data.values[rows, cols]
            scores.append(np.abs(truth - pred) / scale)
            preds.append(pred)
            n_units += _count_units(mask, pattern)
        calibration.add(pattern, np.concatenate(scores), np.concatenate(preds), n_units)
        logger.info(
            "calibrated %s intervals for missing %s: %d scores from %d units",
            method.name,
            pattern,
            sum(len(s) for s in scores),
            n_units,
        )
    if not calibration.tables:
        msg = "no observed values could be hidden to calibrate intervals."
        raise DataError(msg)
    return calibration


def _predict_hidden(
    method: BaseImputer, data: ExpressionData, rows: np.ndarray, cols: np.ndarray
) -> np.ndarray:
    """Return predictions of the entries ``(rows, cols)`` (of their rows only, with ``predict_rows``)."""
    if hasattr(method, "predict_rows"):
        distinct, where = np.unique(rows, return_inverse=True)
        block = np.asarray(method.predict_rows(data, distinct), dtype=np.float64)
        return block[where, cols]
    return np.asarray(method.predict(data), dtype=np.float64)[rows, cols]


def _count_units(mask: np.ndarray, pattern: str) -> int:
    if pattern == "genes":
        return int(mask.any(axis=0).sum())
    if pattern == "profiles":
        return int(mask.any(axis=1).sum())
    return int(mask.sum())


def _subset_rows(data: ExpressionData, rows: np.ndarray) -> ExpressionData:
    from dataclasses import replace

    import pandas as pd

    donor = None
    if data.donor is not None:
        donor = pd.Categorical.from_codes(data.donor_codes[rows], categories=data.donor.categories)  # type: ignore[index]
    tissue = pd.Categorical.from_codes(data.tissue_codes[rows], categories=data.tissue.categories)
    return replace(data, values=data.values[rows], tissue=tissue, donor=donor, obs=data.obs.iloc[rows])


def needed_patterns(data: ExpressionData, rows: np.ndarray | None = None) -> tuple[str, ...]:
    """Return the patterns of the missing entries of ``data`` (of its ``rows`` only, when given)."""
    rows = np.arange(data.n_samples) if rows is None else np.asarray(rows, dtype=np.int64)
    gene_absent, row_absent = _absent(data.values)
    found = set()
    if gene_absent.any() and len(rows):
        found.add("genes")
    if (~gene_absent).any() and row_absent[rows].any():
        found.add("profiles")
    partial = rows[~row_absent[rows]]
    seen_genes = np.flatnonzero(~gene_absent)
    step = max(1, (_CHUNK * 512) // max(len(seen_genes), 1))
    for a in range(0, len(partial), step):  # row blocks: no n x p copy
        if np.isnan(data.values[np.ix_(partial[a : a + step], seen_genes)]).any():
            found.add("entries")
            break
    return tuple(p for p in PATTERNS if p in found)


def interval_bounds(
    calibration: Calibration,
    data: ExpressionData,
    pred: np.ndarray,
    level: float,
    rows: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Lower and upper bounds of ``data``'s rows ``rows`` (all when None) from predictions ``pred``.

    ``pred`` holds the predictions of those rows (model scale); observed entries get their own
    value as both bounds.
    """
    rows = np.arange(data.n_samples) if rows is None else np.asarray(rows, dtype=np.int64)
    values = data.values[rows]
    observed = ~np.isnan(values)
    pattern = row_patterns(data.values, rows)
    r, c = np.nonzero(~observed)
    half = calibration.half_width(
        entry_scale(data.values, data.tissue_codes, rows[r], c), pattern[r, c], pred[r, c], level
    )
    lower, upper = values.copy(), values.copy()
    lower[r, c] = pred[r, c] - half
    upper[r, c] = pred[r, c] + half
    return lower, upper

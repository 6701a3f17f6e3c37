"""Prediction intervals for every method: split-conformal calibration on pattern-matched hidden entries.

A method's error depends on *how* an entry is missing: a whole gene (no value of it anywhere),
a whole donor x tissue profile (no value of the sample) or a scattered entry. Calibration
therefore hides observed entries the same way as the missing ones, refits a clone of the
method on what is left, and collects conformity scores ``|y - prediction| / scale`` of the
hidden entries, one pool per missingness pattern and prediction quintile (Mondrian split
conformal). ``scale`` is the gene's spread within the tissue (then across samples, then the
tissue's typical spread), so intervals widen where a gene varies more.

Only a *small* share is hidden on top of what is already missing (``fraction``, default 5% of
the pattern's units, at most :data:`MAX_SHARE` of them per refit): hiding more makes the refit
clone worse than the method at test time, and the intervals too wide. More refits
(``n_rounds``) hide other units each, for more scores; by default (``"auto"``) as many as
:data:`MIN_UNITS` genes, profiles or entries need, at most :data:`MAX_ROUNDS`. A small cohort thus gets
several refits that each hide a few profiles, never one refit without a quarter of them
(Blake 2020, 46 profiles: 9 refits of 3 instead of one of 11); from 500 genes, profiles or
observed entries on, one refit hides 5% as before.
Each pattern is calibrated in its own refits, so hiding one kind of unit does not change the
errors of another.

The calibration is a :class:`Calibration` (JSON-able pattern tables plus one array of scores)
kept by the method (``calibration_``) and saved with it.
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING

import numpy as np

from ..errors import DataError, ParameterError
from ._conformal import (
    _CHUNK,
    PATTERNS,
    Calibration,
    absent_genes_and_rows,
    check_level,
    entry_patterns,
    entry_scale,
    row_patterns,
    scan_observed,
)

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

#: genes or profiles hidden over the rounds of ``n_rounds="auto"`` (when the data have them)
MIN_UNITS = 25
#: most of a pattern's units hidden in one round
MAX_SHARE = 0.25
#: most refits per pattern with ``n_rounds="auto"`` (rounds until MIN_UNITS units are hidden).
#: A refit's cost grows with the cohort and the rounds shrink with it (5% of 500 units is 25),
#: so a small cohort's calibration costs at most about one refit of a 500-unit cohort. Chosen on
#: simulated cohorts (``benchmarks/intervals_rounds.py``), not on the evaluation.
MAX_ROUNDS = 10


# -- hiding ------------------------------------------------------------------------------------
def _n_hidden(n_units: int, fraction: float) -> int:
    """Units hidden per round: ``fraction`` of them (at least one), at most MAX_SHARE."""
    return max(1, min(math.ceil(fraction * n_units), math.floor(MAX_SHARE * n_units)))


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
        for r in range(_rounds(n_rounds, k)):
            chosen = flat[r * k : (r + 1) * k]
            if len(chosen) == 0 or len(flat) < 2:
                break
            mask = np.zeros(observed.size, dtype=bool)
            mask[chosen] = True
            masks.append(mask.reshape(observed.shape))
    return masks


def _clone(method: BaseImputer) -> BaseImputer:
    """Return an unfitted copy for a calibration refit: no bars, and a GPU only where there is one.

    (A model fitted on a GPU machine and loaded on one without keeps ``device="cuda"``; its
    predictions need no GPU, its refits would.)
    """
    params = method.get_params()
    if "progress" in params:
        params["progress"] = False
    if str(params.get("device", "")).startswith("cuda"):
        from .._utils import resolve_device

        try:
            resolve_device(params["device"])  # (refuses a CUDA device where there is none)
        except ValueError:
            logger.info("no CUDA GPU: the calibration refits of a %s model run on the CPU", params["device"])
            params["device"] = "auto"
    return type(method)(**params)


def calibrate(
    method: BaseImputer,
    data: ExpressionData,
    *,
    patterns: tuple[str, ...] | None = None,
    fraction: float = 0.05,
    n_rounds: int | str = "auto",
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
        top of what is missing (at least one gene or profile).
    n_rounds
        Refits per pattern, each hiding other units (more scores, more time); ``"auto"``:
        enough for :data:`MIN_UNITS` genes, profiles or entries, at most :data:`MAX_ROUNDS`
        (one refit from 500 of them on).
    random_state
        Seed of the hiding.
        None is seed 0 (never numpy's global random state).
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
    gene_absent, row_absent = absent_genes_and_rows(data.values)
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
    value as both bounds. Bounds stay within the range of all observed values (model scale): a
    bound past it says nothing more, and an entry of a gene with a wide spread could otherwise
    get a half-width of hundreds of log1p units (a score of a gene with almost no spread times
    its scale), past the float32 range once back in TPM.
    """
    rows = np.arange(data.n_samples) if rows is None else np.asarray(rows, dtype=np.int64)
    values = data.values[rows]
    observed = ~np.isnan(values)
    gene_absent, row_absent, (lo, hi) = scan_observed(data.values)  # one pass over the cohort
    pattern = row_patterns(data.values, rows, absent=(gene_absent, row_absent))
    r, c = np.nonzero(~observed)
    half = calibration.half_width(
        entry_scale(data.values, data.tissue_codes, rows[r], c), pattern[r, c], pred[r, c], level
    )
    lower, upper = values.copy(), values.copy()
    lower[r, c] = pred[r, c] - half
    upper[r, c] = pred[r, c] + half
    if len(r) and lo <= hi:  # (an estimate itself outside that range stays inside its interval)
        lower[r, c] = np.clip(lower[r, c], np.minimum(lo, pred[r, c]), hi)
        upper[r, c] = np.clip(upper[r, c], lo, np.maximum(hi, pred[r, c]))
    return lower, upper

"""The hybrid model class: hyperparameters, fit / predict / predict_rows, fitted state.

The computations live beside it: :mod:`.bases` (base estimators), :mod:`.entries` and
:mod:`.profiles` (features), :mod:`.genes` (promoter CNN, static gene features),
:mod:`.encoder` (tissue transformer), :mod:`.masking` (patterns, training rows),
:mod:`.stacking` (reference + XGBoost), :mod:`.parameters` (hyperparameter constraints),
:mod:`.cohort_cache` (what is derived once per cohort) and :mod:`.persistence` (what a saved
model holds).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Iterator
from typing import Any

import numpy as np

from ..._data import ExpressionData
from ..._utils import derive_seeds, limit_threads
from ...errors import DataError
from .._base import BaseImputer, register
from .._fallback import fallback_rows, fallback_statistics
from .cohort_cache import observed_scan
from .masking import PATTERNS, Layout, entry_patterns, entry_patterns_at, entry_rate
from .missing_parts import warn_differences
from .parameters import PARAMETER_CONSTRAINTS, check_params_together
from .patterns import fit_entry_models, gene_parts, predict_entries
from .persistence import (
    FITTED_ARRAYS,
    FITTED_SCHEMA,
    check_fitted_meta,
    fitted_values,
    restore_files,
    state_files,
)
from .profile_model import fit_profile_model, predict_profiles
from .summary import describe, summary

logger = logging.getLogger("gex_impute")

__all__ = ["HybridImputer"]

#: the absent genes and rows of the last array ``predict_rows`` was given


@register
class HybridImputer(BaseImputer):
    """Promoter CNN + XGBoost over genomic context, stacked on sample-level bases (transformer optional).

    Missing entries are split by pattern: whole genes, whole profiles (a donor x tissue
    sample with nothing observed) and scattered entries; one model is fitted per pattern
    present. Its features are base estimates computed without the target value: kNN over
    samples (several k), a ridge regression of each sample on the others, low-rank
    completions, gene kNN, donor offsets and kNN / low rank over donors, the genomic
    neighbours' values, and for whole genes static gene features and the promoter CNN's
    out-of-fold tissue profile. XGBoost fits the residual over the best single base.
    Training rows come from hiding observed entries the same way, at a small extra rate;
    whole profiles use exact leave-one-donor-out features instead. With fewer than
    ``cv_max_donors`` donors, a donor-grouped cross-validation chooses for profiles among
    the best base, a ridge stack and XGBoost.

    Parameters
    ----------
    use_sequence
        Use the promoter sequence (CNN tissue profile and composition) for whole genes.
    use_tissue_encoder
        Add the tissue transformer's out-of-fold estimate as a base (off by default: on the
        validation data it did not improve the stack; see benchmarks/sample_level.py).
    use_neighbours
        Use the genomic neighbours' values, distances and orientations.
    use_xgboost
        Fit XGBoost on the residual; when False the best base (or ridge stack) is the output.
    n_neighbours
        Genomic neighbours per gene.
    window
        Largest TSS distance (bp) of a genomic neighbour.
    n_folds
        Folds over genes for the out-of-fold promoter CNN and tissue encoder.
    n_rounds
        Masked rounds of training rows (one if the first yields ``max_rows`` a pattern; up to 16
        while scattered entries have fewer than 2,500 rows).
    hide_rate
        Extra share of observed entries hidden per round as scattered entries; None: the
        data's own rate, clipped to 0.02-0.05.
    max_rows
        Training rows per pattern at most (whole genes: 4x, scattered entries: 1.5x).
    n_similar
        The gene's values in this many most correlated samples become features.
    cv_max_donors
        Below this many donors, profiles choose their model by donor-grouped CV.
    max_epochs, patience, batch_size, learning_rate
        Network training (CNN and encoder): epochs at most, early-stopping patience, batch
        size, AdamW learning rate.
    max_items_per_epoch
        Encoder items (gene x group) per epoch at most (all when None).
    cnn_channels, embedding_dim
        Promoter CNN width and embedding size.
    d_model, n_heads, n_layers
        Tissue transformer width, heads and layers.
    n_estimators, max_depth, xgb_learning_rate, min_child_weight
        XGBoost: trees at most (early stopping on held-out genes or donors), depth, learning
        rate, minimum child weight (the whole-gene model's trees are at most 4 deep).
    validation_fraction
        Share of genes (or donors) held out for early stopping of XGBoost and the networks.
    device
        Torch device of the promoter CNN: ``"auto"`` (GPU when present), ``"cpu"``, ``"cuda"``.
    n_jobs
        Threads for BLAS, torch and XGBoost (1: best on shared machines).
    random_state
        Seed from which the numpy, torch and XGBoost seeds derive; None is seed 0 (no global state).
    progress
        Show progress bars.

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=6, n_tissues=3, n_genes=120)
    >>> model = gi.HybridImputer(n_estimators=20, progress=False).fit(adata)
    >>> pred = model.predict(adata)
    >>> pred.shape == adata.shape
    True
    """

    name = "hybrid"
    requires_coordinates = False
    _parameter_constraints = PARAMETER_CONSTRAINTS
    _fitted_schema = FITTED_SCHEMA
    _fitted_arrays = FITTED_ARRAYS

    # fitted state (see persistence.FITTED_SCHEMA / FITTED_ARRAYS)
    patterns_: list[str]
    models_: dict[str, dict[str, Any]]
    boosters_: dict[str, Any]
    entry_names_: list[str]
    profile_names_: list[str]
    rate_: float
    static_names_: list[str]
    cnn_profile_: np.ndarray
    encoder_: Any
    diagnostics_: dict[str, Any]

    def __init__(
        self,
        *,
        use_sequence: bool = True,
        use_tissue_encoder: bool = False,
        use_neighbours: bool = True,
        use_xgboost: bool = True,
        n_neighbours: int = 5,
        window: int = 1_000_000,
        n_folds: int = 3,
        # 3 (was 2): GTEx tissue-mean P2 validation splits (seed-0 test entries removed, split
        # seeds 100 / 101), hybrid MSE 0.2597 / 0.2620 -> 0.2573 / 0.2605
        n_rounds: int = 4,
        hide_rate: float | None = None,
        max_rows: int = 60_000,
        n_similar: int = 5,
        cv_max_donors: int = 30,
        max_epochs: int = 8,
        patience: int = 3,
        batch_size: int = 256,
        learning_rate: float = 3e-3,
        max_items_per_epoch: int | None = 20_000,
        cnn_channels: int = 16,
        embedding_dim: int = 8,
        d_model: int = 32,
        n_heads: int = 4,
        n_layers: int = 2,
        n_estimators: int = 300,
        max_depth: int = 6,
        xgb_learning_rate: float = 0.1,
        min_child_weight: float = 20.0,
        validation_fraction: float = 0.15,
        device: str = "auto",
        n_jobs: int | None = 1,
        random_state: int | None = 0,
        progress: bool = True,
    ):
        self.use_sequence = use_sequence
        self.use_tissue_encoder = use_tissue_encoder
        self.use_neighbours = use_neighbours
        self.use_xgboost = use_xgboost
        self.n_neighbours = n_neighbours
        self.window = window
        self.n_folds = n_folds
        self.n_rounds = n_rounds
        self.hide_rate = hide_rate
        self.max_rows = max_rows
        self.n_similar = n_similar
        self.cv_max_donors = cv_max_donors
        self.max_epochs = max_epochs
        self.patience = patience
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.max_items_per_epoch = max_items_per_epoch
        self.cnn_channels = cnn_channels
        self.embedding_dim = embedding_dim
        self.d_model = d_model
        self.n_heads = n_heads
        self.n_layers = n_layers
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.xgb_learning_rate = xgb_learning_rate
        self.min_child_weight = min_child_weight
        self.validation_fraction = validation_fraction
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.progress = progress
        self._validate_params()

    @classmethod
    def _check_params_together(cls, params: dict[str, Any]) -> None:
        check_params_together(params)

    # -- helpers ------------------------------------------------------------------------------
    @property
    def threads(self) -> int:
        """Threads for BLAS, torch and XGBoost."""
        return int(self.n_jobs or 1)

    def xgb_params(self) -> dict[str, Any]:
        """XGBoost training parameters (the seed is added per booster)."""
        return {
            "tree_method": "hist",
            "max_depth": self.max_depth,
            "eta": self.xgb_learning_rate,
            "subsample": 0.8,
            "colsample_bytree": 0.8,
            "min_child_weight": self.min_child_weight,
            "lambda": 5.0,
            "max_bin": 64,
            "nthread": self.threads,
            "objective": "reg:squarederror",
        }

    @contextlib.contextmanager
    def _limited_threads(self) -> Iterator[None]:
        """Cap the native thread pools (BLAS, OpenMP) to ``n_jobs`` inside fit / predict."""
        with limit_threads(self.threads):
            yield

    def _layout(self, data: ExpressionData) -> Layout:
        cats = list(self.tissues_)
        names = np.asarray(data.tissue.astype(str))
        unknown = sorted(str(n) for n in set(names) - set(cats))
        if unknown:
            msg = (
                f"tissues {unknown} were not seen when the model was fitted (it knows {cats}); "
                "fit the model on data that include them, or drop those samples."
            )
            raise DataError(msg)
        lookup = {t: i for i, t in enumerate(cats)}
        tissue = np.array([lookup[t] for t in names], dtype=np.int64)
        if data.donor is None:
            return Layout(tissue, len(cats), None, 0)
        return Layout(
            tissue, len(cats), np.asarray(data.donor.codes, dtype=np.int64), len(data.donor.categories)
        )

    # -- fitting ------------------------------------------------------------------------------
    def _fit(self, data: ExpressionData) -> None:
        t_start = time.perf_counter()
        seeds = derive_seeds(self.random_state, 3)
        rng = np.random.default_rng(seeds[0])
        values = data.values
        observed = ~np.isnan(values)
        layout = self._layout(data)
        pat = entry_patterns(observed)
        present = [p for i, p in enumerate(PATTERNS) if (pat == i).any()]
        # absent donor x tissue profiles (no row at all, e.g. complete() fits on observed samples)
        has_units = layout.donor is not None and layout.n_donors > 2
        if has_units and "profiles" not in present:
            assert layout.donor is not None
            units = np.unique(layout.unit[observed.any(1)])
            if len(units) < layout.n_donors * layout.n_tissues:
                present.append("profiles")
        self.patterns_ = [p for p in PATTERNS if p in present] or ["entries"]
        rate = entry_rate(observed)
        self.rate_ = float(self.hide_rate or (np.clip(rate, 0.02, 0.05) if rate > 0 else 0.05))
        self.models_, self.boosters_ = {}, {}
        self.entry_names_, self.profile_names_ = [], []
        self.diagnostics_ = {"patterns": list(self.patterns_)}
        with self._limited_threads():
            parts = gene_parts(self, data, layout, fitting=True, seed=seeds[1])
            if "profiles" in self.patterns_ and has_units:
                t0 = time.perf_counter()
                fit_profile_model(self, values, layout, rng)
                self.diagnostics_["profile_seconds"] = time.perf_counter() - t0
            masked = [p for p in self.patterns_ if not (p == "profiles" and has_units)]
            if masked:
                t0 = time.perf_counter()
                fit_entry_models(self, values, layout, parts, masked, rng)
                self.diagnostics_["entry_seconds"] = time.perf_counter() - t0
        self.diagnostics_["fit_seconds"] = time.perf_counter() - t_start
        logger.info("%s", summary(self))
        logger.debug("hybrid fit: %s; models: %s", self.diagnostics_, describe(self))

    # -- prediction ---------------------------------------------------------------------------
    def _predict(self, data: ExpressionData) -> np.ndarray:
        return self.predict_rows(data, np.arange(data.n_samples))

    @property
    def fallback_mask_(self) -> np.ndarray:
        """Where the last prediction used the shared fallback, over the rows it predicted (True there).

        Built on request from the few positions kept: a mask of every entry would hold a
        GTEx-size prediction's 340 MB on the model.
        """
        at = getattr(self, "_fallback_at_", None)
        if at is None:  # nothing predicted yet, as for the other methods
            raise AttributeError("fallback_mask_")
        shape, rows, cols = at
        mask = np.zeros(shape, dtype=bool)
        mask[rows, cols] = True
        return mask

    def predict_rows(self, data: ExpressionData, rows: np.ndarray) -> np.ndarray:
        """Predict every entry of the samples ``rows`` of ``data``, with all of ``data`` as context.

        Parameters
        ----------
        data
            Prepared data (model scale); rows with nothing observed are absent profiles.
        rows
            Sample indices to predict.

        Returns
        -------
        ``(len(rows), n_genes)``: observed values kept, missing entries estimated.
        """
        self._check_fitted()
        rows = np.asarray(rows, dtype=np.int64)
        values = data.values
        sub = values[rows]
        out = sub.copy()
        r_loc, cols = np.nonzero(np.isnan(sub))
        self.n_fallback_ = 0
        self._fallback_at_ = (sub.shape, r_loc[:0], cols[:0])  # see fallback_mask_
        if len(r_loc) == 0:
            return out
        r_abs = rows[r_loc]
        layout = self._layout(data)
        gene_absent, row_absent, (lo, hi) = observed_scan(values)
        pat = entry_patterns_at(r_abs, cols, gene_absent, row_absent)
        pred = np.full(len(r_abs), np.nan)
        with self._limited_threads():
            # the profile model when it was fitted (> 2 donors); else the masked-round model of profiles
            by_donor = bool(self.profile_names_) and layout.donor is not None
            is_profile = (pat == 1) & ("profiles" in self.models_) & by_donor
            if is_profile.any():
                sel = np.flatnonzero(is_profile)
                pred[sel] = predict_profiles(
                    self, values, layout, r_abs[sel], cols[sel], progress=self.progress
                )
            sel = np.flatnonzero(~is_profile)
            bad = np.zeros(len(r_abs), dtype=bool)
            if len(sel):
                parts = gene_parts(self, data, layout, fitting=False)
                pred[sel] = predict_entries(self, values, layout, parts, r_abs[sel], cols[sel], pat[sel])
                # a never-measured gene with no feature of its own (place, length, promoter): fallback
                static = parts.static if parts.static is not None else np.zeros((values.shape[1], 0))
                own = np.asarray(np.isfinite(static).any(axis=1), dtype=bool)
                bad = (pat == 0) & ~own[cols]
        bad |= ~np.isfinite(pred)
        if bad.any():  # the shared fallback (tissue means of all of ``data``), of these rows only
            need = np.unique(r_abs[bad])
            stats = fallback_statistics(data)
            served = fallback_rows(values[need], np.asarray(data.tissue.codes)[need], stats)
            pred[bad] = served[np.searchsorted(need, r_abs[bad]), cols[bad]]
        self.n_fallback_ = int(bad.sum())
        self._fallback_at_ = (sub.shape, r_loc[bad], cols[bad])
        if lo <= hi:  # never past the observed values' range: a stack can extrapolate from drifting bases
            np.clip(pred, lo, hi, out=pred)
        out[r_loc, cols] = pred
        return out

    def _check_compatible(self, data: ExpressionData) -> None:
        if self.has_donor_ != (data.donor is not None):
            fitted = "with" if self.has_donor_ else "without"
            fix = (
                "pass donor_key= naming the donor column when predicting"
                if self.has_donor_
                else "pass donor_key=False when predicting (complete() needs donors: refit the model "
                "with donor_key= naming the donor column)"
            )
            msg = f"the model was fitted {fitted} donors; {fix}."
            raise DataError(msg)
        self._layout(data)
        warn_differences(self, data)

    # -- persistence --------------------------------------------------------------------------
    @classmethod
    def _check_fitted_meta(cls, meta: dict[str, Any], fail) -> None:
        check_fitted_meta(meta, fail)

    def _fitted_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, bytes]]:
        values, arrays = fitted_values(self)
        return values, arrays, state_files(self)

    def _restore_state(
        self, values: dict[str, Any], arrays: dict[str, np.ndarray], files: dict[str, bytes]
    ) -> None:
        super()._restore_state(values, arrays, files)
        restore_files(self, files)

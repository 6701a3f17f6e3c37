"""The hybrid model class: hyperparameters, the fit and predict steps, fitted state.

The computations live beside it: :mod:`.masking` (self-supervised masking), :mod:`.features`
and :mod:`.summaries` (context features), :mod:`.design` (XGBoost's design), :mod:`.nets`
and :mod:`.training` (networks and XGBoost).
"""

from __future__ import annotations

import logging
import os
import time
from typing import Any

import numpy as np

from ..._data import ExpressionData
from ..._errors import DataError, ParameterError
from ..._utils import derive_seeds
from .._base import BaseImputer, describe_differences, register
from .._params import Boolean, Interval, Options, Pattern
from .design import (
    DesignInputs,
    context_grid,
    design_names,
    designs,
    net_data,
    sequence_inputs,
    token_context,
    token_layout,
    training_entries,
)
from .features import COORDINATE_COLUMNS, default_donor_sizes, static_gene_features, static_scaling
from .masking import absent_profiles, mixture
from .persistence import (
    FITTED_ARRAYS,
    FITTED_SCHEMA,
    check_fitted_meta,
    restore_nets_and_booster,
    state_files,
)
from .summaries import Groups, nanmean_rows

logger = logging.getLogger("gex_impute")

__all__ = ["HybridImputer"]


@register
class HybridImputer(BaseImputer):
    """Promoter CNN + tissue transformer + XGBoost over genomic context.

    Parameters
    ----------
    use_sequence
        Use the promoter sequence (CNN embedding and composition features).
    use_tissue_encoder
        Use the tissue transformer (its embedding and prediction become XGBoost features).
    use_neighbours
        Use the genomic neighbours' values and their distances / orientations.
    use_xgboost
        Combine everything with XGBoost; when False the transformer's own prediction is the
        output (needs ``use_tissue_encoder``).
    n_neighbours
        Genomic neighbours per gene.
    window
        Largest TSS distance (bp) of a neighbour.
    n_folds
        Folds over the reference genes for the out-of-fold network embeddings.
    embedding_dim
        Size of the CNN and transformer embeddings passed to XGBoost.
    d_model, n_heads, n_layers
        Transformer width, heads and layers.
    cnn_channels
        Convolution channels of the promoter CNN.
    max_epochs, patience, batch_size, learning_rate
        Network training: epochs at most, early-stopping patience (epochs without improvement
        of the validation loss), items (gene x donor) per batch, AdamW learning rate.
    max_items_per_epoch
        Items drawn per epoch (all when None); bounds the training time on large data.
    n_estimators, max_depth, xgb_learning_rate
        XGBoost: trees at most (early stopping on validation genes), depth, learning rate.
    validation_fraction
        Fraction of reference genes held out for early stopping of the networks and XGBoost.
    device
        ``"auto"`` (GPU when present), ``"cpu"`` or ``"cuda"``.
    n_jobs
        Threads for torch and XGBoost; all CPUs when None.
    random_state
        Seed from which the numpy, torch and XGBoost seeds derive.
    progress
        Show progress bars.

    Examples
    --------
    >>> import gex_impute as gi
    >>> adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=200)
    >>> model = gi.HybridImputer(max_epochs=2, n_estimators=20, progress=False).fit(adata)
    >>> pred = model.predict(adata)
    >>> pred.shape == adata.shape
    True
    """

    name = "hybrid"
    requires_coordinates = False
    _parameter_constraints = {
        **{k: [Boolean()] for k in ("use_sequence", "use_tissue_encoder", "use_neighbours", "use_xgboost")},
        "n_neighbours": [Interval(int, 1, 1000)],
        "window": [Interval(int, 1, None)],
        "n_folds": [Interval(int, 2, 20)],
        "embedding_dim": [Interval(int, 1, 256)],
        "d_model": [Interval(int, 1, 1024)],
        "n_heads": [Interval(int, 1, 64)],
        "n_layers": [Interval(int, 0, 16)],
        "cnn_channels": [Interval(int, 1, 1024)],
        "max_epochs": [Interval(int, 1, 10_000)],
        "patience": [Interval(int, 1, 10_000)],
        "batch_size": [Interval(int, 1, 1_000_000)],
        "learning_rate": [Interval(float, 0, 1, closed="right")],
        "max_items_per_epoch": [Interval(int, 1, None), None],
        "n_estimators": [Interval(int, 1, 100_000)],
        "max_depth": [Interval(int, 1, 30)],
        "xgb_learning_rate": [Interval(float, 0, 1, closed="right")],
        "validation_fraction": [Interval(float, 0, 1, closed="neither")],
        "device": [Options("auto", "cpu", "cuda", "mps"), Pattern(r"cuda:\d+", "'cuda:N'")],
        "n_jobs": [Interval(int, 1, 4096), None],
        "random_state": [Interval(int, 0, 2**32 - 1), None],
        "progress": [Boolean()],
    }
    _fitted_schema = FITTED_SCHEMA
    _fitted_arrays = FITTED_ARRAYS

    # fitted state (set by fit or load; see persistence.FITTED_SCHEMA and FITTED_ARRAYS)
    nets_: list[Any]
    booster_: Any
    best_iteration_: int | None
    min_child_weight_: float | None
    sequence_length_: int
    has_sequence_: bool
    design_names_: list[str]
    context_names_: list[str]
    donor_sizes_: list[int] | None

    def __init__(
        self,
        *,
        use_sequence: bool = True,
        use_tissue_encoder: bool = True,
        use_neighbours: bool = True,
        use_xgboost: bool = True,
        n_neighbours: int = 10,
        window: int = 1_000_000,
        n_folds: int = 3,
        embedding_dim: int = 8,
        d_model: int = 32,
        n_heads: int = 4,
        n_layers: int = 2,
        cnn_channels: int = 16,
        max_epochs: int = 12,
        patience: int = 2,
        batch_size: int = 512,
        learning_rate: float = 3e-3,
        max_items_per_epoch: int | None = 16384,
        n_estimators: int = 600,
        max_depth: int = 7,
        xgb_learning_rate: float = 0.08,
        validation_fraction: float = 0.1,
        device: str = "auto",
        n_jobs: int | None = None,
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
        self.embedding_dim = embedding_dim
        self.d_model = d_model
        self.n_heads = n_heads
        self.n_layers = n_layers
        self.cnn_channels = cnn_channels
        self.max_epochs = max_epochs
        self.patience = patience
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.max_items_per_epoch = max_items_per_epoch
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.xgb_learning_rate = xgb_learning_rate
        self.validation_fraction = validation_fraction
        self.device = device
        self.n_jobs = n_jobs
        self.random_state = random_state
        self.progress = progress
        self._validate_params()

    @classmethod
    def _check_params_together(cls, params: dict[str, Any]) -> None:
        if not params["use_xgboost"] and not params["use_tissue_encoder"]:
            msg = (
                "HybridImputer: use_xgboost=False needs use_tissue_encoder=True (the transformer's "
                "prediction is then the output); switch one of them on."
            )
            raise ParameterError(msg)
        if params["use_tissue_encoder"] and params["n_layers"] > 0 and params["d_model"] % params["n_heads"]:
            msg = (
                f"HybridImputer: d_model={params['d_model']} is not divisible by "
                f"n_heads={params['n_heads']}; the attention heads split d_model evenly. "
                "Choose e.g. d_model=32 with n_heads=4."
            )
            raise ParameterError(msg)

    # -- helpers ------------------------------------------------------------------------------
    def _check_data(self, data: ExpressionData) -> None:
        super()._check_data(data)
        if self.use_neighbours and not all(c in data.var.columns for c in COORDINATE_COLUMNS):
            missing = [c for c in COORDINATE_COLUMNS if c not in data.var.columns]
            msg = (
                f"HybridImputer(use_neighbours=True) needs gene coordinates, but var lacks {missing}; "
                "run gex_impute.pp.annotate_genes(adata, annotation) first, or pass use_neighbours=False."
            )
            raise DataError(msg)

    def _threads(self) -> int:
        return int(self.n_jobs) if self.n_jobs else (os.cpu_count() or 1)

    @property
    def _uses_nets(self) -> bool:
        return bool(self.use_tissue_encoder or self.use_sequence)

    def _tissue_codes(self, data: ExpressionData) -> np.ndarray:
        cats = list(self.tissues_)
        names = np.asarray(data.tissue.astype(str))
        unknown = sorted(set(names) - set(cats))
        if unknown:
            msg = (
                f"tissues {unknown} were not seen when the model was fitted (it knows {cats}); "
                "fit the model on data that include them, or drop those samples."
            )
            raise DataError(msg)
        lookup = {t: i for i, t in enumerate(cats)}
        return np.array([lookup[t] for t in names], dtype=np.int64)

    def _inputs(self, data: ExpressionData, *, fitting: bool) -> DesignInputs:
        """Build what the feature and design builders share for ``data`` (:class:`DesignInputs`)."""
        from ..._utils import resolve_device

        donor = None if data.donor is None else np.asarray(data.donor.codes, dtype=np.int64)
        groups = Groups(self._tissue_codes(data), donor, len(self.tissues_))
        static, names = static_gene_features(data.var, use_sequence=self.use_sequence)
        if fitting:
            self.static_names_ = names
            self.static_mean_, self.static_std_ = static_scaling(static)
        elif names != self.static_names_:
            # other data (no gene lengths, say): the fitted columns, absent ones missing
            lookup = {n: i for i, n in enumerate(names)}
            static = np.column_stack(
                [
                    static[:, lookup[n]] if n in lookup else np.full(len(static), np.nan)
                    for n in self.static_names_
                ]
                or [np.zeros((len(static), 0))]
            )
        static_std = ((static - self.static_mean_) / self.static_std_).astype(np.float32)
        onehot, has_seq = None, np.zeros(data.n_genes, dtype=bool)
        if self.use_sequence:
            onehot, has_seq = sequence_inputs(data.var, length=None if fitting else self.sequence_length_)
        if fitting:
            self.has_sequence_ = bool(has_seq.any())
            self.sequence_length_ = int(onehot.shape[-1]) if onehot is not None else 0
        if not self.has_sequence_:
            onehot = None
        return DesignInputs(
            var=data.var,
            groups=groups,
            static=static,
            static_std=static_std,
            onehot=onehot,
            has_sequence=has_seq,
            layout=token_layout(groups),
            device=resolve_device(self.device) if self._uses_nets else "cpu",
        )

    # -- fitting ------------------------------------------------------------------------------
    def _fit(self, data: ExpressionData) -> None:
        import torch

        t_start = time.perf_counter()
        seeds = derive_seeds(self.random_state, 4)
        rng = np.random.default_rng(seeds[0])
        values = data.values
        observed = ~np.isnan(values)
        # absent donor x tissue profiles (no row at all) are missing data too: what completion asks for
        n_absent = absent_profiles(data.tissue_codes, data.donor_codes)
        self.mixture_ = mixture(observed, n_absent_profiles=n_absent)
        # scattered entries are hidden at the data's own rate (outside whole genes / samples)
        inner = observed[np.ix_(observed.any(axis=1), observed.any(axis=0))]
        self.entry_rate_ = float(np.clip(1.0 - inner.mean() if inner.size else 0.2, 0.05, 0.5))
        self.value_mean_ = float(np.nanmean(values))
        self.value_std_ = float(np.nanstd(values)) or 1.0
        inputs = self._inputs(data, fitting=True)
        groups = inputs.groups
        self.donor_sizes_ = (
            default_donor_sizes(groups.n_groups) if groups.has_donor and groups.n_groups > 2 else None
        )

        ref = np.flatnonzero(observed.any(axis=0))
        n_folds = int(max(2, min(self.n_folds, len(ref))))
        fold_of = np.full(data.n_genes, -1)
        fold_of[rng.permutation(ref)] = np.arange(len(ref)) % n_folds
        n_val = max(1, int(round(self.validation_fraction * len(ref))))
        is_val = np.zeros(data.n_genes, dtype=bool)
        is_val[rng.choice(ref, size=n_val, replace=False)] = True
        self.diagnostics_: dict[str, Any] = {"mixture": self.mixture_, "n_reference_genes": len(ref)}

        threads_before = torch.get_num_threads()
        det_before = torch.are_deterministic_algorithms_enabled()
        torch.set_num_threads(self._threads())
        torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            # 1. networks, one per fold of reference genes, trained on the other folds
            t0 = time.perf_counter()
            # without networks the full feature grid only serves names and scaling: use a sample
            stat_genes = (
                ref if self._uses_nets else np.sort(rng.choice(ref, size=min(len(ref), 500), replace=False))
            )
            feats_full, _, names = context_grid(self, values, stat_genes, inputs)
            self.context_names_ = names
            (self.token_context_idx_, self.token_context_own_, self.context_mean_, self.context_std_) = (
                token_context(names, feats_full)
            )
            self.design_names_ = design_names(self, names, with_nets=self._uses_nets)
            self.nets_ = []
            if self._uses_nets:
                from .training import fit_fold_networks

                nd_full, _ = net_data(self, values, ref, feats_full, inputs)
                del feats_full
                self.nets_, histories = fit_fold_networks(
                    self, nd_full, fold_of, is_val, n_folds, seed=seeds[1], device=inputs.device
                )
                del nd_full
                self.diagnostics_["network_val_mse"] = [float(np.nanmin(h["val"])) for h in histories]
                self.diagnostics_["network_epochs"] = [len(h["val"]) for h in histories]
            else:
                del feats_full
            self.diagnostics_["network_seconds"] = time.perf_counter() - t0

            # 2. masking rounds: each fold's genes hidden (following the data's missing pattern)
            #    and described by the network that never saw them
            t0 = time.perf_counter()
            x, y, base, pat, row_gene = training_entries(self, values, fold_of, n_folds, inputs, rng)
            self.diagnostics_["feature_seconds"] = time.perf_counter() - t0
            self.diagnostics_["n_training_entries"] = len(y)

            # 3. XGBoost on the out-of-fold design, early stopping on validation genes
            t0 = time.perf_counter()
            val = is_val[row_gene]
            self.booster_ = self.best_iteration_ = self.min_child_weight_ = None
            if self.use_xgboost:
                from .training import fit_xgboost

                self.booster_, diag = fit_xgboost(self, x, y, base, pat, val, seed=seeds[2])
                self.best_iteration_ = diag.pop("best_iteration")
                self.min_child_weight_ = diag.pop("min_child_weight")
                self.diagnostics_.update(diag)
            else:
                err = x[val, self.design_names_.index("transformer_prediction")] - y[val]
                self.diagnostics_["validation_mse"] = float(np.nanmean(err**2))
            self.diagnostics_["xgboost_seconds"] = time.perf_counter() - t0
        finally:
            torch.set_num_threads(threads_before)
            torch.use_deterministic_algorithms(det_before)
        self.diagnostics_["fit_seconds"] = time.perf_counter() - t_start
        logger.info("hybrid fit: %s", {k: v for k, v in self.diagnostics_.items() if k != "mixture"})

    # -- prediction ---------------------------------------------------------------------------
    def _predict(self, data: ExpressionData) -> np.ndarray:
        import torch

        values = data.values
        missing = np.isnan(values)
        out = values.copy()
        self.n_fallback_ = 0
        genes = np.flatnonzero(missing.any(axis=0))
        if len(genes) == 0:
            return out
        inputs = self._inputs(data, fitting=False)
        rows, pos = np.nonzero(missing[:, genes])
        threads_before = torch.get_num_threads()
        torch.set_num_threads(self._threads())
        try:
            preds = []
            for x, base in designs(self, values, genes, inputs, self.nets_ or [None]):
                xr, br = x[rows, pos], base[rows, pos]
                if self.use_xgboost:
                    from .training import booster_predict

                    preds.append(
                        booster_predict(self.booster_, xr, self.design_names_, self.best_iteration_) + br
                    )
                else:
                    preds.append(xr[:, self.design_names_.index("transformer_prediction")].astype(float))
        finally:
            torch.set_num_threads(threads_before)
        pred = np.mean(preds, axis=0)
        bad = ~np.isfinite(pred)
        if bad.any():
            # fallback: the gene's observed mean, else the overall mean
            g = nanmean_rows(values.T)[genes[pos[bad]]]
            pred[bad] = np.where(np.isfinite(g), g, self.value_mean_)
            self.n_fallback_ = int(bad.sum())
        out[rows, genes[pos]] = pred
        return out

    def _check_compatible(self, data: ExpressionData) -> None:
        if self.has_donor_ != (data.donor is not None):
            fitted = "with" if self.has_donor_ else "without"
            fix = "pass donor_key= naming the donor column" if self.has_donor_ else "pass donor_key=None"
            msg = f"the model was fitted {fitted} donors; {fix} when predicting."
            raise DataError(msg)
        if self.use_sequence and self.has_sequence_ and "promoter" not in data.var.columns:
            msg = (
                "the model was fitted with promoter sequences, but var has no 'promoter' column; add it "
                "with gex_impute.pp.add_promoters(adata, fasta=... or sequences=...) before predicting."
            )
            raise DataError(msg)
        self._tissue_codes(data)
        diff = describe_differences(self, data)
        if diff:
            logger.warning(
                "HybridImputer: the genes differ from those it was fitted on: %s; the model describes genes "
                "by sequence and genomic context, so it still applies, but accuracy on new genes is not "
                "validated.",
                diff,
            )

    # -- persistence --------------------------------------------------------------------------
    @classmethod
    def _check_fitted_meta(cls, meta: dict[str, Any], fail) -> None:
        check_fitted_meta(meta, fail)

    def _fitted_state(self) -> tuple[dict[str, Any], dict[str, np.ndarray], dict[str, bytes]]:
        values = {k: getattr(self, k) for k in FITTED_SCHEMA if k != "n_nets"} | {"n_nets": len(self.nets_)}
        arrays = {k: np.asarray(getattr(self, k)) for k in FITTED_ARRAYS}
        return values, arrays, state_files(self)

    def _restore_state(
        self, values: dict[str, Any], arrays: dict[str, np.ndarray], files: dict[str, bytes]
    ) -> None:
        super()._restore_state({k: v for k, v in values.items() if k != "n_nets"}, arrays, files)
        restore_nets_and_booster(self, values["n_nets"], files)

"""Fit and apply the hybrid's per-pattern models (whole genes, whole profiles, scattered entries).

:func:`gene_parts` prepares what describes genes (genomic neighbours, static features, the
promoter CNN's tissue profile, the tissue encoder); :func:`fit_entry_models` trains the
whole-gene and scattered-entry models on masked rounds; :func:`fit_profile_model` (:mod:`.profile_model`)
trains the whole-profile model on leave-one-donor-out features; ``predict_*`` apply them.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import numpy as np

from ..._utils import progress_bar
from .entries import EntryFeatures
from .masking import PATTERNS, Layout, gene_rounds, hide
from .profile_model import fit_profile_model, predict_profiles
from .stacking import apply_model, fit_pattern_model

if TYPE_CHECKING:
    from ..._data import ExpressionData
    from .model import HybridImputer

__all__ = [
    "cap_per_gene",
    "fit_entry_models",
    "fit_profile_model",
    "gene_parts",
    "predict_entries",
    "predict_profiles",
]

logger = logging.getLogger("gex_impute")

#: below this many hidden training genes, the whole-gene model is chosen by gene-grouped CV
MAX_GENES_FOR_CV = 300
#: whole genes: rows of hidden genes collected at most (x max_rows), and fitted on at most
GENE_COLLECT_FACTOR = 8
GENE_ROWS_FACTOR = 4
#: whole genes: training rows (samples) per hidden gene at most; None: all
GENE_SAMPLES_CAP: int | None = 64
#: whole genes: XGBoost trees at most this deep (a gene's rows share its gene-level features, and
#: shallow trees overfit genes less). 4 (was the model's 6), chosen on GTEx P1 validation splits
#: (seed-0 test genes removed, split seeds 100 / 101, mean of 6 model seeds): TSS table only r
#: 0.3165 / 0.3329 -> 0.3209 / 0.3368, full annotation 0.4810 / 0.4932 -> 0.4900 / 0.4994
GENE_MAX_DEPTH = 4
#: scattered entries: training rows at most ``ENTRY_ROWS_FACTOR * max_rows``. Their rows come
#: ``hide_rate`` at a time, so small tables need several rounds for enough of them; 1.5 with 4
#: rounds (was 1 with 3), chosen on GTEx tissue-mean P2 validation splits (seed-0 test entries
#: removed, split seeds 100 / 101, ``benchmarks/validation_p2.py``): MSE 0.2573 / 0.2605 ->
#: 0.2548 / 0.2598 (a larger cap with 3 rounds: unchanged, the rows stay below it)
ENTRY_ROWS_FACTOR = 1.5
#: scattered entries: further masked rounds (hiding every pattern, as the first ``n_rounds``) while
#: the entry model has fewer training rows than this, up to ``MAX_ROUNDS`` rounds. A small cohort
#: yields few rows a round, and its model then depends on the seed. Simulated 15 donors x 6
#: tissues x 200 genes, a third of the samples kept (18-24 samples, ~175 rows a round;
#: ``benchmarks/small_cohorts.py``'s cohort), split seeds 100-102, hybrid seeds = split seed and 7,
#: P2 MSE / best baseline's (``benchmarks/validation_small.py``): 4 / 8 / 16 / 32 rounds 1.042 +/-
#: 0.203 / 0.977 +/- 0.132 / 0.961 +/- 0.095 / 0.954 +/- 0.107, this rule 0.974 +/- 0.107 (mean +/-
#: SD over the 6 fits). Larger cohorts reach it in their first round.
MIN_ENTRY_ROWS = 2_500
MAX_ROUNDS = 16


@contextlib.contextmanager
def torch_threads(n: int) -> Iterator[None]:
    """Run the block with torch limited to ``n`` threads (restored afterwards); imports torch."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(n)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def _align(x: np.ndarray, names: list[str], wanted: list[str]) -> np.ndarray:
    """Columns of ``x`` in the order of ``wanted`` (NaN for names ``x`` lacks)."""
    if names == wanted:
        return x
    lookup = {n: i for i, n in enumerate(names)}
    cols = [x[:, lookup[n]] if n in lookup else np.full(len(x), np.nan, np.float32) for n in wanted]
    return np.column_stack(cols) if cols else np.zeros((len(x), 0), np.float32)


def _by_gene_id(model: HybridImputer, data: ExpressionData, table: np.ndarray) -> np.ndarray:
    """``(T, p_fit)`` table of the fitted genes -> ``(T, p)`` for ``data``'s genes (NaN for new ones)."""
    ids = [str(g) for g in data.var.index]
    if ids == list(model.gene_ids_):
        return table
    lookup = {g: i for i, g in enumerate(model.gene_ids_)}
    idx = np.array([lookup.get(g, -1) for g in ids], dtype=np.int64)
    out = np.where(idx[None, :] >= 0, table[:, np.maximum(idx, 0)], np.nan)
    return out.astype(np.float32)


def gene_parts(
    model: HybridImputer, data: ExpressionData, layout: Layout, *, fitting: bool, seed: int = 0
) -> EntryFeatures:
    """Return the entry feature builder for ``data``; at fit also train the promoter CNN and the encoder."""
    from ..._utils import derive_seeds, resolve_device
    from .bases import group_means
    from .genes import promoter_cnn_profiles, static_gene_features, tss_key
    from .missing_parts import skipped_parts

    var = data.var
    observed = ~np.isnan(data.values)
    neighbours = None
    if model.use_neighbours and "chrom" in var.columns and "tss" in var.columns:
        from ...genome import genomic_neighbours

        neighbours = genomic_neighbours(
            var, reference=observed.any(0), k=model.n_neighbours, window=model.window
        )
    static, names = static_gene_features(var, use_sequence=model.use_sequence)
    if fitting:
        model.static_names_ = names
        model.cnn_profile_ = np.zeros((0, 0), np.float32)
        model.encoder_ = None
        seeds = derive_seeds(seed, 2)
        if "genes" in model.patterns_ and model.use_sequence:
            tm, _ = group_means(data.values, layout.tissue, layout.n_tissues)
            with torch_threads(model.threads):
                prof = promoter_cnn_profiles(
                    var,
                    tm.T,
                    **_network_training(model),
                    channels=model.cnn_channels,
                    embedding_dim=model.embedding_dim,
                    validation_fraction=model.validation_fraction,
                    seed=seeds[0],
                    device=resolve_device(model.device),
                )
            if prof is not None:
                model.cnn_profile_ = prof.T.astype(np.float32)
        trained = prof is not None if "genes" in model.patterns_ and model.use_sequence else None
        # the torch device the promoter CNN was trained on ("cuda", "cpu", ...), None without it
        model.diagnostics_["cnn_device"] = resolve_device(model.device) if trained else None
        model.diagnostics_["skipped"] = skipped_parts(var, neighbours=model.use_neighbours, cnn=trained)
        for note in model.diagnostics_["skipped"]:
            logger.info("hybrid: %s", note)
        if model.use_sequence and "genes" not in model.patterns_:
            logger.info(
                "hybrid: every gene has values here, so the promoter CNN (for unseen genes) is not trained"
            )
        if model.use_tissue_encoder:
            from .encoder import TissueEncoder

            with torch_threads(model.threads):
                model.encoder_ = TissueEncoder(
                    **_network_training(model),
                    d_model=model.d_model,
                    n_heads=model.n_heads,
                    n_layers=model.n_layers,
                    max_items_per_epoch=model.max_items_per_epoch,
                    seed=seeds[1],
                ).fit(data.values, layout)
    else:
        static = _align(static, names, model.static_names_)
    cnn = _by_gene_id(model, data, model.cnn_profile_) if model.cnn_profile_.size else None
    encoder = model.encoder_
    if encoder is not None and not fitting and [str(g) for g in data.var.index] != list(model.gene_ids_):
        import copy

        encoder = copy.copy(encoder)
        encoder.fold_ = _by_gene_id(model, data, model.encoder_.fold_[None, :].astype(np.float32))[0]
        encoder.fold_ = np.nan_to_num(encoder.fold_, nan=-1).astype(np.int64)
    return EntryFeatures(
        n_similar=model.n_similar,
        neighbours=neighbours,
        static=static,
        static_names=list(model.static_names_),
        cnn_profile=cnn,
        encoder=encoder,
        tss_key=tss_key(var) if model.use_neighbours else None,
        threads=model.threads,
    )


def cap_per_gene(pat: np.ndarray, cols: np.ndarray, cap: int | None, rng: np.random.Generator) -> np.ndarray:
    """Return the hidden entries to keep: all but whole genes, and at most ``cap`` per hidden gene.

    A hidden gene's entries in many samples share its gene-level features (neighbours,
    promoter, ...); beyond ``cap`` they add training rows more than information. The kept
    samples of a gene are drawn at random; ``rng`` is not used when no gene exceeds ``cap``.

    Examples
    --------
    >>> import numpy as np
    >>> from gex_impute.methods.hybrid.patterns import cap_per_gene
    >>> pat = np.array([0, 0, 0, 2, 0])
    >>> cols = np.array([1, 1, 1, 1, 2])
    >>> keep = cap_per_gene(pat, cols, 2, np.random.default_rng(0))
    >>> int((cols[keep][pat[keep] == 0] == 1).sum()), bool(np.isin([3, 4], keep).all())
    (2, True)
    """
    everything = np.arange(len(pat))
    gene = np.flatnonzero(pat == PATTERNS.index("genes"))
    if cap is None or len(gene) == 0 or np.bincount(cols[gene]).max() <= cap:
        return everything
    order = gene[rng.permutation(len(gene))]
    order = order[np.argsort(cols[order], kind="stable")]  # by gene, random within a gene
    starts = np.flatnonzero(np.r_[True, np.diff(cols[order]) != 0])
    rank = np.arange(len(order)) - np.repeat(starts, np.diff(np.r_[starts, len(order)]))
    return np.sort(np.concatenate([everything[pat != PATTERNS.index("genes")], order[rank < cap]]))


def fit_entry_models(
    model: HybridImputer,
    values: np.ndarray,
    layout: Layout,
    builder: EntryFeatures,
    patterns: list[str],
    rng: np.random.Generator,
) -> None:
    """Masked rounds -> features of the hidden entries -> one model per pattern in ``patterns``.

    ``model.n_rounds`` rounds hide every pattern (more, up to ``MAX_ROUNDS``, while scattered
    entries have fewer than ``MIN_ENTRY_ROWS`` rows); with whole genes among them, further rounds
    hide genes only, each a new disjoint set (:func:`.masking.gene_rounds`), until every
    observed gene was hidden once or ``GENE_COLLECT_FACTOR * max_rows`` rows of hidden genes
    are collected: the whole-gene model learns rules over genes, and the number of distinct
    genes it saw hidden limits it (GTEx validation split: P1 r 0.456 -> 0.482). For the same
    reason a hidden gene gives at most ``GENE_SAMPLES_CAP`` rows (samples at random,
    :func:`cap_per_gene`): in cohorts of many samples the rounds then reach every gene
    (simulated 50 donors x 20 tissues x 2,000 genes, validation seeds 100 / 101: whole-gene
    r 0.288 / 0.334 without a cap, 0.401 / 0.376 at 64, 0.389 / 0.351 at 32, 0.384 at 128).
    """
    xs: list[np.ndarray] = []
    ys: list[np.ndarray] = []
    pats: list[np.ndarray] = []
    genes: list[np.ndarray] = []
    bases: dict[str, list[np.ndarray]] = {}
    names: list[str] = []
    gene_sets: list[np.ndarray] = []
    gene_rng = rng
    if "genes" in patterns:  # its own stream: the other patterns' rows do not depend on it
        gene_rng = np.random.default_rng(int(rng.integers(2**32)))
        gene_sets = gene_rounds(~np.isnan(values), gene_rng)
    n_rounds = model.n_rounds
    gene_rows = entry_rows = 0
    bar = progress_bar(desc="hybrid: masked rounds", enabled=model.progress)
    i = 0
    while True:
        few_rows = "entries" in patterns and entry_rows < MIN_ENTRY_ROWS and i < MAX_ROUNDS
        first = i < n_rounds or few_rows
        if not first and (i >= len(gene_sets) or gene_rows >= GENE_COLLECT_FACTOR * model.max_rows):
            break
        masked, rows, cols, pat, y = hide(
            values,
            layout,
            patterns if first else ["genes"],
            rng if first else gene_rng,
            rate=model.rate_,
            genes=gene_sets[i] if i < len(gene_sets) else None,
        )
        keep = cap_per_gene(pat, cols, GENE_SAMPLES_CAP, gene_rng)
        rows, cols, pat, y = rows[keep], cols[keep], pat[keep], y[keep]
        x, round_names, base = builder.build(masked, layout, rows, cols)
        if i == 0:
            names = round_names
            counts = np.bincount(pat, minlength=3)
            if min(counts[PATTERNS.index(p)] for p in patterns) >= model.max_rows:
                n_rounds = 1  # enough rows of every pattern in one round
        for k in set(bases) | set(base):  # a base absent in one round: NaN there
            bases.setdefault(k, [np.full(len(r), np.nan) for r in ys]).append(
                base.get(k, np.full(len(y), np.nan))
            )
        xs.append(_align(x, round_names, names))
        ys.append(y)
        pats.append(pat)
        genes.append(cols)
        gene_rows += int((pat == PATTERNS.index("genes")).sum())
        entry_rows += int((pat == PATTERNS.index("entries")).sum())  # (gene-only rounds add none)
        i += 1
        bar.update()
    bar.close()
    x, y, pat, gene = (np.concatenate(a) for a in (xs, ys, pats, genes))
    base = {k: np.concatenate(v) for k, v in bases.items()}
    model.entry_names_ = names
    model.diagnostics_["n_entry_rows"] = len(y)
    model.diagnostics_["n_masked_rounds"] = i
    for code, pname in enumerate(PATTERNS):
        sel = np.flatnonzero(pat == code)
        if pname not in patterns or len(sel) == 0:
            continue
        factor = {"genes": GENE_ROWS_FACTOR, "entries": ENTRY_ROWS_FACTOR}.get(pname, 1)
        cap = int(model.max_rows * factor)
        if len(sel) > cap:
            sel = np.sort((gene_rng if pname == "genes" else rng).choice(sel, cap, replace=False))
        # few hidden genes: a gene-grouped CV chooses among reference, ridge stack and XGBoost
        few = pname == "genes" and len(np.unique(gene[sel])) < MAX_GENES_FOR_CV
        fitted, booster = fit_pattern_model(
            x[sel],
            y[sel],
            {k: v[sel] for k, v in base.items()},
            names,
            groups=gene[sel],
            n_groups=values.shape[1],
            use_xgboost=model.use_xgboost,
            params=_pattern_params(model, pname),
            n_estimators=model.n_estimators,
            rng=rng,
            validation_fraction=model.validation_fraction,
            cv_folds=4 if few else 0,
            use_ridge_reference=pname == "entries",
        )
        model.models_[pname] = fitted
        if booster is not None:
            model.boosters_[pname] = booster


def _network_training(model: HybridImputer) -> dict[str, Any]:
    """Training settings shared by the promoter CNN and the tissue encoder."""
    keys = ("n_folds", "max_epochs", "patience", "learning_rate", "batch_size")
    return {k: getattr(model, k) for k in keys}


def _pattern_params(model: HybridImputer, pattern: str) -> dict[str, Any]:
    """Return the XGBoost parameters of a masked-round pattern (whole genes: ``GENE_MAX_DEPTH`` at most)."""
    params = model.xgb_params()
    if pattern == "genes":
        params["max_depth"] = min(int(params["max_depth"]), GENE_MAX_DEPTH)
    return params


def predict_entries(
    model: HybridImputer,
    values: np.ndarray,
    layout: Layout,
    builder: EntryFeatures,
    rows: np.ndarray,
    cols: np.ndarray,
    pat: np.ndarray,
) -> np.ndarray:
    """Estimate missing entries ``(rows, cols)`` of pattern codes ``pat`` from the masked-round models."""
    x, names, base = builder.build(values, layout, rows, cols)
    x = _align(x, names, model.entry_names_)
    out = np.full(len(rows), np.nan)
    for code, pname in enumerate(PATTERNS):
        sel = np.flatnonzero(pat == code)
        if len(sel) == 0:
            continue
        key = _model_for(model, pname)
        if key is None:
            continue
        out[sel] = apply_model(
            model.models_[key],
            model.boosters_.get(key),
            x[sel],
            {k: v[sel] for k, v in base.items()},
            model.entry_names_,
            model.threads,
        )
    return out


def _model_for(model: HybridImputer, pattern: str) -> str | None:
    """Return the fitted masked-round model that serves ``pattern`` (its own, else the closest one)."""
    order: dict[str, tuple[str, ...]] = {
        "genes": ("genes", "entries", "profiles"),
        "entries": ("entries", "genes", "profiles"),
        "profiles": ("profiles", "entries", "genes"),
    }
    for key in order[pattern]:
        if key in model.models_ and (key != "profiles" or not model.profile_names_):
            return key
    return None


#: how the log names each pattern's model

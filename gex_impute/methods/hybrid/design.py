"""XGBoost's design matrix: context features plus the fold networks' outputs, per entry.

:class:`DesignInputs` carries what every builder here shares for one dataset (the gene table,
sample groups, static gene features, promoter one-hot, token layout, device); it is built
once per :meth:`~gex_impute.methods.hybrid.HybridImputer.fit` or ``predict`` call.
:func:`designs` computes the context features of a set of genes once and stacks them with the
outputs of each network (CNN embedding, transformer embedding and prediction).

The builders read the fitted model's hyperparameters and scaling (``value_mean_``,
``token_context_idx_``, ...) from the :class:`~gex_impute.methods.hybrid.HybridImputer` passed in.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .features import entry_features, genomic_neighbours
from .masking import make_masking
from .summaries import Groups

if TYPE_CHECKING:
    from .model import HybridImputer
    from .nets import HybridNet, NetData

logger = logging.getLogger("gex_impute")

__all__ = [
    "DesignInputs",
    "design_names",
    "designs",
    "net_data",
    "sequence_inputs",
    "token_context",
    "token_layout",
    "training_entries",
]

#: context features the transformer reads per token: of the gene itself, and shared by the sample
_TOKEN_OWN = {"tissue_mean_other", "similar_donor_mean", "donor_offset"}
_TOKEN_SHARED = {
    "sample_mean",
    "nb_idw_value",
    "nb_idw_resid",
    "nb0_value",
    "nb0_resid",
    "nb1_value",
    "nb1_resid",
}


@dataclass(frozen=True)
class DesignInputs:
    """What the feature and design builders share for one dataset (fit or predict).

    Attributes
    ----------
    var
        Gene annotation (coordinates for the genomic neighbours).
    groups
        Samples grouped by donor, with their tissue codes (the model's tissue order).
    static
        ``(n_genes, n_static)`` static gene features (XGBoost reads them as they are).
    static_std
        The same, standardised with the fitted scaling (the networks read these).
    onehot
        ``(n_genes, 4, length)`` promoter one-hot, or None without sequences.
    has_sequence
        ``(n_genes,)`` whether a gene has a promoter sequence.
    layout
        ``(n_items_per_gene, width)`` samples of each token group, ``-1`` padded
        (:func:`token_layout`).
    device
        torch device of the networks.
    """

    var: pd.DataFrame
    groups: Groups
    static: np.ndarray
    static_std: np.ndarray
    onehot: np.ndarray | None
    has_sequence: np.ndarray
    layout: np.ndarray
    device: str


def token_layout(groups: Groups) -> np.ndarray:
    """Return the samples of each token group (donors, or chunks of <= 64 samples), padded with -1."""
    if groups.has_donor:
        members = [m[np.argsort(groups.tissue[m], kind="stable")] for m in groups.members if len(m)]
    else:
        order = np.argsort(groups.tissue, kind="stable")
        n_chunks = max(1, int(np.ceil(len(order) / 64)))
        members = [order[i::n_chunks] for i in range(n_chunks)]
    width = max(len(m) for m in members)
    out = np.full((len(members), width), -1, dtype=np.int64)
    for i, m in enumerate(members):
        out[i, : len(m)] = m
    return out


def token_context(names: Sequence[str], feats: np.ndarray) -> tuple[np.ndarray, ...]:
    """Choose the context columns the transformer reads per token, and their scaling.

    Returns the column indices, whether each reads the gene's own values, and the mean and
    standard deviation of each (over ``feats``, NaN ignored).
    """
    idx = [i for i, n in enumerate(names) if n in _TOKEN_OWN or n in _TOKEN_SHARED]
    flat = feats[..., idx].reshape(-1, len(idx)) if idx else np.zeros((1, 0))
    ok = ~np.isnan(flat)
    n = np.maximum(ok.sum(axis=0), 1)
    mean = np.where(ok, flat, 0).sum(axis=0) / n
    std = np.sqrt((np.where(ok, flat - mean, 0) ** 2).sum(axis=0) / n)
    return (
        np.array(idx, dtype=np.int64),
        np.array([names[i] in _TOKEN_OWN for i in idx], dtype=bool),
        np.nan_to_num(mean).astype(np.float32),
        np.where(np.isfinite(std) & (std > 0), std, 1.0).astype(np.float32),
    )


def sequence_inputs(var: pd.DataFrame, *, length: int | None) -> tuple[np.ndarray | None, np.ndarray]:
    """Promoter one-hot ``(n_genes, 4, length)`` (None without a ``promoter`` column) and presence."""
    from .sequence import one_hot_batch

    if "promoter" not in var.columns:
        return None, np.zeros(len(var), dtype=bool)
    seqs = [s if isinstance(s, str) else "" for s in var["promoter"].tolist()]
    has = np.array([len(s) > 0 for s in seqs], dtype=bool)
    return one_hot_batch(seqs, length=length, align="center"), has


def net_data(
    model: HybridImputer, values: np.ndarray, genes: np.ndarray, feats: np.ndarray, inputs: DesignInputs
) -> tuple[NetData, np.ndarray]:
    """Network items of ``genes``: one per (gene, token group), standardised with the model's scaling.

    Returns the items and, for each, the gene's position within ``genes``.
    """
    from .nets import NetData

    layout = inputs.layout
    n_groups = layout.shape[0]
    gene_idx = np.repeat(np.arange(len(genes)), n_groups)  # position within `genes`
    grp = np.tile(np.arange(n_groups), len(genes))
    samples = layout[grp]
    valid = samples >= 0
    s0 = np.where(valid, samples, 0)
    val = values[s0, genes[gene_idx][:, None]]
    val = np.where(valid, (val - model.value_mean_) / model.value_std_, np.nan).astype(np.float32)
    ctx = feats[s0, gene_idx[:, None]][..., model.token_context_idx_]
    ctx = (ctx - model.context_mean_) / model.context_std_
    ctx = np.where(valid[..., None], ctx, np.nan).astype(np.float32)
    tis = np.where(valid, inputs.groups.tissue[s0], 0)
    items = NetData(
        gene=genes[gene_idx],
        samples=samples,
        tissue=tis,
        value=val,
        context=ctx,
        own_context=model.token_context_own_,
        static=inputs.static_std,
        onehot=inputs.onehot,
        has_sequence=inputs.has_sequence,
    )
    return items, gene_idx


def _net_outputs(model: HybridImputer, net: HybridNet, nd: NetData, gene_pos: np.ndarray, shape):
    """Per-entry CNN embedding, token embedding and prediction on the ``(S, n)`` grid."""
    from .training import embed

    cnn, emb, pred = embed(net, nd, np.arange(len(nd.gene)), model.batch_size)
    n_s, n = shape
    e = model.embedding_dim
    emb_grid = np.full((n_s, n, e), np.nan, dtype=np.float32)
    pred_grid = np.full((n_s, n), np.nan, dtype=np.float32)
    valid = nd.samples >= 0
    s_idx = nd.samples[valid]
    g_idx = np.broadcast_to(gene_pos[:, None], nd.samples.shape)[valid]
    emb_grid[s_idx, g_idx] = emb[valid]
    pred_grid[s_idx, g_idx] = pred[valid] * model.value_std_ + model.value_mean_
    cnn_grid = None
    if cnn is not None:
        cnn_gene = np.zeros((n, e), dtype=np.float32)
        cnn_gene[gene_pos] = cnn
        cnn_grid = np.broadcast_to(cnn_gene[None], (n_s, n, e))
    return cnn_grid, emb_grid, pred_grid


def design_names(model: HybridImputer, context_names: Sequence[str], *, with_nets: bool) -> list[str]:
    """Column names of the design: the context features, then the network outputs used."""
    names = list(context_names)
    if with_nets and model.use_sequence and model.has_sequence_:
        names += [f"cnn_{i}" for i in range(model.embedding_dim)]
    if with_nets and model.use_tissue_encoder:
        names += [f"transformer_{i}" for i in range(model.embedding_dim)] + ["transformer_prediction"]
    return names


def _align(design: np.ndarray, current: list[str], expected: list[str]) -> np.ndarray:
    """Put the columns of ``design`` (named ``current``) in the ``expected`` layout; absent ones NaN."""
    if current == expected:
        return design
    # other data (fewer donors, no coordinates...): same layout, absent features as NaN
    lookup = {n: i for i, n in enumerate(current)}
    absent = [n for n in expected if n not in lookup]
    if absent:
        logger.warning("features unavailable on these data, left missing: %s", absent)
    aligned = np.full((*design.shape[:2], len(expected)), np.nan, dtype=design.dtype)
    for i, n in enumerate(expected):
        if n in lookup:
            aligned[..., i] = design[..., lookup[n]]
    return aligned


def context_grid(
    model: HybridImputer, values: np.ndarray, genes: np.ndarray, inputs: DesignInputs
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Context features ``(S, n, F)``, base ``(S, n)`` and names of every sample x ``genes`` entry."""
    nb = None
    if model.use_neighbours:
        reference = (~np.isnan(values)).any(axis=0)
        nb = genomic_neighbours(inputs.var, reference, k=model.n_neighbours, window=model.window)
    return entry_features(values, genes, inputs.groups, inputs.static, nb, donor_sizes=model.donor_sizes_)


def designs(
    model: HybridImputer,
    values: np.ndarray,
    genes: np.ndarray,
    inputs: DesignInputs,
    nets: Sequence[HybridNet | None],
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield the design ``(S, n, F)`` and base ``(S, n)`` of ``genes`` for each network of ``nets``.

    The context features are computed once and shared; ``nets`` may be ``[None]`` (context
    features only). Columns follow ``model.design_names_``.
    """
    feats, base, names = context_grid(model, values, genes, inputs)
    for net in nets:
        parts = [feats]
        if net is not None:
            nd, gene_pos = net_data(model, values, genes, feats, inputs)
            cnn_grid, emb_grid, pred_grid = _net_outputs(model, net, nd, gene_pos, base.shape)
            if model.use_sequence and model.has_sequence_ and cnn_grid is not None:
                parts.append(cnn_grid)
            if model.use_tissue_encoder:
                parts += [emb_grid, pred_grid[..., None]]
        design = np.concatenate(parts, axis=-1) if len(parts) > 1 else feats
        current = design_names(model, names, with_nets=net is not None)
        yield _align(design, current, model.design_names_), base


def training_entries(
    model: HybridImputer,
    values: np.ndarray,
    fold_of: np.ndarray,
    n_folds: int,
    inputs: DesignInputs,
    rng: np.random.Generator,
) -> tuple[np.ndarray, ...]:
    """Mask each fold's reference genes (the data's missing pattern) and describe the hidden entries.

    Each fold's entries are described with the network that did not see the fold. Returns
    the design rows, targets, base predictions, missing patterns and genes of the entries.
    """
    from ..._utils import progress_bar

    xs, ys, bases, pats, row_genes = [], [], [], [], []
    chunk_size = max(1, int(np.ceil(0.2 * int((fold_of >= 0).sum()))))
    for k in progress_bar(range(n_folds), enabled=model.progress, desc="folds (features)"):
        fold_genes = rng.permutation(np.flatnonzero(fold_of == k))
        n_chunks = max(1, int(np.ceil(len(fold_genes) / chunk_size)))
        for chunk in np.array_split(fold_genes, n_chunks):
            chunk = np.sort(chunk)
            m = make_masking(values, chunk, model.mixture_, rng, model.entry_rate_)
            if len(m.rows) == 0:
                continue
            net = model.nets_[k] if model.nets_ else None
            ((x, base),) = designs(model, m.values, chunk, inputs, [net])
            pos = np.searchsorted(chunk, m.cols)
            xs.append(x[m.rows, pos])
            bases.append(base[m.rows, pos])
            ys.append(m.target)
            pats.append(m.pattern)
            row_genes.append(m.cols)
    return tuple(np.concatenate(a) for a in (xs, ys, bases, pats, row_genes))

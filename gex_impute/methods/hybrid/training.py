"""Training of the hybrid model: the fold networks (masked regression) and XGBoost.

The networks are fitted K-fold over the reference genes (:func:`fit_fold_networks`), each
on the other folds' genes, so that a network only ever embeds genes it did not see; XGBoost
(:func:`fit_xgboost`) then learns from those out-of-fold embeddings and the context features.

Imported lazily (this module imports torch at top level; xgboost inside the functions).
"""

from __future__ import annotations

import logging
import math
from typing import TYPE_CHECKING, Any

import numpy as np
import torch
from torch import nn

from ..._utils import progress_bar
from .nets import HybridNet, NetData, batch_tensors

if TYPE_CHECKING:
    from .model import HybridImputer

logger = logging.getLogger("gex_impute")

__all__ = ["booster_predict", "build_network", "embed", "fit_fold_networks", "fit_xgboost", "train_net"]

_MAX_TRAIN_ROWS = 250_000  # XGBoost training rows at most (a random subset beyond)
_EARLY_STOPPING_ROUNDS = 30


def build_network(model: HybridImputer, n_static: int) -> HybridNet:
    """Build a fresh network with the model's hyperparameters (fitted tissue and feature counts)."""
    return HybridNet(
        len(model.tissues_),
        len(model.token_context_idx_),
        n_static,
        use_sequence=bool(model.use_sequence and model.has_sequence_),
        use_attention=bool(model.use_tissue_encoder),
        d_model=model.d_model,
        n_heads=model.n_heads,
        n_layers=model.n_layers,
        embedding_dim=model.embedding_dim,
        cnn_channels=model.cnn_channels,
    )


def fit_fold_networks(
    model: HybridImputer,
    nd: NetData,
    fold_of: np.ndarray,
    is_val: np.ndarray,
    n_folds: int,
    *,
    seed: int,
    device: str,
) -> tuple[list[HybridNet], list[dict]]:
    """Train one network per fold of reference genes on the other folds' genes.

    Parameters
    ----------
    model
        The hybrid model (hyperparameters, fitted mixture and scaling).
    nd
        Items of every reference gene.
    fold_of
        Fold of each gene (``-1`` = not a reference gene).
    is_val
        Validation genes (early stopping), per gene.
    n_folds
        Number of folds.
    seed
        Seed of the initial weights (the same for every fold, so embeddings compare) and,
        plus the fold number, of the training.
    device
        torch device to train on.

    Returns
    -------
    The networks (moved to the CPU) and their training histories.
    """
    item_fold = fold_of[nd.gene]
    item_val = is_val[nd.gene]
    nets, histories = [], []
    for k in progress_bar(range(n_folds), enabled=model.progress, desc="folds (networks)"):
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(seed)  # same start for every fold: comparable embeddings
            net = build_network(model, nd.static.shape[1])
        hist = train_net(
            net,
            nd,
            np.flatnonzero((item_fold != k) & ~item_val),
            np.flatnonzero((item_fold != k) & item_val),
            model.mixture_,
            max_epochs=model.max_epochs,
            patience=model.patience,
            batch_size=model.batch_size,
            learning_rate=model.learning_rate,
            seed=seed + k,
            device=device,
            max_items_per_epoch=model.max_items_per_epoch,
            progress=model.progress,
        )
        histories.append(hist)
        nets.append(net.cpu())
    return nets, histories


def apply_masking(b, mix, gen: torch.Generator, own_context: torch.Tensor):
    """Hide observed tokens following the pattern mixture; returns visible mask and loss mask."""
    value, pad = b["value"], b["pad"]
    observed = ~torch.isnan(value) & ~pad
    n, t = value.shape
    probs = torch.tensor([mix["genes"], mix["samples"], mix["entries"]], dtype=torch.float32)
    pattern = torch.multinomial(probs, n, replacement=True, generator=gen).to(value.device)
    r = torch.rand((n, t), generator=gen).to(value.device)
    hide = torch.zeros_like(observed)
    # whole gene: every token hidden, own-gene context gone as well
    hide |= (pattern == 0)[:, None]
    # whole sample: one observed token hidden, its neighbours' values too (the profile is missing)
    score = torch.where(observed, r, torch.full_like(r, -1.0))
    one = torch.zeros_like(observed)
    one[torch.arange(n, device=value.device), score.argmax(dim=1)] = True
    hide |= (pattern == 1)[:, None] & one
    # scattered entries
    ent = (r < 0.2) | one
    hide |= (pattern == 2)[:, None] & ent
    hide &= observed
    visible = observed & ~hide
    context = b["context"].clone()
    gene_masked = (pattern == 0)[:, None, None] & own_context[None, None, :]
    context = torch.where(gene_masked, torch.full_like(context, float("nan")), context)
    sample_masked = ((pattern == 1)[:, None] & hide)[..., None] & ~own_context[None, None, :]
    context = torch.where(sample_masked, torch.full_like(context, float("nan")), context)
    return visible, hide, context


def train_net(
    net: HybridNet,
    nd: NetData,
    train_items: np.ndarray,
    val_items: np.ndarray,
    mix: dict[str, float],
    *,
    max_epochs: int,
    patience: int,
    batch_size: int,
    learning_rate: float,
    seed: int,
    device: str,
    max_items_per_epoch: int | None = None,
    progress: bool = False,
) -> dict:
    """Fit ``net`` by masked regression on ``train_items``; early stopping on ``val_items``.

    Returns a history dict (train / validation loss per epoch, best epoch). The best weights
    are restored.
    """
    gen = torch.Generator().manual_seed(seed)
    rng = np.random.default_rng(seed)
    net.to(device)
    opt = torch.optim.AdamW(net.parameters(), lr=learning_rate, weight_decay=1e-4)
    own = torch.as_tensor(nd.own_context, dtype=torch.bool, device=device)
    # a fixed validation masking so epochs compare
    val_gen_seed = seed + 1
    history: dict[str, Any] = {"train": [], "val": [], "best_epoch": 0}
    if max_items_per_epoch is not None and len(val_items) > max_items_per_epoch // 4:
        val_items = rng.choice(val_items, size=max_items_per_epoch // 4, replace=False)
    best, best_state, bad = math.inf, None, 0
    for epoch in progress_bar(range(max_epochs), enabled=progress, desc="network", leave=False):
        net.train()
        order = rng.permutation(train_items)
        if max_items_per_epoch is not None:
            order = order[:max_items_per_epoch]
        total, count = 0.0, 0
        for start in range(0, len(order), batch_size):
            b = batch_tensors(nd, order[start : start + batch_size], device)
            visible, hide, context = apply_masking(b, mix, gen, own)
            if not hide.any():
                continue
            pred = _masked_prediction(net, b, visible, context)
            loss = ((pred - torch.nan_to_num(b["value"])) ** 2)[hide].mean()
            opt.zero_grad(set_to_none=True)
            loss.backward()
            nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
            total += float(loss.detach()) * int(hide.sum())
            count += int(hide.sum())
        history["train"].append(total / max(count, 1))
        val = _evaluate(net, nd, val_items, mix, batch_size, val_gen_seed, device, own)
        history["val"].append(val)
        if val < best - 1e-4:
            best, bad = val, 0
            history["best_epoch"] = epoch
            best_state = {k: v.detach().clone() for k, v in net.state_dict().items()}
        else:
            bad += 1
            if bad >= patience:
                break
    if best_state is not None:
        net.load_state_dict(best_state)
    return history


@torch.no_grad()
def _evaluate(net, nd, items, mix, batch_size, seed, device, own) -> float:
    if len(items) == 0:
        return math.nan
    net.eval()
    gen = torch.Generator().manual_seed(seed)
    total, count = 0.0, 0
    for start in range(0, len(items), batch_size):
        b = batch_tensors(nd, items[start : start + batch_size], device)
        visible, hide, context = apply_masking(b, mix, gen, own)
        pred = _masked_prediction(net, b, visible, context)
        err = ((pred - torch.nan_to_num(b["value"])) ** 2)[hide]
        total += float(err.sum())
        count += int(hide.sum())
    return total / max(count, 1)


@torch.no_grad()
def embed(net: HybridNet, nd: NetData, items: np.ndarray, batch_size: int):
    """Run ``net`` on ``items`` as they are (no extra masking), on the device the net is on.

    Returns the CNN embedding per item (or None), token embeddings ``(N, T, E)`` and token
    predictions ``(N, T)`` as numpy float32.
    """
    net.eval()
    device = next(net.parameters()).device  # the nets are kept on the CPU after fitting
    cnns, embs, preds = [], [], []
    for start in range(0, len(items), max(batch_size, 1024)):
        b = batch_tensors(nd, items[start : start + max(batch_size, 1024)], device)
        visible = ~torch.isnan(b["value"]) & ~b["pad"]
        cnn, emb, pred = net(
            b["tissue"],
            torch.nan_to_num(b["value"]),
            visible,
            b["context"],
            b["pad"],
            b["static"],
            b.get("onehot"),
            b.get("has_sequence"),
            b.get("inverse"),
        )
        if cnn is not None:
            cnns.append(cnn.cpu().numpy())
        embs.append(emb.cpu().numpy())
        preds.append(pred.cpu().numpy())
    cat = lambda xs: np.concatenate(xs) if xs else None  # noqa: E731
    return cat(cnns), cat(embs), cat(preds)


def _masked_prediction(net, b: dict, visible, context):
    """Run ``net`` on batch ``b`` with the entries outside ``visible`` masked; return its predictions."""
    _, _, pred = net(
        b["tissue"],
        torch.nan_to_num(b["value"]),
        visible,
        context,
        b["pad"],
        b["static"],
        b.get("onehot"),
        b.get("has_sequence"),
        b.get("inverse"),
    )
    return pred


def _feature_types(names: list[str]) -> list[str]:
    return ["c" if (n == "tissue" or n.endswith("_orientation")) else "q" for n in names]


def fit_xgboost(
    model: HybridImputer,
    x: np.ndarray,
    y: np.ndarray,
    base: np.ndarray,
    pattern: np.ndarray,
    val: np.ndarray,
    *,
    seed: int,
) -> tuple[Any, dict[str, Any]]:
    """Fit XGBoost on the out-of-fold design ``x`` to the residual ``y - base``.

    Rows are weighted so that each missing pattern (``pattern``: 0 genes, 1 samples,
    2 entries) carries its share of the data's missing entries (``model.mixture_``); early
    stopping on the validation rows ``val``.

    Returns
    -------
    The booster and diagnostics (``validation_mse``, ``validation_pearson``, ``n_trees``,
    ``best_iteration``, ``min_child_weight``).
    """
    import xgboost as xgb

    counts = np.bincount(pattern, minlength=3).astype(float)
    mix = model.mixture_
    shares = np.array([mix["genes"], mix["samples"], mix["entries"]])
    w_pat = np.where(counts > 0, shares / np.maximum(counts, 1), 0.0)
    w = w_pat[pattern]
    w = w / w.mean()
    # rows of one gene share its gene-level features: a leaf must hold several genes' worth of
    # rows, or trees memorise genes and stop generalising after a few rounds
    min_child_weight = max(10.0, 2.0 * len(model.tissues_))
    if val.all() or not val.any():
        val = np.zeros(len(y), dtype=bool)
        val[:: max(2, len(y) // max(1, int(0.1 * len(y))))] = True
    train = ~val
    if train.sum() > _MAX_TRAIN_ROWS:
        # bound the fitting time: a random subset of the training entries
        keep = np.random.default_rng(seed).choice(np.flatnonzero(train), _MAX_TRAIN_ROWS, replace=False)
        train = np.zeros_like(train)
        train[keep] = True
    names = model.design_names_
    kw = {"feature_names": names, "feature_types": _feature_types(names), "enable_categorical": True}
    dtrain = xgb.DMatrix(x[train], label=y[train] - base[train], weight=w[train], **kw)
    dval = xgb.DMatrix(x[val], label=y[val] - base[val], weight=w[val], **kw)
    params = {
        "tree_method": "hist",
        "max_depth": model.max_depth,
        "eta": model.xgb_learning_rate,
        "subsample": 0.8,
        "colsample_bytree": 0.7,
        "max_bin": 128,
        "min_child_weight": float(min_child_weight),
        "lambda": 5.0,
        "max_cat_to_onehot": 1,
        "seed": seed % (2**31),
        "nthread": model._threads(),
        "objective": "reg:squarederror",
    }
    booster = xgb.train(
        params,
        dtrain,
        num_boost_round=model.n_estimators,
        evals=[(dval, "validation")],
        early_stopping_rounds=_EARLY_STOPPING_ROUNDS,
        evals_result={},
        verbose_eval=False,
    )
    best = int(booster.best_iteration)
    pred = booster.predict(dval, iteration_range=(0, best + 1)) + base[val]
    diagnostics = {
        "validation_mse": float(np.mean((pred - y[val]) ** 2)),
        "validation_pearson": float(np.corrcoef(pred, y[val])[0, 1]) if val.sum() > 1 else np.nan,
        "n_trees": best + 1,
        "best_iteration": best,
        "min_child_weight": min_child_weight,
    }
    return booster, diagnostics


def booster_predict(booster: Any, x: np.ndarray, names: list[str], best_iteration: int | None) -> np.ndarray:
    """Predict the residual of the rows ``x`` (design columns ``names``) with the trees up to the best."""
    import xgboost as xgb

    d = xgb.DMatrix(x, feature_names=names, feature_types=_feature_types(names), enable_categorical=True)
    rng = (0, best_iteration + 1) if best_iteration is not None else (0, 0)
    return booster.predict(d, iteration_range=rng).astype(float)

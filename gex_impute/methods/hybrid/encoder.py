"""The tissue encoder: a masked transformer over a gene's values across the tissues of one group.

Items are (gene, group) pairs; a group is a donor (donor data) or all samples (one sample
per tissue). Tokens are tissues: the value (or a mask token) plus context (the gene's tissue
mean over the other groups). The encoder is trained K-fold over genes by hiding observed
tokens; each gene is predicted by the fold model that never saw it, and the prediction
becomes one of XGBoost's base estimates (``use_tissue_encoder=True``).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from .bases import group_means
from .masking import Layout
from .optim import AdamW

__all__ = ["TissueEncoder", "tissue_transformer"]


def _cube(values: np.ndarray, layout: Layout) -> np.ndarray:
    """``(G, T, p)`` group x tissue means; group = donor, or a single group."""
    if layout.donor is not None:
        n_g, code = layout.n_donors, layout.unit
    else:
        n_g, code = 1, layout.tissue
    cube, _ = group_means(values, code, n_g * layout.n_tissues)
    return cube.reshape(n_g, layout.n_tissues, -1)


def tissue_transformer(n_tissues: int, d_model: int, n_heads: int, n_layers: int) -> Any:
    """Build the torch module: tissue tokens through a transformer encoder, one output per token."""
    import torch
    from torch import nn

    class TissueTransformer(nn.Module):
        """Tissue tokens (embedding + value or mask + context) through a transformer encoder."""

        def __init__(self) -> None:
            super().__init__()
            self.tissue = nn.Embedding(n_tissues, d_model)
            self.value = nn.Linear(1, d_model)
            self.context = nn.Linear(2, d_model)
            self.mask = nn.Parameter(torch.zeros(d_model))
            layer = nn.TransformerEncoderLayer(
                d_model, n_heads, 2 * d_model, dropout=0.0, batch_first=True, norm_first=True
            )
            self.encoder = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
            self.out = nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, 1))

        def forward(self, v: torch.Tensor, visible: torch.Tensor, ctx: torch.Tensor) -> torch.Tensor:
            b = v.shape[0]
            h = self.tissue.weight[None].expand(b, -1, -1)
            h = h + torch.where(
                visible[..., None], self.value(v[..., None]), self.mask.expand(b, n_tissues, -1)
            )
            h = h + self.context(torch.stack([torch.nan_to_num(ctx), (~torch.isnan(ctx)).float()], -1))
            return self.out(self.encoder(h)).squeeze(-1)

    return TissueTransformer()


class TissueEncoder:
    """K-fold masked tissue transformer; :meth:`predict` gives out-of-fold estimates of entries."""

    def __init__(
        self,
        *,
        n_folds: int = 3,
        max_epochs: int = 12,
        patience: int = 2,
        d_model: int = 32,
        n_heads: int = 4,
        n_layers: int = 2,
        learning_rate: float = 3e-3,
        batch_size: int = 256,
        max_items_per_epoch: int | None = 20_000,
        mask_rate: float = 0.25,
        seed: int = 0,
    ):
        self.n_folds = n_folds
        self.max_epochs = max_epochs
        self.patience = patience
        self.d_model, self.n_heads, self.n_layers = d_model, n_heads, n_layers
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.max_items_per_epoch = max_items_per_epoch
        self.mask_rate = mask_rate
        self.seed = seed
        self.nets_: list[Any] = []
        self.fold_ = np.zeros(0, dtype=np.int64)
        self.mu_, self.sd_, self.n_tissues_ = 0.0, 1.0, 0

    @staticmethod
    def _items(cube: np.ndarray, genes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """Values ``(N, T)``, context ``(N, T)``, gene and group of the items of ``genes``."""
        n_g = cube.shape[0]
        obs = ~np.isnan(cube)
        s, c = np.where(obs, cube, 0.0).sum(0), obs.sum(0)  # (T, p)
        gi, di = np.repeat(genes, n_g), np.tile(np.arange(n_g), len(genes))
        v = cube[di, :, gi]
        own = obs[di, :, gi]
        cnt = c[:, gi].T - own
        with np.errstate(invalid="ignore", divide="ignore"):
            ctx = np.where(cnt > 0, (s[:, gi].T - np.where(own, v, 0)) / np.maximum(cnt, 1), np.nan)
        if n_g == 1:
            ctx = np.full(v.shape, np.nan)
        return v, ctx, gi, di

    def _loss(self, net: Any, v: Any, ctx: Any, gen: Any) -> Any:
        import torch

        obs = ~torch.isnan(v)
        hidden = (torch.rand(v.shape, generator=gen) < self.mask_rate) & obs
        if not hidden.any():
            return None
        pred = net(torch.nan_to_num(v), obs & ~hidden, ctx)
        return ((pred - torch.nan_to_num(v)) ** 2)[hidden].mean()

    def fit(self, values: np.ndarray, layout: Layout) -> TissueEncoder:
        """Train one network per fold of the genes with data."""
        import torch

        rng = np.random.default_rng(self.seed)
        cube = _cube(values, layout)
        _, n_t, p = cube.shape
        self.n_tissues_ = n_t
        obs = ~np.isnan(cube)
        self.mu_ = float(np.where(obs, cube, 0).sum() / max(obs.sum(), 1))
        self.sd_ = float(np.sqrt(np.where(obs, (cube - self.mu_) ** 2, 0).sum() / max(obs.sum(), 1))) or 1.0
        ref = np.flatnonzero(obs.any((0, 1)))
        self.fold_ = np.full(p, -1, dtype=np.int64)
        self.fold_[rng.permutation(ref)] = np.arange(len(ref)) % self.n_folds
        v, ctx, gi, _ = self._items(cube, ref)
        keep = (~np.isnan(v)).sum(1) >= 2
        vt = torch.as_tensor((v[keep] - self.mu_) / self.sd_, dtype=torch.float32)
        ct = torch.as_tensor((ctx[keep] - self.mu_) / self.sd_, dtype=torch.float32)
        gi = gi[keep]
        gen = torch.Generator().manual_seed(self.seed)
        self.nets_ = []
        for k in range(self.n_folds):
            torch.manual_seed(self.seed + k)
            net = tissue_transformer(n_t, self.d_model, self.n_heads, self.n_layers)
            opt = AdamW(net.parameters(), lr=self.learning_rate, weight_decay=1e-4)
            items = np.flatnonzero(self.fold_[gi] != k)
            if len(items) < 4:
                self.nets_.append(net.eval())
                continue
            val = rng.choice(items, size=max(1, min(len(items) // 10, 2000)), replace=False)
            train = np.setdiff1d(items, val)
            best, state, bad = np.inf, None, 0
            for _ in range(self.max_epochs):
                net.train()
                order = rng.permutation(train)[: self.max_items_per_epoch]
                for b in np.array_split(order, max(1, len(order) // self.batch_size)):
                    loss = self._loss(net, vt[b], ct[b], gen)
                    if loss is not None:
                        opt.zero_grad()
                        loss.backward()
                        opt.step()
                net.eval()
                with torch.no_grad():
                    vl = self._loss(net, vt[val], ct[val], torch.Generator().manual_seed(self.seed + 1))
                vl = float(vl) if vl is not None else np.inf
                if vl < best - 1e-4:
                    best, bad, state = vl, 0, {a: b.clone() for a, b in net.state_dict().items()}
                else:
                    bad += 1
                    if bad >= self.patience:
                        break
            if state is not None:
                net.load_state_dict(state)
            self.nets_.append(net.eval())
        return self

    def predict(self, values: np.ndarray, layout: Layout, rows: np.ndarray, cols: np.ndarray) -> np.ndarray:
        """Estimate the entries ``(rows, cols)`` of the (masked) matrix ``values``."""
        import torch

        cube = _cube(values, layout)
        n_g, n_t, p = cube.shape
        v, ctx, gi, di = self._items(cube, np.unique(cols))
        v, ctx = (v - self.mu_) / self.sd_, (ctx - self.mu_) / self.sd_
        out = np.full((n_g, n_t, p), np.nan, np.float32)
        folds = np.where(gi < len(self.fold_), self.fold_[np.minimum(gi, len(self.fold_) - 1)], -1)
        with torch.no_grad():
            for k in range(-1, len(self.nets_)):
                sel = np.flatnonzero(folds == k)
                nets = self.nets_ if k < 0 else [self.nets_[k]]
                for b in np.array_split(sel, max(1, len(sel) // 4096)) if len(sel) else []:
                    vb = torch.as_tensor(v[b], dtype=torch.float32)
                    cb = torch.as_tensor(ctx[b], dtype=torch.float32)
                    visible = ~torch.isnan(vb)
                    pr = np.mean([n(torch.nan_to_num(vb), visible, cb).numpy() for n in nets], 0)
                    out[di[b], :, gi[b]] = pr
        out = out * self.sd_ + self.mu_
        group = layout.donor[rows] if layout.donor is not None else np.zeros(len(rows), dtype=np.int64)
        return out[group, layout.tissue[rows], cols]

    def state(self) -> dict[str, Any]:
        """Tensors of the fold networks, keyed ``"<fold>.<name>"`` (for ``nets.pt``)."""
        return {f"{k}.{name}": t for k, net in enumerate(self.nets_) for name, t in net.state_dict().items()}

    def load_state(self, state: dict[str, Any], n_nets: int, n_tissues: int) -> None:
        """Rebuild the fold networks from :meth:`state`'s tensors (shapes checked by torch)."""
        self.n_tissues_ = n_tissues
        self.nets_ = []
        for k in range(n_nets):
            net = tissue_transformer(n_tissues, self.d_model, self.n_heads, self.n_layers)
            prefix = f"{k}."
            net.load_state_dict({n[len(prefix) :]: t for n, t in state.items() if n.startswith(prefix)})
            self.nets_.append(net.eval())

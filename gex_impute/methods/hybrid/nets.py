"""torch modules of the hybrid model: promoter CNN and tissue transformer, and their inputs.

Imported lazily by :mod:`gex_impute.methods.hybrid` (this module imports torch at top level);
the training loop is in :mod:`gex_impute.methods.hybrid.training`.

The network sees one *item* per (gene, donor) -- or per gene when donors are unknown -- as a
sequence of tokens, one per sample of that donor (tissue). A token is the sum of a tissue
embedding, the gene's value there (or a learned mask vector), a projection of per-token context
features (neighbours' values in that sample, same-tissue means over other donors) and the gene
context (CNN embedding of the promoter + static gene features). Self-attention mixes the tokens;
each token ends in a small embedding and a regression head on the log scale.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import numpy as np
import torch
from torch import nn

logger = logging.getLogger("gex_impute")

__all__ = ["HybridNet", "NetData", "PromoterCNN", "TissueTransformer", "batch_tensors"]


class PromoterCNN(nn.Module):
    """Convolutions over a one-hot promoter ``(batch, 4, length)`` -> gene embedding.

    Works for any length (global max and mean pooling). Genes without a sequence (an all-zero
    input, flagged by ``has_sequence``) get a learned "missing" embedding instead.

    Parameters
    ----------
    channels
        Convolution channels.
    embedding_dim
        Output size.
    """

    def __init__(self, channels: int = 32, embedding_dim: int = 8):
        super().__init__()
        self.conv1 = nn.Conv1d(4, channels, kernel_size=9, padding=4)
        self.conv2 = nn.Conv1d(channels, channels, kernel_size=5, padding=2)
        self.pool = nn.MaxPool1d(2, ceil_mode=True)
        self.out = nn.Linear(2 * channels, embedding_dim)
        self.missing = nn.Parameter(torch.zeros(embedding_dim))

    def forward(self, onehot: torch.Tensor, has_sequence: torch.Tensor) -> torch.Tensor:
        """Embed ``onehot`` ``(batch, 4, length)``; rows without sequence get the missing vector."""
        h = torch.relu(self.conv1(onehot))
        if h.shape[-1] > 1:
            h = self.pool(h)
        h = torch.relu(self.conv2(h))
        pooled = torch.cat([h.amax(dim=-1), h.mean(dim=-1)], dim=-1)
        emb = self.out(pooled)
        return torch.where(has_sequence[:, None], emb, self.missing.expand_as(emb))


class TissueTransformer(nn.Module):
    """Self-attention over the tissue tokens of one (gene, donor) item.

    Parameters
    ----------
    n_tissues
        Number of tissue categories.
    n_token_features
        Per-token context features (besides the value).
    d_model, n_heads, n_layers
        Width, heads and layers; ``n_layers=0`` gives a per-token MLP without attention.
    embedding_dim
        Size of the per-token output embedding.
    """

    def __init__(
        self, n_tissues: int, n_token_features: int, *, d_model=32, n_heads=4, n_layers=2, embedding_dim=8
    ):
        super().__init__()
        self.tissue = nn.Embedding(n_tissues, d_model)
        self.value = nn.Linear(1, d_model)
        self.mask = nn.Parameter(torch.zeros(d_model))
        self.context = nn.Linear(2 * n_token_features, d_model)
        self.n_layers = n_layers
        if n_layers > 0:
            layer = nn.TransformerEncoderLayer(
                d_model, n_heads, dim_feedforward=2 * d_model, dropout=0.0, batch_first=True, norm_first=True
            )
            self.encoder: nn.Module = nn.TransformerEncoder(layer, n_layers, enable_nested_tensor=False)
        else:
            self.encoder = nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, d_model), nn.GELU())
        self.embed = nn.Sequential(nn.LayerNorm(d_model), nn.Linear(d_model, embedding_dim))
        self.head = nn.Sequential(nn.GELU(), nn.Linear(embedding_dim, 1))

    def forward(self, tissue, value, visible, context, pad, gene_context):
        """Return per-token embeddings ``(B, T, E)`` and predictions ``(B, T)``."""
        h = self.tissue(tissue)
        v = self.value(value[..., None])
        h = h + torch.where(visible[..., None], v, self.mask.expand_as(v))
        ctx_ok = ~torch.isnan(context)
        h = h + self.context(torch.cat([torch.nan_to_num(context), ctx_ok.float()], dim=-1))
        h = h + gene_context[:, None, :]
        if self.n_layers > 0:
            h = self.encoder(h, src_key_padding_mask=pad)
        else:
            h = self.encoder(h)
        emb = self.embed(h)
        return emb, self.head(emb).squeeze(-1)


class HybridNet(nn.Module):
    """Promoter CNN and tissue transformer trained together by masked regression."""

    def __init__(
        self,
        n_tissues: int,
        n_token_features: int,
        n_static: int,
        *,
        use_sequence: bool,
        use_attention: bool,
        d_model: int = 32,
        n_heads: int = 4,
        n_layers: int = 2,
        embedding_dim: int = 8,
        cnn_channels: int = 32,
    ):
        super().__init__()
        self.use_sequence = use_sequence
        self.cnn = PromoterCNN(cnn_channels, embedding_dim) if use_sequence else None
        n_in = (embedding_dim if use_sequence else 0) + 2 * n_static
        self.gene = nn.Linear(max(n_in, 1), d_model)
        self.transformer = TissueTransformer(
            n_tissues,
            n_token_features,
            d_model=d_model,
            n_heads=n_heads,
            n_layers=n_layers if use_attention else 0,
            embedding_dim=embedding_dim,
        )

    def gene_embedding(self, onehot, has_sequence):
        """CNN embedding of each gene's promoter (None without sequence)."""
        return self.cnn(onehot, has_sequence) if self.cnn is not None else None

    def forward(
        self, tissue, value, visible, context, pad, static, onehot=None, has_sequence=None, inverse=None
    ):
        """Return (cnn embedding | None, token embeddings, token predictions).

        ``onehot`` / ``has_sequence`` hold the batch's distinct genes; ``inverse`` maps each item
        to its gene there (the CNN runs once per gene, not once per item).
        """
        parts = []
        cnn = None
        if self.cnn is not None:
            cnn = self.cnn(onehot, has_sequence)
            if inverse is not None:
                cnn = cnn[inverse]
            parts.append(cnn)
        parts += [torch.nan_to_num(static), (~torch.isnan(static)).float()]
        g = torch.cat(parts, dim=-1) if parts else torch.zeros(tissue.shape[0], 1, device=tissue.device)
        if g.shape[-1] == 0:
            g = torch.zeros(tissue.shape[0], 1, device=tissue.device)
        emb, pred = self.transformer(tissue, value, visible, context, pad, self.gene(g))
        return cnn, emb, pred


@dataclass
class NetData:
    """Items (gene, donor) x tokens (samples), standardised, as numpy arrays."""

    gene: np.ndarray  # (N,) gene index of each item
    samples: np.ndarray  # (N, T) sample index of each token, -1 padding
    tissue: np.ndarray  # (N, T) tissue code (0 on padding)
    value: np.ndarray  # (N, T) standardised value, NaN missing
    context: np.ndarray  # (N, T, F) standardised token context, NaN missing
    own_context: np.ndarray  # (F,) bool: context columns that read the gene's own values
    static: np.ndarray  # (G, S) standardised static gene features
    onehot: np.ndarray | None  # (G, 4, L)
    has_sequence: np.ndarray  # (G,) bool


def batch_tensors(nd: NetData, items: np.ndarray, device: str | torch.device) -> dict[str, torch.Tensor]:
    """Tensors of the network inputs for ``items`` on ``device``; the CNN inputs once per distinct gene."""
    t = lambda a, dt=torch.float32: torch.as_tensor(a, dtype=dt, device=device)  # noqa: E731
    genes = nd.gene[items]
    out = {
        "tissue": t(nd.tissue[items], torch.long),
        "value": t(nd.value[items]),
        "context": t(nd.context[items]),
        "pad": t(nd.samples[items] < 0, torch.bool),
        "static": t(nd.static[genes]),
    }
    if nd.onehot is not None:
        uniq, inverse = np.unique(genes, return_inverse=True)
        out["onehot"] = t(nd.onehot[uniq])
        out["has_sequence"] = t(nd.has_sequence[uniq], torch.bool)
        out["inverse"] = t(inverse, torch.long)
    return out

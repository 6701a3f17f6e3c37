"""Gene-level parts for whole missing genes: static gene features and the promoter CNN.

A gene with no value anywhere can only be described by what needs no expression: its
promoter sequence (read by a small CNN, :func:`promoter_cnn_profiles`, and by composition
features), its gene body, and the layout of TSSs around it (:func:`static_gene_features`,
with :func:`~gex_impute.genome.layout.tss_layout_features`).
Genes without coordinates or sequence get NaN in those columns (XGBoost routes them).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from ...genome.layout import chromosome_groups, placed_tss, tss_density, tss_layout_features
from .optim import AdamW
from .sequence import composition, one_hot_batch

__all__ = [
    "WINDOWS",
    "promoter_cnn_profiles",
    "static_gene_features",
    "tss_key",
    "window_means",
]

#: half-widths (bp) of the TSS windows whose observed genes describe a hidden gene
WINDOWS = (10_000, 100_000, 1_000_000)


def _numeric(var: pd.DataFrame, key: str) -> np.ndarray:
    return pd.to_numeric(var[key], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)


#: bases from the TSS on that the promoter CNN reads when ``var['promoter_tss']`` places the TSS
#: (the rest of its ``max_length`` upstream: 250 + 50, the proximal and core promoter)
TSS_DOWNSTREAM = 50


def _sequences(var: pd.DataFrame) -> list[str]:
    return [s if isinstance(s, str) else "" for s in var["promoter"].tolist()]


def _around_tss(var: pd.DataFrame, seqs: list[str], length: int) -> list[str]:
    """``seqs`` cut to ``length`` bases ending :data:`TSS_DOWNSTREAM` past the TSS, N-padded.

    Only where ``var['promoter_tss']`` gives the TSS's position in the sequence (written by
    :func:`gex_impute.pp.add_promoters` from a FASTA and by the simulator); other sequences are
    returned as they are (cropped centred later). Validation simulations (seeds 100 / 101,
    1,500-bp promoters with the TSS at 1,000): the CNN's out-of-fold gene-level r 0.073 / 0.025
    on the centred 300 bases (TSS-400..-100), 0.178 / 0.074 at TSS-150..+150, 0.213 / 0.122 at
    TSS-250..+50, 0.213 / 0.117 at TSS-200..+100.
    """
    if "promoter_tss" not in var.columns:
        return seqs
    at = pd.to_numeric(var["promoter_tss"], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
    up = length - TSS_DOWNSTREAM
    out = list(seqs)
    for i in np.flatnonzero(np.isfinite(at) & (at >= 0)):
        seq, t = seqs[i], int(at[i])
        if t >= len(seq):
            continue
        lo, hi = t - up, t + TSS_DOWNSTREAM
        out[i] = "N" * max(0, -lo) + seq[max(lo, 0) : hi] + "N" * max(0, hi - len(seq))
    return out


def static_gene_features(var: pd.DataFrame, *, use_sequence: bool = True) -> tuple[np.ndarray, list[str]]:
    """Per-gene features that need no expression.

    Promoter GC fraction and CpG observed/expected (``promoter`` column, when
    ``use_sequence``), log10 gene length (``start`` / ``end``), TSS density within 50 kb and
    1 Mb, log10 distance to the nearest other TSS, a chromosome code and the strand-aware TSS
    layout of :func:`~gex_impute.genome.layout.tss_layout_features` (``chrom`` / ``tss``,
    ``strand``). The layout columns were chosen on validation splits (GTEx P1 with the
    evaluation test genes removed, seeds 100 / 101, mean of 6 model seeds, together with the
    up/downstream neighbour columns of the whole-gene features): r with a TSS table only
    0.309 / 0.330 -> 0.317 / 0.333; full annotation 0.484 / 0.495 -> 0.481 / 0.493.

    Returns
    -------
    ``(p, F)`` float32 features (NaN where a gene lacks the annotation) and their names.

    Examples
    --------
    >>> from gex_impute.methods.hybrid.genes import static_gene_features
    >>> import pandas as pd
    >>> var = pd.DataFrame({"chrom": ["1", "1", None], "tss": [100, 20_100, None]})
    >>> x, names = static_gene_features(var)
    >>> names[:4]
    ['tss_density_50kb', 'tss_density_1mb', 'log10_nearest_tss', 'chrom_code']
    >>> x[:, 0].tolist()
    [1.0, 1.0, nan]
    """
    p = len(var)
    cols: list[np.ndarray] = []
    names: list[str] = []
    if use_sequence and "promoter" in var.columns:
        comp = composition(_sequences(var))
        has = np.array([len(s) > 0 for s in _sequences(var)])
        cols += [np.where(has, comp[:, 0], np.nan), np.where(has, comp[:, 1], np.nan)]
        names += ["promoter_gc", "promoter_cpg_oe"]
    if "start" in var.columns and "end" in var.columns:
        length = _numeric(var, "end") - _numeric(var, "start")
        with np.errstate(invalid="ignore", divide="ignore"):
            cols.append(np.where(length > 1, np.log10(np.where(length > 1, length, 10.0)), np.nan))
        names.append("log10_gene_length")
    if "chrom" in var.columns and "tss" in var.columns:
        tss, chrom, placed = placed_tss(var)
        dens50, dens1m, nearest = (np.full(p, np.nan) for _ in range(3))
        for idx, x, pos in chromosome_groups(tss, chrom, placed):
            dens50[idx] = tss_density(pos, x, 50_000)
            dens1m[idx] = tss_density(pos, x, 1_000_000)
            i = np.searchsorted(pos, x, "left")
            left = np.where(i > 0, x - pos[np.maximum(i - 1, 0)], np.inf)
            j = np.searchsorted(pos, x, "right")
            right = np.where(j < len(pos), pos[np.minimum(j, len(pos) - 1)] - x, np.inf)
            nn = np.minimum(left, right)
            nearest[idx] = np.log10(1 + np.where(np.isfinite(nn), nn, 1e7))
        codes = pd.Categorical(np.where(placed, chrom, None)).codes.astype(float)
        cols += [dens50, dens1m, nearest, np.where(codes >= 0, codes, np.nan)]
        names += ["tss_density_50kb", "tss_density_1mb", "log10_nearest_tss", "chrom_code"]
        lay, lay_names = tss_layout_features(var)
        cols += list(lay.T.astype(np.float64))
        names += lay_names
    if not cols:
        return np.zeros((p, 0), np.float32), []
    return np.column_stack(cols).astype(np.float32), names


def tss_key(var: pd.DataFrame) -> np.ndarray | None:
    """One sortable genome position per gene: chromosome code x 1e10 + TSS (NaN where unplaced).

    Windows of less than 1e10 bp around a key never reach another chromosome. None when
    ``var`` lacks ``chrom`` or ``tss``.

    Examples
    --------
    >>> import pandas as pd
    >>> from gex_impute.methods.hybrid.genes import tss_key
    >>> var = pd.DataFrame({"chrom": ["2", "1", None], "tss": [5, 7, 1]})
    >>> tss_key(var).tolist()
    [5.0, 10000000007.0, nan]
    """
    if "chrom" not in var.columns or "tss" not in var.columns:
        return None
    tss, chrom, placed = placed_tss(var)
    codes, _ = pd.factorize(np.where(placed, chrom, None))
    return np.where(placed & (codes >= 0), codes * 1e10 + tss, np.nan)


def window_means(
    key: np.ndarray, q: np.ndarray, targets: np.ndarray, half: float
) -> tuple[np.ndarray, np.ndarray]:
    """Mean of ``q`` over the other genes whose TSS lies within ``half`` bp of each target's.

    Parameters
    ----------
    key
        ``(p,)`` :func:`tss_key` of every gene.
    q
        ``(m, p)`` values per gene (NaN: not counted, e.g. genes without data).
    targets
        Gene indices to describe (a target never counts itself).
    half
        Half-width of the window (bp).

    Returns
    -------
    ``(m, len(targets))`` means (NaN where the window holds no value, or the target is
    unplaced) and ``(len(targets),)`` counts of genes with a value in the first row of ``q``.

    Examples
    --------
    >>> import numpy as np
    >>> from gex_impute.methods.hybrid.genes import window_means
    >>> key = np.array([0.0, 100.0, 250.0, np.nan])
    >>> q = np.array([[1.0, 3.0, 5.0, 7.0]])
    >>> mean, n = window_means(key, q, np.array([0, 1, 3]), 150)
    >>> mean.tolist(), n.tolist()
    ([[3.0, 3.0, nan]], [1.0, 2.0, 0.0])
    """
    placed = np.isfinite(key)
    order = np.flatnonzero(placed)
    order = order[np.argsort(key[order], kind="stable")]
    pos = key[order]
    qo = q[:, order]
    ok = ~np.isnan(qo)
    zero = np.zeros((q.shape[0], 1))
    cs = np.concatenate([zero, np.cumsum(np.where(ok, qo, 0.0), axis=1)], axis=1)
    cc = np.concatenate([zero, np.cumsum(ok, axis=1, dtype=np.float64)], axis=1)
    x = key[targets]
    xs = np.where(np.isfinite(x), x, 0.0)
    lo = np.searchsorted(pos, xs - half, "left")
    hi = np.searchsorted(pos, xs + half, "right")
    total = cs[:, hi] - cs[:, lo]
    count = cc[:, hi] - cc[:, lo]
    own = q[:, targets]
    own_ok = ~np.isnan(own) & np.isfinite(x)[None, :]
    total -= np.where(own_ok, own, 0.0)
    count -= own_ok
    count[:, ~np.isfinite(x)] = 0
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return mean, count[0]


def _max_pool2(h: Any) -> Any:
    """``nn.MaxPool1d(2, ceil_mode=True)`` by a reshape and ``max`` over pairs (the same values, faster).

    An odd last position is paired with itself. ``max``'s gradient goes to each pair's maximum
    as max pooling's does (identical CNN profiles, bitwise, on the simulator; 1.4x faster
    forward + backward on CPU).
    """
    import torch

    if h.shape[-1] % 2:
        h = torch.cat([h, h[..., -1:]], -1)
    return h.unflatten(-1, (h.shape[-1] // 2, 2)).max(-1).values


def _cnn(n_tissues: int, channels: int, embedding_dim: int) -> Any:
    import torch
    from torch import nn

    class PromoterCNN(nn.Module):
        """Two convolutions, max + mean pooling, an embedding and one output per tissue."""

        def __init__(self) -> None:
            super().__init__()
            self.conv1 = nn.Conv1d(4, channels, 9, padding=4)
            self.conv2 = nn.Conv1d(channels, channels, 5, padding=2)
            self.embed = nn.Linear(2 * channels, embedding_dim)
            self.head = nn.Linear(embedding_dim, n_tissues)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            h = self.conv1(x)
            # relu(max(a, b)) == max(relu(a), relu(b)), values and gradients: relu on half the positions
            h = torch.relu(_max_pool2(h) if h.shape[-1] > 1 else h)
            h = torch.relu(self.conv2(h))
            e = self.embed(torch.cat([h.amax(-1), h.mean(-1)], -1))
            return self.head(torch.relu(e))

    return PromoterCNN()


def promoter_cnn_profiles(
    var: pd.DataFrame,
    targets: np.ndarray,
    *,
    n_folds: int = 3,
    max_epochs: int = 8,
    patience: int = 3,
    channels: int = 16,
    embedding_dim: int = 8,
    learning_rate: float = 3e-3,
    batch_size: int = 256,
    max_length: int = 300,
    validation_fraction: float = 0.1,
    seed: int = 0,
    device: str = "cpu",
) -> np.ndarray | None:
    """Out-of-fold promoter-CNN predictions of each gene's tissue profile.

    A small CNN reads the promoter (``var['promoter']``: ``max_length`` bases up to
    :data:`TSS_DOWNSTREAM` past the TSS where ``var['promoter_tss']`` places it, else the
    sequence centred, at most ``max_length`` bases) and predicts the gene's mean in every
    tissue (multi-task). It is trained K-fold over the genes with data; each such gene is
    predicted by the fold model that never saw it, genes without data by the mean of the fold
    models.

    Parameters
    ----------
    var
        Gene table with a ``promoter`` column.
    targets
        ``(p, T)`` gene x tissue means (NaN for genes without data).
    max_length
        Bases read around the TSS (see above); longer promoters without a known TSS are
        cropped to their centred ``max_length`` bases. 300 (was 600) was
        chosen on validation simulations (50 donors x 20 tissues x 2,000 genes, 1,500-bp
        promoters read centred then, seeds 100 / 101; whole-gene r 0.401 / 0.376 at 600, 0.406 /
        0.376 at 300, 0.384 / 0.394 at 400) and halves the CNN's time; promoters of at most 300 bases (GTEx's
        EPD core promoters: 60) are read whole either way.
    validation_fraction
        Share of each fold's training genes held out for early stopping.
    device
        Torch device of the network (``"cpu"``, ``"cuda"``, ...).

    Returns
    -------
    ``(p, T)`` predictions (NaN for genes without a sequence), or None when fewer than 50
    genes have both a sequence and data.
    """
    import torch

    if "promoter" not in var.columns:
        return None
    seqs = _sequences(var)
    has = np.array([len(s) > 0 for s in seqs])
    ref = np.flatnonzero(has & ~np.isnan(targets).all(1))
    if len(ref) < 50:
        return None
    onehot = one_hot_batch(_around_tss(var, seqs, max_length), align="center")
    if onehot.shape[-1] > max_length:
        start = (onehot.shape[-1] - max_length) // 2
        onehot = onehot[..., start : start + max_length]
    p, n_t = targets.shape
    with np.errstate(invalid="ignore"):
        mu = np.where(np.isnan(targets[ref]), 0.0, targets[ref]).sum(0) / np.maximum(
            (~np.isnan(targets[ref])).sum(0), 1
        )
    sd = float(np.nanstd(targets[ref])) or 1.0
    y = torch.as_tensor(((targets - mu) / sd).astype(np.float32)).to(device)
    x = torch.as_tensor(np.ascontiguousarray(onehot)).to(device)
    rng = np.random.default_rng(seed)
    fold = np.full(p, -1)
    fold[rng.permutation(ref)] = np.arange(len(ref)) % n_folds
    pred = np.full((p, n_t), np.nan, np.float32)
    mean_pred = np.zeros((p, n_t), np.float32)

    def loss_of(net: Any, items: np.ndarray) -> Any:
        out, yb = net(x[items]), y[items]
        ok = ~torch.isnan(yb)
        return ((out - torch.nan_to_num(yb)) ** 2)[ok].mean()

    torch.manual_seed(seed)
    for k in range(n_folds):
        train = ref[fold[ref] != k]
        val = rng.choice(train, size=max(1, int(validation_fraction * len(train))), replace=False)
        train = np.setdiff1d(train, val)
        net = _cnn(n_t, channels, embedding_dim).to(device)
        opt = AdamW(net.parameters(), lr=learning_rate, weight_decay=1e-4)
        best, best_state, bad = np.inf, None, 0
        for _ in range(max_epochs):
            net.train()
            for batch in np.array_split(rng.permutation(train), max(1, len(train) // batch_size)):
                loss = loss_of(net, batch)
                opt.zero_grad()
                loss.backward()
                opt.step()
            net.eval()
            with torch.no_grad():
                val_loss = float(loss_of(net, val))
            if val_loss < best - 1e-4:
                best, bad = val_loss, 0
                best_state = {a: b.clone() for a, b in net.state_dict().items()}
            else:
                bad += 1
                if bad >= patience:
                    break
        if best_state is not None:
            net.load_state_dict(best_state)
        net.eval()
        # only the fold's genes and those no fold holds (with a sequence) are read from this model
        want = np.flatnonzero((fold == k) | ((fold < 0) & has))
        with torch.no_grad():
            out = np.concatenate(
                [net(x[b]).cpu().numpy() for b in np.array_split(want, max(1, len(want) // 2048))]
            )
        mine = fold[want] == k
        pred[want[mine]] = out[mine]
        mean_pred[want] += out / n_folds
    rest = fold < 0
    pred[rest] = mean_pred[rest]
    pred[~has] = np.nan
    return pred * sd + mu

"""The hybrid imputer: promoter CNN + tissue transformer + XGBoost over genomic context.

The model fills an entry (sample ``s``, gene ``g``) of a samples x genes matrix from

* the gene's promoter sequence (:class:`~gex_impute.methods._nets.PromoterCNN` embedding and
  composition features),
* the gene's observed values in the other tissues / samples of the same donor, read by a
  self-attention encoder over tissue tokens (:class:`~gex_impute.methods._nets.TissueTransformer`),
* its genomic neighbours' values in the same sample, their distances, orientations and
  nesting (:func:`gex_impute.genome.genomic_neighbours`),
* gene- and tissue-level summaries (gene mean, same-tissue mean over other donors, the mean over
  the donors most similar to this one),

combined by an XGBoost regressor. Everything is trained by self-supervised masking of observed
entries of the reference genes (genes with data) that mimics the missing pattern found in the
data: whole genes, whole samples and scattered entries. The networks are fitted K-fold over
the reference genes and only embed the fold they did not see, so XGBoost never learns from
embeddings fitted to its own rows.

torch and xgboost are imported lazily inside the methods.
"""

from __future__ import annotations

import json
import logging
import os
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from .._data import ExpressionData
from .._utils import derive_seeds
from ._base import BaseImputer, register

if TYPE_CHECKING:
    pass

logger = logging.getLogger("gex_impute")

__all__ = ["HybridImputer", "missing_patterns"]

_FORMAT_VERSION = 1
MCW = None
_MAX_TRAIN_ROWS = 250_000
_N_NEIGHBOUR_DETAIL = 4  # nearest neighbours described one by one; the rest enter as summaries


def _package_version() -> str:
    from importlib.metadata import PackageNotFoundError, version

    try:
        return version("gex_impute")
    except PackageNotFoundError:  # pragma: no cover - source tree that is not installed
        return "0.0.0+unknown"


# ---------------------------------------------------------------------------------------------
# missing patterns and masking
# ---------------------------------------------------------------------------------------------
def missing_patterns(observed: np.ndarray) -> dict[str, float]:
    """Share of the missing entries that belong to each pattern.

    Parameters
    ----------
    observed
        Boolean ``(n_samples, n_genes)`` mask of observed entries.

    Returns
    -------
    ``{"genes": ..., "samples": ..., "entries": ...}``: fraction of missing entries in genes
    missing in every sample, in samples missing for every gene, and scattered elsewhere. All zero
    when nothing is missing.

    Examples
    --------
    >>> import numpy as np
    >>> from gex_impute.methods.hybrid import missing_patterns
    >>> obs = np.ones((4, 5), bool)
    >>> obs[:, 0] = False
    >>> missing_patterns(obs)["genes"]
    1.0
    """
    missing = ~observed
    n = missing.sum()
    if n == 0:
        return {"genes": 0.0, "samples": 0.0, "entries": 0.0}
    whole_gene = missing.all(axis=0)
    whole_sample = missing.all(axis=1)
    genes = missing[:, whole_gene].sum()
    samples = missing[np.ix_(whole_sample, ~whole_gene)].sum()
    entries = n - genes - samples
    return {"genes": float(genes / n), "samples": float(samples / n), "entries": float(entries / n)}


def _mixture(observed: np.ndarray) -> dict[str, float]:
    """Masking mixture for training: the data's own pattern shares, each kept above a small floor."""
    shares = missing_patterns(observed)
    if sum(shares.values()) == 0:
        shares = {"genes": 1 / 3, "samples": 1 / 3, "entries": 1 / 3}
    floor = 0.05
    mix = {k: max(v, floor) for k, v in shares.items()}
    if observed.shape[0] < 3:
        mix["samples"] = 0.0
    total = sum(mix.values())
    return {k: v / total for k, v in mix.items()}


@dataclass
class _Masking:
    """One masking round: the masked matrix and the masked entries to learn from."""

    values: np.ndarray  # masked copy of the data
    rows: np.ndarray  # sample index of each training entry
    cols: np.ndarray  # gene index of each training entry
    pattern: np.ndarray  # 0 genes, 1 samples, 2 entries
    target: np.ndarray


def _make_masking(
    values: np.ndarray,
    fold_genes: np.ndarray,
    mix: dict[str, float],
    rng: np.random.Generator,
    entry_rate: float = 0.2,
) -> _Masking:
    """Mask the reference genes ``fold_genes`` according to the pattern mixture ``mix``."""
    observed = ~np.isnan(values)
    n_samples = values.shape[0]
    masked = values.copy()
    mask = np.zeros(values.shape, dtype=bool)
    pattern = np.full(values.shape, -1, dtype=np.int8)
    genes = rng.permutation(fold_genes)
    n_whole = int(round(mix["genes"] * len(genes)))
    whole, rest = genes[:n_whole], genes[n_whole:]
    mask[:, whole] = True
    pattern[:, whole] = 0
    if mix["samples"] > 0 and len(rest):
        # whole samples: all genes are hidden in those samples (as in a missing profile), the
        # fold's genes there become training entries
        n_s = max(1, int(round(0.15 * n_samples)))
        samples = rng.choice(n_samples, size=min(n_s, n_samples - 1), replace=False)
        share = mix["samples"] / max(mix["samples"] + mix["entries"], 1e-12)
        take = rest[rng.random(len(rest)) < share] if mix["entries"] > 0 else rest
        if mix["samples"] >= 0.25:
            # a real pattern of the data: the profile is missing for every gene (neighbours too)
            masked[samples, :] = np.nan
        else:
            # a minor share kept for robustness: hide it for the chosen genes only, so the
            # other genes' features keep the data's own missingness
            masked[np.ix_(samples, take)] = np.nan
        sub = np.zeros(values.shape, dtype=bool)
        sub[np.ix_(samples, take)] = True
        mask |= sub
        pattern[sub & (pattern < 0)] = 1
    if mix["entries"] > 0 and len(rest):
        rate = entry_rate
        sub = np.zeros(values.shape, dtype=bool)
        sub[:, rest] = rng.random((n_samples, len(rest))) < rate
        sub &= ~mask
        mask |= sub
        pattern[sub] = 2
    mask &= observed
    masked[mask] = np.nan
    rows, cols = np.nonzero(mask)
    return _Masking(masked, rows, cols, pattern[rows, cols], values[rows, cols])


# ---------------------------------------------------------------------------------------------
# context features (pure numpy)
# ---------------------------------------------------------------------------------------------
def _static_gene_features(var: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
    """Per-gene features that do not depend on expression: promoter composition, gene length."""
    from ..sequence import composition

    n = len(var)
    cols: list[np.ndarray] = []
    names: list[str] = []
    if "promoter" in var.columns:
        seqs = [s if isinstance(s, str) else "" for s in var["promoter"].tolist()]
        comp = composition(seqs)
        cols += [comp[:, 0], comp[:, 1], (comp[:, 2] > 0).astype(float)]
        names += ["promoter_gc", "promoter_cpg_oe", "has_promoter"]
    if "n_promoters" in var.columns:
        cols.append(pd.to_numeric(var["n_promoters"], errors="coerce").to_numpy(dtype=float))
        names.append("n_promoters")
    if "start" in var.columns and "end" in var.columns:
        length = pd.to_numeric(var["end"], errors="coerce") - pd.to_numeric(var["start"], errors="coerce")
        length = length.to_numpy(dtype=float)
        cols.append(np.log10(np.where(length > 0, length, np.nan)))
        names.append("log10_gene_length")
    if not cols:
        return np.zeros((n, 0)), []
    return np.column_stack(cols), names


def _has_coordinates(var: pd.DataFrame) -> bool:
    return all(c in var.columns for c in ("chrom", "tss", "strand"))


def _neighbours(var: pd.DataFrame, reference: np.ndarray, k: int, window: int):
    from .. import genome

    return genome.genomic_neighbours(var, reference=reference, k=k, window=window)


class _Groups:
    """Samples grouped by donor (one group when donors are unknown), with tissue codes."""

    def __init__(self, tissue_codes: np.ndarray, donor_codes: np.ndarray | None, n_tissues: int):
        self.tissue = np.asarray(tissue_codes, dtype=np.int64)
        n = len(self.tissue)
        self.group = np.zeros(n, np.int64) if donor_codes is None else np.asarray(donor_codes, np.int64)
        self.has_donor = donor_codes is not None
        self.n_tissues = n_tissues
        self.n_groups = int(self.group.max()) + 1 if n else 0
        self.members = [np.flatnonzero(self.group == d) for d in range(self.n_groups)]


def _group_tissue_sums(values: np.ndarray, groups: _Groups) -> tuple[np.ndarray, np.ndarray]:
    """Sum and count of observed values per (group, tissue, gene)."""
    obs = ~np.isnan(values)
    x = np.where(obs, values, 0.0)
    shape = (groups.n_groups, groups.n_tissues, values.shape[1])
    s = np.zeros(shape)
    c = np.zeros(shape)
    np.add.at(s, (groups.group, groups.tissue), x)
    np.add.at(c, (groups.group, groups.tissue), obs)
    return s, c


def _donor_similarity(values: np.ndarray, groups: _Groups, tissue_mean: np.ndarray) -> np.ndarray:
    """Donor x donor similarity: mean correlation of residual profiles over shared tissues."""
    s, c = _group_tissue_sums(values, groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        prof = s / c  # (D, T, G)
    resid = prof - tissue_mean[None]
    n_d = groups.n_groups
    sim_sum = np.zeros((n_d, n_d))
    sim_n = np.zeros((n_d, n_d))
    for t in range(groups.n_tissues):
        r = resid[:, t, :]
        ok = ~np.isnan(r)
        for a in range(n_d):
            for b in range(a + 1, n_d):
                both = ok[a] & ok[b]
                if both.sum() < 10:
                    continue
                ra, rb = r[a, both], r[b, both]
                sa, sb = ra.std(), rb.std()
                if sa == 0 or sb == 0:
                    continue
                cc = float(np.mean((ra - ra.mean()) * (rb - rb.mean())) / (sa * sb))
                sim_sum[a, b] += cc
                sim_sum[b, a] += cc
                sim_n[a, b] += 1
                sim_n[b, a] += 1
    with np.errstate(invalid="ignore", divide="ignore"):
        sim = np.where(sim_n > 0, sim_sum / sim_n, np.nan)
    np.fill_diagonal(sim, np.nan)
    return sim


def _low_rank(values: np.ndarray, *, rank: int | None = None, n_iter: int = 25) -> np.ndarray:
    """Reconstruct ``values`` by iterative rank-``rank`` SVD of ``values`` (NaN for genes never observed).

    Missing entries start at the gene's mean and are replaced by the reconstruction at every
    step; observed entries stay fixed.
    """
    obs = ~np.isnan(values)
    n_s, n_g = values.shape
    cols = obs.any(axis=0)
    out = np.full(values.shape, np.nan)
    if n_s < 3 or cols.sum() < 3:
        return out
    x = values[:, cols]
    o = obs[:, cols]
    with np.errstate(invalid="ignore"):
        mu = np.nanmean(x, axis=0)
    z = np.where(o, x, mu)
    r = rank or max(1, min(10, n_s // 4))
    r = min(r, n_s - 1)
    for _ in range(n_iter):
        # top-r left singular vectors from the small samples x samples Gram matrix
        row_mean = z.mean(axis=1, keepdims=True)
        zc = z - row_mean
        _, vecs = np.linalg.eigh(zc @ zc.T)
        u = vecs[:, -r:]
        recon = u @ (u.T @ zc) + row_mean
        z = np.where(o, x, recon)
    out[:, cols] = recon
    return out


def _gene_knn(filled: np.ndarray, query: np.ndarray, k: int = 20, chunk: int = 1024) -> np.ndarray:
    """Find the ``k`` genes closest to each ``query`` gene in expression profile (Euclidean).

    ``filled`` is a complete samples x genes matrix (NaN columns = genes never observed, never
    neighbours nor answered). With many samples the profiles are first reduced to 32 principal
    components. Returns ``(n_genes, k)`` gene indices, -1 for genes not queried or without data.
    """
    n_s, n_g = filled.shape
    out = np.full((n_g, k), -1, dtype=np.int64)
    ok = ~np.isnan(filled).any(axis=0)
    cand = np.flatnonzero(ok)
    query = query[ok[query]]
    if len(cand) <= 1 or len(query) == 0:
        return out
    z = filled[:, cand]
    if n_s > 32:
        zc = z - z.mean(axis=1, keepdims=True)
        _, vecs = np.linalg.eigh(zc @ zc.T)
        z = vecs[:, -32:].T @ zc
    z = z.astype(np.float32)
    sq = (z**2).sum(axis=0)
    pos = np.full(n_g, -1)
    pos[cand] = np.arange(len(cand))
    kk = min(k, len(cand) - 1)
    for start in range(0, len(query), chunk):
        q = query[start : start + chunk]
        qp = pos[q]
        d = sq[qp][:, None] + sq[None, :] - 2.0 * (z[:, qp].T @ z)
        d[np.arange(len(q)), qp] = np.inf  # never its own neighbour
        part = np.argpartition(d, kk - 1, axis=1)[:, :kk]
        out[q, :kk] = cand[part]
    return out


def _nanmean_rows(a: np.ndarray) -> np.ndarray:
    """Row means ignoring NaN; NaN (without a warning) for rows with no value."""
    ok = ~np.isnan(a)
    n = ok.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(n > 0, np.where(ok, a, 0).sum(axis=1) / np.maximum(n, 1), np.nan)


def _tissue_correlation(values: np.ndarray, groups: _Groups, gmean: np.ndarray) -> np.ndarray:
    """Tissue x tissue correlation of gene residuals (value - gene mean); NaN on the diagonal."""
    n_t = groups.n_tissues
    s, c = _group_tissue_sums(values, groups)
    with np.errstate(invalid="ignore", divide="ignore"):
        prof = s.sum(0) / c.sum(0)  # (T, G) tissue means
    res = prof - gmean[None]
    ok = ~np.isnan(res)
    out = np.full((n_t, n_t), np.nan)
    for a in range(n_t):
        for b in range(a + 1, n_t):
            both = ok[a] & ok[b]
            if both.sum() < 10:
                continue
            ra, rb = res[a, both], res[b, both]
            sa, sb = ra.std(), rb.std()
            if sa > 0 and sb > 0:
                out[a, b] = out[b, a] = float(np.mean((ra - ra.mean()) * (rb - rb.mean())) / (sa * sb))
    return out


def _context_features(
    values: np.ndarray,
    rows: np.ndarray,
    cols: np.ndarray,
    groups: _Groups,
    static: np.ndarray,
    nb,
    *,
    use_neighbours: bool,
    low_rank: np.ndarray | None = None,
    knn: np.ndarray | None = None,
    donor_sizes: list[int] | None = None,
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Features of the entries ``(rows, cols)`` of the (masked) matrix ``values``.

    Returns the feature matrix, a base prediction for each entry (used as XGBoost's offset) and
    the feature names.
    """
    n_samples, n_genes = values.shape
    obs = ~np.isnan(values)
    x0 = np.where(obs, values, 0.0)
    n_obs_gene = obs.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        gmean = x0.sum(0) / n_obs_gene
        gvar = (np.where(obs, values - gmean, 0.0) ** 2).sum(0) / n_obs_gene
        smean = x0.sum(1) / obs.sum(1)
    gstd = np.sqrt(gvar)
    feats: list[np.ndarray] = []
    names: list[str] = []

    def add(name: str, col: np.ndarray) -> None:
        feats.append(np.asarray(col, dtype=np.float32))
        names.append(name)

    t_of = groups.tissue[rows]
    d_of = groups.group[rows]
    add("tissue", t_of.astype(np.float32))
    add("gene_mean", gmean[cols])
    add("gene_std", gstd[cols])
    add("gene_frac_observed", n_obs_gene[cols] / max(n_samples, 1))
    add("sample_mean", smean[rows])

    # the gene's values in each tissue of the same donor (or of the data when donors are unknown),
    # leaving the target sample itself out
    gs, gc = _group_tissue_sums(values, groups)
    own = obs[rows, cols]
    own_val = np.where(own, values[rows, cols], 0.0)
    tissue_vals = np.empty((len(rows), groups.n_tissues), dtype=np.float32)
    for t in range(groups.n_tissues):
        s = gs[d_of, t, cols] - np.where(t_of == t, own_val, 0.0)
        c = gc[d_of, t, cols] - np.where(t_of == t, own, 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            tissue_vals[:, t] = np.where(c > 0, s / np.maximum(c, 1), np.nan)
    for t in range(groups.n_tissues):
        add(f"value_tissue_{t}", tissue_vals[:, t])
    donor_mean = _nanmean_rows(tissue_vals)
    add("group_mean", donor_mean)

    # the most similar tissues first: residuals (value - gene mean) in the tissues that correlate
    # best with the target tissue across genes, so trees need not learn one rule per tissue
    if groups.n_tissues > 2:
        resid_t = tissue_vals - gmean[cols][:, None]
        tcorr = _tissue_correlation(values, groups, gmean)
        order = np.argsort(-np.nan_to_num(tcorr, nan=-2.0), axis=1)
        n_top = min(5, groups.n_tissues - 1)
        top = order[t_of, :n_top]  # (n, n_top); the tissue itself has NaN correlation -> last
        top_res = np.take_along_axis(resid_t, top, axis=1)
        top_w = np.clip(np.nan_to_num(tcorr[t_of[:, None], top]), 0, None)
        for i in range(n_top):
            add(f"similar_tissue_{i}_resid", top_res[:, i])
        ok = ~np.isnan(top_res)
        with np.errstate(invalid="ignore", divide="ignore"):
            wsum = np.where(ok, top_w, 0).sum(1)
            add(
                "similar_tissues_resid",
                np.where(wsum > 0, (np.where(ok, top_w, 0) * np.nan_to_num(top_res)).sum(1) / wsum, np.nan),
            )

    # same tissue over the other donors (or the other samples when donors are unknown)
    ts = gs.sum(0)
    tc = gc.sum(0)
    with np.errstate(invalid="ignore", divide="ignore"):
        tissue_mean_all = ts / tc  # (T, G)
    s_other = ts[t_of, cols] - gs[d_of, t_of, cols]
    c_other = tc[t_of, cols] - gc[d_of, t_of, cols]
    with np.errstate(invalid="ignore", divide="ignore"):
        tissue_loo = np.where(c_other > 0, s_other / np.maximum(c_other, 1), np.nan)
    add("tissue_mean_other", tissue_loo)
    base = tissue_loo.copy()
    if low_rank is not None:
        lr = low_rank[rows, cols]
        add("low_rank", lr)
        add("low_rank_minus_gene_mean", lr - gmean[cols])
        base = np.where(np.isnan(lr), base, lr)

    if groups.has_donor and groups.n_groups > 2:
        # this donor's offset from the tissue means in its other tissues
        resid = tissue_vals - tissue_mean_all[:, cols].T.astype(np.float32)
        offset = _nanmean_rows(resid)
        add("donor_offset", offset)
        # mean over the donors most similar to this one (similarity from their other tissues),
        # for a few neighbourhood sizes, and this donor's offset from them in its other tissues
        sim = _donor_similarity(values, groups, tissue_mean_all)
        n_other = groups.n_groups - 1
        if donor_sizes is None:
            donor_sizes = sorted(
                {min(k, n_other) for k in (1, 3, max(1, int(round(np.sqrt(groups.n_groups)))))}
            )
        sizes = list(donor_sizes)
        main = sizes[min(1, len(sizes) - 1)]
        s_all = np.where(np.isnan(sim), -np.inf, sim)
        order = np.argsort(-s_all, axis=1, kind="stable")
        for k in sizes:
            w = np.zeros_like(sim)
            k_eff = min(k, n_other)
            for d in range(groups.n_groups):
                top = order[d, :k_eff]
                w[d, top[np.isfinite(s_all[d, top])]] = 1.0
            num = np.einsum("de,etg->dtg", w, gs)
            den = np.einsum("de,etg->dtg", w, gc)
            with np.errstate(invalid="ignore", divide="ignore"):
                means = np.where(den > 0, num / den, np.nan)  # (D, T, G)
            m_rows = means[d_of, :, cols]  # (n, T)
            sim_mean = m_rows[np.arange(len(rows)), t_of]
            name = "similar_donor_mean" if k == main else f"similar_donor_mean_k{k}"
            add(name, sim_mean)
            off = tissue_vals - m_rows
            off[np.arange(len(rows)), t_of] = np.nan
            add(f"similar_donor_offset_k{k}", _nanmean_rows(off))
            if k == main:
                base = np.where(np.isnan(sim_mean), base, sim_mean)
        add("similar_donor_max_sim", np.nanmax(np.where(np.isnan(sim), -1, sim), axis=1)[d_of])
    base = np.where(np.isnan(base), gmean[cols], base)
    base = np.where(np.isnan(base), smean[rows], base)
    base = np.where(np.isnan(base), np.nanmean(values) if obs.any() else 0.0, base)

    if knn is not None:
        # genes with the most similar profiles elsewhere, read in this sample (KNN over genes)
        kidx = knn[cols]
        has = kidx >= 0
        kj = np.where(has, kidx, 0)
        kv = np.where(has, values[rows[:, None], kj], np.nan)
        add("knn_value", _nanmean_rows(kv))
        add("knn_level_adjusted", gmean[cols] + _nanmean_rows(kv - gmean[kj]))
        add("knn_n", (~np.isnan(kv)).sum(1))

    if use_neighbours and nb is not None:
        idx = nb.index[cols]
        has = idx >= 0
        j = np.where(has, idx, 0)
        nv = np.where(has, values[rows[:, None], j], np.nan)
        nmean = np.where(has, gmean[j], np.nan)
        ad = nb.abs_distance[cols].astype(float)
        sd = nb.distance[cols].astype(float)
        orient = np.where(has, nb.orientation[cols], -1).astype(float)
        for i in range(min(_N_NEIGHBOUR_DETAIL, idx.shape[1])):
            add(f"nb{i}_value", nv[:, i])
            add(f"nb{i}_resid", nv[:, i] - nmean[:, i])
            add(f"nb{i}_gene_mean", nmean[:, i])
            add(
                f"nb{i}_log_distance", np.where(has[:, i], np.sign(sd[:, i]) * np.log10(1 + ad[:, i]), np.nan)
            )
            add(f"nb{i}_orientation", np.where(has[:, i], orient[:, i], np.nan))
        w = np.where(has, 1.0 / (ad + 1000.0), 0.0)
        ok_v = ~np.isnan(nv)
        with np.errstate(invalid="ignore", divide="ignore"):
            wv = np.where(ok_v, w, 0.0)
            add("nb_idw_value", (wv * np.nan_to_num(nv)).sum(1) / wv.sum(1))
            add("nb_idw_resid", (wv * np.nan_to_num(nv - nmean)).sum(1) / wv.sum(1))
            wm = np.where(~np.isnan(nmean), w, 0.0)
            add("nb_idw_gene_mean", (wm * np.nan_to_num(nmean)).sum(1) / wm.sum(1))
            add("nb_mean_value", _nanmean_rows(nv))
        add("nb_n_within_50kb", (has & (ad <= 50_000)).sum(1))
        add("nb_n", has.sum(1))
        add("nb_any_bidirectional", nb.bidirectional[cols].any(1))
        add("nb_any_nested", nb.nested[cols].any(1))
        add("nb_any_overlap", nb.overlap[cols].any(1))
    for i in range(static.shape[1]):
        add(f"static_{i}", static[cols, i])
    return np.column_stack(feats) if feats else np.zeros((len(rows), 0)), base.astype(np.float64), names


def _train(net, nd, train_items, val_items, model: HybridImputer, *, seed: int, device: str) -> dict:
    from ._nets import train_net

    return train_net(
        net,
        nd,
        train_items,
        val_items,
        model.mixture_,
        max_epochs=model.max_epochs,
        patience=model.patience,
        batch_size=model.batch_size,
        learning_rate=model.learning_rate,
        seed=seed,
        device=device,
        max_items_per_epoch=model.max_items_per_epoch,
        progress=model.progress,
    )


# ---------------------------------------------------------------------------------------------
# the model
# ---------------------------------------------------------------------------------------------
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

    # -- helpers ------------------------------------------------------------------------------
    def _check_data(self, data: ExpressionData) -> None:
        super()._check_data(data)
        if self.use_neighbours and not _has_coordinates(data.var):
            missing = [c for c in ("chrom", "tss", "strand") if c not in data.var.columns]
            msg = (
                f"HybridImputer(use_neighbours=True) needs gene coordinates, but var lacks {missing}; "
                "run gex_impute.pp.annotate_genes(adata, annotation) first, or pass use_neighbours=False."
            )
            raise ValueError(msg)
        if not self.use_xgboost and not self.use_tissue_encoder:
            msg = (
                "use_xgboost=False needs use_tissue_encoder=True (the transformer's prediction is then "
                "the output); switch one of them on."
            )
            raise ValueError(msg)

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
            raise ValueError(msg)
        lookup = {t: i for i, t in enumerate(cats)}
        return np.array([lookup[t] for t in names], dtype=np.int64)

    def _groups(self, data: ExpressionData, tissue_codes: np.ndarray) -> _Groups:
        donor = None if data.donor is None else np.asarray(data.donor.codes, dtype=np.int64)
        return _Groups(tissue_codes, donor, len(self.tissues_))

    def _token_layout(self, groups: _Groups) -> np.ndarray:
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

    def _features(self, values, genes, groups, static, nb):
        """Features of every sample x ``genes`` entry of ``values``: ``(S, n, F)``, base ``(S, n)``."""
        n_s = values.shape[0]
        rows = np.repeat(np.arange(n_s), len(genes))
        cols = np.tile(genes, n_s)
        low_rank = _low_rank(values, rank=3, n_iter=12)
        feats, base, names = _context_features(
            values,
            rows,
            cols,
            groups,
            static,
            nb,
            use_neighbours=self.use_neighbours,
            low_rank=low_rank,
            knn=_gene_knn(np.where(np.isnan(values), low_rank, values), np.asarray(genes), k=20),
            donor_sizes=self.donor_sizes_,
        )
        if self.donor_sizes_ is None and groups.has_donor:
            self.donor_sizes_ = sorted(
                int(n[len("similar_donor_offset_k") :])
                for n in names
                if n.startswith("similar_donor_offset_k")
            )
        return feats.reshape(n_s, len(genes), -1), base.reshape(n_s, len(genes)), names

    def _net_data(self, values, genes, feats, layout, tissue_codes, static_std, onehot, has_seq):
        from ._nets import NetData

        n_groups, width = layout.shape
        gene_idx = np.repeat(np.arange(len(genes)), n_groups)  # position within `genes`
        grp = np.tile(np.arange(n_groups), len(genes))
        samples = layout[grp]
        valid = samples >= 0
        s0 = np.where(valid, samples, 0)
        val = values[s0, genes[gene_idx][:, None]]
        val = np.where(valid, (val - self.value_mean_) / self.value_std_, np.nan).astype(np.float32)
        ctx_cols = self.token_context_idx_
        ctx = feats[s0, gene_idx[:, None]][..., ctx_cols]
        ctx = (ctx - self.context_mean_) / self.context_std_
        ctx = np.where(valid[..., None], ctx, np.nan).astype(np.float32)
        tis = np.where(valid, tissue_codes[s0], 0)
        return NetData(
            gene=genes[gene_idx],
            samples=samples,
            tissue=tis,
            value=val,
            context=ctx,
            own_context=self.token_context_own_,
            static=static_std,
            onehot=onehot,
            has_sequence=has_seq,
        ), gene_idx

    def _new_net(self, n_static: int):
        from ._nets import HybridNet

        return HybridNet(
            len(self.tissues_),
            len(self.token_context_idx_),
            n_static,
            use_sequence=bool(self.use_sequence and self.has_sequence_),
            use_attention=bool(self.use_tissue_encoder),
            d_model=self.d_model,
            n_heads=self.n_heads,
            n_layers=self.n_layers,
            embedding_dim=self.embedding_dim,
            cnn_channels=self.cnn_channels,
        )

    def _sequence_inputs(self, var: pd.DataFrame):
        from ..sequence import one_hot_batch

        if not (self.use_sequence and "promoter" in var.columns):
            return None, np.zeros(len(var), dtype=bool)
        seqs = [s if isinstance(s, str) else "" for s in var["promoter"].tolist()]
        has = np.array([len(s) > 0 for s in seqs])
        length = self.sequence_length_ if hasattr(self, "sequence_length_") else None
        oh = one_hot_batch(seqs, length=length, align="center")
        return oh, has

    def _net_outputs(self, net, nd, gene_pos, shape, device):
        """Per-entry CNN embedding, token embedding and prediction on the ``(S, n)`` grid."""
        from ._nets import embed

        cnn, emb, pred = embed(net, nd, np.arange(len(nd.gene)), self.batch_size, device)
        n_s, n = shape
        e = self.embedding_dim
        emb_grid = np.full((n_s, n, e), np.nan, dtype=np.float32)
        pred_grid = np.full((n_s, n), np.nan, dtype=np.float32)
        valid = nd.samples >= 0
        s_idx = nd.samples[valid]
        g_idx = np.broadcast_to(gene_pos[:, None], nd.samples.shape)[valid]
        emb_grid[s_idx, g_idx] = emb[valid]
        pred_grid[s_idx, g_idx] = pred[valid] * self.value_std_ + self.value_mean_
        cnn_grid = None
        if cnn is not None:
            cnn_gene = np.zeros((n, e), dtype=np.float32)
            cnn_gene[gene_pos] = cnn
            cnn_grid = np.broadcast_to(cnn_gene[None], (n_s, n, e))
        return cnn_grid, emb_grid, pred_grid

    def _design(self, feats, cnn_grid, emb_grid, pred_grid):
        """Stack context features and network outputs into XGBoost's design (S, n, F)."""
        parts = [feats]
        if self.use_sequence and self.has_sequence_ and cnn_grid is not None:
            parts.append(cnn_grid)
        if self.use_tissue_encoder and emb_grid is not None:
            parts += [emb_grid, pred_grid[..., None]]
        return np.concatenate(parts, axis=-1) if len(parts) > 1 else feats

    # -- fitting ------------------------------------------------------------------------------
    def _fit(self, data: ExpressionData) -> None:
        import torch

        from .._utils import progress_bar, resolve_device

        t_start = time.perf_counter()
        seeds = derive_seeds(self.random_state, 4)
        rng = np.random.default_rng(seeds[0])
        values = data.values
        observed = ~np.isnan(values)
        n_genes = data.n_genes
        self.donor_sizes_ = None
        if hasattr(self, "design_names_"):  # refitting: the layout is rebuilt
            del self.design_names_
        self.tissues_ = [str(t) for t in data.tissue.categories]
        self.gene_ids_ = [str(g) for g in data.var.index]
        self.has_donor_ = data.donor is not None
        tissue_codes = self._tissue_codes(data)
        groups = self._groups(data, tissue_codes)
        self.mixture_ = _mixture(observed)
        # scattered entries are hidden at the data's own rate (outside whole genes / samples)
        inner = observed[np.ix_(observed.any(axis=1), observed.any(axis=0))]
        self.entry_rate_ = float(np.clip(1.0 - inner.mean() if inner.size else 0.2, 0.05, 0.5))
        self.value_mean_ = float(np.nanmean(values))
        self.value_std_ = float(np.nanstd(values)) or 1.0
        static, self.static_names_ = self._static(data.var)
        self.static_mean_ = _nanmean_rows(static.T) if static.shape[1] else np.zeros(0)
        self.static_std_ = (
            np.sqrt(_nanmean_rows((static - self.static_mean_).T ** 2)) if static.shape[1] else np.zeros(0)
        )
        self.static_std_ = np.where(
            np.isfinite(self.static_std_) & (self.static_std_ > 0), self.static_std_, 1.0
        )
        self.static_mean_ = np.nan_to_num(self.static_mean_)
        static_std = ((static - self.static_mean_) / self.static_std_).astype(np.float32)

        ref = np.flatnonzero(observed.any(axis=0))
        n_folds = int(max(2, min(self.n_folds, len(ref))))
        fold_of = np.full(n_genes, -1)
        fold_of[rng.permutation(ref)] = np.arange(len(ref)) % n_folds
        n_val = max(1, int(round(self.validation_fraction * len(ref))))
        is_val = np.zeros(n_genes, dtype=bool)
        is_val[rng.choice(ref, size=n_val, replace=False)] = True
        layout = self._token_layout(groups)
        onehot, has_seq = self._sequence_inputs(data.var)
        self.has_sequence_ = bool(has_seq.any())
        self.sequence_length_ = int(onehot.shape[-1]) if onehot is not None else 0
        if not self.has_sequence_:
            onehot = None
        device = resolve_device(self.device) if self._uses_nets else "cpu"
        self.diagnostics_: dict[str, Any] = {"mixture": self.mixture_, "n_reference_genes": len(ref)}

        self._var_ref = data.var
        threads_before = torch.get_num_threads()
        det_before = torch.are_deterministic_algorithms_enabled()
        torch.set_num_threads(self._threads())
        torch.use_deterministic_algorithms(True, warn_only=True)
        try:
            # 1. networks, one per fold of reference genes, trained on the other folds
            nb_full = self._nb(data.var, observed.any(axis=0))
            self.nets_ = []
            histories = []
            t0 = time.perf_counter()
            # without networks the full feature grid only serves names and scaling: use a sample
            stat_genes = (
                ref if self._uses_nets else np.sort(rng.choice(ref, size=min(len(ref), 500), replace=False))
            )
            feats_full, _, names = self._features(values, stat_genes, groups, static, nb_full)
            self.context_names_ = names
            self._set_token_context(names, feats_full)
            if self._uses_nets:
                nd_full, _ = self._net_data(
                    values, ref, feats_full, layout, tissue_codes, static_std, onehot, has_seq
                )
                del feats_full
                item_fold = fold_of[nd_full.gene]
                item_val = is_val[nd_full.gene]
                for k in progress_bar(range(n_folds), enabled=self.progress, desc="folds (networks)"):
                    with torch.random.fork_rng(devices=[]):
                        torch.manual_seed(seeds[1])  # same start for every fold: comparable embeddings
                        net = self._new_net(static_std.shape[1])
                    hist = _train(
                        net,
                        nd_full,
                        np.flatnonzero((item_fold != k) & ~item_val),
                        np.flatnonzero((item_fold != k) & item_val),
                        self,
                        seed=seeds[1] + k,
                        device=device,
                    )
                    histories.append(hist)
                    self.nets_.append(net.cpu())
                self.diagnostics_["network_val_mse"] = [float(np.nanmin(h["val"])) for h in histories]
                self.diagnostics_["network_epochs"] = [len(h["val"]) for h in histories]
            else:
                del feats_full
            self.diagnostics_["network_seconds"] = time.perf_counter() - t0

            # 2. masking rounds: each fold's genes hidden (following the data's missing pattern)
            #    and described by the network that never saw them
            t0 = time.perf_counter()
            xs, ys, bases, pats, row_genes = [], [], [], [], []
            chunk_size = max(1, int(np.ceil(0.2 * len(ref))))
            for k in progress_bar(range(n_folds), enabled=self.progress, desc="folds (features)"):
                fold_genes = rng.permutation(np.flatnonzero(fold_of == k))
                n_chunks = max(1, int(np.ceil(len(fold_genes) / chunk_size)))
                for chunk in np.array_split(fold_genes, n_chunks):
                    chunk = np.sort(chunk)
                    m = _make_masking(values, chunk, self.mixture_, rng, self.entry_rate_)
                    if len(m.rows) == 0:
                        continue
                    ((x, base),) = self._design_for(
                        m.values,
                        chunk,
                        groups,
                        tissue_codes,
                        static,
                        static_std,
                        onehot,
                        has_seq,
                        layout,
                        [self.nets_[k] if self.nets_ else None],
                        device,
                    )
                    pos = np.searchsorted(chunk, m.cols)
                    xs.append(x[m.rows, pos])
                    bases.append(base[m.rows, pos])
                    ys.append(m.target)
                    pats.append(m.pattern)
                    row_genes.append(m.cols)
            x = np.concatenate(xs)
            y = np.concatenate(ys)
            base = np.concatenate(bases)
            pat = np.concatenate(pats)
            row_gene = np.concatenate(row_genes)
            self.diagnostics_["feature_seconds"] = time.perf_counter() - t0
            self.diagnostics_["n_training_entries"] = len(y)

            # 3. XGBoost on the out-of-fold design, early stopping on validation genes
            t0 = time.perf_counter()
            if self.use_xgboost:
                self._fit_xgboost(x, y, base, pat, is_val[row_gene], seeds[2])
            else:
                self.booster_ = None
                self.best_iteration_ = None
                tok = self.design_names_.index("transformer_prediction")
                val = is_val[row_gene]
                err = x[val, tok] - y[val]
                self.diagnostics_["validation_mse"] = float(np.nanmean(err**2))
            self.diagnostics_["xgboost_seconds"] = time.perf_counter() - t0
        finally:
            torch.set_num_threads(threads_before)
            torch.use_deterministic_algorithms(det_before)
            del self._var_ref
        self.diagnostics_["fit_seconds"] = time.perf_counter() - t_start
        logger.info("hybrid fit: %s", {k: v for k, v in self.diagnostics_.items() if k != "mixture"})

    def _static(self, var: pd.DataFrame) -> tuple[np.ndarray, list[str]]:
        static, names = _static_gene_features(var)
        if not self.use_sequence:
            keep = [i for i, n in enumerate(names) if n == "log10_gene_length"]
            static, names = static[:, keep], [names[i] for i in keep]
        return static, names

    def _nb(self, var: pd.DataFrame, reference: np.ndarray):
        if not self.use_neighbours:
            return None
        return _neighbours(var, reference, self.n_neighbours, self.window)

    def _set_token_context(self, names: list[str], feats: np.ndarray) -> None:
        """Choose the context columns the transformer reads per token and their scaling."""
        own = {"tissue_mean_other", "similar_donor_mean", "donor_offset"}
        shared = {
            "sample_mean",
            "nb_idw_value",
            "nb_idw_resid",
            "nb0_value",
            "nb0_resid",
            "nb1_value",
            "nb1_resid",
        }
        idx = [i for i, n in enumerate(names) if n in own or n in shared]
        self.token_context_idx_ = np.array(idx, dtype=np.int64)
        self.token_context_own_ = np.array([names[i] in own for i in idx], dtype=bool)
        flat = feats[..., idx].reshape(-1, len(idx)) if idx else np.zeros((1, 0))
        ok = ~np.isnan(flat)
        n = np.maximum(ok.sum(axis=0), 1)
        mean = np.where(ok, flat, 0).sum(axis=0) / n
        std = np.sqrt((np.where(ok, flat - mean, 0) ** 2).sum(axis=0) / n)
        self.context_mean_ = np.nan_to_num(mean).astype(np.float32)
        self.context_std_ = np.where(np.isfinite(std) & (std > 0), std, 1.0).astype(np.float32)

    def _design_for(
        self, values, genes, groups, tissue_codes, static, static_std, onehot, has_seq, layout, nets, device
    ):
        """Yield the design ``(S, n, F)`` and base ``(S, n)`` of ``genes`` for each network of ``nets``.

        The context features are computed once and shared; ``nets`` may be ``[None]``.
        """
        nb = self._nb(self._var_ref, (~np.isnan(values)).any(axis=0))
        feats, base, names = self._features(values, genes, groups, static, nb)
        for net in nets:
            yield (
                self._design_with(
                    net,
                    values,
                    genes,
                    feats,
                    base,
                    names,
                    tissue_codes,
                    static_std,
                    onehot,
                    has_seq,
                    layout,
                    device,
                ),
                base,
            )

    def _design_with(
        self,
        net,
        values,
        genes,
        feats,
        base,
        names,
        tissue_codes,
        static_std,
        onehot,
        has_seq,
        layout,
        device,
    ):
        cnn_grid = emb_grid = pred_grid = None
        if net is not None:
            nd, gene_pos = self._net_data(
                values, genes, feats, layout, tissue_codes, static_std, onehot, has_seq
            )
            cnn_grid, emb_grid, pred_grid = self._net_outputs(net, nd, gene_pos, base.shape, device)
        design = self._design(feats, cnn_grid, emb_grid, pred_grid)
        extra = []
        if self.use_sequence and self.has_sequence_ and cnn_grid is not None:
            extra += [f"cnn_{i}" for i in range(self.embedding_dim)]
        if self.use_tissue_encoder and emb_grid is not None:
            extra += [f"transformer_{i}" for i in range(self.embedding_dim)] + ["transformer_prediction"]
        current = list(names) + extra
        if not hasattr(self, "design_names_"):
            self.design_names_ = current
        elif current != self.design_names_:
            # other data (fewer donors, no coordinates...): same layout, absent features as NaN
            lookup = {n: i for i, n in enumerate(current)}
            absent = [n for n in self.design_names_ if n not in lookup]
            if absent:
                logger.warning("features unavailable on these data, left missing: %s", absent)
            aligned = np.full((*design.shape[:2], len(self.design_names_)), np.nan, dtype=design.dtype)
            for i, n in enumerate(self.design_names_):
                if n in lookup:
                    aligned[..., i] = design[..., lookup[n]]
            design = aligned
        return design

    def _fit_xgboost(self, x, y, base, pattern, val, seed) -> None:
        import xgboost as xgb

        counts = np.bincount(pattern, minlength=3).astype(float)
        shares = np.array([self.mixture_["genes"], self.mixture_["samples"], self.mixture_["entries"]])
        w_pat = np.where(counts > 0, shares / np.maximum(counts, 1), 0.0)
        w = w_pat[pattern]
        w = w / w.mean()
        types = ["c" if (n == "tissue" or n.endswith("_orientation")) else "q" for n in self.design_names_]
        self.min_child_weight_ = MCW if MCW else max(10.0, 2.0 * len(self.tissues_))
        if val.all() or not val.any():
            val = np.zeros(len(y), dtype=bool)
            val[:: max(2, len(y) // max(1, int(0.1 * len(y))))] = True
        train = ~val
        if train.sum() > _MAX_TRAIN_ROWS:
            # bound the fitting time: a random subset of the training entries
            keep = np.random.default_rng(seed).choice(np.flatnonzero(train), _MAX_TRAIN_ROWS, replace=False)
            train = np.zeros_like(train)
            train[keep] = True
        kw = {"feature_names": self.design_names_, "feature_types": types, "enable_categorical": True}
        dtrain = xgb.DMatrix(x[train], label=y[train] - base[train], weight=w[train], **kw)
        dval = xgb.DMatrix(x[val], label=y[val] - base[val], weight=w[val], **kw)
        params = {
            "tree_method": "hist",
            "max_depth": self.max_depth,
            "eta": self.xgb_learning_rate,
            "subsample": 0.8,
            "colsample_bytree": 0.7,
            "max_bin": 128,
            # rows of one gene share its gene-level features: a leaf must hold several genes'
            # worth of rows, or trees memorise genes and stop generalising after a few rounds
            "min_child_weight": float(self.min_child_weight_),
            "lambda": 5.0,
            "max_cat_to_onehot": 1,
            "seed": seed % (2**31),
            "nthread": self._threads(),
            "objective": "reg:squarederror",
        }
        evals_result: dict = {}
        self.booster_ = xgb.train(
            params,
            dtrain,
            num_boost_round=self.n_estimators,
            evals=[(dval, "validation")],
            early_stopping_rounds=30,
            evals_result=evals_result,
            verbose_eval=False,
        )
        pred = self.booster_.predict(dval, iteration_range=(0, self.booster_.best_iteration + 1)) + base[val]
        self.diagnostics_["validation_mse"] = float(np.mean((pred - y[val]) ** 2))
        self.diagnostics_["validation_pearson"] = (
            float(np.corrcoef(pred, y[val])[0, 1]) if val.sum() > 1 else np.nan
        )
        self.best_iteration_ = int(self.booster_.best_iteration)
        self.diagnostics_["n_trees"] = self.best_iteration_ + 1

    # -- prediction ---------------------------------------------------------------------------
    def _predict(self, data: ExpressionData) -> np.ndarray:
        import torch

        from .._utils import resolve_device

        self._check_fitted()
        self._check_compatible(data)
        values = data.values
        observed = ~np.isnan(values)
        out = values.copy()
        self.n_fallback_ = 0
        missing = ~observed
        genes = np.flatnonzero(missing.any(axis=0))
        if len(genes) == 0:
            return out
        tissue_codes = self._tissue_codes(data)
        groups = self._groups(data, tissue_codes)
        static, _ = self._static(data.var)
        static_std = ((static - self.static_mean_) / self.static_std_).astype(np.float32)
        onehot, has_seq = self._sequence_inputs(data.var)
        if not self.has_sequence_:
            onehot = None
        layout = self._token_layout(groups)
        device = resolve_device(self.device) if self._uses_nets else "cpu"
        self._var_ref = data.var
        rows, pos = np.nonzero(missing[:, genes])
        threads_before = torch.get_num_threads()
        torch.set_num_threads(self._threads())
        try:
            preds = []
            designs = self._design_for(
                values,
                genes,
                groups,
                tissue_codes,
                static,
                static_std,
                onehot,
                has_seq,
                layout,
                self.nets_ or [None],
                device,
            )
            for x, base in designs:
                xr, br = x[rows, pos], base[rows, pos]
                if self.use_xgboost:
                    preds.append(self._booster_predict(xr) + br)
                else:
                    preds.append(xr[:, self.design_names_.index("transformer_prediction")].astype(float))
        finally:
            torch.set_num_threads(threads_before)
            del self._var_ref
        pred = np.mean(preds, axis=0)
        bad = ~np.isfinite(pred)
        if bad.any():
            # fallback: the gene's observed mean, else the sample's mean
            with np.errstate(invalid="ignore", divide="ignore"):
                gmean = _nanmean_rows(values.T)
            fb = np.full(bad.sum(), self.value_mean_)
            if gmean is not None:
                g = gmean[genes[pos[bad]]]
                fb = np.where(np.isfinite(g), g, fb)
            pred[bad] = fb
            self.n_fallback_ = int(bad.sum())
        out[rows, genes[pos]] = pred
        return out

    def _booster_predict(self, x: np.ndarray) -> np.ndarray:
        import xgboost as xgb

        types = ["c" if (n == "tissue" or n.endswith("_orientation")) else "q" for n in self.design_names_]
        d = xgb.DMatrix(x, feature_names=self.design_names_, feature_types=types, enable_categorical=True)
        it = getattr(self, "best_iteration_", None)
        if it is None:
            it = self.booster_.best_iteration if hasattr(self.booster_, "best_iteration") else None
        rng = (0, it + 1) if it is not None else (0, 0)
        return self.booster_.predict(d, iteration_range=rng).astype(float)

    def _check_fitted(self) -> None:
        if not hasattr(self, "tissues_"):
            msg = "this HybridImputer is not fitted yet; call fit(adata) or HybridImputer.load(path) first."
            raise RuntimeError(msg)

    def _check_compatible(self, data: ExpressionData) -> None:
        if self.has_donor_ != (data.donor is not None):
            fitted = "with" if self.has_donor_ else "without"
            fix = "pass donor_key= naming the donor column" if self.has_donor_ else "pass donor_key=None"
            msg = f"the model was fitted {fitted} donors; {fix} when predicting."
            raise ValueError(msg)
        genes = [str(g) for g in data.var.index]
        if genes != self.gene_ids_:
            known = set(self.gene_ids_)
            new = [g for g in genes if g not in known]
            absent = [g for g in self.gene_ids_ if g not in set(genes)]
            logger.warning(
                "genes differ from those the model was fitted on: %d new (e.g. %s), %d absent (e.g. %s); "
                "the model describes genes by sequence and genomic context, so it still applies, "
                "but accuracy on new genes is not validated.",
                len(new),
                new[:3],
                len(absent),
                absent[:3],
            )
        self._tissue_codes(data)

    # -- persistence --------------------------------------------------------------------------
    _FITTED_ARRAYS = (
        "static_mean_",
        "static_std_",
        "token_context_idx_",
        "token_context_own_",
        "context_mean_",
        "context_std_",
    )
    _FITTED_VALUES = (
        "tissues_",
        "gene_ids_",
        "has_donor_",
        "mixture_",
        "entry_rate_",
        "donor_sizes_",
        "value_mean_",
        "value_std_",
        "static_names_",
        "has_sequence_",
        "sequence_length_",
        "context_names_",
        "design_names_",
        "log1p_",
        "best_iteration_",
        "diagnostics_",
    )

    def save(self, path: str | os.PathLike, *, overwrite: bool = False) -> Path:
        """Write the fitted model to the folder ``path`` (no pickle).

        Parameters
        ----------
        path
            Folder to create: ``params.json`` (hyperparameters, package version, gene ids,
            tissues, feature layout, scaling), ``nets.pt`` (torch state dicts of the fold
            networks) and ``xgboost.json`` (the booster).
        overwrite
            Replace files of an existing model folder.

        Returns
        -------
        The folder.

        Examples
        --------
        >>> model.save("hybrid_model")  # doctest: +SKIP
        >>> model = HybridImputer.load("hybrid_model")  # doctest: +SKIP
        """
        import torch

        from .._utils import atomic_path

        self._check_fitted()
        path = Path(path)
        if (path / "params.json").exists() and not overwrite:
            msg = f"a model already exists at {path}; pass overwrite=True or choose another folder."
            raise FileExistsError(msg)
        path.mkdir(parents=True, exist_ok=True)
        fitted: dict[str, Any] = {k: _jsonable(getattr(self, k)) for k in self._FITTED_VALUES}
        fitted.update({k: np.asarray(getattr(self, k)).tolist() for k in self._FITTED_ARRAYS})
        fitted["n_nets"] = len(self.nets_)
        meta = {
            "format_version": _FORMAT_VERSION,
            "gex_impute_version": _package_version(),
            "class": type(self).__name__,
            "params": self.get_params(),
            "fitted": fitted,
        }
        if self.nets_:
            state = {
                f"{k}.{name}": t for k, net in enumerate(self.nets_) for name, t in net.state_dict().items()
            }
            with atomic_path(path / "nets.pt") as tmp:
                torch.save(state, tmp)
        if self.booster_ is not None:
            with atomic_path(path / "xgboost.json") as tmp:
                self.booster_.save_model(str(tmp))
        with atomic_path(path / "params.json") as tmp:
            tmp.write_text(json.dumps(meta, indent=1))
        return path

    @classmethod
    def load(cls, path: str | os.PathLike) -> HybridImputer:
        """Read a model written by :meth:`save`.

        Checks the file format and the package version; gene ids and tissues are checked
        against the data at prediction time.

        Parameters
        ----------
        path
            Folder written by :meth:`save`.

        Returns
        -------
        The fitted model.

        Examples
        --------
        >>> model = HybridImputer.load("hybrid_model")  # doctest: +SKIP
        """
        import torch

        path = Path(path)
        params_file = path / "params.json"
        if not params_file.exists():
            msg = f"{params_file} not found; pass the folder written by HybridImputer.save()."
            raise FileNotFoundError(msg)
        meta = json.loads(params_file.read_text())
        if meta.get("class") != cls.__name__ or meta.get("format_version", 0) > _FORMAT_VERSION:
            msg = (
                f"{path} holds a {meta.get('class')!r} model of format {meta.get('format_version')}; this "
                f"gex_impute ({_package_version()}) reads {cls.__name__} format <= {_FORMAT_VERSION}. "
                "Upgrade gex_impute or refit the model."
            )
            raise ValueError(msg)
        saved = meta.get("gex_impute_version")
        if saved != _package_version():
            logger.warning(
                "model %s was saved by gex_impute %s, this is %s; predictions may differ slightly.",
                path,
                saved,
                _package_version(),
            )
        model = cls(**meta["params"])
        fitted = meta["fitted"]
        for k in cls._FITTED_VALUES:
            setattr(model, k, fitted[k])
        for k in cls._FITTED_ARRAYS:
            setattr(model, k, np.asarray(fitted[k]))
        model.token_context_idx_ = model.token_context_idx_.astype(np.int64)
        model.token_context_own_ = model.token_context_own_.astype(bool)
        model.context_mean_ = model.context_mean_.astype(np.float32)
        model.context_std_ = model.context_std_.astype(np.float32)
        model.nets_ = []
        if fitted["n_nets"]:
            state = torch.load(path / "nets.pt", weights_only=True, map_location="cpu")
            for k in range(fitted["n_nets"]):
                net = model._new_net(len(model.static_names_))
                prefix = f"{k}."
                net.load_state_dict({n[len(prefix) :]: t for n, t in state.items() if n.startswith(prefix)})
                model.nets_.append(net)
        model.booster_ = None
        if model.use_xgboost:
            import xgboost as xgb

            model.booster_ = xgb.Booster()
            model.booster_.load_model(str(path / "xgboost.json"))
        return model


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if isinstance(value, np.ndarray):
        return value.tolist()
    if isinstance(value, np.generic):
        return value.item()
    return value


#: ablation configurations for the accuracy benchmark (benchmarks/accuracy.py reads this)
ABLATIONS = {
    "hybrid -sequence": {"use_sequence": False},
    "hybrid -tissue encoder": {"use_tissue_encoder": False},
    "hybrid -neighbours": {"use_neighbours": False},
    "hybrid -xgboost": {"use_xgboost": False},
}

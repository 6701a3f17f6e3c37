"""TSS-layout features (gex_impute.genome.layout) against a direct per-gene computation."""

from __future__ import annotations

import numpy as np
import pandas as pd

from gex_impute.genome import genomic_neighbours
from gex_impute.genome.layout import LAYOUT_NAMES, nearest_sides, tss_layout_features
from gex_impute.methods.hybrid.genes import static_gene_features


def _brute(var: pd.DataFrame) -> np.ndarray:
    """Every column of :func:`tss_layout_features`, one gene at a time."""
    tss = var["tss"].to_numpy(float)
    chrom = var["chrom"].to_numpy(object)
    strand = var["strand"].to_numpy(object)
    out = np.full((len(var), len(LAYOUT_NAMES)), np.nan)

    def log_nearest(d: np.ndarray) -> float:
        return float(np.log10(1 + d.min())) if len(d) else 8.0

    for i in range(len(var)):
        if chrom[i] is None or np.isnan(tss[i]):
            continue
        same_chrom = (chrom == chrom[i]) & ~np.isnan(tss)
        others = same_chrom.copy()
        others[i] = False
        sign = -1.0 if strand[i] == "-" else 1.0
        rel = sign * (tss - tss[i])  # > 0: downstream of gene i
        out[i, 0] = log_nearest(-rel[others & (rel <= 0)])
        out[i, 1] = log_nearest(rel[others & (rel >= 0)])
        if strand[i] in ("+", "-"):
            out[i, 2] = log_nearest(rel[others & (strand == strand[i]) & (rel >= 0)])
            opposite = others & np.isin(strand, ["+", "-"]) & (strand != strand[i])
            out[i, 3] = log_nearest(-rel[opposite & (rel <= 0)])
        out[i, 4] = (others & (np.abs(tss - tss[i]) <= 5e6)).sum()
        first, last = tss[same_chrom].min(), tss[same_chrom].max()
        out[i, 5] = (tss[i] - first) / max(last - first, 1.0)
        out[i, 6] = np.log10(1 + min(tss[i] - first, last - tss[i]))
    return out


def test_layout_features_match_a_direct_computation():
    rng = np.random.default_rng(4)
    p = 250
    var = pd.DataFrame(
        {
            "chrom": rng.choice(np.array(["1", "2", None], dtype=object), p, p=[0.5, 0.45, 0.05]),
            "tss": rng.integers(0, 20_000_000, p).astype(float),
            "strand": rng.choice(np.array(["+", "-", None], dtype=object), p, p=[0.48, 0.48, 0.04]),
        }
    )
    var.loc[[3, 7], "tss"] = var.loc[[4, 8], "tss"].to_numpy()  # shared TSSs: 0 bp on both sides
    var.loc[11, "tss"] = np.nan
    x, names = tss_layout_features(var)
    assert names == list(LAYOUT_NAMES) and x.dtype == np.float32
    np.testing.assert_allclose(x, _brute(var), rtol=1e-6, atol=1e-6)
    assert np.isnan(x[11]).all()
    # the strand-specific columns need a strand; the others do not
    unknown = var["strand"].isna().to_numpy() & ~np.isnan(x[:, 0])
    assert unknown.any() and np.isnan(x[unknown, 2:4]).all() and np.isfinite(x[unknown, 4:]).all()


def test_layout_features_of_a_chromosome_with_genes_on_one_strand():
    # a small gene panel: every gene of chromosome Y on "+", no opposite-strand TSS there (this
    # raised IndexError on an empty array); the missing neighbour reads as none (8)
    var = pd.DataFrame(
        {
            "chrom": ["1", "1", "1", "Y", "Y", "MT"],
            "tss": [1_000.0, 5_000.0, 90_000.0, 2_000.0, 30_000.0, 100.0],
            "strand": ["+", "-", "+", "+", "+", "-"],
        }
    )
    x, _ = tss_layout_features(var)
    np.testing.assert_allclose(x, _brute(var), rtol=1e-6, atol=1e-6)
    assert (x[3:, 3] == 8).all()  # no opposite-strand TSS upstream on Y or MT


def test_layout_features_follow_the_strand():
    """Mirroring the chromosome and flipping every strand leaves the directional columns unchanged."""
    rng = np.random.default_rng(1)
    tss = rng.integers(0, 1_000_000, 80).astype(float)
    strand = rng.choice(["+", "-"], 80)
    var = pd.DataFrame({"chrom": "1", "tss": tss, "strand": strand})
    flipped = pd.DataFrame(
        {"chrom": "1", "tss": 2_000_000 - tss, "strand": np.where(strand == "+", "-", "+")}
    )
    a, _ = tss_layout_features(var)
    b, _ = tss_layout_features(flipped)
    np.testing.assert_allclose(a[:, :5], b[:, :5], rtol=1e-6)
    np.testing.assert_allclose(a[:, 5], 1 - b[:, 5], atol=1e-6)
    # upstream and downstream differ: they are not the same column under another name
    assert not np.allclose(a[:, 0], a[:, 1])


def test_static_features_carry_the_layout_columns():
    var = pd.DataFrame({"chrom": ["1", "1", "1"], "tss": [1_000, 1_500, 11_500], "strand": ["-", "+", "+"]})
    x, names = static_gene_features(var)
    assert names[-len(LAYOUT_NAMES) :] == list(LAYOUT_NAMES)
    lay, _ = tss_layout_features(var)
    np.testing.assert_array_equal(x[:, -len(LAYOUT_NAMES) :], lay)
    x2, names2 = static_gene_features(var[["chrom", "tss"]])  # no strand: the columns stay
    k = len(names) - len(LAYOUT_NAMES)
    assert names2 == names and np.isnan(x2[:, k + 2 : k + 4]).all() and np.isfinite(x2[:, k:]).any()


def test_nearest_sides_skip_genes_without_data_and_keep_the_orientation():
    rng = np.random.default_rng(2)
    p = 120
    var = pd.DataFrame(
        {
            "chrom": "1",
            "tss": rng.integers(0, 3_000_000, p).astype(float),
            "strand": rng.choice(["+", "-"], p),
        }
    )
    gm = rng.normal(size=p)
    gm[rng.random(p) < 0.4] = np.nan
    nb = genomic_neighbours(var, k=8, window=None)
    sides = {side: (j, d) for side, j, d in nearest_sides(nb.index, nb.distance, gm)}
    sign = np.where(var["strand"] == "-", -1.0, 1.0)
    tss = var["tss"].to_numpy()
    for i in range(p):
        rel = sign[i] * (tss - tss[i])
        cand = np.flatnonzero(np.isin(np.arange(p), nb.index[i]) & ~np.isnan(gm))
        for side, ok in (("upstream", rel[cand] < 0), ("downstream", rel[cand] > 0)):
            j, d = sides[side]
            if not ok.any():
                assert j[i] == -1 and np.isnan(d[i])
                continue
            best = np.abs(rel[cand[ok]]).min()
            assert d[i] == best and abs(rel[j[i]]) == best and not np.isnan(gm[j[i]])

"""The hybrid's whole-gene (P1) parts: disjoint gene rounds, TSS windows, absent-gene columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from _hybrid_fixtures import FAST, simulated

import gex_impute as gi
from gex_impute.methods.hybrid.bases import nanmean
from gex_impute.methods.hybrid.entries import EntryFeatures
from gex_impute.methods.hybrid.genes import WINDOWS, tss_key, window_means
from gex_impute.methods.hybrid.masking import Layout, gene_rounds, hide


def _brute_window_means(key, q, targets, half):
    out = np.full((q.shape[0], len(targets)), np.nan)
    counts = np.zeros(len(targets))
    for j, g in enumerate(targets):
        if not np.isfinite(key[g]):
            continue
        near = np.isfinite(key) & (np.abs(key - key[g]) <= half)
        near[g] = False
        for r in range(q.shape[0]):
            v = q[r, near]
            v = v[~np.isnan(v)]
            if len(v):
                out[r, j] = v.mean()
            if r == 0:
                counts[j] = len(v)
    return out, counts


def test_window_means_match_a_direct_count():
    rng = np.random.default_rng(0)
    var = pd.DataFrame(
        {"chrom": rng.choice(["1", "2", None], 300), "tss": rng.integers(0, 2_000_000, 300).astype(float)}
    )
    var.loc[5, "tss"] = np.nan
    key = tss_key(var)
    assert key is not None and np.isnan(key[5]) and np.isnan(key[var["chrom"].isna().to_numpy()]).all()
    q = rng.normal(size=(3, 300))
    q[:, rng.random(300) < 0.3] = np.nan  # genes without data never count
    targets = np.arange(0, 300, 7)
    for half in (10_000, 300_000):
        mean, n = window_means(key, q, targets, half)
        want, want_n = _brute_window_means(key, q, targets, half)
        np.testing.assert_allclose(mean, want, equal_nan=True)
        np.testing.assert_array_equal(n, want_n)


def test_gene_rounds_are_disjoint_and_cover_the_observed_genes():
    obs = np.ones((4, 53), bool)
    obs[:, [3, 9]] = False  # never observed: never hidden
    sets = gene_rounds(obs, np.random.default_rng(1), gene_frac=0.1)
    allg = np.concatenate(sets)
    assert len(sets) == 10 and len(allg) == len(np.unique(allg)) == 51
    assert not np.isin([3, 9], allg).any()
    values = np.where(obs, 1.0, np.nan)
    layout = Layout(np.arange(4) % 2, 2, None, 0)
    masked, rows, cols, pat, y = hide(
        values, layout, ["genes"], np.random.default_rng(0), rate=0.0, genes=sets[2]
    )
    assert set(np.unique(cols)) == set(sets[2]) and (pat == 0).all()
    assert np.isnan(masked[:, sets[2]]).all() and len(rows) == 4 * len(sets[2])


def _placed_values(seed=0, n=6, p=400):
    rng = np.random.default_rng(seed)
    var = pd.DataFrame(
        {
            "chrom": np.where(np.arange(p) < p // 2, "1", "2"),
            "tss": np.sort(rng.integers(0, 5_000_000, p)).astype(float),
            "strand": rng.choice(["+", "-"], p),
        }
    )
    level = np.repeat(rng.normal(size=p // 20), 20)  # genes close on the genome share a level
    values = level[None, :] + 0.3 * rng.normal(size=(n, p))
    return var, values


def test_absent_gene_columns_appear_only_for_genes_without_data():
    from gex_impute.genome import genomic_neighbours

    var, values = _placed_values()
    layout = Layout(np.arange(6), 6, None, 0)
    obs = ~np.isnan(values)
    nb = genomic_neighbours(var, reference=obs.any(0), k=5, window=1_000_000)
    fb = EntryFeatures(n_similar=0, neighbours=nb, tss_key=tss_key(var))
    masked = values.copy()
    masked[1, 10] = np.nan  # a scattered entry only: no absent-gene columns
    rows, cols = np.array([1]), np.array([10])
    _, names, _ = fb.build(masked, layout, rows, cols)
    assert not any(n.startswith(("win", "bidi")) for n in names)
    masked[:, 50] = np.nan  # a whole gene
    rows, cols = np.array([1, 0, 3]), np.array([10, 50, 50])
    x, names, _ = fb.build(masked, layout, rows, cols)
    labels = [f"win{h // 1000}kb" for h in WINDOWS]
    for label in labels:
        for part in ("_n", "_gene_mean", "_shape"):
            assert label + part in names
    col = {n: x[:, i] for i, n in enumerate(names)}
    assert np.isnan(col["win100kb_gene_mean"][0])  # the scattered entry's gene has data
    # the window mean of the gene means: the hidden gene's block level, not the cohort mean
    gm = nanmean(masked.T)
    key = tss_key(var)
    near = (np.abs(key - key[50]) <= 100_000) & ~np.isnan(gm)
    np.testing.assert_allclose(col["win100kb_gene_mean"][1:], gm[near].mean(), rtol=1e-5)
    shape = np.nanmean(masked[3, near] - gm[near])
    np.testing.assert_allclose(col["win100kb_shape"][2], shape, rtol=1e-4, atol=1e-6)
    # the nearest neighbour with data on each side, in the hidden gene's orientation
    sign = -1.0 if var["strand"][50] == "-" else 1.0
    rel = sign * (var["tss"].to_numpy() - var["tss"][50])
    cand = nb.index[50][(nb.index[50] >= 0) & ~np.isnan(gm[np.maximum(nb.index[50], 0)])]
    for side, ok in (("upstream", rel[cand] < 0), ("downstream", rel[cand] > 0)):
        assert np.isnan(col[f"{side}_gene_mean"][0])
        if ok.any():
            j = cand[ok][np.argmin(np.abs(rel[cand[ok]]))]
            np.testing.assert_allclose(col[f"{side}_gene_mean"][1:], gm[j], rtol=1e-5)
            np.testing.assert_allclose(col[f"{side}_log_distance"][1], np.log10(1 + abs(rel[j])), rtol=1e-5)


def test_gene_model_sees_every_gene_hidden_once_and_learns_linked_genes():
    """Genes whose level follows their genomic block: the whole-gene model learns it from the windows."""
    from gex_impute.methods.hybrid.patterns import fit_entry_models

    var, values = _placed_values(seed=3, n=5, p=600)
    from anndata import AnnData

    adata = AnnData(values.copy(), var=var.set_axis([f"g{i}" for i in range(600)]))
    adata.obs["tissue"] = [f"t{i}" for i in range(5)]
    heldout = np.arange(0, 600, 9)
    adata.X[:, heldout] = np.nan
    model = gi.HybridImputer(n_estimators=60, use_sequence=False, n_rounds=1, n_jobs=1, progress=False)
    model.fit(adata, donor_key=False, log_transform=False)
    # one round over every pattern, then gene-only rounds until every observed gene was hidden once
    assert model.diagnostics_["n_masked_rounds"] == 10
    assert any(n.startswith("win") for n in model.entry_names_)
    pred = model.predict(adata, donor_key=False)
    dist = gi.get_method("distance").fit(adata, donor_key=False, log_transform=False)
    dist = dist.predict(adata, donor_key=False)
    truth = values[:, heldout].ravel()
    r_h = np.corrcoef(pred[:, heldout].ravel(), truth)[0, 1]
    r_d = np.corrcoef(dist[:, heldout].ravel(), truth)[0, 1]
    assert r_h > 0.8 and r_h > r_d - 0.02, (r_h, r_d)  # level with the method made for this case
    assert fit_entry_models is not None


def test_adamw_matches_torch_optim_adamw():
    torch = pytest.importorskip("torch")
    from gex_impute.methods.hybrid.optim import AdamW

    nets = []
    for make in (torch.optim.AdamW, AdamW):
        torch.manual_seed(0)
        net = torch.nn.Sequential(torch.nn.Linear(5, 4), torch.nn.ReLU(), torch.nn.Linear(4, 1))
        opt = make(net.parameters(), lr=3e-3, weight_decay=1e-4)
        x = torch.randn(64, 5, generator=torch.Generator().manual_seed(1))
        for _ in range(5):
            loss = (net(x) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        nets.append(net)
    for a, b in zip(nets[0].parameters(), nets[1].parameters(), strict=True):
        assert torch.equal(a, b)


@pytest.mark.parametrize("length", [7, 8])
def test_cnn_pooling_matches_relu_then_max_pool(length):
    """relu(pairwise max) == MaxPool1d(2, ceil_mode=True)(relu(.)): values and gradients, ties included."""
    torch = pytest.importorskip("torch")
    from gex_impute.methods.hybrid.genes import _max_pool2

    gen = torch.Generator().manual_seed(0)
    base = torch.randn(3, 4, length, generator=gen)
    base[0, 0, :4] = torch.tensor([0.5, 0.5, -1.0, -1.0])  # a positive tie and a negative tie
    weights = torch.randn(3, 4, (length + 1) // 2, generator=gen)
    grads = []
    for pool in ("torch", "ours"):
        h = base.clone().requires_grad_()
        if pool == "torch":
            out = torch.nn.MaxPool1d(2, ceil_mode=True)(torch.relu(h))
        else:
            out = torch.relu(_max_pool2(h))
        (out * weights).sum().backward()
        grads.append((out.detach(), h.grad))
    assert torch.equal(grads[0][0], grads[1][0])
    assert torch.equal(grads[0][1], grads[1][1])


def test_cnn_reads_the_bases_around_a_known_tss():
    from gex_impute.methods.hybrid.genes import TSS_DOWNSTREAM, _around_tss

    seqs = ["A" * 8 + "C" + "G" * 3, "T" * 12, "ACGT", ""]  # TSS (C) at 8; unknown; TSS at 1; none
    var = pd.DataFrame({"promoter": seqs, "promoter_tss": [8, -1, 1, -1]})
    length = TSS_DOWNSTREAM + 6
    out = _around_tss(var, seqs, length)
    assert out[0] == "A" * 6 + "C" + "G" * 3 + "N" * (TSS_DOWNSTREAM - 4)  # 6 bases up to the TSS
    assert out[2] == "N" * 5 + "ACGT" + "N" * (TSS_DOWNSTREAM - 3)  # padded: the TSS at the same index
    assert out[0][6] == out[2][6] == "C" and len(out[0]) == len(out[2]) == length
    assert out[1] == seqs[1] and out[3] == ""  # without a known TSS: as given
    assert _around_tss(var.drop(columns="promoter_tss"), seqs, length) == seqs


def test_the_simulator_places_the_tss(sim):
    assert (sim.var["promoter_tss"] == sim.uns["simulate"]["upstream"]).all()
    assert {s[1000] for s in sim.var["promoter"].head(20)} <= set("ACGT")


def test_skipped_parts_say_what_is_missing_and_how_to_add_it():
    import pandas as pd

    from gex_impute.methods.hybrid.missing_parts import skipped_parts

    bare = pd.DataFrame(index=["g1", "g2"])
    notes = skipped_parts(bare, neighbours=True, cnn=False)
    assert len(notes) == 2 and "annotate_genes" in notes[0] and "no var['promoter']" in notes[1]
    placed = bare.assign(chrom="1", tss=[10, 20], promoter="ACGT")
    assert skipped_parts(placed, neighbours=True, cnn=None) == []
    assert "fewer than 50 genes" in skipped_parts(placed, neighbours=False, cnn=False)[0]


def test_a_cohort_without_unseen_genes_says_the_cnn_is_not_trained(caplog):
    """Galaxy sweep O: with use_sequence=True the hybrid fitted without its CNN, silently."""
    adata = simulated(6, 3, 80, seed=3, frac_missing_genes=0.0, frac_missing_samples=0.0)
    with caplog.at_level("INFO", logger="gex_impute"):
        model = gi.get_method("hybrid", **FAST).fit(adata)
    assert "genes" not in model.patterns_
    assert "the promoter CNN (for unseen genes) is not trained" in caplog.text
    assert model.cnn_profile_.size == 0

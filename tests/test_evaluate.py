from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import gex_impute as gi
from gex_impute._data import from_anndata
from gex_impute.methods import BaseImputer
from gex_impute.methods.baselines import MeanImputer
from gex_impute.tl import heldout_folds, score


class Spy(BaseImputer):
    """Records every matrix it is given and predicts the tissue mean."""

    name = "spy"
    seen: list[np.ndarray] = []

    def __init__(self, tag: str = "spy"):
        self.tag = tag

    def _fit(self, data):
        Spy.seen.append(data.values.copy())
        # try to reach the truth through the annotation too
        Spy.seen.append(data.obs.select_dtypes("number").to_numpy(dtype=float))

    def _predict(self, data):
        Spy.seen.append(data.values.copy())
        inner = MeanImputer()
        pred = inner._predict(data)
        self.n_fallback_ = inner.n_fallback_
        return pred


@pytest.mark.parametrize(("protocol", "fraction"), [("genes", 0.2), ("entries", 0.2), ("samples", 0.3)])
def test_truth_is_unreachable(sim, protocol, fraction):
    Spy.seen = []
    before = sim.X.copy()
    table, preds = gi.evaluate(
        sim,
        protocol=protocol,
        fraction=fraction,
        methods=[("spy", Spy())],
        donor_key="donor",
        progress=False,
        return_predictions=True,
    )
    np.testing.assert_array_equal(sim.X, before)  # input untouched
    held = preds["spy"]
    rows = sim.obs_names.get_indexer(held["sample"])
    cols = sim.var_names.get_indexer(held["gene"])
    truth = np.log1p(sim.X[rows, cols].astype(float))
    np.testing.assert_allclose(held["observed"], truth)
    assert np.isfinite(truth).all()  # only originally observed entries are held out
    matrices = [m for m in Spy.seen if m.shape == sim.shape]
    assert len(matrices) == 2  # fit and predict
    for m in matrices:
        assert np.isnan(m[rows, cols]).all()  # the method saw NaN where the truth is
        # and nothing else was hidden or added
        assert np.isnan(m).sum() == np.isnan(sim.X).sum() + len(held)
    # the held-out values appear nowhere in what the method received
    received = np.concatenate([m.ravel() for m in Spy.seen])
    received = received[np.isfinite(received)]
    leaked = np.isin(held["observed"].to_numpy(), received)
    distinct = ~np.isin(
        held["observed"].to_numpy(), np.log1p(np.delete(sim.X.ravel(), rows * sim.n_vars + cols))
    )
    assert not (leaked & distinct).any()
    assert table.loc["spy", "n_heldout"] == len(held)


def test_genes_protocol_hides_whole_genes(sim):
    data, _ = from_anndata(sim)
    (mask,) = heldout_folds(data, protocol="genes", fraction=0.2, random_state=1)
    hidden_genes = mask.any(axis=0)
    eligible = data.observed.any(axis=0).sum()
    assert hidden_genes.sum() == round(0.2 * eligible)
    # every observed entry of a hidden gene is hidden, nothing else
    np.testing.assert_array_equal(mask, data.observed & hidden_genes[None, :])


def test_entries_protocol_fraction(sim):
    data, _ = from_anndata(sim)
    (mask,) = heldout_folds(data, protocol="entries", fraction=0.1, random_state=0)
    assert mask.sum() == round(0.1 * data.observed.sum())
    assert not (mask & ~data.observed).any()
    (again,) = heldout_folds(data, protocol="entries", fraction=0.1, random_state=0)
    np.testing.assert_array_equal(mask, again)
    (other,) = heldout_folds(data, protocol="entries", fraction=0.1, random_state=1)
    assert (mask != other).any()


def test_samples_protocol_whole_profiles_and_donor_keeps_one(sim):
    data, _ = from_anndata(sim, donor_key="donor")
    (mask,) = heldout_folds(data, protocol="samples", fraction=0.5, random_state=0)
    rows = mask.any(axis=1)
    # whole profiles: every observed entry of a hidden sample is hidden
    np.testing.assert_array_equal(mask[rows], data.observed[rows])
    donors = np.asarray(data.donor)
    has_obs = data.observed.any(axis=1)
    for d in np.unique(donors):
        assert (has_obs & (donors == d) & ~rows).any(), f"donor {d} lost every profile"
    folds = heldout_folds(data, protocol="samples", fraction=None)
    units = {(a, b) for a, b, ok in zip(donors, np.asarray(data.tissue), has_obs, strict=True) if ok}
    assert len(folds) == len(units)
    total = np.sum(folds, axis=0)
    np.testing.assert_array_equal(total, data.observed.astype(int))  # each entry held out once


def test_samples_needs_donor(sim):
    with pytest.raises(ValueError, match="donor_key.*have a 'donor' column: donor_key='donor'"):
        gi.evaluate(sim, protocol="samples", donor_key=False, methods=["mean"], progress=False)
    # the samples' "donor" column is their donors by default (sweep P: fit / impute / evaluate ignored it)
    assert gi.evaluate(sim, protocol="samples", methods=["mean"], progress=False).loc["mean", "n_heldout"] > 0
    other = sim.copy()
    other.obs = other.obs.rename(columns={"donor": "individual"})
    with pytest.raises(ValueError, match=r"naming the donor column\.$"):  # no hint without one
        gi.evaluate(other, protocol="samples", methods=["mean"], progress=False)
    with pytest.raises(ValueError, match="protocol"):
        gi.evaluate(sim, protocol="rows", methods=["mean"], progress=False)
    with pytest.raises(ValueError, match="fraction"):
        gi.evaluate(sim, protocol="genes", fraction=None, methods=["mean"], progress=False)


def test_table_columns_and_method_specs(sim):
    specs = {"mean": "mean", "knn k=5": gi.get_method("knn", n_neighbors=5), "additive": MeanImputer}
    table = gi.evaluate(sim, protocol="entries", methods=specs, progress=False)
    assert list(table.index) == ["mean", "knn k=5", "additive"]
    for col in (
        "pearson",
        "spearman",
        "mse",
        "mean_gene_r",
        "mean_sample_r",
        "mean_tissue_r",
        "n_heldout",
        "fit_seconds",
        "predict_seconds",
        "n_fallback",
    ):
        assert col in table.columns
    # the same hold-out for every method, and the mean factory equals the mean name
    assert table["n_heldout"].nunique() == 1
    assert table.loc["mean", "mse"] == pytest.approx(table.loc["additive", "mse"])
    assert table["log1p"].all()
    with pytest.raises(ValueError, match="unique"):
        gi.evaluate(sim, methods=["mean", "mean"], progress=False)


def test_deterministic(sim):
    kw = {"protocol": "entries", "methods": ["mean", "softimpute"], "progress": False}
    a = gi.evaluate(sim, random_state=3, **kw).drop(columns=["fit_seconds", "predict_seconds"])
    b = gi.evaluate(sim, random_state=3, **kw).drop(columns=["fit_seconds", "predict_seconds"])
    pd.testing.assert_frame_equal(a, b)


def test_default_methods_skip_unmet_needs(sim):
    sim.var = sim.var.drop(columns=["chrom", "tss"])
    table = gi.evaluate(sim, protocol="entries", progress=False)
    assert "distance" not in table.index and "mean" in table.index
    with pytest.raises(ValueError, match="coordinates"):
        gi.evaluate(sim, protocol="entries", methods=["distance"], progress=False)


def test_score_against_scipy():
    from scipy.stats import pearsonr, spearmanr

    rng = np.random.default_rng(0)
    t = rng.normal(size=50)
    p = t + rng.normal(size=50)
    gene = np.repeat(np.arange(5), 10)
    out = score(t, p, gene=gene, sample=np.tile(np.arange(10), 5))
    assert out["pearson"] == pytest.approx(pearsonr(t, p).statistic)
    assert out["spearman"] == pytest.approx(spearmanr(t, p).statistic)
    assert out["mse"] == pytest.approx(np.mean((t - p) ** 2))
    per_gene = np.mean([pearsonr(t[gene == g], p[gene == g]).statistic for g in range(5)])
    assert out["mean_gene_r"] == pytest.approx(per_gene)
    assert np.isnan(out["mean_tissue_r"])
    # a constant prediction has no correlation
    assert np.isnan(score(t, np.zeros_like(t))["pearson"])


def test_kNN_beats_tissue_mean_on_entries(sim):
    table = gi.evaluate(sim, protocol="entries", methods=["mean", "knn", "distance"], progress=False)
    assert table.loc["knn", "pearson"] > 0.5
    assert table.loc["distance", "pearson"] > 0  # genomic neighbours carry signal in the simulator


@pytest.mark.realdata
def test_blake2020_p3_same_species_tissue_mean(shared_data):
    adata = gi.datasets.blake2020(shared_data)
    assert adata.shape == (47, 12184)
    assert "H1H" not in adata.obs_names  # the missing human-1 heart stays absent
    np.testing.assert_allclose(adata.X.sum(axis=1), 1e6)
    assert (adata.layers["counts"] >= 0).all()
    table = gi.evaluate(
        adata,
        protocol="samples",
        fraction=None,
        donor_key="donor",
        methods=[("mean (species)", gi.get_method("mean", group_by="species"))],
        progress=False,
    )
    assert table.loc["mean (species)", "n_folds"] == 47
    assert table.loc["mean (species)", "pearson"] > 0.9  # reference figure: about 0.96


@pytest.mark.realdata
def test_gtex_tissues_loader(shared_data):
    adata = gi.datasets.gtex_tissues(shared_data)
    assert adata.shape == (29, 19139)
    assert adata.var["tss"].notna().sum() >= 17_900
    assert (adata.var["promoter"].str.len() > 0).sum() >= 15_000
    placed = adata.var.dropna(subset=["tss"])
    assert set(placed["strand"]) <= {"+", "-"}
    assert placed["chrom"].str.startswith("chr").all()


def test_shared_data_dir_env(tmp_path, monkeypatch):
    monkeypatch.setenv("GEX_IMPUTE_DATA", str(tmp_path))
    assert gi.datasets.shared_data_dir() == tmp_path
    monkeypatch.setenv("GEX_IMPUTE_DATA", str(tmp_path / "absent"))
    with pytest.raises(FileNotFoundError, match="GEX_IMPUTE_DATA"):
        gi.datasets.shared_data_dir()
    with pytest.raises(FileNotFoundError, match="data_dir"):
        gi.datasets.gtex_tissues(tmp_path)


def test_samples_protocol_kfold_partitions_profiles(sim):
    from gex_impute._data import from_anndata
    from gex_impute.tl import heldout_folds

    data, _ = from_anndata(sim, donor_key="donor")
    folds = heldout_folds(data, protocol="samples", n_folds=5, random_state=1)
    assert len(folds) == 5
    stacked = np.stack(folds)
    # every observed entry of a profile with data is held out exactly once over the folds
    has_obs = data.observed.any(axis=1)
    np.testing.assert_array_equal(stacked.sum(axis=0), data.observed & has_obs[:, None])
    donors = np.asarray(data.donor.codes)
    tissues = np.asarray(data.tissue.codes)
    for mask in folds:
        rows = mask.any(axis=1)
        assert rows.any()
        # a donor never loses two tissues in one fold
        pairs = set(zip(donors[rows], tissues[rows], strict=True))
        assert len({d for d, _ in pairs}) == len(pairs)
    with pytest.raises(ValueError, match="n_folds=2 must lie between"):
        heldout_folds(data, protocol="samples", n_folds=2)
    with pytest.raises(ValueError, match="protocol='samples' only"):
        heldout_folds(data, protocol="entries", n_folds=3)
    table = gi.evaluate(
        sim, protocol="samples", n_folds=5, donor_key="donor", methods=["mean"], progress=False
    )
    assert table.loc["mean", "n_folds"] == 5


class MeanWithIntervals(MeanImputer):
    """Tissue mean with a fixed-width interval: coverage and width are known from the truth."""

    name = "mean_with_intervals"

    def __init__(self, half_width: float = 0.5):
        self.half_width = half_width
        super().__init__()

    def predict_interval(self, data, level):
        pred = self.predict(data)
        return pred - self.half_width, pred + self.half_width


def test_by_quintile_rows(sim):
    table, preds = gi.tl.evaluate(
        sim,
        protocol="genes",
        methods=["mean", "additive"],
        by_quintile=True,
        progress=False,
        return_predictions=True,
    )
    assert table.index.names == ["method", "quintile"]
    assert list(table.loc["mean"].index) == ["all", "Q1", "Q2", "Q3", "Q4", "Q5"]
    mean = table.loc["mean"]
    assert mean.loc[["Q1", "Q2", "Q3", "Q4", "Q5"], "n_heldout"].sum() == mean.loc["all", "n_heldout"]
    lows, highs = mean["gene_mean_low"].to_numpy()[1:], mean["gene_mean_high"].to_numpy()[1:]
    assert (np.diff(lows) >= 0).all() and (lows <= highs).all()
    # the quintile of every held-out entry is that of its gene's observed mean
    held = preds["mean"]
    gene_mean = held.groupby("gene")["observed"].mean()
    by_q = held.groupby("quintile")["gene"].unique()
    assert gene_mean[by_q["Q1"]].max() <= gene_mean[by_q["Q5"]].min()
    # the "all" rows are the plain table
    plain = gi.tl.evaluate(sim, protocol="genes", methods=["mean", "additive"], progress=False)
    cols = ["pearson", "mse", "n_heldout"]
    np.testing.assert_allclose(
        table.xs("all", level="quintile")[cols].to_numpy(float), plain[cols].to_numpy(float)
    )


def test_quintiles_keep_tied_lowest_genes_in_q1(sim):
    """Genes tied at the lowest mean (never expressed) are the lowest quintile, not a higher one."""
    adata = sim.copy()
    x = np.asarray(adata.X, dtype=float).copy()
    zero = np.arange(0, adata.n_vars, 5)  # a fifth of the genes at 0 wherever observed
    x[:, zero] = np.where(np.isnan(x[:, zero]), np.nan, 0.0)
    adata.X = x
    table, preds = gi.tl.evaluate(
        adata, methods=["mean"], fraction=0.5, by_quintile=True, progress=False, return_predictions=True
    )
    held = preds["mean"]
    zero_held = held["gene"].isin(adata.var_names[zero])
    assert zero_held.any()
    assert set(held.loc[zero_held, "quintile"]) == {"Q1"}
    assert table.loc[("mean", "Q1"), "n_heldout"] >= zero_held.sum()


def test_quintile_rows_count_their_own_fallbacks(sim):
    table = gi.tl.evaluate(sim, methods=["mean"], by_quintile=True, progress=False)
    rows = table.loc["mean"]
    quint = rows.loc[["Q1", "Q2", "Q3", "Q4", "Q5"]]
    assert quint["n_fallback"].sum() == rows.loc["all", "n_fallback"] > 0
    assert (quint["n_fallback"] <= quint["n_heldout"]).all()


def test_interval_level_accepts_numpy_floats(sim):
    table = gi.tl.evaluate(sim, protocol="entries", methods=["knn"], interval=np.float32(0.9), progress=False)
    assert table.loc["knn", "interval"] == 0.9  # as written, not float32's 0.8999999761581421


def test_interval_coverage_and_width(sim):
    table, preds = gi.tl.evaluate(
        sim,
        protocol="entries",
        methods={"narrow": MeanWithIntervals(0.1), "wide": MeanWithIntervals(2.0), "mean": "mean"},
        interval=0.9,
        progress=False,
        return_predictions=True,
    )
    for label, half in (("narrow", 0.1), ("wide", 2.0)):
        held = preds[label]
        inside = (
            (held["observed"] >= held["predicted"] - half) & (held["observed"] <= held["predicted"] + half)
        ).mean()
        assert table.loc[label, "coverage"] == pytest.approx(inside)
        assert table.loc[label, "mean_width"] == pytest.approx(2 * half)
    assert table.loc["narrow", "coverage"] < table.loc["wide", "coverage"]
    # every registered method gives intervals (conformal calibration on the fold's training data)
    assert table.loc["wide", "interval"] == 0.9 and table.loc["mean", "interval"] == 0.9
    assert 0.8 < table.loc["mean", "coverage"] <= 1.0
    without = gi.tl.evaluate(
        sim, protocol="entries", methods=[MeanWithIntervals()], interval=None, progress=False
    )
    assert "coverage" not in without.columns
    with pytest.raises(ValueError, match="interval=2"):
        gi.tl.evaluate(sim, methods=["mean"], interval=2, progress=False)


def test_skip_unusable_and_format_table(sim, caplog):
    sim.var = sim.var.drop(columns=["chrom", "tss"])
    with pytest.raises(ValueError, match="coordinates"):
        gi.tl.evaluate(sim, protocol="entries", methods=["distance", "mean"], progress=False)
    table = gi.tl.evaluate(
        sim, protocol="entries", methods=["distance", "mean"], skip_unusable=True, progress=False
    )
    assert list(table.index) == ["mean"]
    assert "skipping method 'distance'" in caplog.text
    with pytest.raises(ValueError, match="none of the methods"):
        gi.tl.evaluate(sim, protocol="entries", methods=["distance"], skip_unusable=True, progress=False)
    text = gi.tl.format_table(table)
    assert text.splitlines()[0].split()[:3] == ["protocol", "pearson", "spearman"]
    assert f"{table.loc['mean', 'pearson']:.3f}" in text

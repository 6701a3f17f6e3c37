from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import gex_impute as gi
from gex_impute._data import ExpressionData, from_anndata
from gex_impute.errors import DataError
from gex_impute.methods import BaseImputer, get_method
from gex_impute.methods._fallback import fallback_values

BASELINES = ["distance", "nearest_gene", "mean", "additive", "knn", "softimpute", "pca_regression"]


def _data(values, tissue, donor=None, var=None, obs=None):
    n_s, n_g = values.shape
    obs = pd.DataFrame(index=[f"s{i}" for i in range(n_s)]) if obs is None else obs
    var = pd.DataFrame(index=[f"g{i}" for i in range(n_g)]) if var is None else var
    donor = None if donor is None else pd.Categorical(donor)
    return ExpressionData(np.asarray(values, dtype=float), pd.Categorical(tissue), donor, obs, var)


def test_all_baselines_registered():
    assert set(BASELINES) <= set(gi.available_methods())
    for name in BASELINES:
        method = get_method(name)
        assert isinstance(method, BaseImputer)
        # sklearn-style params: a clone from get_params has the same params
        clone = type(method)(**method.get_params())
        assert clone.get_params() == method.get_params()


@pytest.mark.parametrize("name", BASELINES)
def test_baseline_finite_everywhere_with_hard_missingness(sim, name):
    """A whole gene and a whole sample missing: still finite, and fallbacks are counted."""
    x = sim.X.copy()
    x[:, 3] = np.nan  # gene never observed
    x[5, :] = np.nan  # sample with nothing observed
    sim.X = x
    data, _ = from_anndata(sim, donor_key="donor")
    method = get_method(name).fit(data)
    pred = method.predict(data)
    assert pred.shape == data.values.shape
    assert np.isfinite(pred).all()
    n_missing = int(np.isnan(data.values).sum())
    assert 0 <= method.n_fallback_ <= n_missing
    if name not in ("mean", "additive"):
        # gene 3 and sample 5 carry no information for these methods: at least those are fallbacks
        assert method.n_fallback_ >= data.n_samples + data.n_genes - 1
    assert method.fallback_mask_.shape == data.values.shape
    assert not (method.fallback_mask_ & data.observed).any()


@pytest.mark.parametrize("name", ["distance", "softimpute", "pca_regression", "knn_samples"])
def test_random_state_none_is_seed_zero(sim, name):
    """None is seed 0, never numpy's global state: every fit of the same data gives the same estimates."""
    data, _ = from_anndata(sim, donor_key="donor")
    np.random.seed(1)
    first = get_method(name, random_state=None).fit(data).predict(data)
    np.random.seed(2)
    again = get_method(name, random_state=None).fit(data).predict(data)
    np.testing.assert_array_equal(first, again)
    np.testing.assert_array_equal(first, get_method(name, random_state=0).fit(data).predict(data))


def test_fallback_values_levels():
    nan = np.nan
    values = np.array(
        [
            [1.0, nan, nan, 5.0],
            [3.0, 4.0, nan, nan],
            [nan, 8.0, nan, 2.0],
        ]
    )
    data = _data(values, ["a", "a", "b"])
    fb = fallback_values(data)
    assert fb[0, 1] == 4.0  # gene 1 observed in tissue a (sample 1)
    assert fb[2, 0] == 2.0  # gene 0 not in tissue b: mean over all samples (1, 3)
    assert fb[0, 2] == pytest.approx(3.0)  # gene 2 never observed: sample 0 mean of (1, 5)
    assert fb[2, 2] == pytest.approx(5.0)
    assert np.isfinite(fb).all()


def test_mean_matches_groupby(sim):
    data, _ = from_anndata(sim)
    pred = get_method("mean").fit(data).predict(data)
    frame = pd.DataFrame(data.values)
    expected = frame.groupby(np.asarray(data.tissue)).transform("mean").to_numpy()
    ok = ~np.isnan(expected)
    np.testing.assert_allclose(pred[ok], expected[ok])


def test_mean_group_by_extra_column(sim):
    sim.obs["group"] = np.where(np.arange(sim.n_obs) % 2 == 0, "x", "y")
    data, _ = from_anndata(sim)
    pred = get_method("mean", group_by=("group",)).fit(data).predict(data)
    frame = pd.DataFrame(data.values)
    keys = [np.asarray(data.tissue), sim.obs["group"].to_numpy()]
    expected = frame.groupby(keys).transform("mean").to_numpy()
    ok = ~np.isnan(expected)
    np.testing.assert_allclose(pred[ok], expected[ok])
    with pytest.raises(DataError, match="not_a_column"):
        get_method("mean", group_by="not_a_column").fit(data)


def test_distance_hand_computed():
    # four genes on chr1, one alone on chr2; gene 1 is missing in sample 0
    var = pd.DataFrame(
        {"chrom": ["chr1"] * 4 + ["chr2"], "tss": [0, 10_000, 30_000, 2_000_000, 500], "strand": ["+"] * 5},
        index=[f"g{i}" for i in range(5)],
    )
    values = np.array([[2.0, np.nan, 8.0, 100.0, 1.0], [1.0, 3.0, 5.0, 7.0, np.nan]])
    data = _data(values, ["a", "b"], var=var)
    method = get_method("distance", k=2, window=100_000, power=1.0, pseudo_distance=0.0).fit(data)
    pred = method.predict(data)
    # neighbours of g1 within 100 kb: g0 (10 kb) and g2 (20 kb); g3 is 1.99 Mb away
    w0, w2 = 1 / 10_000, 1 / 20_000
    assert pred[0, 1] == pytest.approx((w0 * 2.0 + w2 * 8.0) / (w0 + w2))
    # g4 is alone on chr2: fallback = its mean over observed samples of its tissue, else overall
    assert pred[1, 4] == pytest.approx(1.0)
    assert method.n_fallback_ == 1
    assert method.fallback_mask_[1, 4] and not method.fallback_mask_[0, 1]
    # power 0: plain mean of the neighbours
    pred0 = get_method("distance", k=2, window=100_000, power=0.0).fit(data).predict(data)
    assert pred0[0, 1] == pytest.approx(5.0)
    # nearest gene: g0 only
    near = get_method("nearest_gene", window=100_000).fit(data).predict(data)
    assert near[0, 1] == pytest.approx(2.0)


def test_distance_skips_neighbours_missing_in_the_sample():
    var = pd.DataFrame({"chrom": ["chr1"] * 4, "tss": [0, 1_000, 2_000, 50_000], "strand": ["+"] * 4})
    var.index = [f"g{i}" for i in range(4)]
    values = np.array([[np.nan, np.nan, 4.0, 6.0], [1.0, 2.0, 3.0, 4.0]])
    data = _data(values, ["a", "b"], var=var)
    pred = get_method("distance", k=1, window=100_000, power=0.0).fit(data).predict(data)
    # g0's nearest (g1) is missing in sample 0, so the next observed one (g2) serves it
    assert pred[0, 0] == pytest.approx(4.0)


def test_distance_validation_uses_reference_genes_only(sim):
    data, _ = from_anndata(sim)
    method = get_method("distance", candidate_k=(2, 5), candidate_window=(50_000, 1_000_000)).fit(data)
    assert method.k_ in (2, 5) and method.window_ in (50_000, 1_000_000)
    assert len(method.validation_scores_) == 2 * 2 * len(method.candidate_power)
    # hiding further entries that are already missing cannot change the choice: the validation
    # only reads observed values; changing the missing entries' truth is invisible by construction
    again = get_method("distance", candidate_k=(2, 5), candidate_window=(50_000, 1_000_000)).fit(data)
    assert (again.k_, again.window_, again.power_) == (method.k_, method.window_, method.power_)


def test_distance_genes_without_coordinates(sim):
    """NaN / pandas NA coordinates: those genes get the fallback, the others their neighbours."""
    sim.var["chrom"] = sim.var["chrom"].astype("string")
    sim.var["tss"] = sim.var["tss"].astype("Int64")
    sim.var["strand"] = sim.var["strand"].astype(object)
    lost = sim.var_names[:40]
    sim.var.loc[lost[::2], ["chrom", "tss", "strand"]] = pd.NA
    sim.var.loc[lost[1::2], "tss"] = pd.NA
    sim.var.loc[sim.var_names[40:60], "strand"] = np.nan
    data, _ = from_anndata(sim)
    method = get_method("distance", k=5, window=1_000_000, power=1.0).fit(data)
    pred = method.predict(data)
    assert np.isfinite(pred).all()
    missing = np.isnan(data.values)
    assert method.fallback_mask_[:, :40][missing[:, :40]].all()  # no coordinates: the fallback
    assert not method.fallback_mask_[:, 40:][missing[:, 40:]].all()
    auto = get_method("distance", candidate_k=(2, 5), candidate_window=(1_000_000,)).fit(data)
    assert np.isfinite(auto.predict(data)).all()


def test_distance_needs_coordinates(sim):
    sim.var = sim.var.drop(columns=["tss"])
    with pytest.raises(DataError, match="annotate_genes"):
        get_method("distance").fit(sim)


def test_additive_recovers_additive_truth():
    rng = np.random.default_rng(1)
    n_d, n_t, n_g = 5, 4, 60
    gene, tissue, donor = rng.normal(size=n_g), rng.normal(size=n_t), rng.normal(size=n_d)
    d_idx = np.repeat(np.arange(n_d), n_t)
    t_idx = np.tile(np.arange(n_t), n_d)
    truth = 3 + gene[None, :] + tissue[t_idx][:, None] + donor[d_idx][:, None]
    values = truth.copy()
    values[rng.random(values.shape) < 0.2] = np.nan
    data = _data(values, t_idx.astype(str), donor=d_idx.astype(str))
    pred = get_method("additive", alpha=1e-9, max_iter=500, tol=1e-12).fit(data).predict(data)
    np.testing.assert_allclose(pred, truth, atol=1e-6)
    # without donors the donor effect cannot be recovered
    no_donor = get_method("additive", use_donor=False, alpha=1e-9).fit(data).predict(data)
    assert np.abs(no_donor - truth).max() > 0.1


def _low_rank(seed=0, n=30, p=200, rank=3, frac=0.1):
    rng = np.random.default_rng(seed)
    truth = rng.normal(size=(n, rank)) @ rng.normal(size=(rank, p)) + rng.normal(size=p)[None, :] * 2
    values = truth.copy()
    values[rng.random(values.shape) < frac] = np.nan
    tissue = np.arange(n) % 3
    return _data(values, tissue.astype(str)), truth


@pytest.mark.parametrize("name", ["softimpute", "pca_regression", "knn"])
def test_matrix_completion_beats_mean_on_low_rank(name):
    data, truth = _low_rank()
    miss = np.isnan(data.values)
    err = {}
    for m in (name, "mean"):
        pred = get_method(m).fit(data).predict(data)
        err[m] = np.mean((pred[miss] - truth[miss]) ** 2)
    assert err[name] < 0.5 * err["mean"]


def test_softimpute_recovers_exact_low_rank():
    data, truth = _low_rank(seed=2)
    method = get_method("softimpute").fit(data)
    pred = method.predict(data)
    miss = np.isnan(data.values)
    rel = np.linalg.norm(pred[miss] - truth[miss]) / np.linalg.norm(truth[miss])
    assert rel < 0.05
    assert 1 <= method.rank_ <= 10
    hard = get_method("softimpute", rank=3, shrinkage=0.0).fit(data).predict(data)
    assert np.linalg.norm(hard[miss] - truth[miss]) / np.linalg.norm(truth[miss]) < 0.05


def test_knn_uses_similar_genes():
    # gene 0 is a copy of gene 1 (+1); with k=1 the nearest gene of gene 0 is gene 1
    rng = np.random.default_rng(3)
    base = rng.normal(size=(8, 20)) * 3
    base[:, 0] = base[:, 1] + 1
    values = base.copy()
    values[2, 0] = np.nan
    data = _data(values, np.arange(8).astype(str))
    pred = get_method("knn", n_neighbors=1).fit(data).predict(data)
    assert pred[2, 0] == pytest.approx(base[2, 1])


def test_mean_predict_rows_never_serves_the_means_of_other_labels():
    """The same values array with other tissue labels (after a call that cached the array)."""
    from dataclasses import replace

    adata = gi.datasets.simulate(n_donors=4, n_tissues=3, n_genes=40, random_state=1)
    data, _ = from_anndata(adata, log_transform=False)
    tissue = np.asarray(data.tissue)
    first, second = data.tissue.categories[:2]
    swapped = np.where(tissue == first, second, np.where(tissue == second, first, tissue))
    other = replace(data, tissue=pd.Categorical(swapped, categories=data.tissue.categories))
    rows = np.arange(data.n_samples)
    model = gi.get_method("mean").fit(data)
    model.predict_rows(data, rows)  # checks, and keeps, this values array
    np.testing.assert_allclose(
        model.predict_rows(other, rows), gi.get_method("mean").fit(other).predict(other), equal_nan=True
    )

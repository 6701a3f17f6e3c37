"""kNN over samples (``knn_samples``): sklearn semantics, k chosen on validation, save/load."""

from __future__ import annotations

import numpy as np
import pytest

import gex_impute as gi
from gex_impute.errors import ParameterError


def test_matches_sklearn_with_a_fixed_k(sim):
    from sklearn.impute import KNNImputer

    from gex_impute._data import from_anndata

    data, _ = from_anndata(sim, tissue_key="tissue")
    values = np.asarray(data.values, dtype=float)
    keep = ~np.isnan(values).all(axis=1)
    expected = KNNImputer(n_neighbors=3, keep_empty_features=True).fit_transform(values[keep])
    pred = gi.get_method("knn_samples", n_neighbors=3).fit(data).predict(data)
    cols = ~np.isnan(values[keep]).all(axis=0)
    np.testing.assert_allclose(pred[keep][:, cols], expected[:, cols], rtol=1e-6)


def test_k_chosen_on_validation_and_beats_tissue_mean(sim):
    # with enough samples per tissue (20 donors), a sample's neighbours beat its tissue's mean
    cohort = gi.datasets.simulate(n_donors=20, n_tissues=3, n_genes=200, random_state=1)
    table = gi.tl.evaluate(
        cohort, protocol="entries", methods=["knn_samples", "mean"], donor_key=False, progress=False
    )
    assert table.loc["knn_samples", "mse"] < table.loc["mean", "mse"]
    model = gi.get_method("knn_samples").fit(sim)
    assert model.n_neighbors_ in model.candidates
    assert set(model.validation_scores_) == {str(k) for k in model.candidates}


def test_absent_profiles_use_the_fallback(sim):
    model = gi.get_method("knn_samples", n_neighbors=2).fit(sim)
    adata = sim.copy()
    adata.X[0] = np.nan
    pred = model.predict(adata)
    assert np.isfinite(pred).all()
    assert model.n_fallback_ >= adata.n_vars


def test_save_load_round_trip(sim, tmp_path):
    model = gi.get_method("knn_samples").fit(sim)
    model.save(tmp_path / "m.zip")
    again = gi.load_model(tmp_path / "m.zip")
    assert again.n_neighbors_ == model.n_neighbors_
    np.testing.assert_allclose(again.predict(sim), model.predict(sim))


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"n_neighbors": 0}, "n_neighbors"),
        ({"validation_fraction": 1.0}, "validation_fraction"),
        ({"candidates": ()}, "candidates"),
    ],
)
def test_bad_parameters(params, fragment):
    with pytest.raises(ParameterError, match=fragment):
        gi.get_method("knn_samples", **params)

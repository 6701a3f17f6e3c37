"""Tests of the internal data contract (gex_impute/_data.py)."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from gex_impute._data import detect_orientation, from_anndata, resolve_log_transform, to_input_units


def _adata(values, tissues=("a", "a", "b"), donors=("d1", "d2", "d1")):
    obs = pd.DataFrame(
        {"tissue": list(tissues), "donor": list(donors)}, index=[f"s{i}" for i in range(len(tissues))]
    )
    var = pd.DataFrame(index=[f"g{j}" for j in range(np.shape(values)[1])])
    return ad.AnnData(X=np.asarray(values, dtype=float), obs=obs, var=var)


def test_orientation_detected_both_ways():
    a = _adata([[1.0, 2.0], [3.0, np.nan], [5.0, 6.0]])
    assert detect_orientation(a, "tissue") == "samples_x_genes"
    assert detect_orientation(a.T, "tissue") == "genes_x_samples"
    d1, o1 = from_anndata(a, log_transform=False)
    d2, o2 = from_anndata(a.T, log_transform=False)
    assert (o1, o2) == ("samples_x_genes", "genes_x_samples")
    np.testing.assert_array_equal(d1.values, d2.values)
    assert list(d2.tissue) == ["a", "a", "b"]


def test_missing_tissue_key_names_columns_and_fix():
    a = _adata([[1.0], [2.0], [3.0]])
    with pytest.raises(KeyError, match="tissue_key 'organ' not found.*'tissue'.*Pass tissue_key="):
        from_anndata(a, tissue_key="organ")


def test_ambiguous_orientation_is_an_error():
    a = _adata([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    a.var["tissue"] = ["x", "y"]
    with pytest.raises(KeyError, match="ambiguous"):
        detect_orientation(a, "tissue")


def test_missing_donor_key_is_an_error():
    a = _adata([[1.0], [2.0], [3.0]])
    with pytest.raises(KeyError, match="donor_key 'individual'"):
        from_anndata(a, donor_key="individual")


def test_empty_tissue_is_an_error():
    a = _adata([[1.0, 2.0], [3.0, 4.0], [np.nan, np.nan]])
    with pytest.raises(ValueError, match="tissue 'b' has no observed value"):
        from_anndata(a)


def test_infinite_values_rejected():
    a = _adata([[1.0, np.inf], [3.0, 4.0], [5.0, 6.0]])
    with pytest.raises(ValueError, match="infinite"):
        from_anndata(a)


def test_negative_values_with_log_transform_rejected():
    a = _adata([[1.0, -2.0], [3.0, 4.0], [5.0, 6.0]])
    with pytest.raises(ValueError, match="negative values.*log_transform=False"):
        from_anndata(a, log_transform=True)
    # auto keeps negative (already log-scale) data as they are
    data, _ = from_anndata(a, log_transform="auto")
    assert not data.log1p


def test_log_auto_and_roundtrip():
    values = np.array([[0.0, 100.0], [3.0, 4.0], [5.0, np.nan]])
    assert resolve_log_transform(values, "auto")
    assert not resolve_log_transform(values / 100, "auto")
    data, _ = from_anndata(_adata(values))
    assert data.log1p
    np.testing.assert_allclose(to_input_units(data.values, True), values, equal_nan=True)


def test_sparse_structural_zero_is_observed_and_nan_is_missing():
    dense = np.array([[0.0, 1.0], [np.nan, 0.0], [2.0, 0.0]])
    a = _adata(dense)
    a.X = sparse.csr_matrix(dense)
    data, _ = from_anndata(a, log_transform=False)
    np.testing.assert_array_equal(np.isnan(data.values), np.isnan(dense))
    assert data.values[0, 0] == 0.0


def test_input_not_modified():
    values = np.array([[0.0, 100.0], [3.0, 4.0], [5.0, np.nan]])
    a = _adata(values)
    before = a.X.copy()
    data, _ = from_anndata(a)
    data.values[:] = 0
    np.testing.assert_array_equal(a.X, before)


def test_layer_lookup_error_lists_layers():
    a = _adata([[1.0], [2.0], [3.0]])
    a.layers["tpm"] = a.X.copy()
    with pytest.raises(KeyError, match=r"layer 'counts' not found.*\['tpm'\]"):
        from_anndata(a, layer="counts")

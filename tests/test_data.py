"""Tests of the internal data contract (gex_impute/_data.py)."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

from gex_impute import io as gi_io
from gex_impute._data import (
    dense,
    detect_orientation,
    fingerprint,
    from_anndata,
    input_rows,
    merge_predictions,
    register_keys,
    registered_keys,
    resolve_keys,
    resolve_log_transform,
    to_input_units,
)
from gex_impute.errors import DataError, ParameterError


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


def test_huge_values_without_log1p_are_refused():
    """Modelled as they are, 1e20 breaks the methods' numerics: a clear error instead."""
    a = _adata([[1.0, 2e20], [3.0, 4.0], [5.0, 6.0]])
    with pytest.raises(DataError, match="reach 2e\\+20 and are modelled without log1p.*log_transform=True"):
        from_anndata(a, log_transform=False)
    with pytest.raises(DataError, match="modelled without log1p"):
        from_anndata(_adata([[-1.0, 2e20], [3.0, 4.0], [5.0, 6.0]]), log_transform="auto")
    assert from_anndata(a, log_transform=True)[0].log1p  # with log1p: about 46
    assert not from_anndata(_adata([[1.0, 2e5], [3.0, 4.0], [5.0, 6.0]]), log_transform=False)[0].log1p


def test_a_few_negative_cells_among_tpm_values_are_reported(caplog):
    import logging

    values = np.random.default_rng(0).gamma(0.5, 40, size=(40, 50))
    values[3, 7] = -1.5  # one bad cell turns log1p off for everything
    with caplog.at_level(logging.WARNING, logger="gex_impute"):
        assert not resolve_log_transform(values, "auto")
    assert "1 of 2000 values are negative (minimum -1.5)" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.WARNING, logger="gex_impute"):  # log-scale data: negative by nature
        resolve_log_transform(np.log(np.abs(values) + 0.01) * 10, "auto")
    assert "negative" not in caplog.text


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


def test_empty_data_is_a_data_error():
    empty_genes = ad.AnnData(
        X=np.zeros((3, 0)), obs=pd.DataFrame({"tissue": ["a", "a", "b"]}, index=["s0", "s1", "s2"])
    )
    with pytest.raises(DataError, match="3 samples and 0 genes"):
        from_anndata(empty_genes)
    a = _adata([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    with pytest.raises(DataError, match="0 samples"):
        from_anndata(a[[]].copy())


def test_nan_donor_label_is_an_error_not_a_donor_called_nan():
    a = _adata([[1.0], [2.0], [3.0]], donors=("d1", None, "d1"))
    with pytest.raises(DataError, match=r"1 samples \(e.g. \['s1'\]\) have no donor in column 'donor'"):
        from_anndata(a, donor_key="donor")
    a = _adata([[1.0], [2.0], [3.0]], tissues=("a", np.nan, "a"))
    with pytest.raises(DataError, match="no tissue"):
        from_anndata(a)


def test_log1p_of_logged_values_warns():
    logged = np.log1p(np.array([[0.0, 100.5], [3.0, 4.0], [5.0, np.nan]]))
    with pytest.warns(UserWarning, match="already log-transformed"):
        data, _ = from_anndata(_adata(logged), log_transform=True)
    assert data.log1p
    counts = np.array([[0.0, 10.0], [3.0, 4.0], [5.0, np.nan]])  # small integer counts: no warning
    from_anndata(_adata(counts), log_transform=True)


def test_register_keys_supplies_defaults():
    a = _adata([[1.0, 2.0], [3.0, np.nan], [5.0, 6.0]])
    a.obs = a.obs.rename(columns={"tissue": "organ", "donor": "individual"})
    a.layers["tpm"] = a.X * 10
    assert resolve_keys(a) == ("tissue", None, None)
    register_keys(a, tissue_key="organ", donor_key="individual", layer="tpm")
    assert a.uns["gex_impute"] == {"tissue_key": "organ", "donor_key": "individual", "layer": "tpm"}
    assert resolve_keys(a) == ("organ", "individual", "tpm")
    assert resolve_keys(a, donor_key=False, layer="X") == ("organ", None, None)
    data, _ = from_anndata(a, log_transform=False)
    assert list(data.donor) == ["d1", "d2", "d1"]
    np.testing.assert_array_equal(data.values, a.layers["tpm"])
    with pytest.raises(KeyError, match="donor_key 'sex'"):
        register_keys(a, tissue_key="organ", donor_key="sex")
    with pytest.raises(KeyError, match="layer 'counts'"):
        register_keys(a, tissue_key="organ", layer="counts")
    with pytest.raises(ParameterError, match="non-empty"):
        register_keys(a, tissue_key="")
    # the registration is written to and read back from h5ad
    assert registered_keys(a.copy()) == registered_keys(a)


def test_dense_reads_blocks_in_any_order():
    values = np.arange(12, dtype=np.float32).reshape(4, 3)
    for matrix in (values, sparse.csr_matrix(values)):
        np.testing.assert_array_equal(dense(matrix, rows=[2, 0, 2]), values[[2, 0, 2]])
        np.testing.assert_array_equal(dense(matrix, cols=np.array([2, 1])), values[:, [2, 1]])
        assert dense(matrix, np.float32).dtype == np.float32


def test_backed_input(tmp_path):
    a = _adata([[1.0, 2.0], [3.0, np.nan], [5.0, 6.0]])
    gi_io.write_h5ad(a, tmp_path / "a.h5ad")  # writes pandas 3's string columns too
    backed = ad.read_h5ad(tmp_path / "a.h5ad", backed="r")
    try:
        data, _ = from_anndata(backed, log_transform=False)
        np.testing.assert_array_equal(data.values, a.X)
        rows = input_rows(backed, np.array([2, 0]), layer=None, orientation="samples_x_genes")
        np.testing.assert_array_equal(rows, a.X[[2, 0]])
    finally:
        backed.file.close()


def test_merge_predictions_keeps_observed_bitwise_in_both_orientations():
    values = np.array([[0.1, 100.0], [3.0, np.nan], [np.nan, 6.0]], dtype=np.float32)
    samples_x_genes = _adata(values)
    samples_x_genes.X = values.copy()
    for adata in (samples_x_genes, samples_x_genes.T):
        data, orientation = from_anndata(adata)
        missing = np.isnan(data.values)
        pred = np.full(data.values.shape, np.log1p(7.0))
        out = merge_predictions(adata, pred, missing, layer=None, orientation=orientation, log1p=data.log1p)
        assert out.dtype == np.float32 and out.shape == adata.shape
        expected = np.where(np.isnan(values), np.float32(7.0), values)
        np.testing.assert_array_equal(out, expected if orientation == "samples_x_genes" else expected.T)


def test_fingerprint_follows_values_and_names():
    a = _adata([[1.0, 2.0], [3.0, np.nan], [5.0, 6.0]])
    base = fingerprint(a, layer=None, orientation="samples_x_genes")
    assert base == fingerprint(a.T, layer=None, orientation="genes_x_samples")
    b = a.copy()
    b.X = sparse.csr_matrix(b.X.astype(np.float32))
    assert fingerprint(b, layer=None, orientation="samples_x_genes") == base
    b = a.copy()
    b.X[0, 0] = 1.5
    assert fingerprint(b, layer=None, orientation="samples_x_genes") != base
    b = a.copy()
    b.obs_names = ["x0", "x1", "x2"]
    assert fingerprint(b, layer=None, orientation="samples_x_genes") != base


def test_subset_samples_keeps_categories():
    data, _ = from_anndata(_adata([[1.0], [2.0], [3.0]]), donor_key="donor", log_transform=False)
    sub = data.subset_samples(np.array([2]))
    assert list(sub.tissue.categories) == ["a", "b"] and list(sub.donor_codes) == [0]
    assert sub.values.shape == (1, 1) and list(sub.obs.index) == ["s2"]


@pytest.mark.parametrize("not_anndata", [pd.DataFrame({"tissue": ["a"]}), np.zeros((2, 2)), None])
def test_not_an_anndata_is_refused_with_the_fix(not_anndata):
    for call in (lambda: from_anndata(not_anndata), lambda: register_keys(not_anndata)):
        with pytest.raises(TypeError, match=r"expected an AnnData, got .*anndata\.AnnData\(X=values"):
            call()


def test_non_numeric_matrix_is_a_data_error_naming_where():
    a = _adata([[1.0], [2.0], [3.0]])
    a.layers["labels"] = np.array([["x"], ["y"], ["z"]])
    with pytest.raises(DataError, match=r"adata.layers\['labels'\] holds <U1 values, not real numbers"):
        from_anndata(a, layer="labels")
    a.layers["mixed"] = np.array([[1.0], ["n/a"], [3.0]], dtype=object)
    with pytest.raises(DataError, match=r"cannot be read as numbers .*NaN for missing"):
        from_anndata(a, layer="mixed")
    a.layers["objects"] = np.array([[1.0], [np.nan], [3.0]], dtype=object)  # numbers stored as objects: fine
    assert np.isnan(from_anndata(a, layer="objects", log_transform=False)[0].values[1, 0])


def test_bad_log_transform_is_refused_before_reading_the_matrix():
    a = _adata([[1.0], [2.0], [3.0]])
    with pytest.raises(ParameterError, match="log_transform must be True, False or 'auto', got 'yes'"):
        from_anndata(a, log_transform="yes")


def test_merge_predictions_refuses_predictions_of_another_shape():
    a = _adata([[1.0, np.nan], [3.0, 4.0], [5.0, 6.0]])
    data, orientation = from_anndata(a)
    with pytest.raises(DataError, match=r"shape \(2, 2\) .* 3 samples x 2 genes"):
        merge_predictions(
            a, data.values[:2], np.isnan(data.values[:2]), layer=None, orientation=orientation, log1p=False
        )


def test_lazy_sparse_matrix_is_read_like_the_sparse_matrix():
    """anndata's lazy sparse X (a dask array of scipy chunks) densifies as the sparse matrix does."""
    da = pytest.importorskip("dask.array")
    values = np.array([[1.0, 0.0, np.nan], [0.0, 2.5, 3.0], [4.0, np.nan, 0.0]], dtype=np.float32)
    csr = sparse.csr_matrix(np.nan_to_num(values, nan=-1.0))
    csr.data[csr.data == -1.0] = np.nan  # stored NaN = missing, structural zeros observed
    lazy = da.from_array(csr, chunks=(2, 3), asarray=False)
    np.testing.assert_array_equal(dense(lazy), dense(csr))
    assert dense(sparse.csc_matrix(csr)).flags.c_contiguous
    assert dense(np.asfortranarray(values)).flags.c_contiguous

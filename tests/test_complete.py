"""Tests of gi.tl.complete (gex_impute/tl/complete.py and its helpers)."""

from __future__ import annotations

import anndata as ad
import numpy as np
import pandas as pd
import pytest
from scipy import sparse

import gex_impute as gi
from gex_impute.errors import DataError, OutputPathError, ParameterError
from gex_impute.methods.baselines import MeanImputer
from gex_impute.tl import complete


@pytest.fixture(scope="module")
def _cohort():
    import gex_impute as gi

    adata = gi.datasets.simulate(n_donors=5, n_tissues=4, n_genes=120, random_state=1)
    adata = adata[~np.isnan(adata.X).all(axis=1)].copy()  # absent profiles are absent, as in GTEx
    donors = adata.obs["donor"].astype(str)
    adata.obs["sex"] = pd.Categorical(np.where(donors.str.endswith(("1", "3")), "F", "M"))
    adata.obs["age"] = donors.str[-1].astype(int) * 10 + 20  # int, constant per donor
    adata.obs["rin"] = np.linspace(6, 9, adata.n_obs)  # sample-level
    adata.obs["batch"] = [f"b{i % 3}" for i in range(adata.n_obs)]  # sample-level strings
    return adata


@pytest.fixture
def cohort(_cohort):
    """5 donors x 4 tissues, some profiles absent, scattered NaN, donor- and sample-level columns."""
    return _cohort.copy()


def _pairs(adata):
    return set(zip(adata.obs["donor"].astype(str), adata.obs["tissue"].astype(str), strict=True))


def test_grid_layout_and_annotation(cohort):
    before = cohort.X.copy()
    result = complete(cohort, method="mean", progress=False)
    np.testing.assert_array_equal(cohort.X, before)  # input untouched
    donors = sorted(cohort.obs["donor"].astype(str).unique())
    tissues = list(cohort.obs["tissue"].cat.categories)
    assert result.n_obs == len(donors) * len(tissues)
    assert list(result.obs["donor"].astype(str)) == [d for d in donors for _ in tissues]
    assert list(result.obs["tissue"].astype(str)) == tissues * len(donors)
    absent = {(d, t) for d in donors for t in tissues} - _pairs(cohort)
    assert absent, "the fixture must have absent profiles"
    flagged = result.obs.loc[result.obs["imputed_profile"]]
    assert set(zip(flagged["donor"].astype(str), flagged["tissue"].astype(str), strict=True)) == absent
    assert flagged["sample_id"].isna().all() and (flagged["n_samples"] == 0).all()
    assert set(flagged.index) == {f"{d}|{t}" for d, t in absent}
    kept = result.obs.loc[~result.obs["imputed_profile"]]
    assert list(kept.index) == list(kept["sample_id"].astype(str))
    # donor-level columns reach the new rows; sample-level ones stay with their samples
    sex = cohort.obs.groupby("donor", observed=True)["sex"].first().astype(str)
    np.testing.assert_array_equal(
        result.obs["sex"].astype(str), sex[result.obs["donor"].astype(str)].to_numpy()
    )
    assert result.obs["age"].notna().all()
    assert flagged["rin"].isna().all() and flagged["batch"].isna().all()
    np.testing.assert_array_equal(kept["rin"], cohort.obs.loc[kept.index, "rin"])
    assert result.uns["gex_impute"] == {"tissue_key": "tissue", "donor_key": "donor"}


def test_estimated_profiles_never_inherit_sample_attributes(cohort):
    cohort.obs["SMAFRZE"] = "RNASEQ"  # GTEx sample attributes: constant, yet per sample
    cohort.obs["tissue_group"] = cohort.obs["tissue"].astype(str)
    # one sample per donor, of different tissues
    donor = cohort.obs["donor"].astype(str).to_numpy()
    pick = [np.flatnonzero(donor == d)[i % (donor == d).sum()] for i, d in enumerate(np.unique(donor))]
    one_each = cohort[pick].copy()
    assert one_each.obs["tissue"].nunique() > 1
    for adata in (cohort, one_each):
        result = complete(adata, method="mean", progress=False)
        new = result.obs.loc[result.obs["imputed_profile"]]
        assert len(new) and new["SMAFRZE"].isna().all()
        # the tissue group belongs to the tissue, not to a sample: estimated rows take their tissue's
        np.testing.assert_array_equal(new["tissue_group"].astype(str), new["tissue"].astype(str))
        assert new["sex"].notna().all() and new["age"].notna().all()  # donor attributes reach them
    # with one sample per donor, nothing shows the sample's own columns to be the donor's
    assert new["rin"].isna().all() and new["batch"].isna().all()


def test_observed_values_bitwise_and_mask(cohort):
    result = complete(cohort, method="knn", progress=False)
    kept = ~result.obs["imputed_profile"].to_numpy()
    source = cohort[result.obs_names[kept]].X
    missing = np.isnan(source)
    assert result.X.dtype == cohort.X.dtype == np.float32
    np.testing.assert_array_equal(result.X[kept][~missing], source[~missing])  # bitwise
    assert np.isfinite(result.X).all() and (result.X >= 0).all()
    mask = result.layers["completed_mask"]
    np.testing.assert_array_equal(mask[kept], missing)
    assert mask[~kept].all()
    info = result.uns["completed"]
    assert info["n_imputed"] == mask.sum()
    assert info["n_estimated_profiles"] == (~kept).sum()
    assert info["method"] == "knn" and info["params"]["n_neighbors"] == 20
    # samples given with no value at all are estimated profiles too, in obs and in uns alike
    cohort.X[:2] = np.nan
    result = complete(cohort, method="mean", progress=False)
    assert (
        result.obs["imputed_profile"].sum()
        == result.uns["completed"]["n_estimated_profiles"]
        == (~kept).sum() + 2
    )


def test_estimates_equal_the_tissue_mean_for_the_mean_method(cohort):
    result = complete(cohort, method="mean", progress=False)
    logged = np.log1p(cohort.X.astype(np.float64))
    for name, row in result.obs.loc[result.obs["imputed_profile"]].iterrows():
        same = (cohort.obs["tissue"] == row["tissue"]).to_numpy()
        values = logged[same]
        seen = ~np.isnan(values)
        with np.errstate(invalid="ignore"):
            expected = np.expm1(np.where(seen, values, 0).sum(0) / seen.sum(0))
        seen = np.isfinite(expected)
        np.testing.assert_allclose(result[name].X[0, seen], expected[seen], rtol=1e-5)


def test_same_result_for_any_block_size_and_orientation(cohort):
    for method in ("mean", "additive", "knn", "softimpute", "pca_regression"):
        a = complete(cohort, method=method, block_size=3, progress=False)
        b = complete(cohort, method=method, block_size=1000, progress=False)
        np.testing.assert_allclose(a.X, b.X, rtol=1e-6)
    flipped = complete(cohort.T.copy(), method=method, progress=False)
    np.testing.assert_array_equal(flipped.X, b.X)
    assert flipped.uns["completed"]["fingerprint"] == b.uns["completed"]["fingerprint"]


def test_column_major_and_csc_input_complete_as_row_major(cohort):
    """AnnData(M.T) of a genes x samples table and CSC X are column-major: the grid grows by rows."""
    ref = complete(cohort, method="mean", progress=False)
    cohort.X = np.asfortranarray(cohort.X)
    out = complete(cohort, method="mean", progress=False)
    np.testing.assert_array_equal(out.X, ref.X)
    cohort.X = sparse.csr_matrix(np.nan_to_num(cohort.X, nan=0.0))
    csr = complete(cohort, method="mean", progress=False)
    cohort.X = sparse.csc_matrix(cohort.X)
    csc = complete(cohort, method="mean", progress=False)
    np.testing.assert_array_equal(csc.X, csr.X)
    assert not np.isnan(csc.X).any()


def test_sparse_and_layer_input(cohort):
    dense = complete(cohort, method="mean", progress=False)
    cohort.layers["tpm"] = sparse.csr_matrix(np.nan_to_num(cohort.X, nan=0.0))
    cohort.layers["tpm"].data[:5] = np.nan  # stored NaN = missing; structural zeros are observed
    from_layer = complete(cohort, method="mean", layer="tpm", progress=False)
    assert from_layer.uns["completed"]["layer"] == "tpm"
    assert from_layer.uns["completed"]["fingerprint"] != dense.uns["completed"]["fingerprint"]
    assert from_layer.layers["completed_mask"][~from_layer.obs["imputed_profile"]].sum() == 5


def test_several_samples_per_profile(cohort):
    extra = cohort[:2].copy()
    extra.obs_names = [f"{n}-rep" for n in extra.obs_names]
    extra.X = extra.X * 2
    extra.obs["rin"] = [1.0, 2.0]
    doubled = ad.concat([cohort, extra], merge="same")
    doubled.obs["sex"] = doubled.obs["sex"].astype("category")
    separate = complete(doubled, method="mean", progress=False)
    assert separate.n_obs == complete(cohort, method="mean", progress=False).n_obs + 2
    assert {f"{n}-rep" for n in cohort.obs_names[:2]} <= set(separate.obs_names)
    merged = complete(doubled, method="mean", aggregate="mean", progress=False)
    name = "|".join([str(cohort.obs["donor"].iloc[0]), str(cohort.obs["tissue"].iloc[0])])
    row = merged.obs.loc[name]
    assert row["n_samples"] == 2 and "," in row["sample_id"]
    assert np.isnan(row["rin"]) and row["sex"] == cohort.obs["sex"].iloc[0]  # rin differs, sex does not
    a, b = doubled[cohort.obs_names[0]].X[0], doubled[extra.obs_names[0]].X[0]
    both = ~np.isnan(a) & ~np.isnan(b)
    np.testing.assert_allclose(merged[name].X[0, both], (a[both] + b[both]) / 2, rtol=1e-6)
    assert not merged[name].layers["completed_mask"][0, both].any()
    neither = np.isnan(a) & np.isnan(b)  # same NaN pattern in both copies: estimated, flagged
    assert neither.any() and merged[name].layers["completed_mask"][0, neither].all()
    assert np.isfinite(merged[name].X[0]).all()


def test_donors_and_tissues_select_rows(cohort):
    donors = sorted(cohort.obs["donor"].astype(str).unique())[::-1][:2]
    tissues = list(cohort.obs["tissue"].cat.categories)[1:3]
    result = complete(cohort, method="mean", donors=donors, tissues=tissues, progress=False)
    assert list(result.obs["donor"].astype(str)) == [d for d in donors for _ in tissues]
    assert list(result.obs["tissue"].astype(str)) == tissues * 2


def test_integer_donor_ids_stay_integers_in_numeric_order(cohort, tmp_path):
    """complete() turned integer donor ids into string categories, sorted as strings (sweep, session 17)."""
    codes = cohort.obs["donor"].cat.codes.to_numpy()
    cohort.obs["donor"] = np.where(codes == 0, 10, codes + 7)  # 10, 8, 9, 10 ...: "10" < "8" as text
    result = complete(cohort, method="mean", progress=False)
    assert list(result.obs["donor"].cat.categories) == sorted(set(cohort.obs["donor"]))
    assert all(isinstance(d, (int, np.integer)) for d in result.obs["donor"])
    assert set(zip(result.obs["donor"], result.obs["tissue"].astype(str), strict=True)) >= set(
        zip(cohort.obs["donor"], cohort.obs["tissue"].astype(str), strict=True)
    )
    result.write_h5ad(tmp_path / "c.h5ad")
    back = ad.read_h5ad(tmp_path / "c.h5ad")
    assert list(back.obs["donor"].cat.categories) == list(result.obs["donor"].cat.categories)
    picked = complete(cohort, method="mean", donors=[9, 8], progress=False)
    assert list(picked.obs["donor"].cat.categories) == [9, 8]


def test_errors_name_the_problem(cohort):
    with pytest.raises(DataError, match="not in column 'donor'"):
        complete(cohort, method="mean", donors=["nobody"], progress=False)
    with pytest.raises(DataError, match="tissues \\['Kidney'\\] are not in column 'tissue'"):
        complete(cohort, method="mean", tissues=["Kidney"], progress=False)
    with pytest.raises(ParameterError, match="twice"):
        complete(cohort, method="mean", donors=["GTEX-S001", "GTEX-S001"], progress=False)
    with pytest.raises(DataError, match="no donor column 'individual'"):
        complete(cohort, method="mean", donor_key="individual", progress=False)
    with pytest.raises(ParameterError, match="donors were switched off"):
        complete(cohort, method="mean", donor_key=False, progress=False)
    with pytest.raises(ParameterError, match="aggregate"):
        complete(cohort, method="mean", aggregate="median", progress=False)
    with pytest.raises(ParameterError, match="block_size"):
        complete(cohort, method="mean", block_size=0, progress=False)
    with pytest.raises(ParameterError, match="key_added"):
        complete(cohort, method="mean", key_added="", progress=False)
    with pytest.raises(ParameterError, match="strictly between 0 and 1"):
        complete(cohort, method="mean", interval=1.5, progress=False)
    with pytest.raises(ParameterError, match="set them on the instance"):
        complete(cohort, method=MeanImputer(), group_by="sex", progress=False)
    silent = cohort.copy()
    first = silent.obs["donor"] == silent.obs["donor"].iloc[0]
    silent.X[first.to_numpy()] = np.nan
    with pytest.raises(DataError, match="no observed value in any sample"):
        complete(silent, method="mean", progress=False)
    complete(silent, method="mean", donors=[str(silent.obs["donor"].iloc[-1])], progress=False)
    unlabelled = cohort.copy()
    unlabelled.obs["donor"] = unlabelled.obs["donor"].astype(object)
    unlabelled.obs.iloc[0, unlabelled.obs.columns.get_loc("donor")] = np.nan
    with pytest.raises(DataError, match="no donor"):
        complete(unlabelled, method="mean", progress=False)


class Counting(MeanImputer):
    """Mean imputer that counts its fits."""

    name = "counting"
    fits = 0

    def _fit(self, data):
        type(self).fits += 1


class WithIntervals(MeanImputer):
    """Mean imputer with a fixed +-0.5 (log1p) interval."""

    name = "with_intervals"

    def predict_interval(self, data, level):
        pred = self.predict(data)
        return pred - 0.5 * level, pred + 0.5 * level


def test_fitted_instance_applied_as_is_and_method_params(cohort):
    Counting.fits = 0
    model = Counting().fit(cohort)
    result = complete(cohort, method=model, progress=False)
    assert Counting.fits == 1 and result.uns["completed"]["pretrained"]
    grouped = complete(cohort, method="mean", group_by="sex", progress=False)
    assert grouped.uns["completed"]["params"]["group_by"] == "sex"
    # the sex of the new rows (a donor-level column) reached the method
    assert not np.allclose(grouped.X, result.X)
    # the seed recorded is the one the instance used, not the tool's unused default
    seeded = complete(cohort, method=gi.get_method("softimpute", random_state=7), progress=False)
    assert seeded.uns["completed"]["random_state"] == 7


def test_intervals(cohort):
    result = complete(cohort, method=WithIntervals(), interval=0.8, progress=False)
    lower, upper = result.layers["completed_lower"], result.layers["completed_upper"]
    mask = result.layers["completed_mask"]
    assert (lower[mask] <= result.X[mask]).all() and (result.X[mask] <= upper[mask]).all()
    assert (lower[mask] < upper[mask]).all()
    np.testing.assert_array_equal(lower[~mask], result.X[~mask])
    np.testing.assert_array_equal(upper[~mask], result.X[~mask])
    assert result.uns["completed"]["interval"] == 0.8


class RowPredicting(MeanImputer):
    """Mean imputer that predicts only the rows asked for, recording the appended rows asked for."""

    name = "row_predicting"
    calls: list[int] = []
    n_observed = 0

    def predict_rows(self, data, rows):
        if rows.min() >= type(self).n_observed:  # absent profiles (not holes of observed samples)
            type(self).calls.append(len(rows))
        return self.predict(data)[rows]


def test_predictions_per_block_or_in_few_full_batches(cohort):
    n_absent = complete(cohort, method="mean", progress=False).obs["imputed_profile"].sum()
    n_blocks = -(-(cohort.n_obs + n_absent) // 2)
    # a full-prediction method estimates up to n_obs absent profiles per prediction: here one
    full = complete(cohort, method="mean", block_size=2, progress=False)
    assert full.uns["completed"]["n_profile_predictions"] == 1
    # a method with predict_rows is asked one block at a time, only for the rows to estimate
    RowPredicting.calls, RowPredicting.n_observed = [], cohort.n_obs
    rows = complete(cohort, method=RowPredicting(), block_size=2, progress=False)
    assert sum(RowPredicting.calls) == n_absent and max(RowPredicting.calls) <= 2
    assert len(RowPredicting.calls) == rows.uns["completed"]["n_profile_predictions"] <= n_blocks
    np.testing.assert_allclose(rows.X, full.X, rtol=1e-6)


class CountingCalibrations(MeanImputer):
    """Mean imputer that counts its interval calibrations."""

    name = "counting_calibrations"
    calibrations = 0

    def calibrate(self, *args, **kwargs):
        type(self).calibrations += 1
        return super().calibrate(*args, **kwargs)


def test_conformal_intervals_calibrated_once_and_written_out_of_core(cohort, tmp_path):
    CountingCalibrations.calibrations = 0
    out = tmp_path / "completed.h5ad"
    complete(cohort, method=CountingCalibrations(), interval=0.9, block_size=3, out=out, progress=False)
    assert CountingCalibrations.calibrations == 1  # not once per block
    back = ad.read_h5ad(out)
    mask = back.layers["completed_mask"]
    lower, upper = back.layers["completed_lower"], back.layers["completed_upper"]
    assert mask[back.obs["imputed_profile"].to_numpy()].all()
    assert (lower[mask] <= back.X[mask]).all() and (back.X[mask] <= upper[mask]).all()
    assert (lower[mask] < upper[mask]).mean() > 0.99
    np.testing.assert_array_equal(lower[~mask], back.X[~mask])
    assert back.uns["completed"]["interval"] == 0.9 and back.uns["completed"]["calibrate_seconds"] >= 0
    in_memory = complete(cohort, method="mean", interval=0.9, block_size=3, progress=False)
    np.testing.assert_allclose(in_memory.layers["completed_upper"], upper, rtol=1e-6)


@pytest.mark.parametrize("suffix", [".h5ad", ".zarr"])
def test_written_store_equals_the_memory_result(cohort, tmp_path, suffix):
    expected = complete(cohort, method="additive", progress=False)
    out = tmp_path / f"completed{suffix}"
    assert complete(cohort, method="additive", out=out, block_size=4, progress=False) is None
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]  # no temporary left
    back = ad.read_h5ad(out, backed="r") if suffix == ".h5ad" else ad.read_zarr(out)
    try:
        np.testing.assert_array_equal(back.X[:], expected.X)
        np.testing.assert_array_equal(back.layers["completed_mask"][:], expected.layers["completed_mask"])
        pd.testing.assert_frame_equal(back.obs, expected.obs, check_categorical=False)
        assert list(back.var_names) == list(expected.var_names)
        assert back.uns["completed"]["fingerprint"] == expected.uns["completed"]["fingerprint"]
        assert back.uns["completed"]["n_imputed"] == expected.uns["completed"]["n_imputed"]
    finally:
        if suffix == ".h5ad":
            back.file.close()
    with pytest.raises(OutputPathError, match="exists|not empty"):
        complete(cohort, method="additive", out=out, progress=False)
    complete(cohort, method="mean", out=out, overwrite=True, progress=False)
    assert sorted(p.name for p in tmp_path.iterdir()) == [out.name]


def test_output_path_checked_before_any_computation(cohort, tmp_path):
    Counting.fits = 0
    folder = tmp_path / "folder.h5ad"
    folder.mkdir()
    (tmp_path / "file.h5ad").write_text("not a folder")
    cases = [
        (folder, OutputPathError, "folder"),
        (tmp_path / "file.h5ad" / "x.h5ad", OutputPathError, "is a file"),
        (tmp_path / "x.csv", ParameterError, "must end in .h5ad or .zarr"),
    ]
    for out, error, message in cases:
        with pytest.raises(error, match=message):
            complete(cohort, method=Counting(), out=out, progress=False)
    source = tmp_path / "input.h5ad"
    cohort.write_h5ad(source)
    backed = ad.read_h5ad(source, backed="r")
    try:
        with pytest.raises(OutputPathError, match="input"):
            complete(backed, method=Counting(), out=source, overwrite=True, progress=False)
    finally:
        backed.file.close()
    assert Counting.fits == 0


def test_missing_output_folder_is_created(cohort, tmp_path):
    out = tmp_path / "new" / "deeper" / "completed.h5ad"
    complete(cohort, method="mean", out=out, progress=False)
    assert ad.read_h5ad(out).n_obs == complete(cohort, method="mean", progress=False).n_obs


def test_failure_leaves_no_file(cohort, tmp_path):
    class Broken(MeanImputer):
        name = "broken"

        def predict_rows(self, data, rows):
            if data.n_samples > cohort.n_obs:  # only when absent profiles are estimated
                msg = "boom"
                raise RuntimeError(msg)
            return self.predict(data)[rows]

    out = tmp_path / "completed.h5ad"
    with pytest.raises(RuntimeError, match="boom"):
        complete(cohort, method=Broken(), out=out, progress=False)
    assert list(tmp_path.iterdir()) == []


def test_memory_result_is_h5ad_writable(cohort, tmp_path):
    result = complete(cohort, method="mean", aggregate="mean", progress=False)
    result.write_h5ad(tmp_path / "r.h5ad")
    back = ad.read_h5ad(tmp_path / "r.h5ad")
    assert back.obs["age"].dtype == result.obs["age"].dtype


def test_context_adds_profiles_without_copying_and_pickles_once(cohort):
    import pickle

    from gex_impute._data import from_anndata
    from gex_impute.tl._blocks import Context

    data, _ = from_anndata(cohort, donor_key="donor")
    observed = data.values.copy()
    context = Context(data, 3)
    np.testing.assert_array_equal(context.data.values, observed)
    block = context.with_profiles(np.array([0, 1]), np.array([2, 2]), cohort.obs.iloc[:0])
    assert np.shares_memory(block.values, context.data.values)
    assert block.values.shape == (cohort.n_obs + 2, cohort.n_vars) and np.isnan(block.values[-2:]).all()
    assert list(block.tissue[-2:]) == [data.tissue.categories[2]] * 2
    back = pickle.loads(pickle.dumps(context))
    np.testing.assert_array_equal(back.data.values, observed)
    assert np.shares_memory(back.data.values, back.padded) and back.n_spare == 3
    # the matrix travels once: the padded matrix, not also its view
    assert len(pickle.dumps(context)) < len(pickle.dumps(context.data)) + observed.nbytes / 2
    with pytest.raises(ValueError, match="spare rows"):
        context.with_profiles(np.zeros(4, int), np.zeros(4, int), cohort.obs.iloc[:0])


def test_data_without_missing_entries(cohort):
    dense = cohort.copy()
    dense.X = np.nan_to_num(dense.X, nan=1.0)  # observed samples complete, profiles still absent
    result = complete(dense, method="mean", interval=None, progress=False)
    kept = ~result.obs["imputed_profile"].to_numpy()
    np.testing.assert_array_equal(result.X[kept], dense[result.obs_names[kept]].X)
    assert not result.layers["completed_mask"][kept].any() and result.layers["completed_mask"][~kept].all()
    with_bounds = complete(dense, method=WithIntervals(), interval=0.5, progress=False)
    np.testing.assert_array_equal(
        with_bounds.layers["completed_lower"][kept], dense[result.obs_names[kept]].X
    )


def test_a_model_fitted_elsewhere_completes_as_when_loaded(cohort, tmp_path):
    donors = list(cohort.obs["donor"].cat.categories)
    first = cohort[cohort.obs["donor"].isin(donors[:2]).to_numpy()].copy()
    other = cohort[~cohort.obs["donor"].isin(donors[:2]).to_numpy()].copy()
    model = gi.get_method("mean").fit(first)
    model.save(tmp_path / "mean.zip")
    in_memory = complete(other, method=model, progress=False)
    loaded = complete(other, method=gi.load_model(tmp_path / "mean.zip"), progress=False)
    np.testing.assert_array_equal(in_memory.X, loaded.X)  # both: the means of the data given
    on_itself = complete(first, method=model, progress=False)  # the fitted means, rows only
    np.testing.assert_allclose(on_itself.X, complete(first, method="mean", progress=False).X, rtol=1e-6)
    # the fitted samples followed by more observed ones, or with the genes in another order:
    # the means of the data given, as a loaded model computes them
    first_then_other = ad.concat([first, other], merge="same")
    first_then_other.uns = first.uns
    for data in (first_then_other, first[:, ::-1].copy()):
        np.testing.assert_array_equal(
            complete(data, method=model, progress=False).X,
            complete(data, method=gi.load_model(tmp_path / "mean.zip"), progress=False).X,
        )


def test_a_fitted_mean_model_on_other_labels_gives_their_means(cohort):
    """The same values with other tissue labels are other data: the means of those labels."""
    model = gi.get_method("mean").fit(cohort)
    relabelled = cohort.copy()
    tissue = relabelled.obs["tissue"].astype(str).to_numpy()
    first, second = np.unique(tissue)[:2]
    relabelled.obs["tissue"] = pd.Categorical(
        np.where(tissue == first, second, np.where(tissue == second, first, tissue))
    )
    np.testing.assert_array_equal(
        complete(relabelled, method=model, progress=False).X,
        complete(relabelled, method="mean", progress=False).X,
    )


def test_a_fitted_model_is_checked_against_the_data(cohort, caplog):
    """As predict() does: what differs is logged, what the model cannot serve is refused."""
    from gex_impute.errors import DataError

    fast = {"n_estimators": 5, "max_epochs": 1, "n_rounds": 1, "n_folds": 2, "progress": False}
    model = gi.HybridImputer(**fast).fit(cohort[:, :100].copy(), donor_key="donor")
    with caplog.at_level("WARNING", logger="gex_impute"):
        complete(cohort, method=model, progress=False)
    assert "the genes differ from those it was fitted on" in caplog.text
    hybrid = gi.HybridImputer(**fast).fit(cohort, donor_key=False)
    with pytest.raises(DataError, match="fitted without donors.*complete\\(\\) needs donors"):
        complete(cohort, method=hybrid, progress=False)


@pytest.mark.parametrize("name", ["mean", "additive", "knn", "knn_samples", "pca_regression"])
def test_a_fitted_model_pickles_after_completing(cohort, name):
    """Sent to Dask workers, a model is pickled: what complete() kept on it must allow that."""
    import pickle

    model = gi.get_method(name).fit(cohort, donor_key="donor")
    done = complete(cohort, method=model, progress=False)
    again = pickle.loads(pickle.dumps(model))
    np.testing.assert_array_equal(complete(cohort, method=again, progress=False).X, done.X)


def test_a_fitted_models_donor_column_is_the_default(cohort):
    renamed = cohort.copy()
    renamed.obs = renamed.obs.rename(columns={"donor": "subject"})
    model = gi.get_method("mean").fit(renamed, donor_key="subject")
    result = complete(renamed, method=model, progress=False)  # no donor_key=: the fitted one
    assert "subject" in result.obs and result.obs["imputed_profile"].any()


def test_a_completed_cohorts_estimates_are_not_read_as_data(cohort, caplog):
    """evaluate() on a completed file scored against its estimates (MSE 0.049 vs 0.139; sweep N)."""
    from gex_impute._data import from_anndata

    full = complete(cohort, method="mean", progress=False)
    mask = full.layers["completed_mask"]
    assert mask.any() and not np.isnan(full.X).any()
    with caplog.at_level("WARNING", logger="gex_impute"):
        data, _ = from_anndata(full, tissue_key="tissue", donor_key="donor")
    assert "gex_impute estimated" in caplog.text and "completed_mask" in caplog.text
    np.testing.assert_array_equal(np.isnan(data.values), mask)  # exactly the estimates are missing
    assert not np.isnan(full.X).any()  # the completed AnnData itself is not changed
    kept = ~full.obs["imputed_profile"].to_numpy()
    observed = from_anndata(cohort, tissue_key="tissue", donor_key="donor")[0]
    rows = [cohort.obs_names.get_loc(n) for n in full.obs_names[kept]]
    np.testing.assert_array_equal(data.values[kept], observed.values[rows])  # measured values as read
    del full.layers["completed_mask"]  # the documented way to use the estimates as data
    assert not np.isnan(from_anndata(full, tissue_key="tissue")[0].values).any()


def test_estimates_stay_marked_after_concat(cohort, caplog):
    """Sweep P: ad.concat drops uns, and a second complete() / evaluate() took the estimates as data."""
    import anndata as ad

    from gex_impute._data import from_anndata

    full = complete(cohort, method="mean", progress=False)
    half = full.obs_names[: full.n_obs // 2]
    joined = ad.concat([full[half], full[full.n_obs // 2 :]])  # uns is dropped (uns_merge=None)
    assert "completed" not in joined.uns and joined.obs["imputed_profile"].any()
    with caplog.at_level("WARNING", logger="gex_impute"):
        data, _ = from_anndata(joined, tissue_key="tissue", donor_key="donor")
    assert "layers['completed_mask'], obs['imputed_profile']" in caplog.text
    np.testing.assert_array_equal(np.isnan(data.values), joined.layers["completed_mask"])
    again = complete(joined, method="mean", progress=False)  # the earlier estimates are estimated again
    assert again.obs["imputed_profile"].sum() == full.obs["imputed_profile"].sum()
    # the rows alone (a concat with data lacking the layer keeps no layer) still mark them
    rows_only = joined.copy()
    del rows_only.layers["completed_mask"]
    data, _ = from_anndata(rows_only, tissue_key="tissue", donor_key="donor")
    np.testing.assert_array_equal(
        np.isnan(data.values).all(axis=1), rows_only.obs["imputed_profile"].to_numpy()
    )


def test_an_imputed_layer_copied_to_x_is_not_read_as_data(sim, caplog):
    from gex_impute._data import from_anndata

    gi.impute(sim, method="mean", progress=False)
    caplog.clear()
    with caplog.at_level("WARNING", logger="gex_impute"):
        from_anndata(sim, tissue_key="tissue")  # X untouched: its NaN are the mask, nothing to say
    assert "estimated" not in caplog.text
    sim.X = sim.layers["imputed"].copy()
    with caplog.at_level("WARNING", logger="gex_impute"):
        data, _ = from_anndata(sim, tissue_key="tissue")
    assert "layers['imputed_mask']" in caplog.text
    np.testing.assert_array_equal(np.isnan(data.values), sim.layers["imputed_mask"])


def test_scanpy_habits_are_named_not_blamed_on_the_method(cohort):
    """Sweep P: copy=True, inplace=True or donor= became 'MeanImputer: unknown parameter'."""
    for habit in ("copy", "inplace"):
        with pytest.raises(
            ParameterError,
            match=rf"returns a new AnnData \(or writes out=\), never changing its input: drop {habit}=",
        ):
            complete(cohort, method="mean", progress=False, **{habit: True})
    with pytest.raises(
        ParameterError, match="donor= is no parameter of complete.* did you mean donors= or donor_key="
    ):
        complete(cohort, method="mean", donor="donor", progress=False)
    with pytest.raises(ParameterError, match="unknown parameter"):  # no near miss: the method's message
        complete(cohort, method="knn", zzz=1, progress=False)
    assert (
        complete(cohort, method="knn", n_neighbors=3, progress=False).n_obs > cohort.n_obs
    )  # a method's own

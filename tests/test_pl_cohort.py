"""Plots of a completed cohort as a person reads them (sweep R): drawn by default, readable scale."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

import gex_impute as gi
from gex_impute.errors import DataError, KeyNotFoundError, ParameterError


def _tpm_cohort(seed: int = 0):
    """6 donors x 3 tissues x 12 genes of TPM-like values: one gene 1000x the others."""
    import anndata as ad

    rng = np.random.default_rng(seed)
    donors = np.repeat([f"d{i}" for i in range(6)], 3)
    tissues = np.tile(["lung", "liver", "blood"], 6)
    obs = pd.DataFrame(
        {"donor": donors, "tissue": tissues, "imputed_profile": np.arange(18) % 4 == 1},
        index=[f"{d}-{t}" for d, t in zip(donors, tissues, strict=True)],
    )
    values = rng.gamma(2.0, 3.0, size=(18, 12))
    values[:, 0] *= 1000.0  # a highly expressed gene: on a linear scale it takes the colour range
    values[tissues == "liver", 5] *= 20.0  # a tissue-specific gene of modest level
    return ad.AnnData(
        values.astype(np.float32), obs=obs, var=pd.DataFrame(index=[f"g{i}" for i in range(12)])
    )


@pytest.fixture(autouse=True)
def _close_figures():
    import matplotlib.pyplot as plt

    yield
    plt.close("all")


def test_tissue_matrixplot_draws_by_default_and_on_the_callers_axes():
    import matplotlib.pyplot as plt

    axes = gi.pl.tissue_matrixplot(_tpm_cohort(), n_genes=4)
    assert axes["mainplot_ax"].collections  # drawn: a notebook cell shows it
    fig, ax = plt.subplots()
    gi.pl.tissue_matrixplot(_tpm_cohort(), n_genes=4, ax=ax)
    assert any(a.collections for a in fig.axes)  # the caller's figure holds the plot
    plot = gi.pl.tissue_matrixplot(_tpm_cohort(), n_genes=4, return_fig=True)
    assert type(plot).__name__ == "MatrixPlot"  # as scanpy's return_fig: drawn by the caller


def test_tissue_matrixplot_draws_log1p_of_tpm_and_picks_genes_on_that_scale():
    adata = _tpm_cohort()
    plot = gi.pl.tissue_matrixplot(adata, n_genes=3, return_fig=True)
    logged = pd.DataFrame(np.log1p(adata.X.astype(np.float64)), columns=adata.var_names)
    means = logged.groupby(adata.obs["tissue"].to_numpy()).mean()
    assert list(plot.var_names) == list(means.var(ddof=1).sort_values(ascending=False).index[:3])
    assert "g5" in list(plot.var_names)  # the tissue-specific gene, not only the high one
    observed = ~adata.obs["imputed_profile"].to_numpy()
    liver = observed & (adata.obs["tissue"] == "liver").to_numpy()
    np.testing.assert_allclose(
        plot.values_df.loc["liver: observed", "g5"], logged["g5"][liver].mean(), rtol=1e-5
    )
    axes = gi.pl.tissue_matrixplot(adata, n_genes=3)
    assert "log1p" in axes["color_legend_ax"].get_title()
    linear = gi.pl.tissue_matrixplot(adata, ["g0", "g5"], log1p=False, return_fig=True)
    np.testing.assert_allclose(
        linear.values_df.loc["liver: observed", "g5"], adata.X[liver, 5].astype(np.float64).mean(), rtol=1e-5
    )
    # layer=: genes picked from the layer drawn (they were picked from X)
    adata.layers["log1p"] = np.log1p(adata.X)
    adata.X = adata.X[:, ::-1].copy()
    from_layer = gi.pl.tissue_matrixplot(adata, n_genes=3, layer="log1p", return_fig=True)
    assert list(from_layer.var_names) == list(plot.var_names)
    with pytest.raises(KeyNotFoundError, match="layers: \\['log1p'\\]"):
        gi.pl.tissue_matrixplot(adata, layer="counts")
    negative = adata.copy()
    negative.X = negative.X - 100.0
    with pytest.raises(DataError, match="log1p=False"):
        gi.pl.tissue_matrixplot(negative, log1p=True)


def test_tissue_matrixplot_rows_observed_then_completed_in_tissue_order():
    adata = _tpm_cohort()
    adata.obs["tissue"] = pd.Categorical(adata.obs["tissue"], categories=["lung", "liver", "blood"])
    plot = gi.pl.tissue_matrixplot(adata, n_genes=2, return_fig=True)
    assert list(plot.values_df.index) == [
        f"{t}: {kind}" for t in ("lung", "liver", "blood") for kind in ("observed", "completed")
    ]


def test_tissue_matrixplot_reads_the_matrix_in_blocks(monkeypatch):
    """A backed cohort's X is read a block of rows at a time to pick the genes, never whole."""
    from gex_impute.pl import _matrixplot

    adata = _tpm_cohort()
    reads: list[int] = []

    class Rows:
        def __init__(self, values):
            self.values, self.shape = values, values.shape

        def __getitem__(self, key):
            part = self.values[key]
            reads.append(part.shape[0])
            return part

    monkeypatch.setattr(_matrixplot, "_BLOCK_VALUES", 5 * adata.n_vars)
    codes = pd.Categorical(adata.obs["tissue"]).codes
    means, logged = _matrixplot._tissue_means(Rows(adata.X), codes, 3, "auto")
    assert logged and max(reads) == 5 and sum(reads) == adata.n_obs
    expected = pd.DataFrame(np.log1p(adata.X.astype(np.float64))).groupby(codes).mean().to_numpy()
    np.testing.assert_allclose(means, expected, rtol=1e-10)


def test_tissue_matrixplot_checks_its_options():
    with pytest.raises(ParameterError, match="n_genes=0"):
        gi.pl.tissue_matrixplot(_tpm_cohort(), n_genes=0)
    with pytest.raises(ParameterError, match="log1p='yes'"):
        gi.pl.tissue_matrixplot(_tpm_cohort(), log1p="yes")
    with pytest.raises(KeyNotFoundError, match="not in completed.var_names"):
        gi.pl.tissue_matrixplot(_tpm_cohort(), ["NOPE"])


@pytest.mark.parametrize(
    "flags",
    [
        lambda b: b.astype(str),  # "True" / "False": a table read back as text
        lambda b: pd.array(b, dtype="boolean"),
        lambda b: b.astype(int),
    ],
)
def test_profile_flags_read_as_written(flags):
    """Sweep R: "False" strings read as True marked every profile completed."""
    adata = _tpm_cohort()
    truth = adata.obs["imputed_profile"].to_numpy()
    adata.obs["imputed_profile"] = flags(truth)
    ax = gi.pl.profiles(adata)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[:2] == [f"observed ({int((~truth).sum())})", f"completed ({int(truth.sum())})"]


def test_profile_flags_refuse_other_values():
    adata = _tpm_cohort()
    adata.obs["imputed_profile"] = np.where(adata.obs["imputed_profile"], "yes", "no")
    with pytest.raises(DataError, match="not True / False.*str.lower"):
        gi.pl.profiles(adata)


def test_profiles_names_donors_when_few():
    ax = gi.pl.profiles(_tpm_cohort())
    assert sorted(t.get_text() for t in ax.get_xticklabels()) == [f"d{i}" for i in range(6)]

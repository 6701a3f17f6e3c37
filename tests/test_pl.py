from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import gex_impute as gi  # noqa: E402


@pytest.fixture
def results():
    rows = []
    for protocol, shift in (("genes", 0.0), ("entries", 0.5)):
        for method, r in (("distance", 0.3), ("knn", 0.4)):
            rows.append({"method": method, "protocol": protocol, "pearson": r + shift, "mse": 1 - r})
    return pd.DataFrame(rows).set_index("method")


def test_method_comparison(results, tmp_path):
    import matplotlib.pyplot as plt

    path = tmp_path / "cmp.png"
    ax = gi.pl.method_comparison(results, metric="pearson", save=path)
    assert path.exists() and path.stat().st_size > 0
    assert [t.get_text() for t in ax.get_xticklabels()] == ["distance", "knn"]
    heights = sorted(round(p.get_height(), 6) for p in ax.patches)
    assert heights == [0.3, 0.4, 0.8, 0.9]
    plt.close(ax.figure)
    with pytest.raises(KeyError, match="metric"):
        gi.pl.method_comparison(results, metric="auc")


def test_method_comparison_on_evaluate_output(sim):
    import matplotlib.pyplot as plt

    table = gi.evaluate(sim, protocol="entries", methods=["mean", "additive"], progress=False)
    fig, ax = plt.subplots()
    out = gi.pl.method_comparison(table, metric="mse", ax=ax)
    assert out is ax and len(ax.patches) == 2
    plt.close(fig)


def test_predicted_vs_observed(tmp_path):
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(0)
    obs = rng.normal(size=200)
    frame = pd.DataFrame({"observed": obs, "predicted": obs + rng.normal(scale=0.1, size=200)})
    path = tmp_path / "pvo.png"
    ax = gi.pl.predicted_vs_observed(frame, title="knn", save=path)
    assert path.exists()
    assert "knn" in ax.get_title() and "r = 0.99" in ax.get_title()
    plt.close(ax.figure)
    ax = gi.pl.predicted_vs_observed(np.arange(6000.0), np.arange(6000.0), kind="auto")
    assert ax.collections  # hexbin above 5,000 points
    plt.close(ax.figure)
    with pytest.raises(ValueError, match="length"):
        gi.pl.predicted_vs_observed(np.arange(3.0), np.arange(4.0))


def test_metrics_panels(results, tmp_path):
    import matplotlib.pyplot as plt

    path = tmp_path / "metrics.png"
    fig = gi.pl.metrics(results, title="two protocols", save=path)
    assert path.stat().st_size > 0
    assert [ax.get_title() for ax in fig.axes if ax.get_title()] == ["pearson", "mse"]
    plt.close(fig)
    with pytest.raises(KeyError, match="none of the columns"):
        gi.pl.metrics(results[["protocol"]])


def test_group_r_per_tissue():
    import matplotlib.pyplot as plt

    rng = np.random.default_rng(1)
    obs = rng.normal(size=90)
    tissues = np.repeat(["a", "b", "c"], 30)
    good = pd.DataFrame({"observed": obs, "predicted": obs, "tissue": tissues})
    noisy = pd.DataFrame({"observed": obs, "predicted": rng.normal(size=90), "tissue": tissues})
    ax = gi.pl.group_r({"good": good, "noisy": noisy}, by="tissue")
    lines = {line.get_label(): line.get_xdata() for line in ax.get_lines()}  # tissues: one row each
    np.testing.assert_allclose(lines["good"], 1.0)
    assert np.all(np.abs(lines["noisy"]) < 0.6)
    plt.close(ax.figure)
    with pytest.raises(KeyError, match="no column 'donor'"):
        gi.pl.group_r({"good": good}, by="donor")
    with pytest.raises(KeyError, match=r"no predictions of \['hybrid'\]; the predictions hold \['good'\]"):
        gi.pl.group_r({"good": good}, by="tissue", methods=["hybrid"])


def test_calibration_plot():
    import matplotlib.pyplot as plt

    table = pd.DataFrame(
        {"interval": [0.5, 0.9, 0.5, 0.9], "coverage": [0.52, 0.88, 0.3, 0.6], "mean_width": [1, 2, 0.5, 1]},
        index=["hybrid", "hybrid", "knn", "knn"],
    )
    ax = gi.pl.calibration(table)
    lines = {line.get_label(): line.get_ydata() for line in ax.get_lines()}
    np.testing.assert_allclose(lines["hybrid"], [0.52, 0.88])
    plt.close(ax.figure)
    with pytest.raises(KeyError, match="interval=0.9"):
        gi.pl.calibration(table.drop(columns="coverage"))
    # tables of several protocols joined: one line per method and protocol, never one line
    # joining the protocols' coverages at the same level
    joined = table.assign(protocol=["entries", "entries", "samples", "samples"], index=["knn"] * 4)
    joined.index = ["knn"] * 4
    ax = gi.pl.calibration(joined.drop(columns="index"))
    lines = {line.get_label(): line.get_ydata() for line in ax.get_lines()}
    np.testing.assert_allclose(lines["knn entries"], [0.52, 0.88])
    np.testing.assert_allclose(lines["knn samples"], [0.3, 0.6])
    plt.close(ax.figure)


def _completed():
    import anndata as ad

    rng = np.random.default_rng(0)
    donors = np.repeat([f"d{i}" for i in range(6)], 3)
    tissues = np.tile(["lung", "liver", "blood"], 6)
    obs = pd.DataFrame(
        {"donor": donors, "tissue": tissues, "imputed_profile": rng.random(18) < 0.4},
        index=[f"{d}-{t}" for d, t in zip(donors, tissues, strict=True)],
    )
    var = pd.DataFrame(index=[f"g{i}" for i in range(12)])
    return ad.AnnData(rng.normal(size=(18, 12)).astype(np.float32), obs=obs, var=var)


def test_profiles_heatmap(tmp_path):
    import matplotlib.pyplot as plt

    completed = _completed()
    ax = gi.pl.profiles(completed, save=tmp_path / "grid.png")
    grid = ax.images[0].get_array()
    assert grid.shape == (3, 6)
    assert int((np.asarray(grid) == 1).sum()) == int(completed.obs["imputed_profile"].sum())
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [
        f"observed ({int((~completed.obs['imputed_profile']).sum())})",
        f"completed ({int(completed.obs['imputed_profile'].sum())})",
    ]
    plt.close(ax.figure)
    joined = completed.copy()
    joined.obs["imputed_profile"] = (
        joined.obs["imputed_profile"].astype(object).where(joined.obs_names != "d0-lung")
    )
    with pytest.raises(ValueError, match="1 missing values .*fillna"):  # sweep P: a raw pandas error
        gi.pl.profiles(joined)
    with pytest.raises(ValueError, match="1 missing values .*fillna"):
        gi.pl.tissue_matrixplot(joined, n_genes=3)
    # a profile not estimated (e.g. ruled out by sex) is a cell of its own in the legend
    fewer = gi.pl.profiles(completed[1:].copy())
    assert [t.get_text() for t in fewer.get_legend().get_texts()][-1] == "not estimated (1)"
    plt.close(fewer.figure)
    with pytest.raises(KeyError, match="tl.complete"):
        gi.pl.profiles(completed, imputed_key="nope")
    # the columns complete() recorded (GTEx's SUBJID / SMTSD) are the defaults
    completed.obs = completed.obs.rename(columns={"donor": "SUBJID", "tissue": "SMTSD"})
    completed.uns["gex_impute"] = {"tissue_key": "SMTSD", "donor_key": "SUBJID"}
    renamed = gi.pl.profiles(completed)
    np.testing.assert_array_equal(renamed.images[0].get_array(), grid)
    plt.close(renamed.figure)
    assert gi.pl.tissue_matrixplot(completed, n_genes=3) is not None
    plt.close("all")


def test_tissue_matrixplot_uses_scanpy(tmp_path):
    import matplotlib.pyplot as plt

    path = tmp_path / "matrix.png"
    plot = gi.pl.tissue_matrixplot(_completed(), n_genes=5, save=path, return_fig=True)
    assert path.stat().st_size > 0
    assert type(plot).__module__.startswith("scanpy")
    plt.close("all")


def test_tissue_matrixplot_refuses_repeated_gene_names():
    """A repeated gene name gave pandas' 'Reindexing only valid with uniquely valued Index'."""
    from gex_impute.errors import DataError

    completed = _completed()
    completed.var_names = ["g"] * 3 + list(completed.var_names[3:])
    with pytest.raises(DataError, match="var_names_make_unique"):
        gi.pl.tissue_matrixplot(completed, n_genes=5)


def test_tissue_matrixplot_on_backed_sparse_and_symbols(tmp_path):
    import anndata as ad
    import matplotlib.pyplot as plt
    from scipy import sparse

    completed = _completed()
    completed.var["symbol"] = [f"SYM{i}" for i in range(completed.n_vars)]
    dense = gi.pl.tissue_matrixplot(completed, n_genes=4, return_fig=True)
    genes = list(dense.var_names)
    as_sparse = completed.copy()
    as_sparse.X = sparse.csr_matrix(as_sparse.X)
    assert list(gi.pl.tissue_matrixplot(as_sparse, n_genes=4, return_fig=True).var_names) == genes
    completed.write_h5ad(tmp_path / "c.h5ad")
    backed = ad.read_h5ad(tmp_path / "c.h5ad", backed="r")
    assert list(gi.pl.tissue_matrixplot(backed, n_genes=4, return_fig=True).var_names) == genes
    symbols = list(completed.var.loc[genes, "symbol"])
    plot = gi.pl.tissue_matrixplot(completed, symbols, gene_symbols="symbol", return_fig=True)
    np.testing.assert_allclose(plot.values_df.to_numpy(), dense.values_df.to_numpy())
    assert list(plot.values_df.columns) == symbols
    with pytest.raises(KeyError, match=r"not in var\['symbol'\]"):
        gi.pl.tissue_matrixplot(completed, ["NOPE"], gene_symbols="symbol")
    with pytest.raises(gi.errors.KeyNotFoundError, match="imputed_profile"):
        gi.pl.tissue_matrixplot(completed, imputed_key="imputed_profile_x")
    plt.close("all")


def test_saving_closes_our_figures_and_checks_the_format_first(results, tmp_path):
    """As scanpy: a figure made here is closed once saved; a bad suffix fails before drawing."""
    import matplotlib.pyplot as plt

    plt.close("all")
    by_quintile = pd.concat({"all": results, "Q1": results}, names=["quintile"]).swaplevel()
    for i in range(3):
        gi.pl.metrics(by_quintile, save=tmp_path / f"m{i}.png")
        gi.pl.method_comparison(by_quintile, "pearson", save=tmp_path / f"c{i}.pdf")
    assert plt.get_fignums() == []
    with pytest.raises(ValueError, match="'txt' is not an image format"):
        gi.pl.metrics(results, save=tmp_path / "m.txt")
    with pytest.raises(ValueError, match="it has no suffix"):
        gi.pl.profiles(_completed(), save=tmp_path / "grid")
    assert plt.get_fignums() == [] and not list(tmp_path.glob("m.txt*"))
    _, ax = plt.subplots()  # the caller's own Axes: drawn on, saved, left open
    gi.pl.method_comparison(results, "mse", ax=ax, save=tmp_path / "own.svg")
    assert plt.get_fignums() == [ax.figure.number]
    plt.close("all")


# scanpy's show= / save= / ax= conventions, on every plot function
def _calls(results):
    """(function name, call taking extra keywords) for each public plot function."""
    rng = np.random.default_rng(2)
    obs = rng.normal(size=60)
    frame = pd.DataFrame({"observed": obs, "predicted": obs + 0.1, "tissue": np.repeat(["a", "b"], 30)})
    coverage = pd.DataFrame({"interval": [0.5, 0.9], "coverage": [0.5, 0.9]}, index=["knn", "knn"])
    return [
        ("method_comparison", lambda **kw: gi.pl.method_comparison(results, "pearson", **kw)),
        ("metrics", lambda **kw: gi.pl.metrics(results, **kw)),
        ("predicted_vs_observed", lambda **kw: gi.pl.predicted_vs_observed(frame, **kw)),
        ("group_r", lambda **kw: gi.pl.group_r({"knn": frame}, by="tissue", **kw)),
        ("calibration", lambda **kw: gi.pl.calibration(coverage, **kw)),
        ("profiles", lambda **kw: gi.pl.profiles(_completed(), **kw)),
        ("tissue_matrixplot", lambda **kw: gi.pl.tissue_matrixplot(_completed(), n_genes=3, **kw)),
    ]


@pytest.fixture
def shown(monkeypatch):
    """Count plt.show() calls (Agg shows nothing; the count says whether we asked)."""
    import matplotlib.pyplot as plt

    calls = []
    monkeypatch.setattr(plt, "show", lambda *a, **k: calls.append(1))
    plt.close("all")
    yield calls
    plt.close("all")


@pytest.fixture
def figdir(tmp_path):
    """scanpy's figdir in tmp_path (its settings are properties: set and restore by hand)."""
    import scanpy as sc

    before = sc.settings.figdir, sc.settings.file_format_figs
    sc.settings.figdir, sc.settings.file_format_figs = tmp_path / "figures", "pdf"
    yield tmp_path / "figures"
    sc.settings.figdir, sc.settings.file_format_figs = before


def test_show_false_returns_the_axes_without_showing(results, shown):
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

    for name, call in _calls(results):
        out = call(show=False)
        if name == "metrics":
            assert isinstance(out, Figure)
        elif name == "tissue_matrixplot":  # as sc.pl.matrixplot(show=False): the dict of Axes
            assert isinstance(out, dict) and isinstance(out["mainplot_ax"], Axes)
        else:
            assert isinstance(out, Axes), name
        assert shown == [], name


def test_show_true_shows_and_returns_none(results, shown):
    for name, call in _calls(results):
        assert call(show=True) is None, name
    assert len(shown) == 7


def test_show_none_returns_the_drawn_plot(results, shown):
    """Callers that pass nothing get the drawn plot (a notebook shows it), and show() is not called."""
    from matplotlib.axes import Axes

    out = dict((name, call()) for name, call in _calls(results))
    assert isinstance(out["profiles"], Axes) and isinstance(out["group_r"], Axes)
    # sweep R: tissue_matrixplot returned scanpy's MatrixPlot undrawn, so a notebook cell showed nothing
    main = out["tissue_matrixplot"]["mainplot_ax"]
    assert isinstance(main, Axes) and main.collections
    assert shown == []


def test_save_true_and_suffix_write_under_scanpy_figdir(results, shown, figdir):
    import matplotlib.pyplot as plt

    for _, call in _calls(results):
        call(save=True, show=False)
        call(save="_lung.png")
        call(save=".svg")
    for name, _ in _calls(results):
        for file in (f"{name}.pdf", f"{name}_lung.png", f"{name}.svg"):
            assert (figdir / file).stat().st_size > 0, file
    assert plt.get_fignums() == [] and shown == []  # figures made here are closed once written
    assert not [p for p in figdir.iterdir() if p.name.startswith(".")]  # no temporary files


def test_save_names_the_file(results, shown, tmp_path, figdir, monkeypatch):
    monkeypatch.chdir(tmp_path)
    for name, call in _calls(results):
        call(save=f"{name}.png")  # a plain name: that file, in the working directory (as before)
        call(save=tmp_path / "out" / f"{name}.pdf", show=True)  # saved, then shown
        assert (tmp_path / f"{name}.png").stat().st_size > 0
        assert (tmp_path / "out" / f"{name}.pdf").stat().st_size > 0
    assert len(shown) == 7 and not figdir.exists()


def test_save_and_show_refuse_bad_values_before_drawing(results, shown, figdir):
    import matplotlib.pyplot as plt

    from gex_impute.errors import ParameterError

    for name, call in _calls(results):
        with pytest.raises(ParameterError, match=r"show='no' \(str\): pass True"):
            call(show="no")
        with pytest.raises(ParameterError, match=r"save=1 \(int\): pass a file such as 'grid.png'"):
            call(save=1)
        with pytest.raises(ParameterError, match="'txt' is not an image format; end it in .png"):
            call(save="_lung.txt")
        with pytest.raises(ParameterError, match="it has no suffix"):
            call(save="figure")
        assert plt.get_fignums() == [], name
    import scanpy as sc

    sc.settings.file_format_figs = "txt"  # the figdir fixture restores it
    with pytest.raises(ParameterError, match=r"file_format_figs='txt' is not an image format"):
        gi.pl.profiles(_completed(), save=True)
    assert not figdir.exists()


def test_tissue_matrixplot_takes_ax_and_scanpy_options(shown, tmp_path):
    import matplotlib.pyplot as plt

    from gex_impute.errors import ParameterError

    fig, ax = plt.subplots()
    axes = gi.pl.tissue_matrixplot(_completed(), n_genes=3, ax=ax, show=False, save=tmp_path / "m.png")
    assert axes["mainplot_ax"].figure is fig and (tmp_path / "m.png").exists()
    assert plt.get_fignums() == [fig.number]  # the caller's figure stays open
    plot = gi.pl.tissue_matrixplot(_completed(), n_genes=3, show=False, return_fig=True)
    assert type(plot).__name__ == "MatrixPlot" and shown == []
    with pytest.raises(ParameterError, match="return_fig=True cannot hold"):
        gi.pl.tissue_matrixplot(_completed(), show=True, return_fig=True)
    with pytest.raises(ParameterError, match="groupby= is set by tissue_matrixplot.*tissue_key="):
        gi.pl.tissue_matrixplot(_completed(), groupby="donor")

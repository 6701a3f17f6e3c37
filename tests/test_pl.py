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

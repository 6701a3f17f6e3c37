"""Readability of the evaluation plots on the tables evaluate() gives (sweep R, findings 3-5, 8-10)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402

import gex_impute as gi  # noqa: E402
from gex_impute.errors import KeyNotFoundError, ParameterError  # noqa: E402

METHODS = [
    "hybrid",
    "distance",
    "nearest_gene",
    "mean",
    "additive",
    "knn",
    "knn_samples",
    "softimpute",
    "pca",
]


@pytest.fixture(autouse=True)
def _close():
    import matplotlib.pyplot as plt

    plt.close("all")
    yield
    plt.close("all")


def _one_level(methods=METHODS, protocols=("genes", "entries", "samples")) -> pd.DataFrame:
    """An evaluate() table per protocol, joined: one interval level (0.9), as evaluate gives."""
    rng = np.random.default_rng(0)
    frames = [
        pd.DataFrame(
            {
                "protocol": p,
                "interval": 0.9,
                "coverage": 0.9 + rng.normal(0, 0.01, len(methods)),
                "mean_width": rng.uniform(1, 5, len(methods)),
            },
            index=pd.Index(methods, name="method"),
        )
        for p in protocols
    ]
    return pd.concat(frames)


def _boxes(artists):
    fig = artists[0].figure
    fig.draw_without_rendering()
    return [a.get_window_extent() for a in artists]


def _overlapping_pairs(texts) -> int:
    boxes = _boxes(texts) if texts else []
    return sum(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


def _inside(inner, outer) -> bool:
    return (
        inner.x0 >= outer.x0 - 1
        and inner.y0 >= outer.y0 - 1
        and inner.x1 <= outer.x1 + 1
        and inner.y1 <= outer.y1 + 1
    )


# finding 3: calibration
def test_calibration_one_level_draws_coverage_against_width():
    table = _one_level()
    ax = gi.pl.calibration(table, show=False)
    lines = {line.get_label(): line for line in ax.get_lines()}
    hybrid = table[(table.index == "hybrid") & (table["protocol"] == "genes")]
    np.testing.assert_allclose(lines["hybrid genes"].get_xdata(), hybrid["mean_width"])
    np.testing.assert_allclose(lines["hybrid genes"].get_ydata(), hybrid["coverage"])
    np.testing.assert_allclose(lines["nominal level 0.9"].get_ydata(), 0.9)  # the dashed reference
    assert len(ax.texts) == 0  # no "w=" labels to pile up
    # colour = method, marker = protocol
    assert lines["knn genes"].get_color() == lines["knn samples"].get_color()
    assert len({lines[f"{m} genes"].get_color() for m in METHODS}) == len(METHODS)
    assert len({lines[f"knn {p}"].get_marker() for p in ("genes", "entries", "samples")}) == 3
    # the legend sits right of the axes, wholly inside the figure
    fig = ax.figure
    legend, frame = _boxes([ax.get_legend(), ax])
    assert _inside(legend, fig.bbox) and legend.x0 >= frame.x1
    assert ax.get_xlabel().startswith("mean interval width")
    assert ax.get_xlim()[0] == 0 and ax.get_xlim()[1] > table["mean_width"].max()  # every point shown
    close = pd.DataFrame(
        {"interval": 0.9, "coverage": [0.915, 0.943], "mean_width": [1.63, 1.71]}, index=["a", "b"]
    )
    assert gi.pl.calibration(close, show=False).get_xlim()[1] > 1.71 * 1.05  # not on the frame


def test_calibration_is_saved_uncropped(tmp_path, monkeypatch):
    from matplotlib.figure import Figure

    calls = []
    real = Figure.savefig
    monkeypatch.setattr(Figure, "savefig", lambda self, *a, **k: calls.append(k) or real(self, *a, **k))
    gi.pl.calibration(_one_level(), save=tmp_path / "cal.png")
    assert calls[0]["bbox_inches"] == "tight" and (tmp_path / "cal.png").stat().st_size > 0


def test_calibration_several_levels_keeps_lines_and_unpiled_width_labels():
    rows = []
    for level in (0.5, 0.8, 0.9, 0.95):
        t = _one_level(protocols=("entries",)).assign(interval=level)
        t["coverage"] = level + np.random.default_rng(int(level * 100)).normal(0, 0.005, len(t))
        rows.append(t)
    table = pd.concat(rows)
    ax = gi.pl.calibration(table, show=False)
    lines = {line.get_label(): line for line in ax.get_lines()}
    np.testing.assert_allclose(lines["knn"].get_xdata(), [0.5, 0.8, 0.9, 0.95])
    assert 0 < len(ax.texts) < len(table)  # some width labels kept, the colliding ones left out
    assert _overlapping_pairs(ax.texts) == 0
    legend, frame = _boxes([ax.get_legend(), ax])
    assert _inside(legend, ax.figure.bbox) and legend.x0 >= frame.x1


# finding 5: method_comparison / metrics tell close values apart
def _close_r() -> pd.DataFrame:
    idx = pd.Index(["mean", "knn_samples", "pca_regression"], name="method")
    return pd.concat(
        [
            pd.DataFrame(
                {"protocol": "samples", "pearson": [0.9754, 0.9754, 0.9819], "mse": [0.135, 0.135, 0.0998]},
                index=idx,
            ),
            pd.DataFrame(
                {"protocol": "entries", "pearson": [0.9752, 0.9815, 0.9838], "mse": [0.136, 0.102, 0.0892]},
                index=idx,
            ),
        ]
    )


def test_method_comparison_labels_and_axis_separate_close_correlations():
    ax = gi.pl.method_comparison(_close_r(), "pearson", show=False)
    labels = [t.get_text() for t in ax.texts]
    assert sorted(labels) == ["0.9752", "0.9754", "0.9754", "0.9815", "0.9819", "0.9838"]
    assert 0.9 < ax.get_ylim()[0] < 0.9752  # zoomed on the values, not from 0
    assert sorted(round(p.get_height(), 4) for p in ax.patches)[0] == 0.9752  # bars keep their values
    legend, *bars = _boxes([ax.get_legend(), *ax.patches])
    assert not any(legend.overlaps(bar) for bar in bars)
    assert _inside(legend, ax.figure.bbox)
    assert _overlapping_pairs(ax.texts) == 0
    mse = gi.pl.method_comparison(_close_r(), "mse", show=False)
    assert mse.get_ylim()[0] == 0  # other metrics from 0
    # on a zoomed axis, 0.9617 and 0.9690 are not "0.96" and "0.97": the digit where they differ
    two = pd.DataFrame({"pearson": [0.9617, 0.9690]}, index=["mean", "pca"])
    assert [t.get_text() for t in gi.pl.method_comparison(two, show=False).texts] == ["0.962", "0.969"]


def test_metrics_draws_one_legend_outside_the_panels():
    fig = gi.pl.metrics(_close_r(), metrics=("pearson", "mse"), show=False)
    assert [ax.get_legend() for ax in fig.axes] == [None, None]
    assert len(fig.legends) == 1
    legend, *panels = _boxes([fig.legends[0], *fig.axes])
    assert _inside(legend, fig.bbox)
    assert not any(legend.overlaps(panel) for panel in panels)
    assert all(len(ax.texts) == 6 for ax in fig.axes)


def test_metrics_leaves_out_value_labels_too_crowded_to_read():
    rng = np.random.default_rng(1)
    table = pd.concat(
        pd.DataFrame(
            {"protocol": p, "pearson": rng.uniform(0.97, 0.99, 9), "mse": rng.uniform(0.1, 5, 9)},
            index=METHODS,
        )
        for p in ("genes", "entries", "samples")
    )
    fig = gi.pl.metrics(table, show=False)
    assert all(len(ax.texts) == 0 for ax in fig.axes)  # 27 bars a panel: no labels
    assert fig.get_size_inches()[0] <= 17.5  # panels wrap onto rows instead of widening the figure


# finding 9: unknown names raise
def test_method_comparison_unknown_method_raises_with_the_names():
    with pytest.raises(KeyNotFoundError, match=r"\['knn-samples'\].*'mean', 'knn_samples', 'pca_regression'"):
        gi.pl.method_comparison(_close_r(), methods=["knn-samples"])


def test_metrics_unknown_metric_raises_absent_known_metric_is_skipped():
    with pytest.raises(KeyNotFoundError, match=r"\['mean_samples_r'\] are not columns.*'pearson'"):
        gi.pl.metrics(_close_r(), metrics=("pearson", "mean_samples_r"))
    fig = gi.pl.metrics(_close_r(), metrics=("pearson", "coverage"), show=False)  # no intervals: skipped
    assert [ax.get_title() for ax in fig.axes] == ["pearson"]


# findings 4 and 8: group_r
def _predictions(n_groups: int, by: str = "sample", names=None, per_group: int = 6) -> dict:
    rng = np.random.default_rng(0)
    groups = names if names is not None else [f"{by}{i}" for i in range(n_groups)]
    obs = rng.normal(size=len(groups) * per_group)
    frame = pd.DataFrame(
        {by: np.repeat(groups, per_group), "observed": obs, "predicted": obs + rng.normal(size=obs.size)}
    )
    return {"mean": frame, "knn_samples": frame.copy(), "pca": frame.assign(predicted=obs)}


def test_group_r_many_groups_draws_per_method_distributions_in_a_bounded_figure():
    ax = gi.pl.group_r(_predictions(500), by="sample", show=False)
    width, height = ax.figure.get_size_inches()
    assert width <= 12 and height <= 14
    assert [t.get_text() for t in ax.get_xticklabels()] == ["mean", "knn_samples", "pca"]
    assert "500 sample groups" in ax.get_title()


def test_group_r_tissues_read_horizontally_and_equal_methods_stay_visible():
    names = [f"Brain - Nucleus accumbens (basal ganglia) {i}" for i in range(54)]
    ax = gi.pl.group_r(_predictions(54, "tissue", names), by="tissue", show=False)
    width, height = ax.figure.get_size_inches()
    assert width <= 16 and height <= 14
    ticks = ax.get_yticklabels()
    assert [t.get_text() for t in ticks] == sorted(names) and all(t.get_rotation() == 0 for t in ticks)
    assert _overlapping_pairs(ticks) == 0
    lines = {line.get_label(): line for line in ax.get_lines()}
    mean, knn = lines["mean"], lines["knn_samples"]
    np.testing.assert_allclose(mean.get_xdata(), knn.get_xdata())  # equal r ...
    assert mean.get_marker() != knn.get_marker()  # ... drawn with another marker
    assert np.all(np.abs(mean.get_ydata() - knn.get_ydata()) > 0.05)  # ... and a little apart
    assert mean.get_linestyle() == "None"  # tissues have no order: no lines between them


def test_group_r_quintiles_are_joined_unrotated():
    preds = _predictions(5, "quintile", ["Q3", "Q1", "Q5", "Q2", "Q4"])
    ax = gi.pl.group_r(preds, by="quintile", show=False)
    ticks = ax.get_xticklabels()
    assert [t.get_text() for t in ticks] == ["Q1", "Q2", "Q3", "Q4", "Q5"]
    assert all(t.get_rotation() == 0 for t in ticks)
    line = {line.get_label(): line for line in ax.get_lines()}["mean"]
    assert line.get_linestyle() == "-"


# finding 10: errors that name the fix
def test_group_r_one_table_says_pass_a_dict():
    frame = _predictions(3, "tissue")["mean"]
    with pytest.raises(ParameterError, match=r"dict \{label: table\}.*\{'knn': predictions\['knn'\]\}"):
        gi.pl.group_r(frame)


def test_predicted_vs_observed_errors_name_the_fix():
    preds = _predictions(3, "tissue")
    with pytest.raises(ParameterError, match=r"pick one.*predicted_vs_observed\(predictions\['mean'\]\)"):
        gi.pl.predicted_vs_observed(preds)
    renamed = preds["mean"].rename(columns={"predicted": "pred"})
    with pytest.raises(KeyNotFoundError, match=r"no column 'predicted'.*'observed' and 'predicted'.*'pred'"):
        gi.pl.predicted_vs_observed(renamed)


def test_predicted_vs_observed_says_scale_n_and_dropped():
    obs = np.arange(10.0)
    pred = obs + 0.5
    pred[:3] = np.nan
    ax = gi.pl.predicted_vs_observed(obs, pred, scale="log1p", show=False)
    assert ax.get_xlabel() == "observed (log1p)" and ax.get_ylabel() == "predicted (log1p)"
    assert "n = 7" in ax.get_title() and "3 with NaN left out" in ax.get_title()

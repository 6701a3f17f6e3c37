"""Parameter constraints, the method registry and command-line coercion (gex_impute.methods)."""

from __future__ import annotations

import json

import pytest

import gex_impute as gi
from gex_impute.errors import GexImputeError, ParameterError
from gex_impute.methods import available_methods, coerce_params, get_method, method_spec, registry

# (method, parameters, fragment the message must hold besides "name=value")
BAD = [
    ("distance", {"k": 0}, "an int in [1, 10000] or 'auto'"),
    ("distance", {"k": -1}, "an int in [1, 10000]"),
    ("distance", {"k": "many"}, "'auto'"),
    ("distance", {"k": 2.5}, "an int"),
    ("distance", {"window": 0}, "an int in [1, inf)"),
    ("distance", {"power": -1.0}, "a float in [0, 10]"),
    ("distance", {"pseudo_distance": -5.0}, "a float in [0, inf)"),
    ("distance", {"candidate_k": ()}, "a sequence of an int"),
    ("distance", {"candidate_window": (100, 0)}, "a sequence of an int in [1, inf)"),
    ("distance", {"validation_fraction": 0.0}, "a float in (0, 1)"),
    ("distance", {"random_state": -1}, "an int in [0, 4294967295] or None"),
    ("nearest_gene", {"window": -5}, "an int in [1, inf) or 'auto'"),
    ("nearest_gene", {"candidate_window": "100"}, "a sequence"),
    ("mean", {"group_by": 3}, "a str"),
    ("mean", {"group_by": ("species", "")}, "a sequence"),
    ("additive", {"max_iter": -1}, "an int in [1, 100000]"),
    ("additive", {"alpha": -0.5}, "a float in (0, inf)"),
    ("additive", {"tol": float("nan")}, "a float in [0, inf)"),
    ("additive", {"use_donor": "yes"}, "a bool"),
    ("knn", {"n_neighbors": 0}, "an int in [1, 10000]"),
    ("knn", {"n_neighbors": True}, "an int"),
    ("knn", {"weights": "bogus"}, "one of 'uniform', 'distance'"),
    ("knn", {"layout": "wide"}, "one of 'auto', 'samples', 'donors'"),
    ("softimpute", {"rank": 0}, "an int in [1, inf) or 'auto' or None"),
    ("softimpute", {"shrinkage": 2.0}, "a float in [0, 1] or 'auto'"),
    ("softimpute", {"candidate_shrinkage": (0.1, -1.0)}, "a sequence of a float in [0, 1]"),
    ("softimpute", {"max_iter": 0}, "an int in [1, 100000]"),
    ("softimpute", {"validation_fraction": 1.0}, "a float in (0, 1)"),
    ("pca_regression", {"n_components": 0}, "an int in [1, 10000] or 'auto'"),
    ("pca_regression", {"alpha": -1.0}, "a float in (0, inf)"),
    ("pca_regression", {"alpha": 0.0}, "a float in (0, inf)"),
    ("additive", {"alpha": 0.0}, "a float in (0, inf)"),
    ("pca_regression", {"max_exact_samples": 0}, "an int in [1, inf)"),
    ("hybrid", {"max_epochs": 0}, "an int in [1, 10000]"),
    ("hybrid", {"batch_size": 0}, "an int in [1, 1000000]"),
    ("hybrid", {"validation_fraction": 1.5}, "a float in (0, 1)"),
    ("hybrid", {"n_folds": 0}, "an int in [2, 20]"),
    ("hybrid", {"n_folds": 1}, "an int in [2, 20]"),
    ("hybrid", {"n_estimators": 0}, "an int in [1, 100000]"),
    ("hybrid", {"d_model": 30, "n_heads": 4}, "not divisible by n_heads=4"),
    ("hybrid", {"d_model": 10**9}, "an int in [1, 1024]"),
    ("hybrid", {"device": "tpu"}, "one of 'auto', 'cpu', 'cuda', 'mps' or 'cuda:N'"),
    ("hybrid", {"random_state": -1}, "an int in [0, 4294967295] or None"),
    ("hybrid", {"learning_rate": 0.0}, "a float in (0, 1]"),
    ("hybrid", {"xgb_learning_rate": 2.0}, "a float in (0, 1]"),
    ("hybrid", {"n_layers": -1}, "an int in [1, 16]"),
    ("hybrid", {"max_items_per_epoch": 0}, "an int in [1, inf) or None"),
    ("hybrid", {"n_jobs": 0}, "an int in [1, 4096] or None"),
    ("hybrid", {"use_sequence": 1}, "a bool"),
]


def _label(case):
    name, params, _ = case
    return f"{name}-" + ",".join(f"{k}={v!r}" for k, v in params.items())


@pytest.mark.parametrize("case", BAD, ids=[_label(c) for c in BAD])
def test_bad_parameters_rejected_at_construction_and_in_set_params(case):
    name, params, fragment = case
    with pytest.raises(ParameterError) as err:
        get_method(name, **params)
    message = str(err.value)
    assert fragment in message
    if len(params) == 1:
        ((key, value),) = params.items()
        assert f"{key}={value!r}" in message
    method = get_method(name)
    before = method.get_params()
    with pytest.raises(ParameterError):
        method.set_params(**params)
    assert method.get_params() == before  # nothing changed


@pytest.mark.parametrize("name", sorted(available_methods()))
def test_every_parameter_is_checked(name):
    """No parameter accepts an arbitrary object; every one has a documented constraint."""
    spec = method_spec(name)
    for param in spec.params.values():
        with pytest.raises(ParameterError, match=f"{param.name}="):
            get_method(name, **{param.name: object()})
        assert param.constraint and param.doc, f"{name}.{param.name} lacks a constraint or documentation"
    with pytest.raises(ParameterError, match="unknown parameter 'bogus'"):
        get_method(name).set_params(bogus=1)


def test_registry_describes_every_method():
    specs = registry()
    assert set(specs) == set(available_methods())
    json.dumps({k: s.to_dict() for k, s in specs.items()})  # JSON-ready for the CLI / Galaxy
    knn = specs["knn"]
    assert knn.cls is type(get_method("knn"))
    assert knn.description.startswith("scikit-learn ``KNNImputer``")
    n = knn.params["n_neighbors"]
    assert (n.default, n.type, n.keyword_only) == (20, "int", False)
    assert n.constraints == ({"type": "interval", "kind": "int", "low": 1, "high": 10000, "closed": "both"},)
    assert "neighbouring genes" in n.doc
    assert knn.params["weights"].type == "'uniform', 'distance'"
    hybrid = specs["hybrid"]
    assert hybrid.params["d_model"].doc == hybrid.params["n_heads"].doc  # "d_model, n_heads, n_layers"
    assert "transformer width" in hybrid.params["d_model"].doc
    assert hybrid.params["random_state"].constraint == "an int in [0, 4294967295] or None"
    assert specs["distance"].requires_coordinates and not specs["mean"].requires_coordinates


def test_coerce_params_reads_command_line_strings():
    assert coerce_params("distance", {"k": "20", "window": "auto", "power": "0.5"}) == {
        "k": 20,
        "window": "auto",
        "power": 0.5,
    }
    assert coerce_params("distance", {"candidate_k": "5,10", "window": "1e6"}) == {
        "candidate_k": (5, 10),
        "window": 1_000_000,
    }
    assert coerce_params("softimpute", {"rank": "none"}) == {"rank": None}
    assert coerce_params("hybrid", {"use_sequence": "false", "device": "cuda:1", "n_jobs": 2}) == {
        "use_sequence": False,
        "device": "cuda:1",
        "n_jobs": 2,
    }
    assert coerce_params("mean", {"group_by": "species"}) == {"group_by": ("species",)}
    params = coerce_params("knn", {"n_neighbors": "5", "weights": "distance"})
    assert get_method("knn", **params).get_params()["n_neighbors"] == 5


@pytest.mark.parametrize(
    ("name", "params", "fragment"),
    [
        ("knn", {"n_neighbors": "abc"}, "n_neighbors='abc' is not valid; n_neighbors must be an int"),
        ("knn", {"n_neighbors": "2.5"}, "n_neighbors='2.5'"),
        ("knn", {"n_neighbors": "0"}, "n_neighbors='0' is not valid"),
        ("knn", {"weights": "bogus"}, "one of 'uniform', 'distance'"),
        ("knn", {"neighbours": "5"}, "unknown parameter 'neighbours'"),
        ("hybrid", {"use_sequence": "maybe"}, "a bool"),
        ("hybrid", {"d_model": "30", "n_heads": "4"}, "not divisible"),
        ("hybrid", {"device": "tpu"}, "'cuda:N'"),
        ("nonsense", {}, "unknown method 'nonsense'"),
    ],
)
def test_coerce_params_errors_are_parameter_errors(name, params, fragment):
    with pytest.raises(ParameterError) as err:
        coerce_params(name, params)
    assert fragment in str(err.value)


def test_parameter_errors_are_value_errors_and_package_errors():
    assert issubclass(ParameterError, GexImputeError) and issubclass(ParameterError, ValueError)
    with pytest.raises(ValueError, match="max_epochs=0"):
        gi.HybridImputer(max_epochs=0)
    with pytest.raises(ParameterError, match="unknown method 'nonsense'"):
        get_method("nonsense")

"""What a saved hybrid model holds besides its hyperparameters, and how it is checked on loading.

The archive format itself (zip or folder, ``params.json``, ``.npy`` arrays, safety checks) is
:mod:`gex_impute.methods._archive`; this module declares the hybrid's fitted values and arrays,
writes its networks (``nets.pt``: torch state dicts) and booster (``xgboost.json``), and reads
them back with every shape checked against the networks the hyperparameters describe.
"""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..._errors import ModelArchiveError
from .._params import Boolean, Constraint, Interval, SequenceOf, Text
from .._persistence import JSONValue, MappingOf

if TYPE_CHECKING:
    from .model import HybridImputer

__all__ = ["FITTED_ARRAYS", "FITTED_SCHEMA", "check_fitted_meta", "restore_nets_and_booster", "state_files"]

_NAMES = SequenceOf(Text(200), min_length=1, max_length=100_000)

#: fitted values of a hybrid model in params.json, with their allowed forms
FITTED_SCHEMA: dict[str, list[Constraint | None]] = {
    "mixture_": [MappingOf(Interval(float, 0, 1), keys=("genes", "samples", "entries"))],
    "entry_rate_": [Interval(float, 0, 1)],
    "donor_sizes_": [SequenceOf(Interval(int, 1, 1_000_000), min_length=0, max_length=16), None],
    "value_mean_": [Interval(float, None, None)],
    "value_std_": [Interval(float, 0, None, closed="neither")],
    "static_names_": [SequenceOf(Text(200), min_length=0, max_length=64)],
    "has_sequence_": [Boolean()],
    "sequence_length_": [Interval(int, 0, 1_000_000)],
    "context_names_": [_NAMES],
    "design_names_": [_NAMES],
    "best_iteration_": [Interval(int, 0, 1_000_000), None],
    "min_child_weight_": [Interval(float, 0, None), None],
    "diagnostics_": [JSONValue(max_depth=2, max_items=10_000)],
    "n_nets": [Interval(int, 0, 20)],
}
#: fitted arrays of a hybrid model (arrays/<name>.npy)
FITTED_ARRAYS = (
    "static_mean_",
    "static_std_",
    "token_context_idx_",
    "token_context_own_",
    "context_mean_",
    "context_std_",
)


def check_fitted_meta(meta: dict[str, Any], fail: Callable[[str], ModelArchiveError]) -> None:
    """Check that the fitted values, arrays and files of ``params.json`` agree with each other."""
    params, fitted, arrays = meta["params"], meta["fitted"], meta["arrays"]
    uses_nets = params.get("use_sequence", True) or params.get("use_tissue_encoder", True)
    n_nets = fitted["n_nets"]
    if (n_nets > 0) != bool(uses_nets) or n_nets > params.get("n_folds", 3) or n_nets == 1:
        raise fail(f"params.json: n_nets={n_nets} does not fit the hyperparameters (n_folds, use_*).")
    use_xgboost = params.get("use_xgboost", True)
    expected_files = {"nets.pt"} if n_nets else set()
    expected_files |= {"xgboost.json"} if use_xgboost else set()
    if set(meta["files"]) != expected_files:
        raise fail(
            f"params.json lists files {sorted(meta['files'])}, the model needs {sorted(expected_files)}."
        )
    if (fitted["best_iteration_"] is None) == bool(use_xgboost):
        raise fail("params.json: best_iteration_ does not fit use_xgboost.")
    n_static, n_context = len(fitted["static_names_"]), len(fitted["context_names_"])
    if fitted["design_names_"][:n_context] != fitted["context_names_"]:
        raise fail("params.json: design_names_ does not start with context_names_.")
    expected = {
        "static_mean_": ("float64", [n_static]),
        "static_std_": ("float64", [n_static]),
        "token_context_own_": ("bool", None),
        "token_context_idx_": ("int64", None),
        "context_mean_": ("float32", None),
        "context_std_": ("float32", None),
    }
    n_token = (
        arrays["token_context_idx_"].get("shape", [None])
        if isinstance(arrays["token_context_idx_"], dict)
        else None
    )
    for name, (dtype, shape) in expected.items():
        spec = arrays[name]
        shape = shape if shape is not None else n_token
        if not isinstance(spec, dict) or spec.get("dtype") != dtype or spec.get("shape") != shape:
            raise fail(f"params.json: array {name} must be {dtype} of shape {shape}, got {spec!r}.")
    if not n_token or len(n_token) != 1 or n_token[0] > n_context:
        raise fail(
            f"params.json: token_context_idx_ of shape {n_token} does not fit {n_context} context features."
        )


def state_files(model: HybridImputer) -> dict[str, bytes]:
    """``nets.pt`` (the fold networks' state dicts, keys ``"<fold>.<name>"``) and ``xgboost.json``."""
    files = {}
    if model.nets_:
        import torch

        state = {
            f"{k}.{name}": t for k, net in enumerate(model.nets_) for name, t in net.state_dict().items()
        }
        buf = io.BytesIO()
        torch.save(state, buf)
        files["nets.pt"] = buf.getvalue()
    if model.booster_ is not None:
        files["xgboost.json"] = bytes(model.booster_.save_raw(raw_format="json"))
    return files


def restore_nets_and_booster(model: HybridImputer, n_nets: int, files: dict[str, bytes]) -> None:
    """Rebuild the networks and the booster of ``model`` from the archive's files.

    Raises
    ------
    ModelArchiveError
        ``nets.pt`` or ``xgboost.json`` unreadable, or not matching the hyperparameters
        (tensor names or shapes, feature names).
    """
    if model.token_context_idx_.size and int(model.token_context_idx_.max()) >= len(model.context_names_):
        msg = "token_context_idx_ points beyond the context features."
        raise ModelArchiveError(msg)
    model.nets_ = _load_nets(model, n_nets, files["nets.pt"]) if n_nets else []
    model.booster_ = _load_booster(model, files["xgboost.json"]) if model.use_xgboost else None


def _load_nets(model: HybridImputer, n_nets: int, raw: bytes) -> list:
    import pickle

    import torch

    from .training import build_network

    try:
        state = torch.load(io.BytesIO(raw), weights_only=True, map_location="cpu")
    except (RuntimeError, ValueError, EOFError, OSError, pickle.UnpicklingError) as err:
        reason = str(err).splitlines()[0][:200] if str(err) else ""
        msg = f"nets.pt cannot be read as torch tensors ({type(err).__name__}: {reason})."
        raise ModelArchiveError(msg) from None
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in state.items()
    ):
        msg = "nets.pt does not hold a dict of named tensors."
        raise ModelArchiveError(msg)
    nets, used = [], set()
    for k in range(n_nets):
        net = build_network(model, len(model.static_names_))
        expected = net.state_dict()
        prefix = f"{k}."
        given = {name[len(prefix) :]: t for name, t in state.items() if name.startswith(prefix)}
        missing, extra = sorted(set(expected) - set(given)), sorted(set(given) - set(expected))
        if missing or extra:
            msg = f"nets.pt, network {k}: missing tensors {missing[:5]}, unexpected tensors {extra[:5]}."
            raise ModelArchiveError(msg)
        for name, tensor in expected.items():
            if tuple(given[name].shape) != tuple(tensor.shape) or given[name].dtype != tensor.dtype:
                msg = (
                    f"nets.pt, network {k}: tensor {name!r} is {given[name].dtype}"
                    f"{tuple(given[name].shape)}, the model expects {tensor.dtype}{tuple(tensor.shape)}."
                )
                raise ModelArchiveError(msg)
        net.load_state_dict(given)
        net.eval()
        nets.append(net)
        used |= {prefix + name for name in given}
    if set(state) - used:
        msg = f"nets.pt holds tensors of no network: {sorted(set(state) - used)[:5]}."
        raise ModelArchiveError(msg)
    return nets


def _load_booster(model: HybridImputer, raw: bytes):
    import xgboost as xgb

    booster = xgb.Booster()
    try:
        booster.load_model(bytearray(raw))
    except xgb.core.XGBoostError as err:
        msg = f"xgboost.json cannot be read ({str(err).splitlines()[0][:200]})."
        raise ModelArchiveError(msg) from None
    if list(booster.feature_names or []) != list(model.design_names_):
        msg = "xgboost.json: the booster's feature names differ from design_names_ in params.json."
        raise ModelArchiveError(msg)
    if model.best_iteration_ is None or booster.num_boosted_rounds() <= model.best_iteration_:
        msg = f"xgboost.json holds {booster.num_boosted_rounds()} trees, fewer than best_iteration_ + 1."
        raise ModelArchiveError(msg)
    return booster

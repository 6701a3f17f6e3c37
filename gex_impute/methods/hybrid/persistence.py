"""What a saved hybrid model holds besides its hyperparameters, and how it is checked on loading.

The archive format itself (zip or folder, ``params.json``, ``.npy`` arrays, safety checks) is
:mod:`gex_impute.methods._archive`. The hybrid saves its per-pattern models (JSON), the
promoter CNN's out-of-fold tissue profile of the fitted genes and the encoder's gene folds
(arrays), its boosters (``xgboost.json``: one JSON object ``{"format": ..., "boosters":
{pattern: xgboost model}}``, since an archive holds one such member) and, with the tissue
encoder, the encoder's networks (``nets.pt``, read with ``weights_only=True``).
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import numpy as np

from ...errors import ModelArchiveError
from .._params import Constraint, Interval, SequenceOf, Text
from .._persistence import JSONValue

if TYPE_CHECKING:
    from .model import HybridImputer

__all__ = ["FITTED_ARRAYS", "FITTED_SCHEMA", "check_fitted_meta", "restore_files", "state_files"]

_NAMES = SequenceOf(Text(200), min_length=0, max_length=100_000)
BOOSTERS_FORMAT = "gex_impute.hybrid.boosters/1"

#: fitted values of a hybrid model in params.json, with their allowed forms
FITTED_SCHEMA: dict[str, list[Constraint | None]] = {
    "patterns_": [SequenceOf(Text(20), min_length=1, max_length=3)],
    "models_": [JSONValue(max_depth=4, max_items=100_000)],
    "entry_names_": [_NAMES],
    "profile_names_": [_NAMES],
    "rate_": [Interval(float, 0, 1)],
    "static_names_": [SequenceOf(Text(200), min_length=0, max_length=64)],
    "encoder_state_": [JSONValue(max_depth=1, max_items=20), None],
    "diagnostics_": [JSONValue(max_depth=2, max_items=10_000)],
}
#: fitted arrays of a hybrid model (arrays/<name>.npy)
FITTED_ARRAYS = ("cnn_profile_", "encoder_fold_")


def check_fitted_meta(meta: dict[str, Any], fail: Callable[[str], ModelArchiveError]) -> None:
    """Check that the fitted values, arrays and files of ``params.json`` agree with each other."""
    fitted, arrays = meta["fitted"], meta["arrays"]
    models = fitted["models_"]
    patterns = ("genes", "profiles", "entries")
    if (
        not isinstance(models, dict)
        or not set(models) <= set(patterns)
        or not set(fitted["patterns_"]) <= set(patterns)
    ):
        raise fail(f"params.json: models_ / patterns_ must name patterns among {patterns}.")
    for name, m in models.items():
        if not isinstance(m, dict) or m.get("choice") not in ("reference", "ridge", "xgboost"):
            raise fail(f"params.json: the model of pattern {name!r} has no valid 'choice'.")
        if m["choice"] == "xgboost" and not isinstance(m.get("best_iteration"), int):
            raise fail(f"params.json: the model of pattern {name!r} lacks best_iteration.")
    expected = {"xgboost.json"} if any(m["choice"] == "xgboost" for m in models.values()) else set()
    if fitted["encoder_state_"] is not None:
        expected.add("nets.pt")
    if set(meta["files"]) != expected:
        raise fail(f"params.json lists files {sorted(meta['files'])}, the model needs {sorted(expected)}.")
    n_genes, n_tissues = len(fitted["gene_ids_"]), len(fitted["tissues_"])
    cnn, fold = arrays["cnn_profile_"], arrays["encoder_fold_"]
    if (
        not isinstance(cnn, dict)
        or cnn.get("dtype") != "float32"
        or cnn.get("shape") not in ([0, 0], [n_tissues, n_genes])
    ):
        raise fail(f"params.json: cnn_profile_ must be float32 of shape [0, 0] or [{n_tissues}, {n_genes}].")
    if (
        not isinstance(fold, dict)
        or fold.get("dtype") != "int64"
        or fold.get("shape") not in ([0], [n_genes])
    ):
        raise fail(f"params.json: encoder_fold_ must be int64 of shape [0] or [{n_genes}].")


def fitted_values(model: HybridImputer) -> tuple[dict[str, Any], dict[str, np.ndarray]]:
    """Return the JSON values and arrays of ``model``'s fitted state."""
    enc = model.encoder_
    values: dict[str, Any] = {k: getattr(model, k) for k in FITTED_SCHEMA if k != "encoder_state_"}
    values["encoder_state_"] = (
        None
        if enc is None
        else {"n_nets": len(enc.nets_), "mu": enc.mu_, "sd": enc.sd_, "n_tissues": enc.n_tissues_}
    )
    fold = np.zeros(0, np.int64) if enc is None else np.asarray(enc.fold_, dtype=np.int64)
    return values, {"cnn_profile_": np.asarray(model.cnn_profile_, dtype=np.float32), "encoder_fold_": fold}


def state_files(model: HybridImputer) -> dict[str, bytes]:
    """``xgboost.json`` (every booster) and, with the tissue encoder, ``nets.pt``."""
    files = {}
    if model.boosters_:
        boosters = {
            k: json.loads(bytes(b.save_raw(raw_format="json"))) for k, b in sorted(model.boosters_.items())
        }
        files["xgboost.json"] = json.dumps({"format": BOOSTERS_FORMAT, "boosters": boosters}).encode()
    if model.encoder_ is not None:
        import torch

        buf = io.BytesIO()
        torch.save(model.encoder_.state(), buf)
        files["nets.pt"] = buf.getvalue()
    return files


def restore_files(model: HybridImputer, files: dict[str, bytes]) -> None:
    """Rebuild the boosters and the encoder of ``model`` from the archive's files.

    Raises
    ------
    ModelArchiveError
        ``xgboost.json`` or ``nets.pt`` unreadable or not matching the fitted state.
    """
    model.boosters_ = _load_boosters(model, files["xgboost.json"]) if "xgboost.json" in files else {}
    model.encoder_ = None
    state = model.encoder_state_  # type: ignore[attr-defined]
    if state is not None:
        model.encoder_ = _load_encoder(model, state, files["nets.pt"])
    del model.encoder_state_  # type: ignore[attr-defined]
    fold = model.encoder_fold_  # type: ignore[attr-defined]
    if model.encoder_ is not None:
        model.encoder_.fold_ = np.asarray(fold, dtype=np.int64)
    del model.encoder_fold_  # type: ignore[attr-defined]


def _load_boosters(model: HybridImputer, raw: bytes) -> dict[str, Any]:
    import xgboost as xgb

    try:
        doc = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as err:
        msg = f"xgboost.json is not JSON ({err})."
        raise ModelArchiveError(msg) from None
    if (
        not isinstance(doc, dict)
        or doc.get("format") != BOOSTERS_FORMAT
        or not isinstance(doc.get("boosters"), dict)
    ):
        msg = f"xgboost.json does not hold the hybrid's boosters (format {BOOSTERS_FORMAT!r})."
        raise ModelArchiveError(msg)
    wanted = sorted(k for k, m in model.models_.items() if m["choice"] == "xgboost")
    if sorted(doc["boosters"]) != wanted:
        msg = f"xgboost.json holds boosters {sorted(doc['boosters'])}, the model needs {wanted}."
        raise ModelArchiveError(msg)
    out = {}
    for key in wanted:
        booster = xgb.Booster()
        try:
            booster.load_model(bytearray(json.dumps(doc["boosters"][key]).encode()))
        except xgb.core.XGBoostError as err:
            msg = f"xgboost.json, booster {key!r}, cannot be read ({str(err).splitlines()[0][:200]})."
            raise ModelArchiveError(msg) from None
        names = model.profile_names_ if key == "profiles" and model.profile_names_ else model.entry_names_
        if list(booster.feature_names or []) != list(names):
            msg = f"xgboost.json: booster {key!r} has other feature names than params.json."
            raise ModelArchiveError(msg)
        if booster.num_boosted_rounds() <= model.models_[key]["best_iteration"]:
            msg = f"xgboost.json: booster {key!r} holds fewer trees than best_iteration + 1."
            raise ModelArchiveError(msg)
        out[key] = booster
    return out


def _load_encoder(model: HybridImputer, state: dict[str, Any], raw: bytes) -> Any:
    import pickle

    import torch

    from .encoder import TissueEncoder, tissue_transformer

    try:
        tensors = torch.load(io.BytesIO(raw), weights_only=True, map_location="cpu")
    except (RuntimeError, ValueError, EOFError, OSError, pickle.UnpicklingError) as err:
        msg = f"nets.pt cannot be read as torch tensors ({type(err).__name__})."
        raise ModelArchiveError(msg) from None
    if not isinstance(tensors, dict) or not all(isinstance(v, torch.Tensor) for v in tensors.values()):
        msg = "nets.pt does not hold a dict of named tensors."
        raise ModelArchiveError(msg)
    enc = TissueEncoder(d_model=model.d_model, n_heads=model.n_heads, n_layers=model.n_layers)
    enc.mu_, enc.sd_ = float(state["mu"]), float(state["sd"])
    n_nets, n_tissues = int(state["n_nets"]), int(state["n_tissues"])
    if n_tissues != len(model.tissues_) or not 1 <= n_nets <= 20:
        msg = f"encoder_state_ (n_nets={n_nets}, n_tissues={n_tissues}) does not fit the model's tissues."
        raise ModelArchiveError(msg)
    expected = tissue_transformer(n_tissues, model.d_model, model.n_heads, model.n_layers).state_dict()
    used: set[str] = set()
    for k in range(n_nets):
        prefix = f"{k}."
        given = {name[len(prefix) :]: t for name, t in tensors.items() if name.startswith(prefix)}
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
        used |= {prefix + name for name in given}
    if set(tensors) - used:
        msg = f"nets.pt holds tensors of no network: {sorted(set(tensors) - used)[:5]}."
        raise ModelArchiveError(msg)
    enc.load_state(tensors, n_nets, n_tissues)
    return enc

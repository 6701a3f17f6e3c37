"""Method handling shared by the tools: name -> instance, recorded parameters, row predictions."""

from __future__ import annotations

import contextlib
import copy
import inspect
from collections.abc import Callable
from typing import Any, Literal

import numpy as np

from .._data import ExpressionData
from ..errors import ParameterError
from ..methods._base import BaseImputer, get_method
from ..methods._conformal import check_level as check_probability


def h5ad_safe(value: Any) -> Any:
    """Turn ``value`` into something ``AnnData.write_h5ad`` stores in ``uns``.

    None stays None (anndata >= 0.11 stores it; 0.10 leaves the key out of the file).
    """
    if value is None:
        return None
    if isinstance(value, bool | np.bool_):
        return bool(value)
    if isinstance(value, int | np.integer):
        return int(value)
    if isinstance(value, float | np.floating):
        return float(value)
    if isinstance(value, str):
        return value
    if isinstance(value, dict):
        return {str(k): h5ad_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple | np.ndarray):
        items = [h5ad_safe(v) for v in value]
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in items) and items:
            return np.asarray(items)
        if all(isinstance(v, str) for v in items) and items:
            return np.asarray(items, dtype=object)
        if not items:
            return np.asarray([], dtype=np.float64)
        return str(list(value))
    return str(value)


def method_params(method: BaseImputer) -> dict[str, Any]:
    """Return the method's hyperparameters and those chosen at fit time, h5ad-writable."""
    params = {k: h5ad_safe(v) for k, v in method.get_params().items()}
    # hyperparameters chosen at fit time (k_, window_, rank_, ...) are worth recording too
    fitted = {
        k: h5ad_safe(v)
        for k, v in vars(method).items()
        if k.endswith("_")
        and not k.startswith("_")
        and isinstance(v, int | float | str | np.number)
        and k not in ("n_fallback_", "log1p_")
    }
    diagnostics = getattr(method, "diagnostics_", None)
    if isinstance(diagnostics, dict) and diagnostics.get("cnn_device"):  # what "auto" became
        fitted["cnn_device"] = str(diagnostics["cnn_device"])
    if fitted:
        params["fitted"] = fitted
    return params


def resolve_method(
    method: str | BaseImputer,
    random_state: int | None,
    progress: bool,
    params: dict[str, Any] | None = None,
) -> BaseImputer:
    """Return an instance for ``method``: a registered name (seed, progress, ``params`` set) or itself."""
    if isinstance(method, BaseImputer):
        if params:
            msg = (
                f"method parameters {sorted(params)} were given with a method instance; set them "
                "on the instance (method.set_params(...)) or pass the method by name."
            )
            raise ParameterError(msg)
        return silenced(method, progress)
    if not isinstance(method, str):
        msg = f"method must be a method name or a BaseImputer instance, got {type(method).__name__}"
        raise TypeError(msg)
    instance = get_method(method)
    if params:
        try:
            instance.set_params(**params)
        except ValueError as err:
            raise ParameterError(str(err)) from None
    if "random_state" in instance.get_params() and "random_state" not in (params or {}):
        instance.set_params(random_state=random_state)
    if "progress" in instance.get_params():  # the method's own bars follow the tool's progress=
        instance.set_params(progress=progress)
    return instance


#: scanpy habits a tool that returns a new AnnData (complete) does not take
_NOT_TAKEN = ("copy", "inplace")


def check_call_options(params: dict[str, Any], method: str | BaseImputer, *, caller: Callable) -> None:
    """Refuse a call's own options mistaken for method parameters (``**method_params``).

    ``copy=`` / ``inplace=`` (the tool returns a new AnnData and never modifies its input), and a
    near miss of one of the caller's parameters (``donor=`` for ``donor_key=``) that is no
    parameter of the method either.
    """
    import difflib

    name = caller.__name__
    for key in params:
        if key in _NOT_TAKEN:
            msg = f"{name}() returns a new AnnData (or writes out=), never changing its input: drop {key}=."
            raise ParameterError(msg)
    if not isinstance(method, str):
        return
    own = [p for p, v in inspect.signature(caller).parameters.items() if v.kind is v.KEYWORD_ONLY]
    valid = set(get_method(method).get_params())
    for key in params:
        close = difflib.get_close_matches(key, own, n=2, cutoff=0.6)
        if key not in valid and close:
            msg = (
                f"{key}= is no parameter of {name}() nor of method {method!r}; did you mean "
                f"{' or '.join(f'{c}=' for c in close)}? "
                f"(parameters of {method!r}: {sorted(valid)})"
            )
            raise ParameterError(msg)


def used_seed(method: BaseImputer, random_state: int | None) -> Any:
    """Return the seed ``method`` used (h5ad-writable): its own ``random_state``, else the call's; None: 0."""
    seed = getattr(method, "random_state", random_state)
    return h5ad_safe(0 if seed is None else seed)


def silenced(method: BaseImputer, progress: bool) -> BaseImputer:
    """Return a shallow copy of a fitted ``method``, without its own progress bars when ``progress`` is off.

    The caller's model is left as it is: the intervals a tool calibrates on its data (and a
    refit) go to the copy, so one call never changes what the next call with the same model
    gives. A loaded model keeps the ``progress`` it was fitted with; ``progress=False`` (the
    CLI's ``-q``) silences it all the same. An unfitted instance is returned as is.
    """
    if not is_fitted(method):
        return method
    method = copy.copy(method)
    if not progress and method.get_params().get("progress"):
        method.set_params(progress=False)
    return method


def is_fitted(method: BaseImputer) -> bool:
    """Whether ``method`` went through ``fit`` (or was loaded fitted)."""
    return hasattr(method, "log1p_")


def predict_rows(method: BaseImputer, data: ExpressionData, rows: np.ndarray) -> np.ndarray:
    """Model-scale predictions of every entry of ``data``'s rows ``rows``, with all of ``data`` as context.

    Uses the method's ``predict_rows(data, rows)`` when it has one (computing only those rows);
    otherwise predicts every row and keeps ``rows``. The method is shallow-copied first, so
    that predictions running side by side (dask threads) never share the attributes a
    prediction sets (``n_fallback_``, ``fallback_mask_``, ...).
    """
    method = copy.copy(method)
    rows = np.asarray(rows, dtype=np.int64)
    if hasattr(method, "predict_rows"):
        out = np.asarray(method.predict_rows(data, rows), dtype=np.float64)
    else:
        out = np.asarray(method.predict(data), dtype=np.float64)[rows]
    if out.shape != (len(rows), data.n_genes):
        msg = f"method {method.name!r} returned predictions of shape {out.shape} for {len(rows)} rows."
        raise RuntimeError(msg)
    return out


def interval_rows(
    method: BaseImputer, data: ExpressionData, rows: np.ndarray, level: float
) -> tuple[np.ndarray, np.ndarray]:
    """Model-scale ``(lower, upper)`` bounds for ``data``'s rows ``rows`` from ``method.predict_interval``.

    Patterns of missingness the method has not calibrated yet are calibrated on ``method``
    itself first (once; its copies would each calibrate again), then a copy predicts.
    """
    rows = np.asarray(rows, dtype=np.int64)
    if isinstance(method, BaseImputer) and type(method).predict_interval is BaseImputer.predict_interval:
        from ..methods.intervals import needed_patterns

        known = getattr(method, "calibration_", None)
        missing = [p for p in needed_patterns(data, rows) if known is None or p not in known.patterns]
        if missing:
            method.calibrate(data, patterns=tuple(missing))
    predict_interval = copy.copy(method).predict_interval
    if "rows" in inspect.signature(predict_interval).parameters:
        lower, upper = predict_interval(data, level, rows=rows)
        return np.asarray(lower, dtype=np.float64), np.asarray(upper, dtype=np.float64)
    lower, upper = predict_interval(data, level)
    return np.asarray(lower, dtype=np.float64)[rows], np.asarray(upper, dtype=np.float64)[rows]


def check_level(level: float | None, name: str = "interval") -> float | None:
    """Validate an interval level (None, or a probability strictly between 0 and 1)."""
    if level is None:
        return None
    try:
        return check_probability(level, name)
    except ParameterError:
        msg = f"{name}={level!r} must be a probability strictly between 0 and 1 (e.g. 0.9), or None."
        raise ParameterError(msg) from None


def check_int(name: str, value: Any, low: int) -> int:
    """Return ``value`` as an int, refusing a non-integer or one below ``low``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < low:
        msg = f"{name}={value!r} must be an integer >= {low}."
        raise ParameterError(msg)
    return int(value)


def resolve_with_scale(
    method: str | BaseImputer,
    params: dict[str, Any],
    log_transform: bool | Literal["auto"],
    random_state: int | None,
    progress: bool,
) -> tuple[BaseImputer, bool | Literal["auto"], bool]:
    """Return ``(instance, log_transform, pretrained)``; a fitted method's own log scale wins.

    An explicit ``log_transform`` that disagrees with a fitted method's is refused.
    """
    instance = resolve_method(method, random_state, progress, params)
    pretrained = is_fitted(instance)
    if pretrained:
        log_transform = fitted_log_scale(instance, log_transform, fix="with a fitted method")
    return instance, log_transform, pretrained


def fitted_log_scale(method: BaseImputer, log_transform: bool | Literal["auto"], *, fix: str) -> bool:
    """Return the fitted ``method``'s log scale; an explicit ``log_transform`` that disagrees is refused.

    ``fix`` ends the message: when to leave ``log_transform='auto'``.
    """
    if log_transform != "auto" and bool(log_transform) != bool(method.log1p_):
        msg = (
            f"log_transform={log_transform!r} conflicts with the fitted method (log1p="
            f"{method.log1p_}); leave log_transform='auto' {fix}."
        )
        raise ParameterError(msg)
    return bool(method.log1p_)


def calibrate_patterns(method: BaseImputer, data: ExpressionData, *, has_absent: bool) -> None:
    """Calibrate the method's intervals once, for the patterns complete() asks about.

    Those of the observed samples' missing entries, and whole profiles when absent ones are
    estimated; patterns calibrated before are kept. (Left to ``predict_interval``, each block's
    prediction would calibrate its own copy of the method again.)
    """
    if not hasattr(method, "calibrate"):
        return
    from ..methods.intervals import PATTERNS, needed_patterns

    wanted = set(needed_patterns(data)) | ({"profiles"} if has_absent else set())
    known = getattr(method, "calibration_", None)
    missing = tuple(p for p in PATTERNS if p in wanted and (known is None or p not in known.patterns))
    if missing:
        method.calibrate(data, patterns=missing)


def trains_xgboost(method: BaseImputer) -> bool:
    """Whether fitting ``method`` trains XGBoost boosters (the hybrid with ``use_xgboost``)."""
    return bool(getattr(method, "use_xgboost", False)) and hasattr(method, "xgb_params")


def xgboost_training(method: BaseImputer, client: Any) -> contextlib.AbstractContextManager:
    """Return the context a fit runs in: XGBoost on ``client`` (``xgboost.dask``) if the method trains it.

    Without a client, or for a method that trains no XGBoost, a context that changes nothing.
    One partition per booster: the boosters equal those of local training bit for bit
    (:mod:`gex_impute.methods.hybrid.distributed`).
    """
    if client is None or not trains_xgboost(method):
        return contextlib.nullcontext()
    from ..methods.hybrid.distributed import training_client

    return training_client(client)

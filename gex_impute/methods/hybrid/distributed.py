"""Train the hybrid's XGBoost boosters on a dask.distributed cluster with ``xgboost.dask``.

A fit run inside :func:`training_client` sends every stacking booster it trains
(:func:`~gex_impute.methods.hybrid.stacking.train_booster`) to the cluster (the per-sample
boosters of the scattered-entry base, ``row_models``, which only cohorts of at most 50 samples
use, stay here):
:func:`train_booster_dask` places the training and early-stopping rows on the cluster's
workers as dask arrays and calls ``xgboost.dask.train`` on ``DaskDMatrix`` objects built from
them. Everything else of the fit (feature construction, the CNN, the bases) runs here.

Exactness. With ``n_partitions=1`` (the default) one worker holds all the rows of a booster
and the booster is the one local training gives, bit for bit (tested). Spread over several
workers (``n_partitions > 1``), each worker sketches the quantiles of its own rows (the
histogram bin cuts are then merged from per-worker summaries, exact only up to
``max_bin * 8`` rows) and draws the ``subsample`` rows among its own rows, so the trees differ
from the local run's as a different random split would: the same model, not the same values
(XGBoost's maintainers, dmlc/xgboost#7458 and #5864: a distributed result is reproducible for
the same partitioning and workers, not equal to the single-node one). Measured with 2 workers
(benchmarks/results/dask_training.md): validation MSE within 0.2% of the local booster's,
completed log1p values r = 0.9995 against the local run, largest difference 0.68 (log1p). A
given cluster, partitioning and seed give the same booster every time (tested): the
partitions go to the workers in the order of their addresses.

dask, distributed and xgboost are imported only when a booster is trained on a cluster.
"""

from __future__ import annotations

import contextlib
import contextvars
import logging
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..._utils import check_dask_client, said_if_cluster_lost
from ...errors import ParameterError
from .stacking import EARLY_STOPPING_ROUNDS, validation_score

logger = logging.getLogger("gex_impute")

__all__ = ["active_training", "train_booster_dask", "training_client"]


@dataclass(frozen=True)
class Training:
    """Where boosters are trained: a dask client and how many partitions one booster's rows get."""

    client: Any
    n_partitions: int = 1


_TRAINING: contextvars.ContextVar[Training | None] = contextvars.ContextVar(
    "gex_impute_training", default=None
)


def active_training() -> Training | None:
    """Return where boosters are trained now (inside :func:`training_client`), else None."""
    return _TRAINING.get()


def _check_client(client: Any) -> None:
    check_dask_client(client)
    try:
        import xgboost.dask  # noqa: F401
    except ImportError as err:
        msg = (
            f"training XGBoost on a dask client needs xgboost.dask, which failed to import ({err}); "
            "pip install 'dask[dataframe,distributed]' (it needs pyarrow)."
        )
        raise ParameterError(msg) from err


@contextlib.contextmanager
def training_client(client: Any, *, n_partitions: int = 1) -> Iterator[Training | None]:
    """Train the hybrid's XGBoost boosters on ``client``'s workers inside this block.

    Parameters
    ----------
    client
        A ``dask.distributed.Client`` (e.g. ``Client("tcp://scheduler:8786")`` or
        ``Client(LocalCluster(n_workers=2))``), or None: train here (the block changes nothing).
    n_partitions
        Partitions of one booster's rows, placed on the workers in address order (round robin).
        1: one worker trains each booster; the result equals local training bit for bit.
        More: the histograms are built across workers (for rows that do not fit one worker);
        the boosters are then equivalent, not equal, to local ones (module docstring).

    Yields
    ------
    The active ``Training``, or None without a client.

    Examples
    --------
    >>> import gex_impute as gi
    >>> from gex_impute.methods.hybrid.distributed import training_client
    >>> with training_client(None):  # no client: XGBoost trains here, as without the block
    ...     pass
    """
    if client is None:
        yield None
        return
    if isinstance(n_partitions, bool) or not isinstance(n_partitions, int | np.integer) or n_partitions < 1:
        msg = f"n_partitions={n_partitions!r} must be an integer >= 1."
        raise ParameterError(msg)
    _check_client(client)
    training = Training(client, int(n_partitions))
    token = _TRAINING.set(training)
    try:
        yield training
    finally:
        _TRAINING.reset(token)


def _placed(client: Any, parts: list[np.ndarray], workers: list[str]) -> Any:
    """Return a dask array of the row blocks ``parts``, block ``i`` held by ``workers[i % len(workers)]``."""
    import dask.array as da

    blocks = []
    for i, part in enumerate(parts):
        future = client.scatter(part, workers=[workers[i % len(workers)]], hash=False)
        blocks.append(da.from_delayed(future, shape=part.shape, dtype=part.dtype))
    return da.concatenate(blocks, axis=0)


def _split(rows: np.ndarray, n_partitions: int) -> list[np.ndarray]:
    return [part for part in np.array_split(rows, n_partitions) if len(part)] or [rows]


def train_booster_dask(
    training: Training,
    x: np.ndarray,
    r: np.ndarray,
    val: np.ndarray,
    names: list[str],
    *,
    params: dict[str, Any],
    n_estimators: int,
    seed: int,
) -> tuple[Any, int, float]:
    """``stacking.train_booster`` with ``xgboost.dask.train``.

    Same arguments and result (``val`` already checked by the caller): XGBoost on the rows
    ``~val`` of ``x`` -> ``r``, early stopping on the rows ``val``, on ``training.client``'s
    workers; ``params['nthread']`` threads per worker, as locally.

    Returns
    -------
    ``(booster, best_iteration, validation MSE)``; the booster is an ordinary
    ``xgboost.Booster`` here (predictions run locally).
    """
    import xgboost as xgb
    from xgboost import dask as dxgb

    client = training.client
    workers = sorted(client.nthreads())
    k = min(training.n_partitions, max(int((~val).sum()), 1))
    train_rows, val_rows = np.flatnonzero(~val), np.flatnonzero(val)
    data = {"train": train_rows, "val": val_rows}
    matrices = {}
    for name, rows in data.items():
        parts = _split(rows, k)
        x_parts = [np.ascontiguousarray(x[p]) for p in parts]
        r_parts = [np.ascontiguousarray(r[p]) for p in parts]
        matrices[name] = dxgb.DaskDMatrix(
            client,
            _placed(client, x_parts, workers),
            _placed(client, r_parts, workers),
            feature_names=names,
        )
    # a worker over its memory limit: "... already forgotten", said as a lost cluster
    with said_if_cluster_lost(client), xgb.config_context(verbosity=1):
        output = dxgb.train(
            client,
            {**params, "seed": seed},
            matrices["train"],
            n_estimators,
            evals=[(matrices["val"], "val")],
            early_stopping_rounds=EARLY_STOPPING_ROUNDS,
            verbose_eval=False,
        )
    booster = output["booster"]
    nthread = int(params.get("nthread", 1))
    dval = xgb.DMatrix(x[val_rows], label=r[val_rows], feature_names=names, nthread=nthread)
    best, mse = validation_score(booster, dval, r[val_rows])
    logger.debug(
        "xgboost.dask: %d + %d rows in %d partitions on %d workers, best iteration %d",
        len(train_rows),
        len(val_rows),
        k,
        len(workers),
        best,
    )
    return booster, best, mse

"""Run block functions locally or on a dask.distributed cluster, results in submission order.

The shared arguments (the fitted method and the observed data) are scattered to every worker
once; each block becomes one ``client.submit`` of a pure function. At most ``max_in_flight``
blocks are pending at a time, so the results waiting to be written stay bounded in memory.
dask is imported only when a client is given.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterable
from typing import Any

from .._errors import ParameterError


def check_client(client: Any) -> int:
    """Check that ``client`` is a dask.distributed Client; return its number of worker threads."""
    try:
        from distributed import Client
    except ImportError as err:  # pragma: no cover - dask is a dependency
        msg = "client= needs dask.distributed; pip install 'dask[distributed]'."
        raise ParameterError(msg) from err
    if not isinstance(client, Client):
        msg = f"client must be a dask.distributed.Client, got {type(client).__name__}."
        raise ParameterError(msg)
    threads = sum(client.nthreads().values())
    if threads == 0:
        msg = "the dask client has no workers; start some (e.g. LocalCluster(n_workers=2)) first."
        raise ParameterError(msg)
    return threads


def run_blocks(
    func: Callable,
    shared: tuple,
    tasks: Iterable[tuple],
    *,
    client: Any = None,
    max_in_flight: int | None = None,
) -> Generator[Any, None, None]:
    """Yield ``func(*shared, *task)`` for every task, in order.

    Parameters
    ----------
    func
        A pure, picklable (module-level) function.
    shared
        Arguments common to every call (scattered once with ``broadcast=True`` on a cluster).
    tasks
        Per-call arguments.
    client
        A ``dask.distributed.Client``, or None to run here, one call after the other.
    max_in_flight
        Most calls pending on the cluster at once (default: twice its worker threads).
    """
    if client is None:
        for task in tasks:
            yield func(*shared, *task)
        return
    limit = max_in_flight or 2 * check_client(client)
    shared_futures = client.scatter(list(shared), broadcast=True, hash=False)
    pending: deque = deque()
    try:
        for task in tasks:
            pending.append(client.submit(func, *shared_futures, *task, pure=False))
            if len(pending) >= limit:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()
    finally:
        for future in pending:
            future.cancel()
        for future in shared_futures:
            future.release()

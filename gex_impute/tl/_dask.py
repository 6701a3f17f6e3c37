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

from .._utils import check_dask_client


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
    limit = max_in_flight or 2 * check_dask_client(client)
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

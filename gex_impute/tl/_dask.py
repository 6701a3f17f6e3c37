"""Run block functions locally or on a dask.distributed cluster, results in submission order.

The shared arguments (the fitted method and the observed data) are scattered to every worker
once (:func:`scattered`, for every phase of a run); each block becomes one ``client.submit`` of
a pure function. A cluster lost mid-run is reported as such (a ``ConnectionError``). At most
``max_in_flight`` blocks are pending at a time, so the results waiting to be written stay
bounded in memory.
dask is imported only when a client is given.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Callable, Generator, Iterable, Iterator
from typing import Any

from .._utils import check_dask_client, release_quietly, said_if_cluster_lost


@contextlib.contextmanager
def scattered(shared: tuple, client: Any = None) -> Iterator[tuple]:
    """Yield ``shared`` on every worker of ``client`` (futures), released at the end; as is without one.

    For several :func:`run_blocks` calls over the same arguments: sent once, not once per call.
    """
    if client is None:
        yield shared
        return
    futures = client.scatter(list(shared), broadcast=True, hash=False)
    try:
        yield tuple(futures)
    finally:
        release_quietly(futures)


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
        Arguments common to every call, as :func:`scattered` gives them (futures on a cluster).
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
    pending: deque = deque()
    try:
        for task in tasks:
            with said_if_cluster_lost(client):
                pending.append(client.submit(func, *shared, *task, pure=False))
            if len(pending) >= limit:
                with said_if_cluster_lost(client):
                    result = pending.popleft().result()
                yield result
        while pending:
            with said_if_cluster_lost(client):
                result = pending.popleft().result()
            yield result
    finally:
        release_quietly(pending, cancel=True)

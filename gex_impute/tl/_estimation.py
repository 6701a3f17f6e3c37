"""The driver side of :func:`gex_impute.tl.complete`'s estimation: which rows each prediction estimates.

The output rows are cut into blocks; absent profiles are estimated block by block (or, for a
method that predicts every row of its input, in a few large batches of blocks), the observed
samples' missing entries likewise, each task run here or on a dask client
(:func:`~gex_impute.tl._dask.run_blocks`) by the pure functions of :mod:`._blocks`; the
results come back in block order and are written, block by block, with the observed rows.
"""

from __future__ import annotations

from collections.abc import Generator, Iterator
from typing import Any

import numpy as np

from ._assemble import Holes, missing_per_row, observed_block
from ._blocks import Context, estimate_holes, estimate_profiles
from ._dask import run_blocks
from ._grid import Grid

__all__ = ["estimate_observed_holes", "prediction_batches", "profile_results", "row_blocks", "write_blocks"]


def row_blocks(n_rows: int, block_size: int) -> list[tuple[int, int]]:
    """Return ``(start, stop)`` of consecutive output blocks of at most ``block_size`` rows."""
    return [(s, min(s + block_size, n_rows)) for s in range(0, n_rows, block_size)]


def estimate_observed_holes(
    method, context: Context, level, dtype, client, block_size: int, shared: tuple
) -> Holes:
    """Fill the missing entries of observed samples (by blocks when the method predicts rows).

    ``shared``: ``(method, context)`` as :func:`~gex_impute.tl._dask.scattered` gave them.
    """
    counts = missing_per_row(context.data.values)
    rows = np.flatnonzero(counts)
    parts = []
    if len(rows):
        step = block_size if hasattr(method, "predict_rows") else len(rows)  # else: one full prediction
        tasks = [(rows[s : s + step], level, dtype) for s in range(0, len(rows), step)]
        parts = list(run_blocks(estimate_holes, shared, tasks, client=client))
    return Holes(context.data.values, counts, parts)


def prediction_batches(grid: Grid, blocks: list[tuple[int, int]], limit: int) -> list[list[tuple[int, int]]]:
    """Group consecutive output blocks that hold absent profiles, at most ``limit`` of them per group.

    A group is estimated by one prediction; a block is never split (a group holds at least one).
    """
    batches: list[list[tuple[int, int]]] = []
    n_rows = limit  # start a new group at the first block
    for start, stop in blocks:
        n = int(grid.estimated[start:stop].sum())
        if n == 0:
            continue
        if n_rows + n > limit:
            batches.append([])
            n_rows = 0
        batches[-1].append((start, stop))
        n_rows += n
    return batches


def profile_results(
    context: Context, grid: Grid, batches, level, dtype, client, shared: tuple
) -> Generator[dict, None, None]:
    """Estimates of the absent profiles, one result per block that has any, in block order.

    Each batch of blocks is estimated by one prediction; its result is cut back into blocks.
    ``shared``: ``(method, context)`` as :func:`~gex_impute.tl._dask.scattered` gave them.
    """
    columns = list(context.data.obs.columns)
    sizes = [[int(grid.estimated[a:b].sum()) for a, b in batch] for batch in batches]

    def tasks() -> Iterator[tuple]:
        for batch in batches:
            rows = np.concatenate(
                [start + np.flatnonzero(grid.estimated[start:stop]) for start, stop in batch]
            )
            obs = grid.obs.iloc[rows].reindex(columns=columns)
            yield grid.donor[rows], grid.tissue[rows], obs, level, dtype

    results = run_blocks(estimate_profiles, shared, tasks(), client=client)
    try:
        for result, counts in zip(results, sizes, strict=True):
            offsets = np.cumsum([0, *counts])
            for a, b in zip(offsets[:-1], offsets[1:], strict=True):
                yield {name: values[a:b] for name, values in result.items()}
    finally:
        results.close()  # cancels what is still pending on a cluster


def write_blocks(
    writer,
    adata,
    grid: Grid,
    holes: Holes,
    results,
    blocks,
    *,
    key_added: str,
    progress: bool,
    desc: str,
    **read: Any,
) -> int:
    """Assemble every output block (observed rows + estimated profiles) and write it; count estimates."""
    from .._utils import progress_bar

    n_imputed = 0
    bounds = ("lower", "upper") if read["level"] is not None else ()
    with progress_bar(blocks, enabled=progress, desc=desc, unit="block") as bar:
        for start, stop in bar:
            x, extra = observed_block(adata, grid, holes, start, stop, **read)
            estimated = np.flatnonzero(grid.estimated[start:stop])
            if len(estimated):
                result = next(results)
                x[estimated] = result["x"]
                extra["mask"][estimated] = True
                for b in bounds:
                    extra[b][estimated] = result[b]
            n_imputed += int(extra["mask"].sum())
            writer.write(start, stop, x, {f"{key_added}_{k}": v for k, v in extra.items()})
    return n_imputed

"""Peak resident memory of this process, read by the benchmarks' subprocess modules.

:mod:`_complete_scale_runs` and :mod:`_sample_level_speed` run each measured job in a process of
its own and record this process's peak RSS with :func:`peak_rss_mb`.
"""

from __future__ import annotations

import resource

__all__ = ["peak_rss_mb"]


def peak_rss_mb() -> float:
    """Peak resident set size of this process so far, in MiB.

    Returns
    -------
    ``ru_maxrss`` of ``RUSAGE_SELF`` / 1024 (the kernel reports KiB on Linux).

    Examples
    --------
    >>> peak_rss_mb() > 0
    True
    """
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux

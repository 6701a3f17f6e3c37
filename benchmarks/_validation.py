"""The command line shared by the validation scripts (``validation_p2.py``, ``validation_p3.py``).

Settings are chosen on validation splits, never on the evaluation's split seeds 0-2 of
``sample_level.py``: the parser refuses those seeds.
"""

from __future__ import annotations

import argparse
import json

#: the split seeds of the evaluation (``sample_level.py``), never used for choosing settings
EVALUATION_SEEDS = frozenset({0, 1, 2})


def validation_args(
    description: str, argv: list[str] | None, *, datasets: str | None = None, table_options: bool = False
) -> argparse.Namespace:
    """Parse ``--seeds``, ``--params`` (JSON), ``--baselines``, maybe ``--datasets`` and the table options.

    ``seeds`` comes back as a list of ints, ``params`` as a dict; evaluation seeds are an error.
    """
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--seeds", default="100,101", help="split seeds (never 0-2, the evaluation's)")
    if datasets is not None:
        parser.add_argument("--datasets", default=datasets, help="comma-separated datasets")
    parser.add_argument("--params", default="{}", help="HybridImputer parameters as JSON")
    parser.add_argument("--baselines", default="", help="comma-separated baseline names")
    if table_options:
        parser.add_argument("--extra-tissues", type=int, default=0, help="add noisy copies of N tissues")
        parser.add_argument("--genes", type=int, default=0, help="N random genes only (0: all)")
    args = parser.parse_args(argv)
    args.seeds = [int(s) for s in args.seeds.split(",")]
    if set(args.seeds) & EVALUATION_SEEDS:
        parser.error("seeds 0-2 are the evaluation's; validate on others (e.g. 100,101)")
    args.params = json.loads(args.params)
    return args

"""Datasets: the simulator of donor x tissue x gene expression, its file writers, the real data.

* :func:`simulate` (:mod:`~gex_impute.datasets.simulation`; presets ``"default"`` and
  ``"gtex_v8"``), built from :mod:`~gex_impute.datasets.sim_genome` (genes, promoters, genome),
  :mod:`~gex_impute.datasets.sim_expression` (the expression model) and
  :mod:`~gex_impute.datasets.gtex_v8` (the GTEx v8 design).
* :func:`write_dataset` and :func:`write_gtex_files` (:mod:`~gex_impute.datasets.write`): the
  simulated data as the files users download.
* :func:`gtex_tissues`, :func:`blake2020`, :func:`~gex_impute.datasets.shared_data_dir`
  (:mod:`~gex_impute.datasets.real`): loaders of the real data in ``../shared/data``.
"""

from .demo import demo
from .real import blake2020, gtex_tissues, shared_data_dir
from .simulation import PRESETS, simulate
from .write import GTEX_FILE_NAMES, write_dataset, write_gtex_files

__all__ = [
    "GTEX_FILE_NAMES",
    "PRESETS",
    "blake2020",
    "demo",
    "gtex_tissues",
    "shared_data_dir",
    "simulate",
    "write_dataset",
    "write_gtex_files",
]

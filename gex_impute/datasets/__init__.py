"""Datasets: the simulator of donor x tissue x gene expression and loaders of the real data."""

from ._real import blake2020, gtex_tissues, shared_data_dir
from ._simulate import simulate, write_dataset

__all__ = ["blake2020", "gtex_tissues", "shared_data_dir", "simulate", "write_dataset"]

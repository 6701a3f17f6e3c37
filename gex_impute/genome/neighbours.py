"""The result type of the neighbour search: each gene's nearest reference genes and their relations."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

__all__ = [
    "BIDIRECTIONAL_MAX_DISTANCE",
    "CONVERGENT",
    "DIVERGENT",
    "ORIENTATIONS",
    "TANDEM",
    "GenomicNeighbours",
]

ORIENTATIONS: tuple[str, str, str] = ("tandem", "divergent", "convergent")
"""Names of the orientation codes 0, 1 and 2 of :attr:`GenomicNeighbours.orientation`."""

TANDEM, DIVERGENT, CONVERGENT = 0, 1, 2

BIDIRECTIONAL_MAX_DISTANCE: int = 1000
"""A divergent pair whose TSSs are less than this many bp apart is flagged bidirectional."""

FLAG_FIELDS = ("overlap", "nested", "bidirectional")


@dataclass
class GenomicNeighbours:
    """The ``k`` nearest reference genes of every gene, as ``(n_genes, k)`` arrays.

    Row ``i`` describes gene ``i`` (in the order of the ``var`` it was computed from); its
    columns are its neighbours, nearest first (by absolute TSS distance, ties broken by the
    neighbour's TSS, then by its position). Unused slots (fewer than ``k`` reference genes in
    the window) hold ``index = -1``, ``distance = 0``, ``orientation = -1`` and False flags.

    Attributes
    ----------
    index
        ``int64``: position of the neighbour in ``var`` (``-1`` = no neighbour).
    distance
        ``int64`` signed bp: neighbour TSS minus gene TSS, multiplied by ``-1`` when the gene
        is on the ``"-"`` strand, so a positive distance means downstream of the gene
        (genes of unknown strand keep the genomic sign).
    abs_distance
        ``int64``: absolute TSS distance in bp.
    orientation
        ``int8``: ``0`` tandem (same strand), ``1`` divergent (head-to-head: the ``"-"``
        gene's TSS at or left of the ``"+"`` gene's TSS), ``2`` convergent (tail-to-tail:
        the ``"-"`` gene's TSS right of the ``"+"`` gene's), ``-1`` no neighbour or a strand
        unknown. Names in ``ORIENTATIONS``.
    overlap
        ``bool``: the gene bodies ``[start, end)`` intersect.
    nested
        ``bool``: the bodies overlap and one contains the other (identical bodies count).
    bidirectional
        ``bool``: opposite strands, divergent, and TSSs less than
        ``BIDIRECTIONAL_MAX_DISTANCE`` (1 kb) apart.
    genes
        Gene ids (``var.index``) of the rows, when known.
    window
        The window (bp) the neighbours were searched in; None for unlimited.
    """

    index: np.ndarray
    distance: np.ndarray
    abs_distance: np.ndarray
    orientation: np.ndarray
    overlap: np.ndarray
    nested: np.ndarray
    bidirectional: np.ndarray
    genes: pd.Index | None = field(default=None, repr=False)
    window: int | None = None

    @property
    def n_genes(self) -> int:
        """Number of genes (rows)."""
        return self.index.shape[0]

    @property
    def k(self) -> int:
        """Number of neighbour slots per gene (columns)."""
        return self.index.shape[1]

    @property
    def mask(self) -> np.ndarray:
        """``(n_genes, k)`` bool: True where a slot holds a neighbour."""
        return self.index >= 0

    @property
    def n_neighbours(self) -> np.ndarray:
        """Number of neighbours found for each gene (``0`` .. ``k``)."""
        return self.mask.sum(axis=1)

    def to_frame(self) -> pd.DataFrame:
        """Long-format table, one row per (gene, neighbour) pair that exists.

        Returns
        -------
        DataFrame with columns ``gene``, ``rank`` (1 = nearest), ``neighbour`` (gene id),
        ``neighbour_index`` (position), ``distance``, ``abs_distance``, ``orientation``
        (categorical of ``ORIENTATIONS``, NaN when a strand is unknown), ``overlap``,
        ``nested`` and ``bidirectional``.

        Examples
        --------
        >>> import pandas as pd
        >>> from gex_impute.genome import genomic_neighbours
        >>> var = pd.DataFrame(
        ...     {"chrom": ["chr1"] * 3, "tss": [100, 600, 5000], "strand": ["-", "+", "+"]},
        ...     index=["a", "b", "c"],
        ... )
        >>> genomic_neighbours(var, k=1).to_frame()[["gene", "neighbour", "orientation"]]
          gene neighbour orientation
        0    a         b   divergent
        1    b         a   divergent
        2    c         b      tandem
        """
        rows, cols = np.nonzero(self.mask)
        genes = self.genes if self.genes is not None else pd.RangeIndex(self.n_genes)
        genes = np.asarray(genes)
        nb = self.index[rows, cols]
        codes = self.orientation[rows, cols].astype(np.int64)
        frame = pd.DataFrame(
            {
                "gene": genes[rows],
                "rank": cols + 1,
                "neighbour": genes[nb],
                "neighbour_index": nb,
                "distance": self.distance[rows, cols],
                "abs_distance": self.abs_distance[rows, cols],
                "orientation": pd.Categorical.from_codes(codes, categories=list(ORIENTATIONS)),
            }
        )
        for name in FLAG_FIELDS:
            frame[name] = getattr(self, name)[rows, cols]
        return frame

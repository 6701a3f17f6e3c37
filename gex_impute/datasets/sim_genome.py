"""The simulated genome: gene layout along chromosomes, promoter sequences with planted motifs.

Genes are placed on ``chr1`` .. ``chrN`` with exponential gaps, including bidirectional
(head-to-head, TSSs < 1 kb apart) pairs and nested genes. Promoters are cut from one consistent
genome buffer (overlapping windows share sequence) with planted elements: TATA boxes, CpG
islands with GC boxes, and 8-mers that raise or lower expression or a tissue programme.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from .._utils import atomic_path
from ..errors import DataError
from ..io.fasta import index_fasta

if TYPE_CHECKING:
    from anndata import AnnData

__all__ = [
    "MOTIFS",
    "chrom_lengths",
    "chrom_names",
    "gene_table",
    "layout_genes",
    "make_promoters",
    "promoter_strings",
    "promoter_windows",
    "scan_motifs",
    "write_genome_fasta",
]

# get it planted, effect on the baseline log1p level. "cpg_island" is a GC/CpG-rich patch
# around the TSS (its sequence column is a placeholder). Tissue motifs also raise one tissue
# programme (see ``TISSUE_MOTIFS``).
MOTIFS: tuple[tuple[str, str, float, float], ...] = (
    ("tata_box", "TATAAA", 0.25, 0.5),
    ("cpg_island", "", 0.55, 0.8),
    ("gc_box", "GGGCGG", 0.0, 0.3),  # planted inside most CpG islands (and a few other genes)
    ("activator_8mer", "CACGTGAC", 0.15, 0.7),
    ("repressor_8mer", "TGTTTAAC", 0.15, -0.8),
    ("programme1_8mer", "TGACTCAG", 0.15, 0.0),
    ("programme2_8mer", "TTGCGCAA", 0.15, 0.0),
)
TISSUE_MOTIFS = {"programme1_8mer": 0, "programme2_8mer": 1}
TISSUE_MOTIF_EFFECT = 1.0

# Windows (relative to the TSS, in the gene's orientation) used for planting and scanning.
_TATA_POS = -31  # start of TATAAA, planted at -31 +/- 3
_TATA_SCAN = (-40, -20)  # starts of TATAAA that count
_CORE = (-250, 100)  # CpG island / GC-box window

_BASES = np.frombuffer(b"ACGT", dtype=np.uint8)
COMP = np.arange(256, dtype=np.uint8)
for _a, _b in zip(b"ACGTNacgtn", b"TGCANtgcan", strict=True):
    COMP[_a] = _b


def _base_table(gc: float) -> np.ndarray:
    """256-entry lookup turning uniform random bytes into bases with GC fraction ``gc``."""
    n_gc = round(gc * 256) // 2
    n_at = 128 - n_gc
    return np.repeat(_BASES, [n_at, n_gc, n_gc, n_at]).astype(np.uint8)


_BACKGROUND = _base_table(0.455)  # ~0.42 after CpG depletion
_GC_RICH = _base_table(0.66)


def random_sequence(rng: np.random.Generator, n: int, *, cpg_depletion: float = 0.8) -> np.ndarray:
    """Random background DNA (uint8 ASCII): GC ~0.42 and CpG depleted ~4-fold, as in mammals."""
    seq = _BACKGROUND[rng.integers(0, 256, size=n, dtype=np.uint8)]
    if n > 1 and cpg_depletion > 0:
        cg = np.flatnonzero((seq[:-1] == ord("C")) & (seq[1:] == ord("G")))
        hit = cg[rng.random(cg.size) < cpg_depletion]
        to_t = rng.random(hit.size) < 0.5  # CG -> TG or CG -> CA (deamination on either strand)
        seq[hit[to_t]] = ord("T")
        seq[hit[~to_t] + 1] = ord("A")
    return seq


def revcomp(seq: str) -> str:
    """Reverse complement of a DNA string."""
    return COMP[np.frombuffer(seq.encode("ascii"), dtype=np.uint8)[::-1]].tobytes().decode("ascii")


# ----------------------------------------------------------------------------------------------
# genome layout
# ----------------------------------------------------------------------------------------------


def layout_genes(
    rng: np.random.Generator, n_genes: int, n_chromosomes: int, gene_spacing: int, margin: int
) -> dict[str, np.ndarray]:
    """Place genes on chromosomes: TSS, strand, body; with bidirectional pairs and nested genes."""
    weights = np.arange(n_chromosomes + 2, 2, -1, dtype=float)  # chr1 largest, like real genomes
    counts = np.floor(n_genes * weights / weights.sum()).astype(int)
    counts[: n_genes - counts.sum()] += 1
    chrom_idx = np.repeat(np.arange(n_chromosomes), counts)

    gaps = np.maximum(1, np.rint(rng.exponential(gene_spacing, size=n_genes))).astype(np.int64)
    plus = rng.random(n_genes) < 0.5
    first = np.r_[True, chrom_idx[1:] != chrom_idx[:-1]]
    # bidirectional (divergent, head-to-head) pairs: gene i-1 on "-", gene i on "+", TSSs < 1 kb
    bidi = (rng.random(n_genes) < 0.06) & ~first
    bidi[1:] &= ~bidi[:-1]  # no chains of pairs
    gaps[bidi] = rng.integers(100, 950, size=bidi.sum())
    plus[bidi] = True
    plus[np.flatnonzero(bidi) - 1] = False
    gaps[first] += margin
    offsets = np.cumsum(gaps)
    # position along its own chromosome: subtract the offset reached before its first gene
    tss = offsets - np.maximum.accumulate(np.where(first, offsets - gaps, 0))

    length = np.rint(rng.lognormal(np.log(0.6 * gene_spacing), 0.9, size=n_genes)).astype(np.int64)
    length = np.clip(length, 300, 10 * gene_spacing)
    start = np.where(plus, tss, tss - length + 1)
    end = np.where(plus, tss + length, tss + 1)

    # nested genes: a host gene's body is stretched over its downstream neighbour, whose body is
    # trimmed to fit inside the host
    same_next = np.r_[chrom_idx[1:] == chrom_idx[:-1], False]
    same_prev = np.r_[False, chrom_idx[1:] == chrom_idx[:-1]]
    pair_gene = bidi | np.r_[bidi[1:], False]
    nested = np.zeros(n_genes, dtype=bool)
    hosts = np.flatnonzero((rng.random(n_genes) < 0.03) & ~pair_gene)
    for h in hosts:
        if plus[h] and same_next[h] and not pair_gene[h + 1] and not nested[h] and not nested[h + 1]:
            j = h + 1
            start[j] = max(start[j], tss[h] + 1)
            end[h] = max(end[h], end[j] + int(rng.integers(200, 2000)))
            nested[j] = True
        elif not plus[h] and same_prev[h] and not pair_gene[h - 1] and not nested[h] and not nested[h - 1]:
            j = h - 1
            end[j] = min(end[j], tss[h])
            start[h] = min(start[h], start[j] - int(rng.integers(200, 2000)))
            nested[j] = True
    start = np.maximum(start, 0)
    return {
        "chrom_idx": chrom_idx,
        "tss": tss,
        "plus": plus,
        "start": start,
        "end": end,
        "bidirectional": bidi | np.r_[bidi[1:], False],
        "nested": nested,
    }


# ----------------------------------------------------------------------------------------------
# promoters
# ----------------------------------------------------------------------------------------------


def promoter_windows(tss: np.ndarray, plus: np.ndarray, upstream: int, downstream: int) -> np.ndarray:
    """Genomic start of each promoter window ``[a, a + upstream + downstream)``."""
    return np.where(plus, tss - upstream, tss - downstream + 1)


def _plant(
    buffer: np.ndarray, off: np.ndarray, plus: np.ndarray, width: int, pos: np.ndarray, codes: np.ndarray
) -> None:
    """Write ``codes`` (rows, in gene orientation) at string positions ``pos`` of each promoter."""
    fwd = off[:, None] + pos
    rev = off[:, None] + width - 1 - pos
    where = np.where(plus[:, None], fwd, rev)
    values = np.where(plus[:, None], codes, COMP[codes])
    buffer[where.ravel()] = values.ravel()


def make_promoters(
    rng: np.random.Generator,
    layout: dict[str, np.ndarray],
    upstream: int,
    downstream: int,
) -> np.ndarray:
    """Cut promoters (gene orientation, uint8 matrix) from one consistent genome-coordinate buffer."""
    n = layout["tss"].size
    width = upstream + downstream
    if width == 0:
        return np.zeros((n, 0), dtype=np.uint8)
    plus = layout["plus"]
    a = promoter_windows(layout["tss"], plus, upstream, downstream)
    # merge overlapping windows (bidirectional pairs share sequence) into one buffer per stretch
    key = layout["chrom_idx"].astype(np.int64) * (1 << 40) + a
    order = np.argsort(key, kind="stable")
    ks = key[order]
    reach = np.maximum.accumulate(ks + width)
    new_group = np.r_[True, ks[1:] >= reach[:-1]]
    group = np.cumsum(new_group) - 1
    group_start = ks[new_group]
    group_len = np.r_[reach[np.flatnonzero(new_group)[1:] - 1], reach[-1]] - group_start
    group_off = np.r_[0, np.cumsum(group_len)[:-1]]
    off = np.empty(n, dtype=np.int64)
    off[order] = group_off[group] + (ks - group_start[group])
    buffer = random_sequence(rng, int(group_len.sum()))

    def positions(lo: int, hi: int) -> np.ndarray:
        return np.arange(max(0, upstream + lo), min(width, upstream + hi))

    # CpG islands: a GC-rich, CpG-rich patch around the TSS, with GC boxes (Sp1 sites)
    island = rng.random(n) < MOTIFS[1][2]
    core = positions(*_CORE)
    idx = np.flatnonzero(island)
    if core.size and idx.size:
        codes = _GC_RICH[rng.integers(0, 256, size=(idx.size, core.size), dtype=np.uint8)]
        _plant(buffer, off[idx], plus[idx], width, np.broadcast_to(core, codes.shape), codes)
    gc_box = np.frombuffer(b"GGGCGG", dtype=np.uint8)
    with_box = np.flatnonzero((island & (rng.random(n) < 0.7)) | (~island & (rng.random(n) < 0.05)))
    slots = positions(-150, -20 - gc_box.size)
    if slots.size and with_box.size:
        for copy in range(3):
            sel = with_box if copy == 0 else with_box[rng.random(with_box.size) < 0.4]
            pos = rng.choice(slots, size=sel.size)[:, None] + np.arange(gc_box.size)
            _plant(buffer, off[sel], plus[sel], width, pos, np.broadcast_to(gc_box, pos.shape))
    # TATA box at -31 +/- 3
    tata = np.frombuffer(b"TATAAA", dtype=np.uint8)
    lo = upstream + _TATA_POS - 3
    if lo >= 0 and upstream + _TATA_POS + 3 + tata.size <= width:
        idx = np.flatnonzero(rng.random(n) < MOTIFS[0][2])
        pos = (lo + rng.integers(0, 7, size=idx.size))[:, None] + np.arange(tata.size)
        _plant(buffer, off[idx], plus[idx], width, pos, np.broadcast_to(tata, pos.shape))
    # 8-mers anywhere in the window
    for _name, seq, frac, _effect in MOTIFS[3:]:
        motif = np.frombuffer(seq.encode("ascii"), dtype=np.uint8)
        if width < motif.size:
            continue
        idx = np.flatnonzero(rng.random(n) < frac)
        pos = rng.integers(0, width - motif.size + 1, size=idx.size)[:, None] + np.arange(motif.size)
        _plant(buffer, off[idx], plus[idx], width, pos, np.broadcast_to(motif, pos.shape))

    mat = np.lib.stride_tricks.sliding_window_view(buffer, width)[off]
    mat[~plus] = COMP[mat[~plus, ::-1]]
    return mat


def promoter_strings(mat: np.ndarray) -> np.ndarray:
    """Rows of a uint8 matrix as an object array of str."""
    if mat.shape[1] == 0:
        return np.full(mat.shape[0], "", dtype=object)
    return np.array([row.tobytes().decode("ascii") for row in mat], dtype=object)


def scan_motifs(promoters: np.ndarray, upstream: int) -> pd.DataFrame:
    """Motif features read back from the final promoter sequences (what a sequence model can see).

    ``tata_box``: TATAAA starting 40 to 21 bases upstream of the TSS; ``cpg_island``: CpG density
    in -250..+100 mapped to [0, 1] (background ~0.01 CpG per base, planted islands ~0.1);
    ``gc_box``: GGGCGG on either strand in -250..+100; 8-mers: anywhere on the sense strand.
    """
    up = upstream
    width = len(promoters[0]) if len(promoters) else 0

    def bounds(lo: int, hi: int) -> tuple[int, int]:
        return min(width, max(0, up + lo)), min(width, max(0, up + hi))

    t0, t1 = bounds(_TATA_SCAN[0], _TATA_SCAN[1] + 5)
    c0, c1 = bounds(*_CORE)
    cores = [s[c0:c1] for s in promoters]
    density = np.array([core.count("CG") for core in cores], dtype=float) / max(c1 - c0 - 1, 1)
    feats = {
        "tata_box": [("TATAAA" in s[t0:t1]) for s in promoters],
        "cpg_island": np.clip((density - 0.015) / 0.07, 0.0, 1.0),
        "gc_box": [("GGGCGG" in core) or ("CCGCCC" in core) for core in cores],
    }
    for name, seq, _frac, _effect in MOTIFS[3:]:
        feats[name] = [seq in s for s in promoters]
    return pd.DataFrame(feats).astype(float)


# ----------------------------------------------------------------------------------------------
# the genome as a FASTA file
# ----------------------------------------------------------------------------------------------


def chrom_names(adata: AnnData) -> list[str]:
    """Contig names in genome order (the simulator's, else sorted by length then name)."""
    params = adata.uns.get("simulate", {})
    if "chrom_names" in params:
        return [str(c) for c in params["chrom_names"]]
    names = pd.unique(adata.var["chrom"].astype(str))
    return sorted(names, key=lambda c: (len(c), c))


def chrom_lengths(adata: AnnData) -> dict[str, int]:
    """Contig lengths (the simulator's, else the furthest gene or promoter end + 1 kb)."""
    params = adata.uns.get("simulate", {})
    names = chrom_names(adata)
    if "chrom_lengths" in params and len(params["chrom_lengths"]) == len(names):
        return {c: int(n) for c, n in zip(names, params["chrom_lengths"], strict=True)}
    var = adata.var
    up, down = int(params.get("upstream", 1000)), int(params.get("downstream", 500))
    reach = np.maximum(var["end"].to_numpy(np.int64), var["tss"].to_numpy(np.int64) + max(up, down) + 1)
    by = pd.Series(reach).groupby(var["chrom"].astype(str).to_numpy()).max()
    return {c: int(by.get(c, 0)) + 1000 for c in names}


def write_genome_fasta(path: str | os.PathLike, adata: AnnData, *, width: int = 60) -> Path:
    """Write the simulated genome, consistent with ``var['promoter']``, and its ``.fai`` index.

    Background sequence is regenerated from ``uns['simulate']['genome_seed']`` contig by contig
    (in chunks, so memory stays small); each gene's promoter is written at its window.
    """
    check_var(adata, (*REQUIRED_VAR, "promoter"))
    params = adata.uns.get("simulate", {})
    seed = int(params.get("genome_seed", 0))
    up, down = int(params.get("upstream", 1000)), int(params.get("downstream", 500))
    var = adata.var
    promoters = var["promoter"].astype(str).to_numpy()
    has = np.array([len(p) > 0 for p in promoters])
    bad = has & (np.array([len(p) for p in promoters]) != up + down)
    if bad.any():
        msg = (
            f"{int(bad.sum())} promoters are not {up}+{down} bases long (e.g. {var.index[bad][0]}); "
            "uns['simulate'] upstream/downstream must match var['promoter']."
        )
        raise DataError(msg)
    plus = var["strand"].astype(str).to_numpy() == "+"
    a_all = promoter_windows(var["tss"].to_numpy(np.int64), plus, up, down)
    chrom = var["chrom"].astype(str).to_numpy()
    chunk = 60 * 100_000  # a multiple of the line width
    path = Path(path)
    with atomic_path(path) as tmp, open(tmp, "wb") as fh:
        for ci, (name, length) in enumerate(chrom_lengths(adata).items()):
            sel = np.flatnonzero((chrom == name) & has)
            if sel.size and (a_all[sel].min() < 0 or a_all[sel].max() + up + down > length):
                msg = f"promoter windows on {name} fall outside its length {length}; check var['tss']."
                raise DataError(msg)
            order = sel[np.argsort(a_all[sel], kind="stable")]
            starts = a_all[order]
            seqs = [
                np.frombuffer((promoters[i] if plus[i] else revcomp(promoters[i])).encode("ascii"), np.uint8)
                for i in order
            ]
            rng = np.random.default_rng([seed, ci])
            fh.write(f">{name}\n".encode("ascii"))
            for c0 in range(0, length, chunk):
                c1 = min(c0 + chunk, length)
                buf = random_sequence(rng, c1 - c0)
                lo = np.searchsorted(starts, c0 - (up + down), side="right")
                hi = np.searchsorted(starts, c1, side="left")
                for k in range(lo, hi):
                    a = int(starts[k])
                    s0, s1 = max(a, c0), min(a + up + down, c1)
                    if s1 > s0:
                        buf[s0 - c0 : s1 - c0] = seqs[k][s0 - a : s1 - a]
                n_full = buf.size // width
                if n_full:
                    lines = np.empty((n_full, width + 1), dtype=np.uint8)
                    lines[:, :width] = buf[: n_full * width].reshape(n_full, width)
                    lines[:, width] = ord("\n")
                    fh.write(lines.tobytes())
                if buf.size % width:
                    fh.write(buf[n_full * width :].tobytes() + b"\n")
    index_fasta(path)
    return path


REQUIRED_VAR = ("chrom", "start", "end", "strand", "tss")


def check_var(adata: AnnData, columns=REQUIRED_VAR) -> None:
    """Raise a DataError naming the simulator gene columns that ``adata.var`` lacks."""
    missing = [c for c in columns if c not in adata.var.columns]
    if missing:
        msg = (
            f"adata.var lacks {missing}; writing the dataset files needs the simulator's gene "
            "annotation. Pass an AnnData from gex_impute.datasets.simulate() or annotate it first."
        )
        raise DataError(msg)


def gene_table(r_gene, layout, promoters, lncrna, n_chromosomes: int) -> pd.DataFrame:
    """Build ``var``: ids (with drawn Ensembl-style versions), names, coordinates, type, promoter."""
    n_genes = promoters.size
    gene_ids = [f"ENSGSIM{i + 1:08d}" for i in range(n_genes)]
    versions = r_gene.integers(1, 15, size=n_genes)
    chrom_names = np.array([f"chr{i + 1}" for i in range(n_chromosomes)])
    plus = layout["plus"]
    return pd.DataFrame(
        {
            "gene_id_version": [f"{g}.{v}" for g, v in zip(gene_ids, versions, strict=True)],
            "gene_name": [f"SIMG{i + 1}" for i in range(n_genes)],
            "chrom": chrom_names[layout["chrom_idx"]].astype(object),
            "start": layout["start"].astype(np.int64),
            "end": layout["end"].astype(np.int64),
            "strand": np.where(plus, "+", "-").astype(object),
            "tss": layout["tss"].astype(np.int64),
            "gene_type": np.where(lncrna, "lncRNA", "protein_coding").astype(object),
            "promoter": promoters,
        },
        index=pd.Index(gene_ids, name="gene_id"),
    )

"""DNA sequences: indexed genome FASTA access (pysam), keyed sequences (FASTA / EPD-style TSV).

* :func:`open_fasta`: a :class:`pysam.FastaFile` with clear errors (not FASTA, gzip instead of
  bgzip, no index and a read-only folder, malformed lines).
* :func:`read_sequences`: sequences keyed by id from a FASTA file or an ``id<TAB>sequence``
  table (EPD core promoters), validated base by base.
* :func:`write_sequences` and :func:`index_fasta`: the writers.
"""

from __future__ import annotations

import bisect
import contextlib
import os
import re
import zlib
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ..errors import GexImputeError, InputFileError
from ._text import check_input_file, file_kind, open_text, open_text_write

if TYPE_CHECKING:
    import pysam

__all__ = ["index_fasta", "open_fasta", "read_sequences", "reverse_complement", "write_sequences"]

_COMPLEMENT = str.maketrans("ACGTRYKMSWBDHVNacgtrykmswbdhvn", "TGCAYRMKSWVHDBNtgcayrmkswvhdbn")
#: the letters of a nucleotide sequence (IUPAC codes, gaps), any case
SEQUENCE_LETTERS = re.compile(r"[ACGTURYKMSWBDHVN.*-]*", re.IGNORECASE)
_SEQUENCE = SEQUENCE_LETTERS


def reverse_complement(seq: str) -> str:
    """Reverse complement of a DNA sequence (IUPAC codes supported, case kept).

    Examples
    --------
    >>> from gex_impute.io import reverse_complement
    >>> reverse_complement("AACGTN")
    'NACGTT'
    """
    return seq.translate(_COMPLEMENT)[::-1]


@contextlib.contextmanager
def open_fasta(path: str | os.PathLike) -> Iterator[pysam.FastaFile]:
    """Open an indexed genome FASTA (plain or bgzip) with pysam; the index is built when absent.

    Parameters
    ----------
    path
        The FASTA file; ``<path>.fai`` (and ``.gzi`` for bgzip) is used or created.

    Yields
    ------
    The open :class:`pysam.FastaFile` (closed on leaving the block). Errors pysam raises while
    reading sequence inside the block become :class:`~gex_impute.errors.InputFileError`.

    Raises
    ------
    FileNotFoundError
        When nothing is at ``path``.
    InputFileError
        For a file that is not FASTA (HDF5, plain gzip, ...), malformed lines (samtools faidx
        needs equal line lengths within a sequence), a missing index in a read-only folder, or
        an existing ``.fai`` (or, for bgzip, ``.gzi``) that does not match the FASTA (its contig
        names or offsets differ: the FASTA was rewritten after indexing; delete the index files).

    Examples
    --------
    >>> from gex_impute.io import open_fasta
    >>> with open_fasta("test-data/genome.fa") as fa:  # doctest: +SKIP
    ...     fa.fetch("chr1", 0, 10)
    """
    import pysam

    path = check_input_file(path, "FASTA file")
    kind = file_kind(path)
    if kind in ("hdf5", "zip", "binary", "empty"):
        msg = f"{path} is not a FASTA file (it is {'empty' if kind == 'empty' else f'a {kind} file'})."
        raise InputFileError(msg)
    if kind != "gzip":
        _check_index(path)
    try:
        handle = pysam.FastaFile(str(path))
    except (OSError, ValueError) as err:
        hint = (
            "it is gzip-compressed: recompress it with `bgzip` (htslib) or decompress it"
            if kind == "gzip" and not Path(f"{path}.gzi").exists()
            else "it must be FASTA with equal line lengths within each sequence, plain or bgzip, and "
            "either indexed (.fai) or in a writable folder so the index can be built (samtools faidx)"
        )
        msg = f"cannot open {path} as an indexed FASTA ({err}); {hint}."
        raise InputFileError(msg) from err
    if kind == "gzip":  # checked once open: htslib has then built any missing .fai / .gzi
        try:
            _check_index(path, kind)
        except InputFileError:
            handle.close()
            raise
    with handle:
        try:
            yield handle
        except GexImputeError:
            raise
        except (UnicodeDecodeError, OSError, ValueError) as err:  # pysam reading the sequence
            msg = (
                f"{path}: cannot read the sequence ({type(err).__name__}: {err}); the FASTA holds bytes "
                "that are not sequence letters or its index (.fai) does not match it (delete the .fai "
                "to rebuild it)."
            )
            raise InputFileError(msg) from err


def _check_index(path: Path, kind: str = "text") -> None:
    """Refuse an existing ``.fai`` (and ``.gzi``) that does not describe the FASTA beside it.

    Each sequence's offset must start a line right after its ``>name`` header, and its first
    line must end where the index says. A FASTA rewritten after indexing (other line widths,
    other headers, contigs in another order) otherwise reads wrong bases without any error on
    some htslib versions. For bgzip (``kind="gzip"``) the bytes are found through the ``.gzi``,
    so a ``.gzi`` left from another compression fails the same checks.
    """
    fai = Path(f"{path}.fai")
    if not fai.is_file():
        return
    stale = [fai]
    try:
        rows = [line.split("\t") for line in fai.read_text().splitlines() if line.strip()]
        with open(path, "rb") as fh:
            if kind == "gzip":
                stale.append(Path(f"{path}.gzi"))
                read, size = _bgzf_reader(fh, stale[1]), None
            else:
                read, size = _plain_reader(fh), path.stat().st_size
            if all(_row_matches(row, read, size) for row in rows):
                return
    except (ValueError, IndexError, OSError, UnicodeDecodeError, zlib.error):
        pass
    names = " and ".join(f"the {p.suffix}" for p in stale)
    msg = (
        f"the index {' / '.join(map(str, stale))} does not match {path} (the FASTA was rewritten after "
        f"indexing?); delete {names} (rebuilt when the folder is writable) and run again."
    )
    raise InputFileError(msg)


def _row_matches(row: list[str], read, size: int | None) -> bool:
    """Whether one ``.fai`` row (name, length, offset, bases, width) fits the FASTA's bytes."""
    name, length, offset, bases, width = row[0], int(row[1]), int(row[2]), int(row[3]), int(row[4])
    before = read(max(offset - 1024, 0), min(offset, 1024))
    line = before[:-1].rsplit(b"\n", 1)[-1]  # the header (or its last 1 kB)
    whole = b"\n" in before[:-1] or offset <= 1024
    named = not whole or (line.split() or [b""])[0] == b">" + name.encode()
    first = read(offset, min(bases, length) + (width - bases))
    ok = (size is None or offset <= size) and before.endswith(b"\n") and named
    if ok and length > bases:  # a full first line ends where the index says
        ok = first[bases:].strip(b"\r") == b"\n" and b"\n" not in first[:bases]
    return ok


def _plain_reader(fh):
    def read(start: int, size: int) -> bytes:
        fh.seek(start)
        return fh.read(size)

    return read


def _bgzf_reader(fh, gzi: Path):
    """``read(start, size)`` of a bgzip file's uncompressed bytes, through its ``.gzi`` block index."""
    data = gzi.read_bytes()
    n = int.from_bytes(data[:8], "little")
    if len(data) != 8 + 16 * n:
        msg = f"{gzi} is not a bgzip index"
        raise ValueError(msg)
    pairs = [
        (int.from_bytes(data[k : k + 8], "little"), int.from_bytes(data[k + 8 : k + 16], "little"))
        for k in range(8, len(data), 16)
    ]
    blocks = [(0, 0), *pairs]  # (compressed, uncompressed) offset of each block
    starts = [u for _, u in blocks]

    def read(start: int, size: int) -> bytes:
        k = bisect.bisect_right(starts, start) - 1
        fh.seek(blocks[k][0])
        pos, out = blocks[k][1], b""
        while pos + len(out) < start + size:
            head = fh.read(18)
            if len(head) < 18:  # end of file
                break
            if head[:4] != b"\x1f\x8b\x08\x04" or head[12:14] != b"BC":
                msg = f"no BGZF block where {gzi} places one"
                raise ValueError(msg)
            block = fh.read(int.from_bytes(head[16:18], "little") + 1 - 18)
            out += zlib.decompress(block[:-8], wbits=-15)
        return out[start - pos : start - pos + size]

    return read


def index_fasta(path: str | os.PathLike) -> Path:
    """(Re)build the samtools index ``<path>.fai`` of a FASTA file; returns the index path.

    Examples
    --------
    >>> from gex_impute.io import index_fasta
    >>> index_fasta("genome.fa")  # doctest: +SKIP
    PosixPath('genome.fa.fai')
    """
    import pysam

    path = check_input_file(path, "FASTA file")
    fai = Path(f"{path}.fai")
    if fai.exists():
        fai.unlink()
    try:
        pysam.faidx(str(path))
    except pysam.SamtoolsError as err:
        msg = f"cannot index {path} ({err}); it must be FASTA with equal line lengths within each sequence."
        raise InputFileError(msg) from err
    return fai


def _check_sequence(seq: str, path: Path, line_no: int, seq_id: str) -> None:
    if not _SEQUENCE.fullmatch(seq):
        bad = next(c for c in seq if not _SEQUENCE.fullmatch(c))
        msg = (
            f"{path}, line {line_no}: sequence of {seq_id!r} holds {bad!r}, which is not a nucleotide "
            "code (A, C, G, T, N or another IUPAC letter)."
        )
        raise InputFileError(msg)


def _read_fasta_records(fh, first: str, first_no: int, path: Path) -> tuple[list[str], list[str]]:
    ids: list[str] = []
    seqs: list[str] = []
    current: list[str] = []
    header, line_no = first, first_no
    for line_no, line in enumerate(fh, start=first_no + 1):
        if line.startswith(">"):
            ids.append(_fasta_id(header, path, line_no))
            seqs.append("".join(current))
            header, current = line, []
            continue
        part = line.strip()
        _check_sequence(part, path, line_no, header[1:].strip()[:40])
        current.append(part)
    ids.append(_fasta_id(header, path, line_no + 1))
    seqs.append("".join(current))
    return ids, seqs


def _fasta_id(header: str, path: Path, line_no: int) -> str:
    words = header[1:].split(None, 1)
    if not words:
        msg = f"{path}: a FASTA header ('>') without an id, before line {line_no}; name every sequence."
        raise InputFileError(msg)
    return words[0]


def read_sequences(path: str | os.PathLike) -> pd.Series:
    """Read sequences keyed by id from a FASTA file or a two-column ``id<TAB>sequence`` table.

    Parameters
    ----------
    path
        FASTA (``>id description`` lines; the id is the first word) or TSV (plain or gzip;
        a header line is recognised and skipped when its second field is not a DNA sequence).

    Returns
    -------
    Upper-case sequences indexed by id (first occurrence kept when an id repeats).

    Raises
    ------
    InputFileError
        For a binary file, a header without an id, a sequence with a letter that is not a
        nucleotide code, a table row without two fields (naming the line), or no sequence at all.

    Examples
    --------
    >>> import gex_impute as gi
    >>> seqs = gi.io.read_sequences("../shared/data/epd_core_promoters_60bp.tsv")  # doctest: +SKIP
    >>> seqs["NOC2L_1"][:10]  # doctest: +SKIP
    'GCGGAAGTGC'
    """
    path = Path(path)
    ids: list[str] = []
    seqs: list[str] = []
    with open_text(path, "sequence file") as fh:
        first, first_no = "", 0
        for first_no, line in enumerate(fh, start=1):  # noqa: B007 - the line number is used below
            if line.strip():
                first = line
                break
        if first.startswith(">"):
            ids, seqs = _read_fasta_records(fh, first, first_no, path)
        else:
            for line_no, line in enumerate([first, *fh], start=first_no):
                line = line.rstrip("\r\n")
                if not line.strip() or line.startswith("#"):
                    continue
                fields = line.split("\t")
                if len(fields) < 2:
                    msg = (
                        f"{path}, line {line_no}: {len(fields)} field(s); a sequence table needs "
                        "'id<TAB>sequence' (or use a FASTA file)."
                    )
                    raise InputFileError(msg)
                seq = fields[1].strip()
                if line_no == first_no and not re.fullmatch(r"[ACGTURYKMSWBDHVN.-]+", seq, re.I):
                    continue  # header line
                _check_sequence(seq, path, line_no, fields[0].strip())
                ids.append(fields[0].strip())
                seqs.append(seq)
    series = pd.Series(seqs, index=pd.Index(ids), dtype=object).str.upper()
    if not len(series):
        msg = f"{path}: no sequences found."
        raise InputFileError(msg)
    return series[~series.index.duplicated()]


def write_sequences(
    sequences: Mapping[str, str] | pd.Series, path: str | os.PathLike, *, width: int = 60
) -> Path:
    """Write keyed sequences as FASTA (``>id`` then lines of ``width`` bases), atomically.

    Empty sequences are left out.

    Parameters
    ----------
    sequences
        Id -> sequence.
    path
        Destination (``.gz`` compresses with plain gzip).
    width
        Bases per line.

    Returns
    -------
    The path written.

    Examples
    --------
    >>> from gex_impute.io import write_sequences
    >>> write_sequences({"G1": "ACGT" * 30}, "promoters.fa")  # doctest: +SKIP
    """
    lines = []
    for key, seq in sequences.items() if isinstance(sequences, pd.Series) else dict(sequences).items():
        seq = str(seq)
        if seq:
            lines.append(f">{key}")
            lines += [seq[i : i + width] for i in range(0, len(seq), width)]
    with open_text_write(path) as fh:
        fh.write("\n".join(lines) + "\n")
    return Path(path)

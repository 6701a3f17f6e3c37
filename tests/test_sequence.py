from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from gex_impute.methods.hybrid.sequence import ALPHABET, composition, one_hot, one_hot_batch


def test_one_hot_channels_and_unknown_letters():
    x = one_hot("ACGTNacgtu-")
    assert x.shape == (4, 11)
    # channel order is ALPHABET, lower case and U map like upper case / T
    assert [ALPHABET[i] for i in x[:, :4].argmax(0)] == list("ACGT")
    assert (x[:, 5:9] == x[:, :4]).all()
    assert x[3, 9] == 1
    # N and '-' are all-zero columns
    assert x[:, 4].sum() == 0 and x[:, 10].sum() == 0


@settings(max_examples=50, deadline=None)
@given(st.text(alphabet="ACGTNacgtnRYK", max_size=80))
def test_one_hot_columns_mark_exactly_the_known_bases(seq):
    x = one_hot(seq)
    known = np.array([c.upper() in "ACGT" for c in seq], dtype=bool)
    assert x.shape == (4, len(seq))
    np.testing.assert_array_equal(x.sum(0), known.astype(float))


def test_one_hot_batch_pads_and_trims_by_alignment():
    seqs = ["ACGT", "AC", ""]
    start = one_hot_batch(seqs, align="start")
    assert start.shape == (3, 4, 4)
    assert start[1, :, :2].sum() == 2 and start[1, :, 2:].sum() == 0
    assert start[2].sum() == 0  # unknown sequence
    end = one_hot_batch(seqs, align="end")
    assert end[1, :, 2:].sum() == 2 and end[1, :, :2].sum() == 0
    center = one_hot_batch(["ACGTAC"], length=2, align="center")
    # the middle two bases of ACGTAC are G, T
    assert center[0].argmax(0).tolist() == [ALPHABET.index("G"), ALPHABET.index("T")]
    with pytest.raises(ValueError, match="align"):
        one_hot_batch(seqs, align="middle")


def test_one_hot_batch_matches_one_hot_for_equal_lengths():
    seqs = ["ACGTN", "TTGCA"]
    batch = one_hot_batch(seqs)
    for i, s in enumerate(seqs):
        np.testing.assert_array_equal(batch[i], one_hot(s))


def test_composition_gc_and_cpg():
    comp = composition(["GGCC", "ATAT", "CGCG", ""])
    np.testing.assert_allclose(comp[:3, 0], [1.0, 0.0, 1.0])
    # CGCG: two CpG, 2 C, 2 G, length 4 -> 2 * 4 / (2 * 2) = 2
    assert comp[2, 1] == pytest.approx(2.0)
    assert comp[0, 1] == 0.0  # GGCC has no CG dinucleotide
    assert comp[3, 2] == 0 and np.isnan(comp[3, 0])
    assert composition(["ANNN"])[0, 3] == pytest.approx(0.75)

"""Reference/alternative windows: equal to kipoiseq's, variant where the layout says, N padding."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from kipoiseq import Interval, Variant
from kipoiseq.extractors import FastaStringExtractor, VariantSeqExtractor

from enformer_lite.data.fasta import open_fasta
from enformer_lite.data.geometry import WindowGeometry
from enformer_lite.data.sequence import decode
from enformer_lite.variants.layout import WindowLayout, apply_allele, window_sequences
from test_variants_support import random_genome

LENGTHS = {"chr1": 5000, "chr2": 3000}


@pytest.fixture(scope="module")
def genome(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    return random_genome(tmp_path_factory.mktemp("seq"), LENGTHS, seed=3)


def _cases(sequences: dict[str, str], rng: np.random.Generator, n: int) -> list[tuple[str, int, str, str]]:
    """(chrom, 1-based pos, ref, alt) for SNPs, MNPs, insertions and deletions, REF from the genome."""
    cases = []
    for k in range(n):
        chrom = "chr1" if k % 2 else "chr2"
        pos = int(rng.integers(1200, LENGTHS[chrom] - 1200))
        kind = k % 4
        ref_len = {0: 1, 1: 3, 2: 1, 3: int(rng.integers(2, 40))}[kind]
        ref = sequences[chrom][pos - 1 : pos - 1 + ref_len]
        if kind == 0:
            alt = next(b for b in "ACGT" if b != ref)
        elif kind == 1:
            alt = "".join(next(b for b in "ACGT" if b != r) for r in ref)
        elif kind == 2:
            alt = ref + "".join(rng.choice(list("ACGT"), size=int(rng.integers(1, 60))))
        else:
            alt = ref[0]
        cases.append((chrom, pos, ref, alt))
    return cases


@pytest.mark.parametrize("grid", [1, 64, 256])
def test_windows_equal_kipoiseq(genome: tuple[Path, dict[str, str]], grid: int) -> None:
    fasta_path, sequences = genome
    fasta = open_fasta(fasta_path)
    layout = WindowLayout(WindowGeometry(1024, 16, 32), grid)
    reference_extractor = FastaStringExtractor(str(fasta_path))
    extractor = VariantSeqExtractor(reference_sequence=reference_extractor)
    for chrom, pos, ref, alt in _cases(sequences, np.random.default_rng(grid), 24):
        variant = Variant(chrom, pos, ref, alt)
        window_start = layout.window_start(variant.start)
        interval = Interval(chrom, window_start, window_start + layout.geometry.window_length)
        ours_ref, (ours_alt,) = window_sequences(fasta, chrom, window_start, [(pos - 1, ref, alt)], layout)
        expected_alt = extractor.extract(interval, [variant], anchor=variant.start)
        assert decode(ours_ref) == reference_extractor.extract(interval)
        assert decode(ours_alt) == expected_alt, (chrom, pos, ref, alt)


def test_each_alternative_carries_only_its_own_edit(genome: tuple[Path, dict[str, str]]) -> None:
    fasta_path, sequences = genome
    fasta = open_fasta(fasta_path)
    layout = WindowLayout(WindowGeometry(1024, 16, 32), 256)
    window_start = layout.window_start(2000)
    edits = [(1990, sequences["chr1"][1990], "A" if sequences["chr1"][1990] != "A" else "C"),
             (2050, sequences["chr1"][2050:2053], sequences["chr1"][2050])]
    ref, alts = window_sequences(fasta, "chr1", window_start, edits, layout)
    text = sequences["chr1"][window_start : window_start + 1100]
    assert decode(alts[0]) == text[:1990 - window_start] + edits[0][2] + text[1991 - window_start : 1024]
    assert decode(alts[1]) == text[:2051 - window_start] + text[2053 - window_start : 1026]
    assert decode(ref) == text[:1024]


@pytest.mark.parametrize("grid", [1, 16, 128])
def test_variant_sits_where_the_layout_says(genome: tuple[Path, dict[str, str]], grid: int) -> None:
    fasta_path, sequences = genome
    fasta = open_fasta(fasta_path)
    layout = WindowLayout(WindowGeometry(1024, 16, 32), grid)
    for start in range(1500, 1800, 37):
        window_start = layout.window_start(start)
        offset = start - window_start
        centre = window_start + 512
        assert centre % grid == 0
        assert abs(start - centre) <= grid // 2
        if grid == 1:
            assert offset == 512
        ref_base = sequences["chr1"][start]
        alt_base = "T" if ref_base != "T" else "G"
        ref, (alt,) = window_sequences(fasta, "chr1", window_start, [(start, ref_base, alt_base)], layout)
        changed = np.flatnonzero(ref != alt)
        assert changed.tolist() == [offset]
        assert decode(alt[offset : offset + 1]) == alt_base
        assert decode(ref[offset : offset + 1]) == ref_base


def test_target_bins_follow_the_window(genome: tuple[Path, dict[str, str]]) -> None:
    layout = WindowLayout(WindowGeometry(1024, 16, 32), 1)
    # 64 bins, 16 cropped per side: the target starts 256 bp into the window.
    assert layout.geometry.crop_bp == 256
    assert layout.geometry.target_span == 512
    assert layout.geometry.target_start(layout.window_start(3000)) == 3000 - 512 + 256


def test_windows_past_chromosome_ends_are_n_padded(genome: tuple[Path, dict[str, str]]) -> None:
    fasta_path, sequences = genome
    fasta = open_fasta(fasta_path)
    layout = WindowLayout(WindowGeometry(1024, 16, 32), 1)
    for start in (2, LENGTHS["chr2"] - 3):
        window_start = layout.window_start(start)
        ref_base = sequences["chr2"][start]
        ref, (alt,) = window_sequences(fasta, "chr2", window_start, [(start, ref_base, "N")], layout)
        text = decode(ref)
        lo, hi = max(0, window_start), min(LENGTHS["chr2"], window_start + 1024)
        expected = "N" * (lo - window_start) + sequences["chr2"][lo:hi] + "N" * (window_start + 1024 - hi)
        assert text == expected
        assert decode(alt)[start - window_start] == "N"


def test_apply_allele_rejects_bad_input() -> None:
    reference = np.zeros(20, dtype=np.uint8)
    with pytest.raises(ValueError, match="outside the window"):
        apply_allele(reference, 20, 1, np.zeros(1, np.uint8), 20)
    with pytest.raises(ValueError, match="needed"):
        apply_allele(reference, 5, 4, np.zeros(1, np.uint8), 20)


def test_layout_rejects_bad_geometry() -> None:
    with pytest.raises(ValueError, match="whole number of bins"):
        WindowGeometry(1000, 16, 32)
    with pytest.raises(ValueError, match="grid"):
        WindowLayout(WindowGeometry(1024, 16, 32), 512)

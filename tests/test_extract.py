"""Extraction: HDF5 rows equal pyfaidx sequence and pyBigWig's own exact statistics."""

from __future__ import annotations

import json
from pathlib import Path

import h5py
import numpy as np
import pyBigWig
import pyfaidx
import pysam
import pytest

from conftest import TINY_SPEC, TinyGenome
from enformer_lite.cli import main

SPEC = TINY_SPEC


def geometry() -> list[str]:
    return [
        "--length", str(SPEC.length), "--stride", str(SPEC.stride), "--bin-size", str(SPEC.bin_size),
        "--target-length", str(SPEC.target_length), "--max-n-fraction", str(SPEC.max_n_fraction),
    ]


def build(genome: TinyGenome, out: Path, fasta: Path | None = None) -> Path:
    """windows → extract per chromosome → merge, through the CLI as the workflow runs it."""
    fasta = fasta or genome.fasta
    bed = out / "windows.bed"
    assert main(["windows", "--fasta", str(fasta), "--valid", "chr2", "--test", "chr3", "--out", str(bed), *geometry()]) == 0
    parts = []
    for chrom in ("chr1", "chr2", "chr3"):
        part = out / f"{chrom}.h5"
        args = ["extract", "--fasta", str(fasta), "--tracks", str(genome.tracks), "--windows", str(bed),
                "--chrom", chrom, "--genome", "human", "--out", str(part), *geometry()]
        assert main(args) == 0
        parts.append(str(part))
    data = out / "data.h5"
    assert main(["merge", "--fasta", str(fasta), "--out", str(data), *parts]) == 0
    return data


def expected_targets(genome: TinyGenome, track: int, chrom: str, start: int) -> np.ndarray:
    """Independent target computation for one window from pyBigWig's exact stats."""
    rows = [line.split("\t") for line in genome.tracks.read_text().splitlines()[1:]]
    _, _, path, _, _, _, stat, soft, clip, scale, _ = rows[track]
    bw = pyBigWig.open(path)
    size = bw.chroms(chrom)
    crop = (SPEC.length // SPEC.bin_size - SPEC.target_length) // 2
    out = []
    for b in range(SPEC.target_length):
        lo = start + (crop + b) * SPEC.bin_size
        hi = lo + SPEC.bin_size
        if lo >= size:
            out.append(0.0)
            continue
        hi = min(hi, size)
        mean = bw.stats(chrom, lo, hi, type="mean", exact=True)[0]
        covered = bw.stats(chrom, lo, hi, type="coverage", exact=True)[0]
        total = 0.0 if mean is None else mean * covered * (hi - lo)
        out.append(total if stat == "sum" else total / SPEC.bin_size)
    x = np.array(out)
    if soft:
        c = float(soft)
        x = np.where(x > c, c + np.sqrt(np.maximum(x - c, 0)), x)
    return x * float(scale)


def test_rows_match_pyfaidx_and_pybigwig(tiny_genome: TinyGenome, tmp_path: Path) -> None:
    data = build(tiny_genome, tmp_path)
    fa = pyfaidx.Fasta(str(tiny_genome.fasta))
    with h5py.File(data) as h5:
        windows = h5["windows"][...]
        assert h5["sequence"].dtype == np.uint8 and h5["targets"].dtype == np.float16
        assert h5["targets"].shape == (len(windows), SPEC.target_length, 3)
        assert h5.attrs["window_length"] == SPEC.length and h5.attrs["bin_size"] == SPEC.bin_size
        assert [t["id"] for t in json.loads(h5.attrs["tracks"])] == ["t0", "t1", "t2"]
        assert len(h5.attrs["fingerprint"]) == 64
        splits = {w["chrom"].decode(): w["split"].decode() for w in windows}
        assert splits == {"chr1": "train", "chr2": "valid", "chr3": "test"}
        checked_padding = False
        for row, w in enumerate(windows):
            chrom, start, end = w["chrom"].decode(), int(w["start"]), int(w["end"])
            size = len(fa[chrom])
            want = str(fa[chrom][start:min(end, size)]).upper() + "N" * max(0, end - size)
            got = "".join("ACGTN"[c] for c in h5["sequence"][row])
            assert got == want, f"sequence row {row} ({chrom}:{start})"
            checked_padding |= end > size
            for track in range(3):
                np.testing.assert_allclose(
                    h5["targets"][row, :, track].astype(np.float64),
                    expected_targets(tiny_genome, track, chrom, start),
                    rtol=2e-3, atol=2e-3,
                    err_msg=f"targets row {row} track {track}",
                )
        assert checked_padding, "no window ran past a chromosome end"


def test_n_gap_windows_dropped_and_counted(tiny_genome: TinyGenome, tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    bed = tmp_path / "w.bed"
    with caplog.at_level("INFO"):
        main(["windows", "--fasta", str(tiny_genome.fasta), "--out", str(bed), *geometry()])
    starts = {(c, int(s)) for c, s, *_ in (line.split("\t") for line in bed.read_text().splitlines())}
    # chr1 has N at 5000-8000: the window at 4096 is 2904/4096 N, over the 35% limit
    assert ("chr1", 4096) not in starts and ("chr1", 2048) in starts
    # windows whose overhang past the end exceeds the limit are dropped too: chr2 is 9000 bp
    assert ("chr2", 6144) in starts and ("chr2", 8192) not in starts
    assert "dropped" in caplog.text


def test_bgzipped_fasta_gives_identical_rows(tiny_genome: TinyGenome, tmp_path: Path) -> None:
    gz = tmp_path / "genome.fa.gz"
    pysam.tabix_compress(str(tiny_genome.fasta), str(gz))
    plain = build(tiny_genome, tmp_path / "plain")
    bgz = build(tiny_genome, tmp_path / "bgz", fasta=gz)
    with h5py.File(plain) as a, h5py.File(bgz) as b:
        np.testing.assert_array_equal(a["sequence"][...], b["sequence"][...])
        np.testing.assert_array_equal(a["targets"][...], b["targets"][...])


def test_missing_index_is_built_and_output_is_deterministic(tiny_genome: TinyGenome, tmp_path: Path) -> None:
    fai = Path(f"{tiny_genome.fasta}.fai")
    if fai.exists():
        fai.unlink()
    first = build(tiny_genome, tmp_path / "a")
    assert fai.exists()
    second = build(tiny_genome, tmp_path / "b")
    assert first.read_bytes() == second.read_bytes()


def test_chrom_name_aliases_in_bigwig(tmp_path: Path) -> None:
    from conftest import make_tiny_genome

    ucsc = make_tiny_genome(tmp_path / "ucsc", seed=3)
    ensembl = make_tiny_genome(tmp_path / "ens", seed=3, chrom_names={"chr1": "1", "chr2": "2", "chr3": "3"})
    a = build(ucsc, tmp_path / "a")
    b = build(ensembl, tmp_path / "b")
    with h5py.File(a) as x, h5py.File(b) as y:
        np.testing.assert_array_equal(x["targets"][...], y["targets"][...])


def test_stale_index_is_rebuilt(tmp_path: Path) -> None:
    from conftest import write_fasta
    from enformer_lite.data.fasta import fetch_codes, open_fasta
    from enformer_lite.data.sequence import decode
    import os

    fasta = tmp_path / "g.fa"
    write_fasta(fasta, {"chr1": "A" * 500}, width=50)
    open_fasta(fasta)  # builds an index for 50-bp lines
    write_fasta(fasta, {"chr1": "C" * 100 + "G" * 400}, width=70)
    old = os.path.getmtime(fasta) - 100
    os.utime(f"{fasta}.fai", (old, old))
    assert decode(fetch_codes(open_fasta(fasta), "chr1", 95, 105)) == "CCCCCGGGGG"

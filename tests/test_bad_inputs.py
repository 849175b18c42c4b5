"""Every bad input gets an error naming the file and record, and leaves no output behind."""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np
import pyBigWig
import pytest

from conftest import TINY_SPEC, TinyGenome, write_bigwig
from enformer_lite.errors import InputError
from enformer_lite.data.extract import extract_chromosome
from enformer_lite.data.fasta import open_fasta
from enformer_lite.data.tracks import read_tracks_table
from enformer_lite.data.windows import Window, WindowSpec, assign_splits, read_bed


def one_window(chrom: str = "chr1", start: int = 0) -> list[Window]:
    return [Window(chrom, start, start + TINY_SPEC.length, "train")]


def extract(genome: TinyGenome, out: Path, tracks: Path | None = None, windows: list[Window] | None = None) -> None:
    extract_chromosome(
        str(genome.fasta), read_tracks_table(tracks or genome.tracks), windows or one_window(), "chr1",
        TINY_SPEC, "human", out,
    )


def retarget(genome: TinyGenome, track: int, new_file: Path, extra: str | None = None) -> Path:
    """A copy of the tracks table with one track pointing at ``new_file`` (and an optional missing_chrom)."""
    lines = genome.tracks.read_text().splitlines()
    header = lines[0] + ("\tmissing_chrom" if extra else "")
    rows = []
    for i, line in enumerate(lines[1:]):
        cells = line.split("\t")
        if i == track:
            cells[2] = str(new_file)
        rows.append("\t".join(cells) + (f"\t{extra if i == track else 'error'}" if extra else ""))
    path = genome.root / f"tracks_{track}_{new_file.stem}.tsv"
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


def test_bigwig_without_chromosome_errors_or_zeros_by_table(tiny_genome: TinyGenome, tmp_path: Path) -> None:
    only_chr2 = tiny_genome.root / "only_chr2.bw"
    write_bigwig(only_chr2, {"chr2": 9000}, {"chr2": np.ones(9000)})
    out = tmp_path / "out" / "part.h5"
    out.parent.mkdir()
    with pytest.raises(InputError, match=r"only_chr2\.bw.*no chromosome 'chr1'"):
        extract(tiny_genome, out, retarget(tiny_genome, 1, only_chr2))
    assert not out.exists() and not list(out.parent.iterdir())  # no temporary left either
    extract(tiny_genome, out, retarget(tiny_genome, 1, only_chr2, extra="zero"))
    with h5py.File(out) as h5:
        assert np.all(h5["targets"][:, :, 1] == 0) and np.any(h5["targets"][:, :, 0] > 0)


def test_chromosome_length_mismatch(tiny_genome: TinyGenome, tmp_path: Path) -> None:
    other = tiny_genome.root / "other_assembly.bw"
    write_bigwig(other, {"chr1": 25_000}, {"chr1": np.ones(25_000)})
    with pytest.raises(InputError, match=r"other_assembly\.bw.*'chr1' is 25000 bp in the bigWig but 20000"):
        extract(tiny_genome, tmp_path / "p.h5", retarget(tiny_genome, 0, other))


def test_empty_bigwig(tiny_genome: TinyGenome, tmp_path: Path) -> None:
    empty = tiny_genome.root / "empty.bw"
    bw = pyBigWig.open(str(empty), "w")
    bw.addHeader([("chr1", 20_000)])
    bw.close()
    with pytest.raises(InputError, match=r"empty\.bw: bigWig file is empty"):
        extract(tiny_genome, tmp_path / "p.h5", retarget(tiny_genome, 0, empty))
    not_bw = tiny_genome.root / "text.bw"
    not_bw.write_text("track type=bedGraph\n")
    with pytest.raises(InputError, match=r"text\.bw"):
        extract(tiny_genome, tmp_path / "p.h5", retarget(tiny_genome, 0, not_bw))


def test_float16_overflow_is_an_error(tiny_genome: TinyGenome, tmp_path: Path) -> None:
    huge = tiny_genome.root / "huge.bw"
    write_bigwig(huge, {"chr1": 20_000, "chr2": 9000, "chr3": 13_000}, {"chr1": np.full(20_000, 1e4)})
    with pytest.raises(InputError, match=r"huge\.bw.*float16"):
        extract(tiny_genome, tmp_path / "p.h5", retarget(tiny_genome, 2, huge))
    assert not (tmp_path / "p.h5").exists()


def test_split_with_unknown_chromosome() -> None:
    with pytest.raises(InputError, match=r"splits\.test: chromosome 'chr9' is not in the FASTA"):
        assign_splits(["chr1", "chr2"], valid=["chr2"], test=["chr9"])
    with pytest.raises(InputError, match=r"chr2 listed in more than one split"):
        assign_splits(["chr1", "chr2"], valid=["chr2"], test=["chr2"])


@pytest.mark.parametrize(
    ("kwargs", "key"),
    [
        ({"length": 1000}, "windows.length"),
        ({"stride": 1000}, "windows.stride"),
        ({"target_length": 15}, "windows.target_length"),
        ({"max_n_fraction": 1.5}, "windows.max_n_fraction"),
    ],
)
def test_bad_window_geometry(kwargs: dict[str, float], key: str) -> None:
    base = {"length": 4096, "stride": 2048, "bin_size": 128, "target_length": 16}
    with pytest.raises(InputError, match=key.replace(".", r"\.")):
        WindowSpec(**{**base, **kwargs})


def test_bad_fasta(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="missing.fa: FASTA file not found"):
        open_fasta(tmp_path / "missing.fa")
    empty = tmp_path / "empty.fa"
    empty.write_text("")
    with pytest.raises(InputError, match="empty.fa: FASTA file is empty"):
        open_fasta(empty)
    import gzip

    plain_gz = tmp_path / "plain.fa.gz"
    with gzip.open(plain_gz, "wt") as handle:
        handle.write(">chr1\nACGT\n")
    with pytest.raises(InputError, match="plain.fa.gz"):
        open_fasta(plain_gz)


def test_window_off_chromosome_and_unknown_chromosome(tiny_genome: TinyGenome, tmp_path: Path) -> None:
    with pytest.raises(InputError, match=r"chr1:40960-45056 starts past the chromosome end"):
        extract(tiny_genome, tmp_path / "p.h5", windows=one_window(start=40_960))
    with pytest.raises(InputError, match=r"not 4096 bp starting on a 128-bp bin"):
        extract(tiny_genome, tmp_path / "p.h5", windows=[Window("chr1", 100, 4196, "train")])
    with pytest.raises(InputError, match=r"genome\.fa: no chromosome 'chrX'"):
        extract_chromosome(str(tiny_genome.fasta), read_tracks_table(tiny_genome.tracks), [], "chrX", TINY_SPEC, "h", tmp_path / "x.h5")


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda rows: [rows[0], rows[1].replace("\tsum\t", "\tmedian\t", 1)], r"line 2 \(track 't0'\): sum_stat"),
        (lambda rows: [rows[0], rows[1], rows[1]], r"line 3 .*index 0 out of order"),
        (lambda rows: [rows[0].replace("sum_stat", "stat")] + rows[1:], r"lacks required column\(s\) sum_stat"),
        (lambda rows: [rows[0]], "no rows"),
        (lambda rows: [rows[0], rows[1].replace("\t0.5\t", "\tx\t", 1)], r"line 2 .*not a number: 'x'"),
    ],
)
def test_bad_tracks_table(tiny_genome: TinyGenome, edit, message: str) -> None:
    rows = tiny_genome.tracks.read_text().splitlines()
    bad = tiny_genome.root / "bad_tracks.tsv"
    bad.write_text("\n".join(edit(rows)) + "\n")
    with pytest.raises(InputError, match=message):
        read_tracks_table(bad)


def test_bad_windows_bed(tmp_path: Path) -> None:
    bed = tmp_path / "w.bed"
    bed.write_text("chr1\t0\t4096\ttrain\nchr1\tzero\t4096\ttrain\n")
    with pytest.raises(InputError, match=r"w\.bed line 2"):
        list(read_bed(str(bed)))


"""Extraction in bounded memory: track groups, chunk-wise merge, and the extract job's resources."""

from __future__ import annotations

import math
import tracemalloc
from pathlib import Path
from types import SimpleNamespace

import h5py
import numpy as np
import pyBigWig
import pytest

from conftest import TINY_SPEC, TinyGenome, write_fasta
from enformer_lite.data import extract, h5 as h5_contract
from enformer_lite.data.extract import extract_chromosome, merge_parts
from enformer_lite.data.fasta import open_fasta
from enformer_lite.data.tracks import read_tracks_table
from enformer_lite.data.windows import Window, WindowSpec, assign_splits, tile_genome
from enformer_lite.errors import InputError
from enformer_lite.pipeline import resources

HEADER = "index\tid\tfile\tassay\tstrand\tstrand_pair\tsum_stat\tclip_soft\tclip\tscale\tdescription"


def build(genome: TinyGenome, out: Path, group: int, tracks: Path | None = None) -> Path:
    """Parts of chr1-chr3 extracted holding ``group`` tracks at once, merged into ``out``/data.h5."""
    out.mkdir(parents=True, exist_ok=True)
    fasta = open_fasta(genome.fasta)
    windows, _ = tile_genome(fasta, TINY_SPEC, assign_splits(list(fasta.keys()), valid=["chr2"], test=["chr3"]))
    specs = read_tracks_table(tracks or genome.tracks)
    parts = []
    for chrom in ("chr1", "chr2", "chr3"):
        part = out / f"{chrom}.h5"
        extract_chromosome(str(genome.fasta), specs, windows, chrom, TINY_SPEC, "human", part, track_group=group)
        parts.append(str(part))
    merge_parts(parts, out / "data.h5", str(genome.fasta))
    return out / "data.h5"


def arrays(path: Path) -> dict[str, np.ndarray]:
    with h5py.File(path) as handle:
        return {name: handle[name][...] for name in handle}


def assert_same(a: Path, b: Path) -> None:
    x, y = arrays(a), arrays(b)
    assert x.keys() == y.keys()
    for name in x:
        assert x[name].dtype == y[name].dtype and x[name].tobytes() == y[name].tobytes(), name


def test_track_groups_smaller_than_the_track_count_give_identical_arrays(
    tiny_genome: TinyGenome, tmp_path: Path
) -> None:
    whole = build(tiny_genome, tmp_path / "whole", group=3)
    for group in (1, 2):
        assert_same(build(tiny_genome, tmp_path / f"g{group}", group=group), whole)
        for chrom in ("chr1", "chr2", "chr3"):
            assert_same(tmp_path / f"g{group}" / f"{chrom}.h5", tmp_path / "whole" / f"{chrom}.h5")


def test_small_write_blocks_gaps_and_window_order_change_no_row(
    tiny_genome: TinyGenome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = build(tiny_genome, tmp_path / "whole", group=3)
    monkeypatch.setattr(extract, "WRITE_BLOCK", 2)  # blocks of 2 windows, bases carried from block to block
    assert_same(build(tiny_genome, tmp_path / "blocks", group=3), whole)
    windows = [Window("chr1", s, s + TINY_SPEC.length, "train") for s in (14336, 0, 2048, 10240, 12288)]
    specs = read_tracks_table(tiny_genome.tracks)
    extract_chromosome(str(tiny_genome.fasta), specs, windows, "chr1", TINY_SPEC, "human", tmp_path / "mixed.h5")
    mixed = arrays(tmp_path / "mixed.h5")
    for row, window in enumerate(windows):
        extract_chromosome(str(tiny_genome.fasta), specs, [window], "chr1", TINY_SPEC, "human", tmp_path / "one.h5")
        for name, values in arrays(tmp_path / "one.h5").items():
            assert values[0].tobytes() == mixed[name][row].tobytes(), (name, window.start)


def test_targets_chunked_by_track_groups_and_merged_chunk_by_chunk(
    tiny_genome: TinyGenome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = build(tiny_genome, tmp_path / "whole", group=3)
    monkeypatch.setattr(h5_contract, "TRACK_CHUNK", 2)  # 3 tracks: a full and an edge chunk per row
    for group in (2, 1):  # aligned with the chunks, and half a chunk (each chunk written twice)
        data = build(tiny_genome, tmp_path / f"g{group}", group=group)
        with h5py.File(data) as handle:
            assert handle["targets"].chunks == (1, TINY_SPEC.target_length, 2)
        np.testing.assert_array_equal(arrays(data)["targets"], arrays(whole)["targets"])
        np.testing.assert_array_equal(arrays(data)["sequence"], arrays(whole)["sequence"])
        np.testing.assert_array_equal(arrays(data)["target_mask"], arrays(whole)["target_mask"])


def test_merge_copies_in_blocks_when_chunks_differ(
    tiny_genome: TinyGenome, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    whole = build(tiny_genome, tmp_path / "whole", group=3)  # parts chunked (1, 16, 3)
    monkeypatch.setattr(h5_contract, "TRACK_CHUNK", 2)
    monkeypatch.setattr(extract, "COPY_BYTES", 3 * TINY_SPEC.target_length * 3 * 2)  # 3 rows per block
    parts = [str(tmp_path / "whole" / f"{c}.h5") for c in ("chr1", "chr2", "chr3")]
    merged = tmp_path / "rechunked.h5"
    merge_parts(parts, merged, str(tiny_genome.fasta))
    with h5py.File(merged) as handle:
        assert handle["targets"].chunks == (1, TINY_SPEC.target_length, 2)
    for name, values in arrays(whole).items():
        np.testing.assert_array_equal(arrays(merged)[name], values, err_msg=name)


def tracks_table(root: Path, files: list[Path], scale: list[str] | None = None) -> Path:
    """A tracks table with one sum track per file (``scale`` per track, default 1)."""
    scale = scale or ["1"] * len(files)
    rows = [HEADER] + [f"{t}\tt{t}\t{f}\tDNASE\t.\t{t}\tsum\t\t\t{scale[t]}\tx" for t, f in enumerate(files)]
    path = root / f"tracks_{len(files)}.tsv"
    path.write_text("\n".join(rows) + "\n")
    return path


def test_float16_overflow_names_its_track_within_a_group(tiny_genome: TinyGenome, tmp_path: Path) -> None:
    table = tracks_table(tiny_genome.root, tiny_genome.bigwigs, scale=["1", "1", "1e6"])
    with pytest.raises(InputError, match=r"track 't2' on chr1 exceeds the float16 range"):
        build(tiny_genome, tmp_path / "x", group=2, tracks=table)
    assert not (tmp_path / "x" / "chr1.h5").exists()


def test_infinite_bigwig_value_is_an_error(tmp_path: Path) -> None:
    write_fasta(tmp_path / "g.fa", {"chr1": "ACGT" * 2048})
    path = tmp_path / "inf.bw"
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader([("chr1", 8192)])
    bw.addEntries("chr1", 0, values=[1.0] * 99 + [math.inf], span=1, step=1)
    bw.close()
    table = tracks_table(tmp_path, [path])
    with pytest.raises(InputError, match=r"inf\.bw: infinite value at chr1:100"):
        extract_chromosome(str(tmp_path / "g.fa"), read_tracks_table(table), [Window("chr1", 0, 4096, "train")],
                           "chr1", TINY_SPEC, "h", tmp_path / "p.h5")


def peak_bytes(fasta: Path, table: Path, windows: list[Window], spec: WindowSpec, out: Path, group: int) -> int:
    """Peak bytes traced (numpy arrays included) while extracting chr1."""
    specs = read_tracks_table(table)
    tracemalloc.start()
    try:
        extract_chromosome(str(fasta), specs, windows, "chr1", spec, "h", out, track_group=group)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_peak_memory_is_flat_in_the_track_count(tmp_path: Path) -> None:
    """8 and 64 tracks, 8 at a time: the same peak; holding all targets at once would take 48 MB more."""
    size = 1_000_000
    rng = np.random.default_rng(0)
    bases = np.frombuffer(b"ACGT", np.uint8)[rng.integers(0, 4, size)]
    write_fasta(tmp_path / "g.fa", {"chr1": bases.tobytes().decode()})
    path = tmp_path / "t.bw"
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader([("chr1", size)])
    bw.addEntries("chr1", 0, values=rng.gamma(0.3, 2.0, size // 16).astype(np.float64), span=16, step=16)
    bw.close()
    spec = WindowSpec(length=8192, stride=512, bin_size=128, target_length=64)
    windows = [Window("chr1", s, s + spec.length, "train") for s in range(0, size - spec.length, spec.stride)]
    peaks = {}
    for n_tracks in (8, 64):
        table = tracks_table(tmp_path, [path] * n_tracks)
        peaks[n_tracks] = peak_bytes(tmp_path / "g.fa", table, windows, spec, tmp_path / f"{n_tracks}.h5", group=8)
    all_targets = len(windows) * spec.target_length * 64 * (4 + 2)  # float32 array + its float16 copy
    assert peaks[64] < 1.1 * peaks[8] + (1 << 20), peaks
    assert peaks[64] < all_targets / 4, (peaks, all_targets)
    with h5py.File(tmp_path / "64.h5") as handle:
        first, last = handle["targets"][:, :, 0], handle["targets"][:, :, 63]
    np.testing.assert_array_equal(first, last)  # the same file in every column


def test_extract_memory_follows_chromosome_length_not_tracks_beyond_a_group() -> None:
    chr1 = 248_956_422
    full = h5_contract.TRACK_CHUNK
    assert resources.extract_mem_mb(5313, chr1) == resources.extract_mem_mb(full, chr1)
    assert resources.extract_mem_mb(8, chr1) < resources.extract_mem_mb(full, chr1)
    assert resources.extract_mem_mb(5313, 50_000_000) < resources.extract_mem_mb(5313, chr1) < 8000
    # the float16 bins of one group of chr1 (498 MB) with headroom, over the fixed part
    assert resources.extract_mem_mb(5313, chr1) >= resources.EXTRACT_BASE_MB + 2 * math.ceil(chr1 / 128) * full / 1e6
    assert resources.extract_runtime_min(5313, chr1) > resources.extract_runtime_min(8, chr1) >= 10


def test_extract_job_resources_from_tracks_table_and_fasta_index(tiny_genome: TinyGenome) -> None:
    n_tracks, chrom_bp = resources.extract_need(tiny_genome.tracks, tiny_genome.fasta, "chr2")
    assert (n_tracks, chrom_bp) == (3, 9_000)
    section = {"mem_scale": 2.0, "runtime_scale": 1.0, "gpus": {}, "gpu_model": "", "gpu_partition": "",
               "slurm_partition": "", "slurm_account": ""}
    job = resources.job_resources(section, mem_mb=lambda wc: resources.extract_mem_mb(*resources.extract_need(
        tiny_genome.tracks, tiny_genome.fasta, wc.chrom)), runtime=60)
    wildcards = SimpleNamespace(chrom="chr2")
    want = math.ceil(resources.extract_mem_mb(3, 9_000) * 2.0)
    assert job["mem_mb"](wildcards, 1) == want and job["mem_mb"](wildcards, 2) == math.ceil(want * 2)
    assert job["runtime"](wildcards, 1) == 60

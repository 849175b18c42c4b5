"""Chunks as genomic regions read by index: the plan, each record read once, chunked = single run exactly."""

from __future__ import annotations

import gzip
from pathlib import Path

import cyvcf2
import h5py
import numpy as np
import pandas as pd
import pytest

from enformer_lite.errors import InputError
from enformer_lite.pipeline.variants import indexed_copy, variant_input
from enformer_lite.variants import chunks, store
from enformer_lite.variants.alleles import RegionFilter
from enformer_lite.variants.chunks import ContigCount, Segment, plan_chunks, write_indexed_copy
from enformer_lite.variants.config import ScoreConfig
from enformer_lite.variants.gather import gather_parts
from enformer_lite.variants.outputs import output_paths, write_outputs
from enformer_lite.variants.score import score_vcf
from test_variants_support import ConvBinModel, TRACKS, random_genome, scoring_model, write_vcf

CHROMS = {"chr1": 6000, "chr2": 3000, "chr3": 4000}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A plain (unindexed) VCF over three contigs, with multi-allelic records, two records at one POS,
    deletions, skips, an unknown contig and a contig with no records in the FASTA's name ("2")."""
    root = tmp_path_factory.mktemp("chunks")
    fasta, seq = random_genome(root, CHROMS, seed=3)
    rng = np.random.default_rng(8)
    records = []
    for chrom, name, n in (("chr1", "chr1", 40), ("chr2", "2", 15), ("chr3", "chr3", 25)):
        text = seq[chrom]
        for pos in sorted(rng.choice(np.arange(200, len(text) - 200), size=n, replace=False).tolist()):
            ref = text[pos - 1]
            alts = [b for b in "ACGT" if b != ref]
            if pos % 7 == 0:
                records.append(f"{name}\t{pos}\td{pos}\t{text[pos - 1 : pos + 40]}\t{ref}")  # a 40-bp deletion
            records.append(f"{name}\t{pos}\tv{pos}\t{ref}\t{alts[0]}" + (f",{alts[1]}" if pos % 3 == 0 else ""))
        records.append(f"{name}\t{len(text) - 100}\tsv{chrom}\t{text[-101]}\t<DEL>")
    records.append("chrUn\t50\tnowhere\tA\tG")
    vcf = write_vcf(root / "calls.vcf", records, {"chr1": 6000, "2": 3000, "chr3": 4000, "chrUn": 1000})
    genes = root / "genes.bed"
    genes.write_text("".join(f"chr{c}\t{p}\t{p + 1}\tg{c}_{p}\t0\t{'+-'[p % 2]}\n" for c in (1, 2, 3) for p in range(400, 2800, 500)))
    model = scoring_model(ConvBinModel(len(TRACKS), seed=2))
    return {"root": root, "fasta": fasta, "vcf": vcf, "genes": genes, "model": model, "n_records": len(records)}


def _run(world: dict, vcf: Path, out: Path, n_chunks: int, **settings: object) -> tuple[Path, list[dict]]:
    """Score ``vcf`` in ``n_chunks`` chunk jobs, gather them and write every output; (prefix, summaries)."""
    # batch_size 1: a sequence's prediction does not depend on what it is batched with, so runs
    # that cut the VCF differently must agree bit for bit
    cfg = ScoreConfig(grid=32, batch_size=1, block_size=7, **settings)
    out.mkdir(parents=True, exist_ok=True)
    parts, summaries = [], []
    for k in range(n_chunks):
        part = out / f"part{k}.h5"
        summaries.append(score_vcf(vcf, world["fasta"], world["model"], part, cfg, world["genes"], k, n_chunks))
        parts.append(part)
    gather_parts(parts[::-1], out / "all.h5")
    write_outputs(out / "all.h5", vcf, out / "all")
    return out / "all", summaries


def _same_outputs(a: Path, b: Path) -> None:
    """Every output of two runs is identical (tables, HDF5 datasets, annotated VCF records)."""
    for key in ("tsv", "genes", "skipped"):
        pd.testing.assert_frame_equal(pd.read_csv(output_paths(a)[key], sep="\t"), pd.read_csv(output_paths(b)[key], sep="\t"))
    with h5py.File(f"{a}.h5") as x, h5py.File(f"{b}.h5") as y:
        names: list[str] = []
        x.visit(lambda n: names.append(n) if isinstance(x[n], h5py.Dataset) else None)
        for name in names:
            np.testing.assert_array_equal(x[name][:], y[name][:], err_msg=name)
    lines = [[str(v) for v in cyvcf2.VCF(str(output_paths(p)["vcf"]))] for p in (a, b)]
    assert lines[0] == lines[1]


@pytest.fixture(scope="module")
def single(world: dict) -> Path:
    """The reference: one job over the plain VCF (no index: one linear pass)."""
    return _run(world, world["vcf"], world["root"] / "single", 1)[0]


@pytest.fixture(scope="module")
def indexed(world: dict) -> Path:
    return write_indexed_copy(world["vcf"], world["root"] / "copy" / "calls.vcf.gz")


@pytest.mark.parametrize("n_chunks", [2, 3, 7])
def test_chunked_by_region_equals_the_single_run(world: dict, single: Path, indexed: Path, n_chunks: int) -> None:
    prefix, summaries = _run(world, indexed, world["root"] / f"chunked{n_chunks}", n_chunks)
    _same_outputs(single, prefix)
    # every record read by exactly one job, once; the chunks are balanced by the index's counts
    assert sum(s["records_read"] for s in summaries) == sum(s["records"] for s in summaries) == world["n_records"]
    assert max(s["records"] for s in summaries) <= 2 * world["n_records"] / n_chunks + 10
    skipped = pd.read_csv(output_paths(prefix)["skipped"], sep="\t")
    scores = pd.read_csv(output_paths(prefix)["tsv"], sep="\t")
    assert len(scores) + len(skipped) == sum(max(1, len(v.ALT)) for v in cyvcf2.VCF(str(world["vcf"])))


@pytest.mark.parametrize("settings", [{"regions": ("chr2", "chr3:1000-3000")}, {"limit": 30}, {"regions": ("chr3",), "limit": 9}])
def test_regions_and_limit_keep_their_meaning_in_chunks(world: dict, indexed: Path, settings: dict) -> None:
    whole, _ = _run(world, world["vcf"], world["root"] / f"whole{sorted(settings)}", 1, **settings)
    chunked, summaries = _run(world, indexed, world["root"] / f"parts{sorted(settings)}", 3, **settings)
    _same_outputs(whole, chunked)
    if "limit" not in settings:  # contigs outside the regions are counted from the index, not read
        chr1 = sum(1 for v in cyvcf2.VCF(str(world["vcf"])) if v.CHROM == "chr1")
        assert sum(s["records_read"] for s in summaries) == world["n_records"] - chr1 - 1


def test_a_chunk_job_reads_only_records_of_its_regions(world: dict, indexed: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pulled: list[tuple[str, int, int]] = []
    real_open = chunks.open_vcf

    class Counting:
        """cyvcf2 reader whose region queries record every record htslib hands out."""

        def __init__(self, path: object) -> None:
            self.reader = real_open(path)

        def __call__(self, region: str):
            for variant in self.reader(region):
                pulled.append((variant.CHROM, variant.POS, variant.end))
                yield variant

        def close(self) -> None:
            self.reader.close()

    monkeypatch.setattr(chunks, "open_vcf", Counting)
    cfg = ScoreConfig(grid=32, batch_size=8)
    seen: list[tuple[str, int]] = []
    for k in range(3):
        pulled.clear()
        out = world["root"] / "counted" / f"part{k}.h5"
        out.parent.mkdir(exist_ok=True)
        summary = score_vcf(indexed, world["fasta"], world["model"], out, cfg, None, k, 3)
        with h5py.File(out) as h5:
            segments = _segments(h5.attrs["chunk_regions"])
        assigned = [(c, p) for c, p, _ in pulled if any(_holds(s, c, p) for s in segments)]
        # what htslib hands out beyond the chunk's own records: only records overlapping a cut from the left
        for chrom, pos, end in pulled:
            assert any(_holds(s, chrom, pos) or (s.chrom == chrom and pos - 1 < s.start < end) for s in segments)
        assert len(assigned) == summary["records_read"]
        seen += assigned
    all_records = [(v.CHROM, v.POS) for v in cyvcf2.VCF(str(world["vcf"]))]
    assert sorted(seen) == sorted(all_records)  # the chunks together: every record once


def _segments(text: str) -> list[Segment]:
    """Segments back from a part's ``chunk_regions`` attribute (read ones only)."""
    import json

    out = []
    for region in json.loads(text):
        if "counted" in region:
            continue
        chrom, _, span = region.partition(":")
        start, _, end = span.partition("-")
        out.append(Segment(chrom, int(start) - 1 if start else 0, int(end) if end else None))
    return out


def _holds(segment: Segment, chrom: str, pos: int) -> bool:
    return segment.chrom == chrom and segment.start <= pos - 1 and (segment.end is None or pos - 1 < segment.end)


def test_plan_covers_every_contig_and_balances_counts() -> None:
    counts = [ContigCount("chr2", 1000, 300), ContigCount("chr1", 2000, 100), ContigCount("chrM", None, 0),
              ContigCount("chr3", None, 50)]
    plan = plan_chunks(counts, 4)
    flat = [s for chunk in plan for s in chunk]
    for name in ("chr2", "chr1", "chr3"):  # pieces of a contig follow each other and cover [0, ∞)
        pieces = [s for s in flat if s.chrom == name]
        assert pieces[0].start == 0 and pieces[-1].end is None
        assert all(a.end == b.start for a, b in zip(pieces, pieces[1:]))
    assert [s.chrom for s in flat] == sorted([s.chrom for s in flat], key=["chr2", "chr1", "chrM", "chr3"].index)
    assert [str(s) for s in plan[0]] == ["chr2:1-375"] and [s.region() for s in plan[1]] == ["chr2:376-750"]
    assert [str(s) for s in plan[2]] == ["chr2:751-", "chr1:1-750"]
    assert [s for s in flat if s.chrom == "chrM"] == [Segment("chrM", records=0, read=False)]
    assert plan[3][-1] == Segment("chr3")  # unknown length: never cut
    only_chr1 = plan_chunks(counts, 2, RegionFilter([("1", 0, None)]))
    assert [s for s in only_chr1[0] if s.read] == [Segment("chr1", 0, 1000)]
    assert [s.read for s in only_chr1[0]] == [False, True]  # chr2 is counted (300), not read
    with pytest.raises(InputError, match="must be ≥ 1"):
        plan_chunks(counts, 0)
    assert Segment("HLA:1", 9, 20).region() == "{HLA:1}:10-20"


def test_unindexed_vcf_in_several_chunks_is_refused_with_a_way_out(world: dict, tmp_path: Path) -> None:
    with pytest.raises(InputError, match="--index-copy"):
        score_vcf(world["vcf"], world["fasta"], world["model"], tmp_path / "p.h5", ScoreConfig(grid=32), None, 0, 2)
    assert not (tmp_path / "p.h5").exists()


def test_indexed_copy_leaves_the_input_alone(world: dict, tmp_path: Path) -> None:
    plain = world["vcf"]
    before = plain.read_bytes()
    gz = tmp_path / "calls.vcf.gz"
    gz.write_bytes(gzip.compress(before))  # plain gzip, not BGZF: cannot be indexed as it is
    for source in (plain, gz):
        copy = write_indexed_copy(source, tmp_path / f"copy_{source.name}.vcf.gz")
        assert gzip.decompress(copy.read_bytes()) == before and Path(f"{copy}.tbi").is_file()
        assert len(list(cyvcf2.VCF(str(copy))("chr3"))) == sum(1 for v in cyvcf2.VCF(str(plain)) if v.CHROM == "chr3")
    assert plain.read_bytes() == before and sorted(p.name for p in plain.parent.glob("calls.vcf*")) == ["calls.vcf"]
    unsorted = write_vcf(tmp_path / "unsorted.vcf", ["chr1\t20\t.\tC\tT", "chr1\t10\t.\tA\tG"])
    with pytest.raises(InputError, match="sorted"):
        write_indexed_copy(unsorted, tmp_path / "u.vcf.gz")
    assert not [p for p in tmp_path.iterdir() if p.name.startswith("u.vcf") or ".tmp" in p.name]


def test_workflow_reads_the_users_index_or_a_copy(tmp_path: Path) -> None:
    user = tmp_path / "gnomad.vcf.bgz"
    user.write_bytes(b"")
    assert variant_input("g", {"path": str(user)}) == {"vcf": indexed_copy("g"), "index": f"{indexed_copy('g')}.tbi"}
    Path(f"{user}.tbi").write_bytes(b"")
    assert variant_input("g", {"path": str(user)}) == {"vcf": str(user), "index": f"{user}.tbi"}
    declared = ["sim/variants.vcf.gz.tbi"]  # the simulator declares its index
    assert variant_input("demo", {"path": "sim/variants.vcf.gz"}, declared)["vcf"] == "sim/variants.vcf.gz"
    assert variant_input("small", {"path": str(tmp_path / "small.vcf")})["vcf"] == "results/variants/small/input.vcf.gz"


def test_outputs_stream_in_small_blocks(world: dict, single: Path, indexed: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(store, "BLOCK_VALUES", 5)  # one or two rows per block
    _same_outputs(single, _run(world, indexed, tmp_path, 3)[0])

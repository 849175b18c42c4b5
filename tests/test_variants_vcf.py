"""Reading VCFs: multi-allelic split, skip reasons, chromosome names, REF policy, malformed input."""

from __future__ import annotations

from pathlib import Path

import pytest

from enformer_lite.errors import InputError
from enformer_lite.data.fasta import open_fasta
from enformer_lite.variants.alleles import Allele, AlleleReader, Skip, count_records, iter_records, selected_records
from enformer_lite.variants.config import ScoreConfig
from test_variants_support import random_genome, write_vcf


@pytest.fixture(scope="module")
def genome(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str]]:
    return random_genome(tmp_path_factory.mktemp("vcf"), {"chr1": 2000, "chr2": 1500, "chrM": 300}, seed=5)


def _read(vcf: Path, fasta_path: Path, **settings: object) -> tuple[list[Allele], list[Skip], AlleleReader]:
    reader = AlleleReader(open_fasta(fasta_path), ScoreConfig(**settings), str(vcf))
    items = list(reader.read(iter_records(vcf)))
    return [i for i in items if isinstance(i, Allele)], [i for i in items if isinstance(i, Skip)], reader


def _other(base: str) -> str:
    return "A" if base != "A" else "C"


@pytest.mark.parametrize("bgzip", [False, True])
def test_alleles_and_skip_reasons(tmp_path: Path, genome: tuple[Path, dict[str, str]], bgzip: bool) -> None:
    fasta, seq = genome
    c1 = seq["chr1"]
    b100, b200 = c1[99], c1[199]
    others = [b for b in "ACGT" if b != b100]
    records = [
        f"chr1\t100\trsA\t{b100}\t{others[0]},{others[1]},*",                 # 2 scored, star
        f"chr1\t200\t.\t{b200}\t<DEL>",                                       # symbolic
        f"chr1\t300\t.\t{c1[299]}\t.",                                        # no ALT
        f"chr1\t400\t.\t{c1[399]}\t{c1[399]}",                                # ALT = REF
        f"chr1\t500\t.\t{c1[499]}\tR",                                        # IUPAC ALT
        f"chr1\t600\tdel1\t{c1[599:604]}\t{c1[599]}",                         # deletion, scored
        f"chr1\t700\tins1\t{c1[699]}\t{c1[699]}GATTACA",                      # insertion, scored
        f"chr1\t800\tmm\t{_other(c1[799])}\t{c1[799]}",                       # REF mismatch
        f"chr1\t900\t.\t{c1[899]}\t{c1[899]}N[chr2:100[",                     # breakend
        f"chr1\t1999\t.\t{c1[1998:2000]}T\t{c1[1998]}",                       # REF runs past the end
        "chrUn\t10\t.\tA\tG",                                               # unknown chromosome
    ]
    vcf = write_vcf(tmp_path / "in.vcf", records, {"chr1": 2000}, bgzip=bgzip)
    alleles, skips, reader = _read(vcf, fasta)
    assert [(a.record, a.alt_index, a.pos, a.ref, a.alt) for a in alleles] == [
        (0, 0, 100, b100, others[0]), (0, 1, 100, b100, others[1]),
        (5, 0, 600, c1[599:604], c1[599]), (6, 0, 700, c1[699], c1[699] + "GATTACA"),
    ]
    assert alleles[0].id == "rsA" and alleles[2].is_indel and not alleles[0].is_indel
    reasons = {(s.record, s.alt_index): s.reason for s in skips}
    assert reasons == {
        (0, 2): "star_alt", (1, 0): "symbolic_alt", (2, 0): "no_alt", (3, 0): "alt_equals_ref",
        (4, 0): "bad_allele", (7, 0): "ref_mismatch", (8, 0): "symbolic_alt", (9, 0): "outside_chrom",
        (10, 0): "unknown_chrom",
    }
    assert reader.n_alleles == 13
    assert sum(reader.skipped.values()) == 9
    assert "4 scored, 9 skipped" in reader.summary()
    assert count_records(vcf) == 11


def test_record_range(tmp_path: Path, genome: tuple[Path, dict[str, str]]) -> None:
    fasta, seq = genome
    records = [f"chr1\t{p}\t.\t{seq['chr1'][p - 1]}\t{_other(seq['chr1'][p - 1])}" for p in range(10, 110, 10)]
    vcf = write_vcf(tmp_path / "in.vcf", records)
    assert [i for i, _ in iter_records(vcf, 3, 6)] == [3, 4, 5]
    assert [v.POS for _, v in iter_records(vcf, 8)] == [90, 100]


def test_chromosome_names_are_harmonised(tmp_path: Path, genome: tuple[Path, dict[str, str]]) -> None:
    fasta, seq = genome
    records = [
        f"1\t50\t.\t{seq['chr1'][49]}\t{_other(seq['chr1'][49])}",
        f"MT\t20\t.\t{seq['chrM'][19]}\t{_other(seq['chrM'][19])}",
        f"scaffold_b\t30\t.\t{seq['chr2'][29]}\t{_other(seq['chr2'][29])}",
        "chr9\t30\t.\tA\tG",
    ]
    vcf = write_vcf(tmp_path / "in.vcf", records)
    alleles, skips, _ = _read(vcf, fasta)
    assert [(a.vcf_chrom, a.chrom) for a in alleles] == [("1", "chr1"), ("MT", "chrM")]
    assert [s.reason for s in skips] == ["unknown_chrom", "unknown_chrom"]
    alleles, skips, _ = _read(vcf, fasta, chrom_map={"scaffold_b": "chr2"})
    assert [(a.vcf_chrom, a.chrom) for a in alleles] == [("1", "chr1"), ("MT", "chrM"), ("scaffold_b", "chr2")]
    assert [(s.chrom, s.reason) for s in skips] == [("chr9", "unknown_chrom")]


def test_ref_mismatch_policies(tmp_path: Path, genome: tuple[Path, dict[str, str]]) -> None:
    fasta, seq = genome
    c1 = seq["chr1"]
    genome_base = c1[149]
    wrong = _other(genome_base)
    third = next(b for b in "ACGT" if b not in (genome_base, wrong))
    records = [
        f"chr1\t150\trsflip\t{wrong}\t{genome_base},{third}",    # ALT 1 is the genome base, ALT 2 is not
        f"chr1\t250\trsindel\t{_other(c1[249])}{c1[250]}\t{_other(c1[249])}",  # mismatching deletion
    ]
    vcf = write_vcf(tmp_path / "in.vcf", records)

    alleles, skips, _ = _read(vcf, fasta, ref_mismatch="skip")
    assert alleles == []
    assert [(s.record, s.alt_index, s.reason) for s in skips] == [(0, 0, "ref_mismatch"), (0, 1, "ref_mismatch"), (1, 0, "ref_mismatch")]
    assert skips[0].detail == f"FASTA has {genome_base}"

    alleles, skips, _ = _read(vcf, fasta, ref_mismatch="flip")
    assert [(a.record, a.alt_index, a.ref, a.alt, a.flipped) for a in alleles] == [(0, 0, genome_base, wrong, True)]
    assert [(s.record, s.alt_index, s.reason) for s in skips] == [(0, 1, "ref_mismatch"), (1, 0, "ref_mismatch")]

    with pytest.raises(InputError, match=r"in\.vcf record 1 \(chr1:150 rsflip\): REF .* does not match the FASTA"):
        _read(vcf, fasta, ref_mismatch="error")


def test_indel_policy_and_length_limit(tmp_path: Path, genome: tuple[Path, dict[str, str]]) -> None:
    fasta, seq = genome
    c1 = seq["chr1"]
    records = [f"chr1\t300\t.\t{c1[299:302]}\t{c1[299]}", f"chr1\t400\t.\t{c1[399:420]}\t{c1[399]}"]
    vcf = write_vcf(tmp_path / "in.vcf", records)
    alleles, skips, _ = _read(vcf, fasta, indels=False)
    assert alleles == [] and [s.reason for s in skips] == ["indel", "indel"]
    alleles, skips, _ = _read(vcf, fasta, max_indel_length=10)
    assert [a.pos for a in alleles] == [300]
    assert [(s.pos, s.reason) for s in skips] == [(400, "long_allele")]


def test_lower_case_alleles_are_upper_cased(tmp_path: Path, genome: tuple[Path, dict[str, str]]) -> None:
    fasta, seq = genome
    base = seq["chr1"][9]
    vcf = write_vcf(tmp_path / "in.vcf", [f"chr1\t10\t.\t{base.lower()}\t{_other(base).lower()}"])
    alleles, _, _ = _read(vcf, fasta)
    assert (alleles[0].ref, alleles[0].alt) == (base, _other(base))


def test_malformed_record_names_file_and_line(tmp_path: Path, genome: tuple[Path, dict[str, str]]) -> None:
    fasta, seq = genome
    records = [f"chr1\t10\t.\t{seq['chr1'][9]}\tG", "chr1\tten\t.\tA\tG", "chr1\t30\t.\tA\tG"]
    for bgzip in (False, True):
        vcf = write_vcf(tmp_path / f"bad{int(bgzip)}.vcf", records, bgzip=bgzip)
        with pytest.raises(InputError, match=rf"{vcf.name} line 4 \(record 2\): malformed VCF record 'chr1\\tten"):
            _read(vcf, fasta)


def test_missing_and_non_vcf_files(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="VCF file not found"):
        list(iter_records(tmp_path / "absent.vcf"))
    junk = tmp_path / "junk.vcf"
    junk.write_text("this is not a VCF\n")
    with pytest.raises(InputError, match="junk.vcf"):
        list(iter_records(junk))


def test_regions_and_limit_select_records(tmp_path: Path, genome: tuple[Path, dict[str, str]]) -> None:
    fasta, seq = genome
    records = [f"chr1\t{p}\t.\tA\tG" for p in (10, 100, 500, 1000)] + [f"2\t{p}\t.\tA\tG" for p in (50, 60)]
    vcf = write_vcf(tmp_path / "in.vcf", records)

    def positions(**settings: object) -> list[tuple[int, int]]:
        return [(i, v.POS) for i, v in selected_records(vcf, ScoreConfig(**settings))]

    assert positions() == [(0, 10), (1, 100), (2, 500), (3, 1000), (4, 50), (5, 60)]
    # 0-based half-open: POS 100 is base 99, POS 500 is base 499, POS 1000 is base 999.
    assert positions(regions=("chr1:99-500",)) == [(1, 100), (2, 500)]
    assert positions(regions=("chr1:100-999",)) == [(2, 500)]
    assert positions(regions=("chr1:100-1,000",)) == [(2, 500), (3, 1000)]
    assert positions(regions=("chr2", "chr1:0-50")) == [(0, 10), (4, 50), (5, 60)]  # "2" matches chr2
    assert positions(regions=("chr2", "chr1:0-50"), limit=2) == [(0, 10), (4, 50)]
    assert count_records(vcf, ScoreConfig(regions=("chr2",))) == 2
    assert [i for i, _ in selected_records(vcf, ScoreConfig(limit=5), 1, 3)] == [1, 2]
    with pytest.raises(InputError, match="expected chrom:start-end"):
        ScoreConfig(regions=("chr1:5",))


def test_chrom_map_from_pairs_and_file(tmp_path: Path) -> None:
    from enformer_lite.cli.score_variants import parse_chrom_map

    table = tmp_path / "map.tsv"
    table.write_text("# vcf\tfasta\nNC_000001.11\tchr1\nNC_012920.1\tchrM\n")
    assert parse_chrom_map(["scaffold_b=chr2", str(table)]) == {
        "scaffold_b": "chr2", "NC_000001.11": "chr1", "NC_012920.1": "chrM",
    }
    with pytest.raises(InputError, match="expected VCF_NAME=FASTA_NAME"):
        parse_chrom_map(["chr1"])
    bad = tmp_path / "bad.tsv"
    bad.write_text("a\tb\tc\n")
    with pytest.raises(InputError, match="bad.tsv line 1: expected two tab-separated names"):
        parse_chrom_map([str(bad)])

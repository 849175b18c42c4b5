"""Inputs shaped like users' own data: GENCODE/Ensembl GTF and GFF3, gene-body BEDs, real assemblies,
stale indexes, bigWigs with NaN. Expected values are read independently from the test's own text."""

from __future__ import annotations

import gzip
import logging
from pathlib import Path

import numpy as np
import pyBigWig
import pytest

from enformer_lite.data.bigwig import open_bigwig, pooled_chromosome
from enformer_lite.data.fasta import open_fasta
from enformer_lite.data.genes import GeneFilter, read_genes, read_genes_bed
from enformer_lite.data.tracks import TrackSpec
from enformer_lite.data.windows import assign_splits
from enformer_lite.errors import InputError

GENCODE_GTF = """\
##description: evidence-based annotation of the human genome (GRCh38), version 46 (Ensembl 112)
chr1\tHAVANA\tgene\t11869\t14409\t.\t+\t.\tgene_id "ENSG00000290825.1"; gene_type "lncRNA"; gene_name "DDX11L2"; level 2;
chr1\tHAVANA\ttranscript\t11869\t14409\t.\t+\t.\tgene_id "ENSG00000290825.1"; transcript_id "ENST00000456328.2"; gene_type "lncRNA"; tag "basic"; tag "Ensembl_canonical";
chr1\tHAVANA\texon\t11869\t12227\t.\t+\t.\tgene_id "ENSG00000290825.1"; transcript_id "ENST00000456328.2"; gene_type "lncRNA"; exon_number 1;
chr1\tHAVANA\tgene\t65419\t71585\t.\t+\t.\tgene_id "ENSG00000186092.7"; gene_type "protein_coding"; gene_name "OR4F5"; level 2;
chr1\tHAVANA\ttranscript\t65419\t71585\t.\t+\t.\tgene_id "ENSG00000186092.7"; transcript_id "ENST00000641515.2"; gene_type "protein_coding"; tag "basic";
chr1\tHAVANA\ttranscript\t65565\t70008\t.\t+\t.\tgene_id "ENSG00000186092.7"; transcript_id "ENST00000335137.4"; gene_type "protein_coding"; tag "basic"; tag "Ensembl_canonical"; tag "MANE_Select"; tag "CCDS";
chr1\tHAVANA\tgene\t3069168\t3438621\t.\t-\t.\tgene_id "ENSG00000142611.17"; gene_type "protein_coding"; gene_name "PRDM16"; level 2;
chr1\tHAVANA\ttranscript\t3069168\t3434342\t.\t-\t.\tgene_id "ENSG00000142611.17"; transcript_id "ENST00000270722.10"; gene_type "protein_coding"; tag "basic"; tag "MANE_Select";
chr2\tHAVANA\tgene\t200\t900\t.\t-\t.\tgene_id "ENSG00000999999.1"; gene_type "protein_coding"; gene_name "PASTEND";
chrUn_KI270302v1\tENSEMBL\tgene\t10\t50\t.\t+\t.\tgene_id "ENSG00000888888.1"; gene_type "lncRNA"; gene_name "UNPLACED";
"""

ENSEMBL_GFF3 = """\
##gff-version 3
##sequence-region   1 1 248956422
1\thavana\tncRNA_gene\t11869\t14409\t.\t+\t.\tID=gene:ENSG00000290825;Name=DDX11L2;biotype=lncRNA;gene_id=ENSG00000290825;version=1
1\thavana\tlnc_RNA\t11869\t14409\t.\t+\t.\tID=transcript:ENST00000456328;Parent=gene:ENSG00000290825;biotype=lncRNA;tag=basic,Ensembl_canonical;transcript_id=ENST00000456328
1\tensembl_havana\tgene\t65419\t71585\t.\t+\t.\tID=gene:ENSG00000186092;Name=OR4F5;biotype=protein_coding;gene_id=ENSG00000186092;version=7
1\tensembl_havana\tmRNA\t65565\t70008\t.\t+\t.\tID=transcript:ENST00000335137;Parent=gene:ENSG00000186092;biotype=protein_coding;tag=basic,Ensembl_canonical,MANE_Select;transcript_id=ENST00000335137
1\tensembl_havana\tgene\t3069168\t3438621\t.\t-\t.\tID=gene:ENSG00000142611;Name=PRDM16;biotype=protein_coding;gene_id=ENSG00000142611;version=17
1\tensembl_havana\tmRNA\t3069168\t3434342\t.\t-\t.\tID=transcript:ENST00000270722;Parent=gene:ENSG00000142611;biotype=protein_coding;tag=basic,MANE_Select;transcript_id=ENST00000270722
"""

SIZES = {"1": 4_000_000, "2": 500}  # bare Ensembl names in the FASTA; chr2 is shorter than one gene's TSS


def independent_tss(text: str, feature: str = "gene", tag: str | None = None) -> dict[str, int]:
    """0-based TSS per gene read straight from GTF/GFF3 text: start − 1 on +, end − 1 on −."""
    out: dict[str, int] = {}
    gene_of: dict[str, str] = {}
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        cols = line.split("\t")
        attrs = cols[8]
        if "=" in attrs.split(";")[0]:  # GFF3
            kv = dict(item.split("=", 1) for item in attrs.split(";") if item)
            gene = kv.get("gene_id") or gene_of.get(kv.get("Parent", ""), "")
            if "ID" in kv and "gene_id" in kv:
                gene_of[kv["ID"]] = kv["gene_id"]
            tags = kv.get("tag", "").split(",")
        else:
            gene = attrs.split('gene_id "')[1].split('"')[0]
            tags = [t.split('"')[1] for t in attrs.split(";") if t.strip().startswith("tag ")]
        is_gene = cols[2].endswith("gene")
        wanted = is_gene if tag is None else (not is_gene and tag in tags)
        if wanted and gene not in out:
            out[gene] = int(cols[3]) - 1 if cols[6] == "+" else int(cols[4]) - 1
    return out


@pytest.fixture()
def gtf(tmp_path: Path) -> Path:
    path = tmp_path / "gencode.v46.annotation.gtf.gz"
    path.write_bytes(gzip.compress(GENCODE_GTF.encode()))
    return path


def test_gencode_gtf_tss_equals_an_independent_reading(gtf: Path) -> None:
    genes = read_genes(gtf)
    assert dict(zip(genes["gene_id"], genes["tss"])) == independent_tss(GENCODE_GTF)
    assert genes.set_index("gene_id").loc["ENSG00000142611.17", "tss"] == 3438620  # minus strand: gene end − 1
    assert (genes["end"] == genes["tss"] + 1).all()


def test_mane_select_transcript_gives_the_tss(gtf: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    genes = read_genes(gtf, select=GeneFilter(transcript_tags=("MANE_Select",))).set_index("gene_id")["tss"]
    expected = {**independent_tss(GENCODE_GTF), **independent_tss(GENCODE_GTF, tag="MANE_Select")}
    assert genes.to_dict() == expected
    assert genes["ENSG00000142611.17"] == 3434341 and genes["ENSG00000186092.7"] == 65564
    assert "3 gene(s) have no transcript tagged MANE_Select" in caplog.text


def test_gene_type_filter(gtf: Path) -> None:
    genes = read_genes(gtf, select=GeneFilter(gene_types=("protein_coding",)))
    assert sorted(genes["gene_id"]) == ["ENSG00000142611.17", "ENSG00000186092.7", "ENSG00000999999.1"]


def test_genes_are_harmonised_with_the_fasta_and_skips_are_named(gtf: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.WARNING)
    genes = read_genes(gtf, SIZES)
    assert set(genes["chrom"]) == {"1"}  # chr1 → 1; chr2 gene past the end and chrUn gene skipped
    assert len(genes) == 3
    assert "skipped gene ENSG00000999999.1 at chr2:899 (TSS past the chromosome end)" in caplog.text
    assert "skipped gene ENSG00000888888.1" in caplog.text and "chromosome not in the FASTA" in caplog.text
    assert str(gtf) in caplog.text


def test_ensembl_gff3_with_transcript_tags(tmp_path: Path) -> None:
    path = tmp_path / "Homo_sapiens.GRCh38.112.gff3"
    path.write_text(ENSEMBL_GFF3)
    plain = read_genes(path, SIZES)
    assert dict(zip(plain["gene_id"], plain["tss"])) == independent_tss(ENSEMBL_GFF3)
    tagged = read_genes(path, SIZES, GeneFilter(transcript_tags=("MANE_Select", "Ensembl_canonical")))
    expected = {**independent_tss(ENSEMBL_GFF3), **independent_tss(ENSEMBL_GFF3, tag="Ensembl_canonical"),
                **independent_tss(ENSEMBL_GFF3, tag="MANE_Select")}
    assert dict(zip(tagged["gene_id"], tagged["tss"])) == expected
    assert list(plain["strand"]) == ["+", "+", "-"]


def test_gene_body_bed_gives_strand_aware_tss(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    bed = tmp_path / "genes.bed"
    bed.write_text("chr1\t100\t5000\tplus\t0\t+\nchr1\t200\t9000\tminus\t0\t-\nchr1\t300\t301\ttss\t0\t-\n")
    genes = read_genes_bed(bed).set_index("gene_id")
    assert genes["tss"].to_dict() == {"plus": 100, "minus": 8999, "tss": 300}
    assert "2 of 3 rows are gene bodies" in caplog.text


def test_gtf_without_genes_is_an_error(tmp_path: Path) -> None:
    path = tmp_path / "exons.gtf"
    path.write_text('chr1\tX\texon\t1\t10\t.\t+\t.\tgene_id "G1"; transcript_id "T1";\n')
    with pytest.raises(InputError, match="no gene records"):
        read_genes(path)


def test_primary_chromosomes_only_by_default(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    chroms = ["chr1", "chr2", "chr9", "chr9_KI270823v1_alt", "chr1_KI270706v1_random", "chrUn_GL000195v1", "chrEBV",
              "chrX", "chrM", "HLA-A*01:01:01:01", "chr22_KI270879v1_alt"]
    splits = assign_splits(chroms, valid=["chr2"], test=["chr9"], exclude=["chrM"])
    assert splits == {"chr1": "train", "chr2": "valid", "chr9": "test", "chrX": "train"}
    assert "6 FASTA record(s) left out as not primary chromosomes" in caplog.text
    assert assign_splits(["1", "2", "KI270728.1", "MT"], valid=[], test=["2"]) == {"1": "train", "2": "test", "MT": "train"}
    everything = assign_splits(chroms[:4], valid=[], test=[], pattern=".*")
    assert "chr9_KI270823v1_alt" in everything
    with pytest.raises(InputError, match="not a regular expression"):
        assign_splits(chroms, valid=[], test=[], pattern="(")


def test_index_from_another_fasta_is_named(tmp_path: Path) -> None:
    other = tmp_path / "other.fa"
    other.write_text(">chrA\nAC\n>chrB\n" + "G" * 120 + "\n")
    open_fasta(other)
    mine = tmp_path / "mine.fa"
    mine.write_text(">chr1\n" + "ACGT" * 30 + "\n>chr2\nCCCC\n")
    (tmp_path / "mine.fa.fai").write_bytes((tmp_path / "other.fa.fai").read_bytes())
    with pytest.raises(InputError, match=r"mine.fa.fai: the index does not match .*mine.fa at record 'chrA'"):
        open_fasta(mine)


def test_duplicate_fasta_names_are_named(tmp_path: Path) -> None:
    fasta = tmp_path / "dup.fa"
    fasta.write_text(">chr1\nACGT\n>chr2\nAAAA\n>chr1\nCCCC\n")
    with pytest.raises(InputError, match='dup.fa: .*duplicate record name "chr1"'):
        open_fasta(fasta)


def test_bigwig_with_nan_values_reads_as_zero(tmp_path: Path) -> None:
    path = tmp_path / "nan.bw"
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader([("chr1", 1000)])
    bw.addEntries("chr1", 0, values=[1.0, float("nan"), 2.0, 4.0], span=100, step=100)
    bw.close()
    # pyBigWig 0.3's header() crashes the interpreter (SIGSEGV) on this file; opening it here must not
    handle = open_bigwig(str(path))
    try:
        pooled = pooled_chromosome(handle, TrackSpec(0, "t", str(path)), "chr1", 1000, 100)
    finally:
        handle.close()
    np.testing.assert_array_equal(pooled, [100.0, 0.0, 200.0, 400.0, 0, 0, 0, 0, 0, 0])


HEADER = "index\tid\tfile\tassay\tstrand\tstrand_pair\tsum_stat\tclip_soft\tclip\tscale\tdescription\n"


def test_tracks_table_with_spaces_is_named(tmp_path: Path) -> None:
    from enformer_lite.data.tracks import read_tracks_table

    table = tmp_path / "tracks.tsv"
    table.write_text(HEADER.replace("\t", " ") + "0 dnase a.bw DNASE . 0 sum . . 1 x\n")
    with pytest.raises(InputError, match="tracks.tsv line 1: columns must be separated by tabs"):
        read_tracks_table(table)


def test_tracks_table_without_file_column_is_named(tmp_path: Path) -> None:
    from enformer_lite.data.tracks import read_tracks_table

    table = tmp_path / "tracks.tsv"
    table.write_text("index\tid\tsum_stat\tscale\n0\tdnase\tsum\t1\n")
    with pytest.raises(InputError, match="lacks required column.*file"):
        read_tracks_table(table)


def test_dot_means_empty_in_the_tracks_table(tmp_path: Path) -> None:
    from enformer_lite.data.tracks import read_tracks_table

    table = tmp_path / "tracks.tsv"
    table.write_text(HEADER + "0\tdnase\ta.bw\t.\t.\t.\tsum\t.\t.\t2\t.\n")
    (track,) = read_tracks_table(table)
    assert (track.assay, track.strand, track.strand_pair, track.clip_soft, track.clip, track.scale, track.description) == (
        "", ".", 0, None, None, 2.0, "")


def test_short_tracks_row_is_named(tmp_path: Path) -> None:
    from enformer_lite.data.tracks import read_tracks_table

    table = tmp_path / "tracks.tsv"
    table.write_text(HEADER + "0\tdnase\n")
    with pytest.raises(InputError, match="tracks.tsv line 2"):
        read_tracks_table(table)


def test_iupac_codes_read_as_n_and_are_counted() -> None:
    from enformer_lite.data.sequence import count_ambiguous, encode

    assert list(encode("ACGTRYNacgtswk")) == [0, 1, 2, 3, 4, 4, 4, 0, 1, 2, 3, 4, 4, 4]
    assert count_ambiguous("ACGTRYNacgtswk") == 5  # R Y s w k; N is not ambiguous, it is unknown


def test_track_plots_honour_missing_chrom_zero(tmp_path: Path) -> None:
    from enformer_lite.data.regions import Region
    from enformer_lite.plots.readers import observed_signal

    path = tmp_path / "chr1_only.bw"
    bw = pyBigWig.open(str(path), "w")
    bw.addHeader([("chr1", 1000)])
    bw.addEntries("chr1", 0, values=[2.0] * 10, span=100, step=100)
    bw.close()
    np.testing.assert_array_equal(observed_signal(path, Region("chr1", 0, 256), 128), [2.0, 2.0])
    np.testing.assert_array_equal(observed_signal(path, Region("chrY", 0, 256), 128, "zero"), [0.0, 0.0])
    with pytest.raises(InputError, match="no chromosome 'chrY'"):
        observed_signal(path, Region("chrY", 0, 256), 128)


VCF_HEADER = "##fileformat=VCFv4.2\n##contig=<ID=chr1>\n##contig=<ID=chr2>\n#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n"


def _records(path: Path) -> int:
    from enformer_lite.variants.alleles import iter_records

    return sum(1 for _ in iter_records(path))


@pytest.mark.parametrize(("body", "message"), [
    ("chr1\t50\t.\tA\tC\t.\t.\t.\nchr1\t20\t.\tA\tC\t.\t.\t.\n", r"record 2 \(chr1:20\): the VCF is not sorted \(after chr1:50\)"),
    ("chr1\t5\t.\tA\tC\t.\t.\t.\nchr2\t5\t.\tA\tC\t.\t.\t.\nchr1\t9\t.\tA\tC\t.\t.\t.\n",
     r"record 3 \(chr1:9\): the VCF is not sorted \(chr1 comes again after chr2\)"),
    ("chr1\t0\t.\tA\tC\t.\t.\t.\n", r"record 1 \(chr1:0\): POS must be ≥ 1"),
])
def test_vcf_order_and_positions_are_checked_before_scoring(tmp_path: Path, body: str, message: str) -> None:
    vcf = tmp_path / "calls.vcf"
    vcf.write_text(VCF_HEADER + body)
    with pytest.raises(InputError, match=message):
        _records(vcf)


def test_vcf_without_chrom_line_is_named(tmp_path: Path) -> None:
    vcf = tmp_path / "calls.vcf"
    vcf.write_text(VCF_HEADER.replace("#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO\n", "") + "chr1\t5\t.\tA\tC\t.\t.\t.\n")
    with pytest.raises(InputError, match="calls.vcf: .*no #CHROM line"):
        _records(vcf)


def test_truncated_bgzip_vcf_is_named(tmp_path: Path) -> None:
    plain = tmp_path / "calls.vcf"
    plain.write_text(VCF_HEADER + "".join(f"chr1\t{p}\t.\tA\tC\t.\t.\t.\n" for p in range(1, 3000)))
    pysam_module = pytest.importorskip("pysam")
    pysam_module.tabix_compress(str(plain), str(tmp_path / "calls.vcf.gz"))
    data = (tmp_path / "calls.vcf.gz").read_bytes()
    (tmp_path / "cut.vcf.gz").write_bytes(data[: len(data) // 2])
    with pytest.raises(InputError, match="cut.vcf.gz"):
        _records(tmp_path / "cut.vcf.gz")

"""Gene BED reading through the shared BED parser: what is read, and errors naming file and line."""

from __future__ import annotations

import pytest

from enformer_lite.errors import InputError
from enformer_lite.data.genes import read_genes_bed


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("chr1\t10\t11\tg1\t0\t+\nchr1\t20\t21\tg2\t0\n", r"genes.bed line 2: expected 6 tab-separated BED columns, got 5"),
        ("chr1\t10\t11\tg1\t0\t+\nchr1\tx\t21\tg2\t0\t-\n", r"genes.bed line 2: start/end must be integers"),
        ("chr1\t10\t11\tg1\t0\t*\n", r"genes.bed line 1: strand must be \+, - or \., got '\*'"),
        ("chr1\t10\t11\tg1\t0\t+\nchr2\t10\t11\tg1\t0\t+\n", r"genes.bed: duplicate gene id\(s\) g1"),
    ],
)
def test_read_genes_bed_names_file_and_line(tmp_path, text: str, message: str):
    bed = tmp_path / "genes.bed"
    bed.write_text(text)
    with pytest.raises(InputError, match=message):
        read_genes_bed(bed)


def test_read_genes_bed_reads_bed6(tmp_path):
    bed = tmp_path / "genes.bed"
    bed.write_text("# genes\nchr1\t10\t11\tg1\t0\t+\n\nchr2\t30\t31\tg2\t5\t-\n")
    frame = read_genes_bed(bed)
    assert frame[["chrom", "tss", "gene_id", "strand"]].values.tolist() == [["chr1", 10, "g1", "+"], ["chr2", 30, "g2", "-"]]
    with pytest.raises(InputError, match="genes BED not found"):
        read_genes_bed(tmp_path / "missing.bed")

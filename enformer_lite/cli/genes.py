"""``enformer-lite genes``: a gene annotation (BED, GTF, GFF3) → one TSS per gene as BED6, named as in the FASTA."""

from __future__ import annotations

import argparse
import logging

from enformer_lite.atomic import atomic_output
from enformer_lite.data.fasta import chrom_sizes, open_fasta
from enformer_lite.data.genes import GeneFilter, place_on_fasta, read_genes, write_tss_bed
from enformer_lite.errors import InputError

log = logging.getLogger(__name__)


def configure(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--annotation", required=True,
                        help="genes: BED6 (TSS or gene bodies), GENCODE/Ensembl GTF or GFF3, plain or gzip")
    parser.add_argument("--fasta", required=True, help="reference FASTA whose chromosome names and sizes apply")
    parser.add_argument("--gene-types", nargs="*", default=[], metavar="TYPE",
                        help="keep only genes of these types (GTF/GFF3 gene_type/gene_biotype, e.g. protein_coding)")
    parser.add_argument("--transcript-tags", nargs="*", default=[], metavar="TAG",
                        help="TSS of the gene's transcript with the first of these tags present "
                             "(e.g. MANE_Select Ensembl_canonical); default: the gene record's start/end")
    parser.add_argument("--out", required=True, help="output BED6 of 1-bp TSS intervals")
    parser.add_argument("--skipped", help="also write the genes left out (with the reason) as TSV")


def run(args: argparse.Namespace) -> int:
    sizes = chrom_sizes(open_fasta(args.fasta))
    genes = read_genes(args.annotation, None, GeneFilter(tuple(args.gene_types), tuple(args.transcript_tags)))
    kept, skipped = place_on_fasta(genes, sizes, args.annotation)
    if kept.empty:
        raise InputError(f"{args.annotation}: none of its {len(genes)} gene(s) lies on a chromosome of {args.fasta} "
                         "(after the gene_types filter and chr1 ↔ 1 renaming)")
    write_tss_bed(kept, args.out)
    if args.skipped:
        with atomic_output(args.skipped) as tmp:
            skipped.to_csv(tmp, sep="\t", index=False)
    log.info("%s: %d gene TSS(s) written to %s; %d skipped", args.annotation, len(kept), args.out, len(skipped))
    return 0

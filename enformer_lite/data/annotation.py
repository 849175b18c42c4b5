"""Gene annotation files as users have them: GENCODE/Ensembl GTF and GFF3 (plain or gzip), parsed by pyranges.

One TSS per gene, 0-based:

- by default from the ``gene`` record: its start on ``+``, its end − 1 on ``−``;
- with ``transcript_tags`` (e.g. ``MANE_Select``, ``Ensembl_canonical``), from the gene's first
  transcript carrying the first of those tags that any of its transcripts carries (the same
  strand rule on the transcript); genes with no tagged transcript fall back to the gene record
  and are counted in the log;
- ``gene_types`` keeps only genes of those types (GTF ``gene_type`` in GENCODE, ``gene_biotype``
  in Ensembl; GFF3 ``gene_type`` or ``biotype``).

Gene records are the features named ``gene`` (GTF) or ending in ``gene`` (GFF3: ``gene``,
``ncRNA_gene``, ``pseudogene``). The id is ``gene_id``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from enformer_lite.errors import InputError

log = logging.getLogger(__name__)

GTF_SUFFIXES = (".gtf", ".gtf.gz")
GFF3_SUFFIXES = (".gff", ".gff3", ".gff.gz", ".gff3.gz")
TYPE_COLUMNS = ("gene_type", "gene_biotype", "biotype")


def annotation_format(path: str | os.PathLike[str]) -> str:
    """``gtf``, ``gff3`` or ``bed`` from the file name."""
    name = Path(path).name.lower()
    if name.endswith(GTF_SUFFIXES):
        return "gtf"
    if name.endswith(GFF3_SUFFIXES):
        return "gff3"
    return "bed"


def _read(path: Path, fmt: str) -> pd.DataFrame:
    import pyranges as pr

    if not path.is_file():
        raise InputError(f"{path}: gene annotation not found")
    try:
        if fmt == "gtf":
            frame = pr.read_gtf(str(path), as_df=True, duplicate_attr=True)
        else:
            frame = pr.read_gff3(str(path), as_df=True)
    except Exception as err:  # pyranges/pandas raise many unrelated types on malformed files
        raise InputError(f"{path}: cannot parse as {fmt.upper()}: {err}") from err
    if frame is None or not len(frame):
        raise InputError(f"{path}: no records in the {fmt.upper()} file")
    if "gene_id" not in frame.columns:
        raise InputError(f"{path}: {fmt.upper()} records have no gene_id attribute")
    return frame


def _tss(frame: pd.DataFrame) -> np.ndarray:
    """0-based TSS of each record: start on + (and .), end − 1 on −."""
    return np.where(frame["Strand"].astype(str).to_numpy() == "-", frame["End"].to_numpy() - 1, frame["Start"].to_numpy())


def _gene_type(frame: pd.DataFrame) -> pd.Series:
    for column in TYPE_COLUMNS:
        if column in frame.columns:
            return frame[column].astype(str)
    return pd.Series([""] * len(frame), index=frame.index)


def _transcript_tss(frame: pd.DataFrame, genes: pd.DataFrame, tags: Sequence[str], fmt: str) -> pd.Series:
    """TSS per gene id from its preferred tagged transcript (missing for genes without one)."""
    if "tag" not in frame.columns:
        return pd.Series(dtype="int64")
    transcripts = frame[frame["Feature"].astype(str).isin(("transcript", "mRNA"))]
    if fmt == "gff3" and "Parent" in transcripts.columns and "ID" in frame.columns:
        # GFF3 transcripts may lack gene_id: map Parent → the gene record's gene_id
        parent_to_gene = dict(zip(genes["ID"].astype(str), genes["gene_id"].astype(str))) if "ID" in genes else {}
        ids = transcripts["Parent"].astype(str).map(parent_to_gene)
        transcripts = transcripts.assign(gene_id=ids.where(ids.notna(), transcripts["gene_id"]))
    tag_sets = transcripts["tag"].fillna("").astype(str).str.split(",")
    chosen: dict[str, int] = {}
    for tag in tags:
        has = transcripts[tag_sets.apply(lambda values, t=tag: t in values).to_numpy(dtype=bool)]
        has = has[~has["gene_id"].astype(str).isin(chosen)]
        first = has.drop_duplicates("gene_id")
        chosen.update(zip(first["gene_id"].astype(str), _tss(first).tolist()))
    return pd.Series(chosen, dtype="int64")


def read_annotation_genes(
    path: str | os.PathLike[str], gene_types: Sequence[str] = (), transcript_tags: Sequence[str] = ()
) -> pd.DataFrame:
    """Genes of a GTF/GFF3 file as columns chrom, tss, end (= tss + 1), gene_id, score, strand.

    Rows keep the file's order; InputError names the file for a missing/unparseable file, no
    gene records, or a gene id that appears on two gene records.
    """
    file = Path(path)
    fmt = annotation_format(file)
    frame = _read(file, fmt)
    feature = frame["Feature"].astype(str)
    is_gene = feature == "gene" if fmt == "gtf" else feature.str.endswith("gene")
    genes = frame[is_gene]
    if not len(genes):
        raise InputError(f"{file}: no gene records (feature 'gene') in the {fmt.upper()} file")
    if gene_types:
        kept = _gene_type(genes).isin(gene_types)
        log.info("%s: %d of %d genes have gene type %s", file, int(kept.sum()), len(genes), ", ".join(gene_types))
        genes = genes[kept]
    ids = genes["gene_id"].astype(str)
    repeated = ids[ids.duplicated()].unique()
    if len(repeated):
        raise InputError(f"{file}: gene id(s) {', '.join(repeated[:5])} on more than one gene record")
    tss = pd.Series(_tss(genes), index=ids.to_numpy())
    if transcript_tags:
        preferred = _transcript_tss(frame, genes, transcript_tags, fmt)
        found = tss.index.isin(preferred.index)
        tss[found] = preferred[tss.index[found]].to_numpy()
        if (~found).sum():
            log.warning("%s: %d gene(s) have no transcript tagged %s; their gene record gives the TSS",
                        file, int((~found).sum()), " or ".join(transcript_tags))
    strand = genes["Strand"].astype(str).replace({"nan": "."}).to_numpy()
    out = pd.DataFrame({
        "chrom": genes["Chromosome"].astype(str).to_numpy(), "tss": tss.to_numpy(dtype=np.int64),
        "end": tss.to_numpy(dtype=np.int64) + 1, "gene_id": ids.to_numpy(), "score": ".", "strand": strand,
    })
    log.info("%s: %d genes read from %s (TSS: %s)", file, len(out), fmt.upper(),
             f"transcripts tagged {', '.join(transcript_tags)}" if transcript_tags else "gene start on +, end on −")
    return out.reset_index(drop=True)

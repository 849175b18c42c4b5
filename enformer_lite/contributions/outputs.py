"""Output files: the enhancer–gene table, a BEDPE of the top links, per-gene bigWig tracks.

All coordinates are 0-based, half-open. Every file is written under a temporary name and
renamed when complete.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import numpy.typing as npt
import pandas as pd
import pyBigWig

from enformer_lite.atomic import atomic_output, staged_bigwig
from enformer_lite.contributions.methods import TABLE_COLUMNS
from enformer_lite.errors import InputError

BEDPE_COLUMNS = ["chrom1", "start1", "end1", "chrom2", "start2", "end2", "name", "score", "strand1", "strand2"]


def write_tsv(path: str | os.PathLike[str], frame: pd.DataFrame) -> None:
    """Tab-separated with a header, 6 significant digits, ``NA`` for missing values."""
    with atomic_output(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=False, float_format="%.6g", na_rep="NA")


def read_scores(path: str | os.PathLike[str]) -> pd.DataFrame:
    """An enhancer–gene table written by this module; InputError names missing columns."""
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{file}: contributions table not found")
    frame = pd.read_csv(file, sep="\t", na_values=["NA"], keep_default_na=False, dtype={"gene": str, "element": str, "chrom": str})
    missing = [c for c in TABLE_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(f"{file}: not a contributions table, lacks column(s) {', '.join(missing)}")
    for column in [c for c in TABLE_COLUMNS if c.startswith("rank")]:
        frame[column] = frame[column].astype("Int64")
    return frame


def top_links(table: pd.DataFrame, score_column: str, top: int, promoters: bool = False) -> pd.DataFrame:
    """Each gene's ``top`` best-ranked elements (``rank`` column) whose ``score_column`` is above 0;
    the gene's own promoter (``own_promoter``) is not a link unless ``promoters``."""
    keep = (table["rank"].notna() & (table[score_column] > 0)).fillna(False).astype(bool)
    if not promoters:
        keep &= ~table["own_promoter"].eq(True)
    kept = table[keep]
    order = kept.sort_values(["rank"], kind="stable").groupby("gene", sort=False).cumcount()
    return kept[(order < top).reindex(kept.index).to_numpy()]


def bedpe_frame(links: pd.DataFrame, score_column: str) -> pd.DataFrame:
    """BEDPE rows: end 1 = the element, end 2 = the 1-bp TSS; name ``gene:element``; score from ``score_column``.

    Rows keep the order of ``links`` within a chromosome and are sorted by element start.
    """
    frame = pd.DataFrame(
        {
            "chrom1": links["chrom"].to_numpy(),
            "start1": links["start"].to_numpy(dtype=np.int64),
            "end1": links["end"].to_numpy(dtype=np.int64),
            "chrom2": links["chrom"].to_numpy(),
            "start2": links["tss"].to_numpy(dtype=np.int64),
            "end2": links["tss"].to_numpy(dtype=np.int64) + 1,
            "name": (links["gene"] + ":" + links["element"]).to_numpy(),
            "score": links[score_column].to_numpy(dtype=np.float64),
            "strand1": ".",
            "strand2": links["strand"].to_numpy(),
        }
    )
    chrom_order = {c: i for i, c in enumerate(pd.unique(frame["chrom1"]))}
    frame["_order"] = frame["chrom1"].map(chrom_order)
    return frame.sort_values(["_order", "start1", "start2"], kind="stable").drop(columns="_order")[BEDPE_COLUMNS]


def write_bedpe(
    path: str | os.PathLike[str], table: pd.DataFrame, score_column: str, top: int, promoters: bool = False
) -> int:
    """Write the top links (:func:`top_links`) as headerless BEDPE; returns the number of links."""
    frame = bedpe_frame(top_links(table, score_column, top, promoters), score_column)
    with atomic_output(path) as tmp:
        frame.to_csv(tmp, sep="\t", index=False, header=False, float_format="%.6g")
    return len(frame)


def track_file_name(gene: str) -> str:
    """File name of a gene's bigWig: the gene id with characters unsafe in paths replaced by ``_``."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", gene) + ".bw"


def write_track(
    path: str | os.PathLike[str], sizes: dict[str, int], chrom: str, start: int, values: npt.NDArray[np.floating]
) -> None:
    """Per-base ``values`` (L,) starting at ``start`` on ``chrom`` as a bigWig; bases off the
    chromosome are dropped. The header lists every chromosome of ``sizes`` (the FASTA)."""
    if chrom not in sizes:
        raise InputError(f"chromosome {chrom!r} is not in the FASTA")
    lo, hi = max(0, start), min(sizes[chrom], start + len(values))
    with atomic_output(path) as tmp, staged_bigwig(tmp) as staged:  # libBigWig crashes on a full disk
        bw = pyBigWig.open(staged, "w")
        try:
            bw.addHeader(list(sizes.items()), maxZooms=10)
            if hi > lo:
                bw.addEntries(chrom, lo, values=np.asarray(values[lo - start : hi - start], dtype=np.float64).tolist(), span=1, step=1)
        finally:
            bw.close()

"""Writers for the simulated world's FASTA, BED and tracks-table files."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pyfaidx

from enformer_lite.atomic import atomic_output
from enformer_lite.simulate.genomes import TrackDef
from enformer_lite.simulate.planting import ChromosomeLayout

FASTA_WIDTH = 60
_LETTERS = np.frombuffer(b"ACGTNacgtN", dtype=np.uint8)  # code + 5 * masked

TRACKS_COLUMNS = (
    "index",
    "id",
    "file",
    "assay",
    "strand",
    "strand_pair",
    "sum_stat",
    "clip_soft",
    "clip",
    "scale",
    "description",
)


def fasta_bytes(name: str, codes: np.ndarray, masked: np.ndarray) -> bytes:
    """One FASTA record, masked bases in lower case, lines of ``FASTA_WIDTH``."""
    letters = _LETTERS[codes.astype(np.intp) + 5 * masked]
    n_full = letters.shape[0] // FASTA_WIDTH
    body = np.concatenate(
        [letters[: n_full * FASTA_WIDTH].reshape(n_full, FASTA_WIDTH), np.full((n_full, 1), ord("\n"), np.uint8)],
        axis=1,
    ).tobytes()
    rest = letters[n_full * FASTA_WIDTH :].tobytes()
    return b">" + name.encode() + b"\n" + body + (rest + b"\n" if rest else b"")


def write_fasta(path: str | Path, layouts: list[ChromosomeLayout]) -> None:
    """Write the genome FASTA and its ``.fai`` (built by pyfaidx), each atomically."""
    path = Path(path)
    with atomic_output(path) as tmp:
        with open(tmp, "wb") as handle:
            handle.writelines(fasta_bytes(layout.name, layout.codes, layout.masked) for layout in layouts)
        pyfaidx.Faidx(str(tmp)).close()
        fai = Path(f"{tmp}.fai")
    os.replace(fai, f"{path}.fai")


def write_text(path: str | Path, text: str) -> None:
    """Write ``text`` to ``path`` atomically."""
    with atomic_output(path) as tmp:
        tmp.write_text(text)


def write_genes_bed(path: str | Path, layouts: list[ChromosomeLayout]) -> None:
    """BED6: chrom, tss, tss + 1, gene id, 0, strand."""
    lines = [
        f"{lay.name}\t{g.tss}\t{g.tss + 1}\t{g.id}\t0\t{'+' if g.strand > 0 else '-'}\n"
        for lay in layouts
        for g in lay.genes
    ]
    write_text(path, "".join(lines))


def write_candidates_bed(path: str | Path, layouts: list[ChromosomeLayout]) -> None:
    """BED5: chrom, start, end, element id, 0 (promoters, enhancers, insulators, decoys alike)."""
    lines = [f"{lay.name}\t{e.start}\t{e.end}\t{e.id}\t0\n" for lay in layouts for e in lay.elements]
    write_text(path, "".join(lines))


def _number(value: float | None) -> str:
    return "" if value is None else f"{value:g}"


def tracks_table(tracks: tuple[TrackDef, ...], directory: str) -> str:
    """The tracks table (TSV with header). ``file`` is ``{directory}/{id}.bw`` as given."""
    index = {t.spec.id: i for i, t in enumerate(tracks)}
    rows = ["\t".join(TRACKS_COLUMNS)]
    for i, t in enumerate(tracks):
        pair = i
        if t.spec.strand != ".":
            other = t.spec.id.rsplit("_", 1)[0] + ("_minus" if t.spec.strand == "+" else "_plus")
            if other not in index:
                raise ValueError(f"track {t.spec.id}: stranded track without its opposite strand {other}")
            pair = index[other]
        cells = [
            str(i),
            t.spec.id,
            os.path.join(directory, f"{t.spec.id}.bw"),
            t.spec.assay,
            t.spec.strand,
            str(pair),
            t.sum_stat,
            _number(t.clip_soft),
            _number(t.clip),
            _number(t.scale),
            t.description,
        ]
        rows.append("\t".join(cells))
    return "\n".join(rows) + "\n"

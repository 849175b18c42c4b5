"""The default calibration background: SNPs drawn from the genome's windows with a fixed seed.

Positions are drawn uniformly over the bases of ``windows.bed`` (each window counted once where
windows overlap), rejecting N bases (soft-masked bases are kept); each gets one ALT drawn
uniformly from the other three bases. The VCF is sorted, bgzipped and tabix-indexed, so
``score-variants`` scores it exactly like any user VCF.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from enformer_lite.atomic import atomic_output
from enformer_lite.data.fasta import chrom_sizes, fetch_codes, open_fasta
from enformer_lite.data.sequence import N_CODE
from enformer_lite.errors import InputError

BASES = "ACGT"


def merged_intervals(windows: pd.DataFrame, edge: int = 0) -> pd.DataFrame:
    """Union of the windows per chromosome (chrom, start, end), each shrunk by ``edge`` bp."""
    rows = []
    for chrom, part in windows.groupby("chrom", sort=False):
        part = part.sort_values("start")
        start, end = None, None
        for s, e in zip(part["start"].to_numpy() + edge, part["end"].to_numpy() - edge):
            if e <= s:
                continue
            if start is None or s > end:
                if start is not None:
                    rows.append((chrom, start, end))
                start, end = int(s), int(e)
            else:
                end = max(end, int(e))
        if start is not None:
            rows.append((chrom, start, end))
    return pd.DataFrame(rows, columns=["chrom", "start", "end"])


def read_windows_bed(path: str | os.PathLike[str]) -> pd.DataFrame:
    """chrom, start, end of a windows BED (extra columns ignored); InputError names a bad line."""
    rows = []
    file = Path(path)
    if not file.is_file():
        raise InputError(f"{file}: windows BED not found")
    for lineno, line in enumerate(file.read_text().splitlines(), start=1):
        if not line.strip() or line.startswith(("#", "track", "browser")):
            continue
        fields = line.split("\t")
        try:
            rows.append((fields[0], int(fields[1]), int(fields[2])))
        except (IndexError, ValueError):
            raise InputError(f"{file}:{lineno}: expected chrom, start, end, got {line!r}") from None
    if not rows:
        raise InputError(f"{file}: no windows")
    return pd.DataFrame(rows, columns=["chrom", "start", "end"])


def sample_background(
    fasta_path: str | os.PathLike[str], windows_path: str | os.PathLike[str], n: int, seed: int, edge: int = 0
) -> pd.DataFrame:
    """``n`` distinct SNPs (chrom, pos 1-based, id, ref, alt) on non-N bases of the windows, in genome order."""
    fasta = open_fasta(fasta_path)
    sizes = chrom_sizes(fasta)
    intervals = merged_intervals(read_windows_bed(windows_path), edge)
    unknown = sorted(set(intervals["chrom"]) - set(sizes))
    if unknown:
        raise InputError(f"{windows_path}: chromosome(s) {', '.join(unknown)} not in {fasta_path}")
    lengths = (intervals["end"] - intervals["start"]).to_numpy()
    total = int(lengths.sum())
    if total == 0 or n > total:
        raise InputError(f"{windows_path}: {total} bp of windows cannot hold {n} background SNPs")
    rng = np.random.default_rng(seed)
    cumulative = np.concatenate([[0], np.cumsum(lengths)])
    chosen: dict[int, tuple[int, int]] = {}
    for _ in range(50):
        if len(chosen) >= n:
            break
        draws = rng.integers(0, total, size=2 * (n - len(chosen)) + 8)
        alt_draws = rng.integers(0, 3, size=draws.shape[0])
        for flat, alt_k in zip(draws.tolist(), alt_draws.tolist()):
            if len(chosen) >= n:
                break
            if flat in chosen:
                continue
            i = int(np.searchsorted(cumulative, flat, side="right") - 1)
            chrom, pos = intervals["chrom"].iat[i], int(intervals["start"].iat[i] + flat - cumulative[i])
            code = int(fetch_codes(fasta, chrom, pos, pos + 1)[0])
            if code != N_CODE:
                chosen[flat] = (code, alt_k)
    if len(chosen) < n:
        raise InputError(f"{windows_path}: found only {len(chosen)} non-N positions for {n} background SNPs")
    rows = []
    for flat in sorted(chosen):
        code, alt_k = chosen[flat]
        i = int(np.searchsorted(cumulative, flat, side="right") - 1)
        others = [b for b in range(4) if b != code]
        rows.append((intervals["chrom"].iat[i], int(intervals["start"].iat[i] + flat - cumulative[i]) + 1,
                     BASES[code], BASES[others[alt_k]]))
    frame = pd.DataFrame(rows, columns=["chrom", "pos", "ref", "alt"])
    order = {c: k for k, c in enumerate(sizes)}
    frame = frame.assign(_o=frame["chrom"].map(order)).sort_values(["_o", "pos"], kind="stable").drop(columns="_o")
    frame.insert(2, "id", [f"bg{k + 1:07d}" for k in range(len(frame))])
    return frame.reset_index(drop=True)


def write_background_vcf(
    path: str | os.PathLike[str], snps: pd.DataFrame, contigs: dict[str, int], source: str
) -> None:
    """Sites-only VCFv4.2 of ``snps``, bgzipped and tabix-indexed, atomically."""
    import pysam

    lines = ["##fileformat=VCFv4.2", f"##source=enformer-lite calibration background ({source})",
             *[f"##contig=<ID={c},length={n}>" for c, n in contigs.items()],
             "#CHROM\tPOS\tID\tREF\tALT\tQUAL\tFILTER\tINFO"]
    lines += [f"{r.chrom}\t{r.pos}\t{r.id}\t{r.ref}\t{r.alt}\t.\tPASS\t." for r in snps.itertuples()]
    final = Path(path)
    with atomic_output(final) as tmp:
        plain = tmp.with_name(tmp.name + ".vcf")
        try:
            plain.write_text("\n".join(lines) + "\n")
            pysam.tabix_compress(str(plain), str(tmp), force=True)
        finally:
            plain.unlink(missing_ok=True)
        tbi = Path(f"{tmp}.tbi")
        pysam.tabix_index(str(tmp), preset="vcf", force=True, index=str(tbi))
    tbi.replace(f"{final}.tbi")


def background_vcf(
    fasta_path: str | os.PathLike[str], windows_path: str | os.PathLike[str], out: str | os.PathLike[str], n: int, seed: int,
    edge: int = 0,
) -> int:
    """Sample and write the background VCF; returns the number of SNPs."""
    snps = sample_background(fasta_path, windows_path, n, seed, edge)
    contigs = chrom_sizes(open_fasta(fasta_path))
    write_background_vcf(out, snps, contigs, f"{n} SNPs from {windows_path}, seed {seed}")
    return len(snps)

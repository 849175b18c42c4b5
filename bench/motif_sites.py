"""How hard is the simulated enhancer grammar? Motif thresholds and bound sites of the oracle.

For each TF of one simulated genome the script reports the oracle's occupancy rule (motif length,
best log-odds score and the occupancy midpoint, both in bits; :mod:`enformer_lite.simulate.oracle.scan`)
and, over a stretch of one chromosome of the genome's FASTA, how many positions are bound (occupancy
> 0.5) and how many of those are planted sites of the truth table ``elements.tsv``. It then counts,
per cell type, how many positions of the stretch have an enhancer drive above the Hill offset (the
element is active there) and how many of those have a single bound site within the drive's window.
These are the facts a model has to learn from: a cell-type enhancer opens only where near-consensus
sites of its cell type's TFs cluster within ``half_window`` bp.

Command (``$DEMO``: a checkout where ``snakemake --cores 2 resources/demo/human.fa`` has run)::

    python bench/motif_sites.py --root $DEMO --genome human --chrom chr1 --length 3000000 \\
        --out bench/results/motif_sites_demo.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
import pyfaidx

from enformer_lite.data.sequence import encode
from enformer_lite.interpret.truth import read_instances
from enformer_lite.simulate.genomes import GENOMES
from enformer_lite.simulate.motifs import SCORE_UNITS
from enformer_lite.simulate.oracle.activity import box_sum
from enformer_lite.simulate.oracle.scan import MotifScanner


def report(root: Path, genome: str, chrom: str, length: int) -> dict:
    spec = GENOMES[genome]
    params = spec.oracle_params()
    cfg = params.config
    scanner = MotifScanner(params)
    names = [m.name for m in params.motifs]
    codes = encode(str(pyfaidx.Fasta(str(root / f"resources/demo/{genome}.fa"))[chrom][:length]))
    occ = scanner.occupancy(codes)  # (K, n)
    instances = read_instances(root / f"resources/demo/{genome}/truth/elements.tsv", params.motifs)
    instances = instances[(instances["chrom"] == chrom) & (instances["end"] <= length)]
    used = sorted({tf for program in spec.programs.values() for tf in program} | {cfg.insulator})
    motifs = {}
    for tf in used:
        k = names.index(tf)
        bound = occ[k] > 0.5
        mine = instances[instances["motif"] == tf]
        in_planted = np.zeros(len(codes), bool)
        for first, last in zip(mine["start"], mine["end"]):
            in_planted[first:last] = True  # the occupancy sits at the motif centre, inside the instance
        motifs[tf] = {
            "length": int(scanner.lengths[k]),
            "best_bits": round(float(scanner.log_odds[k].max(axis=1).sum()) / SCORE_UNITS, 2),
            "midpoint_bits": round(float(scanner.thresholds[k]) / SCORE_UNITS, 2),
            "bound_positions": int(bound.sum()),
            "bound_at_planted": int((bound & in_planted).sum()),
            "planted": len(mine),
        }
    w = cfg.half_window
    weights = params.activity.copy()
    weights[:, names.index(cfg.insulator)] = 0.0
    pad = np.zeros((occ.shape[0], w))
    padded = np.concatenate([pad, occ, pad], axis=1)
    drive = box_sum(weights @ padded, w, w, len(codes))  # (C, n)
    sites = box_sum((padded > 0.5).astype(float), w, w, len(codes))  # (K, n) bound sites in the window
    cells = {}
    for c, cell in enumerate(spec.cell_types):
        active = drive[c] > cfg.hill_offset
        own = [names.index(tf) for tf, a in zip(names, params.activity[c]) if a > 0 and tf != cfg.insulator]
        n_sites = sites[own].sum(axis=0)
        cells[cell] = {"active_positions": int(active.sum()),
                       "active_with_one_site": int((active & (n_sites <= 1)).sum())}
    return {"genome": genome, "chrom": chrom, "length": length, "half_window": w, "hill_offset": cfg.hill_offset,
            "motifs": motifs, "cell_types": cells}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="checkout with resources/demo")
    parser.add_argument("--genome", default="human", choices=sorted(GENOMES))
    parser.add_argument("--chrom", default="chr1")
    parser.add_argument("--length", type=int, default=3_000_000, help="bp from the chromosome start")
    parser.add_argument("--out", type=Path)
    args = parser.parse_args()
    result = report(args.root, args.genome, args.chrom, args.length)
    text = json.dumps(result, indent=1)
    print(text)
    if args.out:
        args.out.write_text(text + "\n")


if __name__ == "__main__":
    main()

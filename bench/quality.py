"""Attention vs CNN-only: CAGE at held-out TSSs on the simulated world, beside the noise ceiling.

Trains the model twice with the same budget (steps, batch size, learning rate, seed), once with
attention and once as the CNN-only ablation (``attention: false``), evaluates both on the test
chromosomes of the human genome and compares per-gene CAGE at the TSS with the observed signal,
overall and split by whether the gene's expected CAGE is dominated by distal (> 20 kb) enhancers
(``distal_share_<cell> > 0.5`` in the simulator's ``truth/genes.tsv``). The noise ceiling is the
Pearson r of the observed signal with the oracle's expected CAGE on the same genes: what a model
that knew the truth exactly would reach against noisy observations.

Inputs come from the workflow on the larger "bench" world (``config/bench.yaml``), run in its own
directory so that the demo's results stay as they are::

    snakemake --cores 2 --configfile config/bench.yaml --directory bench/work/world \
        results/human/data.h5 results/mouse/data.h5
    python bench/quality.py --config config/bench.yaml --root bench/work/world

or, training the two models at once with one thread each (faster on 2 cores than one after the other)::

    python bench/quality.py --only attention --threads 1 & python bench/quality.py --only cnn_only --threads 1; wait
    python bench/quality.py          # reuses both results and compares them

``--config config/config.yaml --root .`` measures the demo world and budget instead (after a demo run).

The ``model:`` and ``train:`` sections of ``--config`` (default ``config/bench.yaml``) set the
architecture preset and the training budget; ``--max-steps`` etc. override them.

Each (gene, CAGE track) pair counts once; signal is summed over the TSS bin ± 1 bin on the
original scale (counts) and compared as log(1 + counts). Training resumes where it stopped
when the script is run again with the same settings. Results: printed and written to
``bench/results/quality.json``.
"""

from __future__ import annotations

import argparse
import json
import logging
import re
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import torch
import yaml
from scipy import stats

from enformer_lite.inference.evaluate import EvalConfig, evaluate
from enformer_lite.training.config import TrainConfig
from enformer_lite.training.train import train

log = logging.getLogger("quality")

VARIANTS = {"attention": True, "cnn_only": False}
TRACK_CELL = re.compile(r"^CAGE_(?P<cell>[A-Za-z0-9]+?)(_plus|_minus)?$")


def pearson_log1p(x: np.ndarray, y: np.ndarray) -> float:
    """Pearson r of log(1 + x) and log(1 + y); NaN for fewer than 3 pairs."""
    if len(x) < 3:
        return float("nan")
    return float(stats.pearsonr(np.log1p(np.maximum(x, 0)), np.log1p(np.maximum(y, 0))).statistic)


def with_truth(tss: pd.DataFrame, truth: pd.DataFrame) -> pd.DataFrame:
    """Per-gene TSS table joined with the expected CAGE and distal share of the track's cell type."""
    rows = []
    for track_id, group in tss.groupby("track_id", sort=False):
        match = TRACK_CELL.match(str(track_id))
        if not match or f"cage_{match['cell']}" not in truth.columns:
            raise ValueError(f"track {track_id!r}: no cell type with truth columns in the truth table")
        cell = match["cell"]
        joined = group.merge(truth[["gene", f"cage_{cell}", f"distal_share_{cell}"]], left_on="gene_id",
                             right_on="gene", how="left", validate="one_to_one")
        missing = joined[f"cage_{cell}"].isna()
        if missing.any():
            raise ValueError(f"genes without truth: {', '.join(joined.loc[missing, 'gene_id'].head().tolist())}")
        rows.append(joined.rename(columns={f"cage_{cell}": "expected", f"distal_share_{cell}": "distal_share"}))
    return pd.concat(rows, ignore_index=True)


def summarise(table: pd.DataFrame) -> dict[str, Any]:
    """r(model, observed), r(model, expected) and the ceiling r(observed, expected) per gene group."""
    groups = {
        "all": table,
        "distal_dominated": table[table["distal_share"] > 0.5],
        "proximal_dominated": table[table["distal_share"] <= 0.5],
    }
    out = {}
    for name, rows in groups.items():
        pred, obs, exp = (rows[c].to_numpy(float) for c in ("predicted_counts", "observed_counts", "expected"))
        out[name] = {
            "n_pairs": len(rows),
            "r_model_observed": pearson_log1p(pred, obs),
            "r_model_expected": pearson_log1p(pred, exp),
            "ceiling_r_observed_expected": pearson_log1p(obs, exp),
        }
    return out


def bootstrap_difference(a: pd.DataFrame | Sequence[pd.DataFrame], b: pd.DataFrame | Sequence[pd.DataFrame],
                         draws: int, seed: int) -> dict[str, float]:
    """r(a, observed) - r(b, observed) over genes resampled with replacement, with a 95% interval.

    ``a`` and ``b`` hold (gene_id, track_id, predicted_counts, observed_counts) rows of the same genes;
    given as equally long lists of tables (one per training seed), the difference is the mean of the
    paired differences ``r(a[i]) - r(b[i])``. Genes (not gene-track pairs) are resampled, the same draw
    for every table, so the interval reflects how few held-out genes there are.
    """
    def tables(x: pd.DataFrame | Sequence[pd.DataFrame]) -> list[pd.DataFrame]:
        return [x] if isinstance(x, pd.DataFrame) else list(x)

    if len(tables(a)) != len(tables(b)):
        raise ValueError(f"{len(tables(a))} tables against {len(tables(b))}: pass one per seed on both sides")
    keyed = [[t.set_index(["gene_id", "track_id"]).sort_index() for t in pair] for pair in zip(tables(a), tables(b))]
    genes = keyed[0][0].index.get_level_values(0).unique().to_numpy()
    rng = np.random.default_rng(seed)

    def r(rows: pd.DataFrame, chosen: np.ndarray) -> float:
        picked = rows.loc[list(chosen)]
        return pearson_log1p(picked["predicted_counts"].to_numpy(float), picked["observed_counts"].to_numpy(float))

    def diff(chosen: np.ndarray) -> float:
        return float(np.mean([r(first, chosen) - r(second, chosen) for first, second in keyed]))

    samples = np.array([diff(rng.choice(genes, size=len(genes), replace=True)) for _ in range(draws)])
    samples = samples[np.isfinite(samples)]
    low, high = np.percentile(samples, [2.5, 97.5])
    return {"difference": diff(genes), "ci95_low": float(low), "ci95_high": float(high), "n_genes": int(len(genes)),
            "n_seeds": len(keyed)}


def paired_bootstrap(tables: dict[str, pd.DataFrame], group: str, draws: int, seed: int) -> dict[str, float]:
    """:func:`bootstrap_difference` of attention minus cnn_only on one gene group."""
    def rows(table: pd.DataFrame) -> pd.DataFrame:
        return table if group == "all" else table[(table["distal_share"] > 0.5) == (group == "distal_dominated")]

    return bootstrap_difference(rows(tables["attention"]), rows(tables["cnn_only"]), draws, seed)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="config/bench.yaml",
                        help="workflow config: genomes, simulate.outdir, model: and train:")
    parser.add_argument("--root", type=Path, default=Path("bench/work/world"),
                        help="directory the workflow ran in with that config (holds resources/ and results/)")
    parser.add_argument("--genome", default="human", help="genome whose test genes are scored")
    parser.add_argument("--workdir", type=Path, default=Path("bench/work/quality"))
    parser.add_argument("--out", type=Path, default=Path("bench/results/quality.json"))
    parser.add_argument("--preset", help="model preset (default: the config's)")
    parser.add_argument("--max-steps", type=int)
    parser.add_argument("--val-check-interval", type=int)
    parser.add_argument("--batch-size", type=int)
    parser.add_argument("--lr", type=float)
    parser.add_argument("--bootstrap", type=int, default=2000, help="gene resamples for the difference's interval")
    parser.add_argument("--only", choices=sorted(VARIANTS),
                        help="train and evaluate one model only (e.g. both at once, one per core); a later run "
                             "without --only reuses its result")
    parser.add_argument("--threads", type=int, help="torch threads (default: torch's)")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")

    workflow = yaml.safe_load(Path(args.config).read_text()) or {}
    data = {name: str(args.root / "results" / name / "data.h5") for name in workflow["genomes"]}
    genes = str(args.root / workflow["genomes"][args.genome]["genes"])
    truth = pd.read_csv(args.root / workflow["simulate"]["outdir"] / args.genome / "truth" / "genes.tsv", sep="\t")
    overrides = {key: getattr(args, key) for key in ("max_steps", "val_check_interval", "batch_size", "lr")}
    cfg = TrainConfig.from_dict({**(workflow.get("train") or {}), "progress_bar": False,
                                 **{k: v for k, v in overrides.items() if v is not None}})
    preset = args.preset or (workflow.get("model") or {}).get("preset", "lite")
    report: dict[str, Any] = {"settings": {k: str(v) if isinstance(v, Path) else v for k, v in vars(args).items()},
                              "preset": preset, "train": cfg.to_dict(), "variants": {}}
    for name, attention in VARIANTS.items():
        if args.only and name != args.only:
            continue
        outdir = args.workdir / name
        saved = args.workdir / f"{name}.result.json"
        if saved.is_file():
            previous = json.loads(saved.read_text())
            if previous["train"] == cfg.to_dict() and previous["preset"] == preset:
                report["variants"][name] = previous["result"]
                log.info("%s: reusing %s", name, saved)
                continue
        start = time.perf_counter()
        train(data, outdir, {**(workflow.get("model") or {}), "preset": preset, "attention": attention}, cfg)
        train_s = time.perf_counter() - start
        start = time.perf_counter()
        result = evaluate(outdir / "best.ckpt", data[args.genome], genes=genes, cfg=EvalConfig(tss_flank_bins=1))
        eval_s = time.perf_counter() - start
        table = with_truth(result.tss, truth)
        table.to_csv(args.workdir / f"{name}.tss.tsv", sep="\t", index=False)
        tracks = result.tracks
        report["variants"][name] = {
            "train_seconds_this_run": round(train_s, 1),
            "eval_seconds": round(eval_s, 1),
            "tss": summarise(table),
            "mean_track_pearson_positions": float(np.nanmean(tracks["pearson"])),
            "per_track": tracks[["track_id", "pearson", "n_genes", "pearson_tss_log1p"]].to_dict("records"),
        }
        saved.write_text(json.dumps({"train": cfg.to_dict(), "preset": preset, "result": report["variants"][name]},
                                    indent=2, default=float) + "\n")
    if args.only:
        return
    tables = {name: pd.read_csv(args.workdir / f"{name}.tss.tsv", sep="\t") for name in VARIANTS}
    report["attention_minus_cnn"] = {group: paired_bootstrap(tables, group, args.bootstrap, seed=0)
                                     for group in ("all", "distal_dominated", "proximal_dominated")}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(report, indent=2, default=float) + "\n")
    print("| model | genes | n pairs | r(model, observed) | r(model, expected) | ceiling r(observed, expected) |")
    print("| --- | --- | --- | --- | --- | --- |")
    for name, result in report["variants"].items():
        for group, values in result["tss"].items():
            print(f"| {name} | {group} | {values['n_pairs']} | {values['r_model_observed']:.3f} | "
                  f"{values['r_model_expected']:.3f} | {values['ceiling_r_observed_expected']:.3f} |")
    for group, values in report["attention_minus_cnn"].items():
        print(f"attention - cnn_only, r(model, observed), {group}: {values['difference']:+.3f} "
              f"(95% bootstrap interval over {values['n_genes']} genes: {values['ci95_low']:+.3f} .. "
              f"{values['ci95_high']:+.3f})")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()

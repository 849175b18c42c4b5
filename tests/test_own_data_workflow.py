"""The README's "Use your own data" route, run as a user runs it: one genome named hg38, a bgzipped
FASTA with bare chromosome names and an alt contig, bigWigs with chr names, a GENCODE-style GTF of
gene bodies (protein-coding genes kept), an ENCODE-style gzipped blacklist with chr names, a VCF
with chr names; `snakemake --cores 2 --configfile my.yaml` from the repository root (a copy of it
for the real run). Nothing of the demo may appear.
"""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pysam
import pytest
import yaml

from test_slurm_cluster import copy_checkout

ROOT = Path(__file__).resolve().parents[1]
DEMO_WORDS = ("resources/demo", "resources/ci", "mouse", "rule simulate", "human")
BLACKLIST = [("3", 200_000), ("3", 333_333), ("1", 150_000)]  # (chrom as in the FASTA, start); 700 bp each


def run(args: list[str], cwd: Path) -> subprocess.CompletedProcess:
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, env=env)


@pytest.fixture(scope="module")
def user_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A user's files made from a simulated world, renamed and reformatted the way real data differ."""
    base = tmp_path_factory.mktemp("own")
    world = base / "sim"
    made = run([sys.executable, "-m", "enformer_lite.cli", "simulate", "--size", "ci", "--seed", "3",
                "--genomes", "human", "--outdir", str(world)], ROOT)
    assert made.returncode == 0, made.stderr[-2000:]
    data = base / "data"
    data.mkdir()
    # FASTA: bare Ensembl names, plus an alt contig that copies part of the test chromosome
    text = (world / "human.fa").read_text().replace(">chr", ">")
    chr3 = text.split(">3\n", 1)[1].split(">", 1)[0].replace("\n", "")
    text += ">3_KI270000v1_alt\n" + "\n".join(chr3[i : i + 60] for i in range(0, 400_000, 60)) + "\n"
    plain = data / "GRCh38.fa"
    plain.write_text(text)
    pysam.tabix_compress(str(plain), str(data / "GRCh38.fa.gz"))
    plain.unlink()
    # bigWigs stay where another tool wrote them (chr names); tracks table with absolute paths
    shutil.copy(world / "human" / "tracks.tsv", data / "tracks.tsv")
    # genes: a GTF of gene bodies (+: start at the TSS, -: end at the TSS), 1-based as GTF is
    genes = pd.read_csv(world / "human" / "genes.bed", sep="\t", header=None,
                        names=["chrom", "tss", "end", "gene_id", "score", "strand"])
    lines = ["##description: test annotation (GENCODE-style)"]
    for i, g in enumerate(genes.itertuples()):
        start, end = (g.tss + 1, g.tss + 3000) if g.strand == "+" else (max(1, g.tss - 2999), g.tss + 1)
        gene_type = "lncRNA" if i % 5 == 4 else "protein_coding"
        lines.append(f'{g.chrom}\tHAVANA\tgene\t{start}\t{end}\t.\t{g.strand}\t.\t'
                     f'gene_id "{g.gene_id}.1"; gene_type "{gene_type}"; gene_name "{g.gene_id}";')
    (data / "genes.gtf.gz").write_bytes(gzip.compress(("\n".join(lines) + "\n").encode()))
    (data / "blacklist.bed.gz").write_bytes(gzip.compress("".join(
        f"chr{chrom}\t{start}\t{start + 700}\tHigh Signal Region\n" for chrom, start in BLACKLIST).encode()))
    shutil.copy(world / "human" / "candidates.bed", data / "dnase_peaks.bed")
    shutil.copy(world / "human" / "variants.vcf.gz", data / "calls.vcf.gz")
    config = {
        "genomes": {"hg38": {
            "fasta": str(data / "GRCh38.fa.gz"), "tracks": str(data / "tracks.tsv"),
            "genes": str(data / "genes.gtf.gz"), "candidates": str(data / "dnase_peaks.bed"),
            "splits": {"valid": ["2"], "test": ["3"]},
            "gene_types": ["protein_coding"], "blacklist": str(data / "blacklist.bed.gz"),
        }},
        "windows": {"stride": 131072},
        "model": {"preset": "tiny"},
        "train": {"batch_size": 2, "max_steps": 4, "val_check_interval": 4, "limit_val_batches": 2,
                  "checkpoint_every_n_steps": 4, "warmup_steps": 1, "log_every_n_steps": 2},
        "predict": {"n_default_regions": 1},
        "variants": {"vcfs": {"calls": {"path": str(data / "calls.vcf.gz"), "genome": "hg38"}},
                     "n_chunks": 1, "limit": 4, "regions": ["3"]},
        "contributions": {"max_genes": 1, "chunks": 1, "deletion_draws": 1},
        "plots": {"auto_loci": 1, "top_variants": 1, "n_contribution_genes": 1},
    }
    (base / "my.yaml").write_text(yaml.safe_dump(config))
    return base


def test_dry_run_from_the_repository_root_uses_only_the_users_files(user_data: Path) -> None:
    result = run(["snakemake", "--dry-run", "--printshellcmds", "--cores", "2", "--configfile",
                  str(user_data / "my.yaml")], ROOT)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    shown = result.stdout.replace(str(user_data), "USER")
    for word in DEMO_WORDS:
        assert word not in shown, word
    assert "results/hg38/windows.bed" in shown and "results/variants/calls" in shown


@pytest.fixture(scope="module")
def finished(user_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    checkout = copy_checkout(tmp_path_factory.mktemp("checkout"))
    result = run(["snakemake", "--cores", "2", "--configfile", str(user_data / "my.yaml")], checkout)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-4000:]
    return checkout


def test_the_run_ends_with_nothing_of_the_demo(finished: Path) -> None:
    assert sorted(p.name for p in (finished / "results").iterdir() if p.is_dir()) == [
        "contributions", "eval", "hg38", "model", "plots", "predict", "variants"]
    assert not (finished / "resources").exists()
    for name in ("hg38.tsv", "hg38.tss.tsv"):
        assert (finished / "results" / "eval" / name).is_file()
    assert (finished / "results" / "variants" / "calls.vcf.gz").is_file()
    assert not list((finished / "results" / "variants").glob("demo*"))


def test_alt_contigs_take_no_part(finished: Path) -> None:
    chroms = {line.split("\t")[0] for line in (finished / "results/hg38/windows.bed").read_text().splitlines()}
    assert chroms == {"1", "2", "3", "4"}


def test_gtf_tss_equal_an_independent_reading(finished: Path, user_data: Path) -> None:
    expected = {}
    for line in gzip.decompress((user_data / "data/genes.gtf.gz").read_bytes()).decode().splitlines():
        if line.startswith("#") or 'gene_type "protein_coding"' not in line:
            continue
        cols = line.split("\t")
        gene = cols[8].split('gene_id "')[1].split('"')[0]
        expected[gene] = (cols[0].removeprefix("chr"), int(cols[3]) - 1 if cols[6] == "+" else int(cols[4]) - 1)
    prepared = pd.read_csv(finished / "results/hg38/genes.bed", sep="\t", header=None, dtype={0: str},
                           names=["chrom", "tss", "end", "gene_id", "score", "strand"])
    assert {g.gene_id: (g.chrom, g.tss) for g in prepared.itertuples()} == expected
    tss = pd.read_csv(finished / "results/eval/hg38.tss.tsv", sep="\t", dtype={"chrom": str})
    assert len(tss)
    for row in tss.drop_duplicates("gene_id").itertuples():
        assert (row.chrom, row.tss) == expected[row.gene_id]


def test_blacklisted_bins_are_masked(finished: Path) -> None:
    import h5py

    with h5py.File(finished / "results/hg38/data.h5") as h5:
        windows, mask = h5["windows"][:], h5["target_mask"][:]
        bin_size, length, target = (int(h5.attrs[k]) for k in ("bin_size", "window_length", "target_length"))
    crop = (length // bin_size - target) // 2
    hits = 0
    for window, row in zip(windows, mask):
        first = int(window["start"]) // bin_size + crop
        for chrom, start in BLACKLIST:
            if window["chrom"].decode() != chrom:
                continue
            for b in range(start // bin_size, -(-(start + 700) // bin_size)):
                if first <= b < first + target:
                    assert row[b - first] == 0
                    hits += 1
    assert hits > 0


def _planned_jobs(finished: Path, user_data: Path, change: dict, name: str) -> tuple[dict[str, int], str]:
    """Jobs a dry run plans after ``change`` (merged into my.yaml): rule → count, and the dry run's text."""
    config = yaml.safe_load((user_data / "my.yaml").read_text())
    for section, values in change.items():
        target = config.setdefault(section, {})
        for key, value in values.items():
            if isinstance(value, dict) and isinstance(target.get(key), dict):
                target[key] = {**target[key], **value}
            else:
                target[key] = value
    path = user_data / f"{name}.yaml"
    path.write_text(yaml.safe_dump(config))
    result = run(["snakemake", "--dry-run", "--printshellcmds", "--cores", "2", "--configfile", str(path)], finished)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    jobs: dict[str, int] = {}
    if "Job stats:" in result.stdout:
        table = result.stdout.split("Job stats:", 1)[1].splitlines()
        for line in table[3:]:
            fields = line.split()
            if len(fields) != 2 or fields[0] == "total":
                break
            jobs[fields[0]] = int(fields[1])
    return jobs, result.stdout


def test_a_hardware_only_change_reruns_nothing(finished: Path, user_data: Path) -> None:
    change = {"train": {"num_workers": 1, "progress_bar": False, "checkpoint_every_n_steps": 2,
                        "trainer": {"precision": "32-true", "accelerator": "cpu"}},
              "evaluate": {"batch_size": 7, "device": "cpu", "num_workers": 1},
              "predict": {"batch_size": 3, "device": "cpu"},
              "variants": {"batch_size": 3, "block_size": 100, "device": "cpu"},
              "contributions": {"batch_size": 3, "device": "cpu"}}
    jobs, text = _planned_jobs(finished, user_data, change, "hardware")
    assert jobs == {}, text[-3000:]


def test_a_new_vcf_reruns_only_its_own_jobs(finished: Path, user_data: Path) -> None:
    config = yaml.safe_load((user_data / "my.yaml").read_text())
    calls = config["variants"]["vcfs"]["calls"]
    jobs, text = _planned_jobs(finished, user_data, {"variants": {"vcfs": {**config["variants"]["vcfs"],
                                                                           "more": dict(calls)}}}, "new_vcf")
    assert jobs and "train" not in jobs and "evaluate" not in jobs, jobs
    outputs = [line.split(":", 1)[1].strip() for line in text.splitlines() if line.strip().startswith("output:")]
    assert outputs and all("more" in out for out in outputs), outputs


def test_a_learning_change_retrains(finished: Path, user_data: Path) -> None:
    jobs, _ = _planned_jobs(finished, user_data, {"train": {"lr": 0.001}}, "learning")
    assert jobs.get("train") == 1 and "evaluate" in jobs
    assert "extract" not in jobs and "windows" not in jobs  # data do not depend on the learning rate

"""The data rules under Snakemake: own-data config → windows → per-chromosome parts → data.h5."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pyfaidx
import yaml

from conftest import TINY_SPEC, make_tiny_genome

ROOT = Path(__file__).resolve().parents[1]


def test_snakemake_builds_data_h5_from_own_files(tmp_path: Path) -> None:
    genome = make_tiny_genome(tmp_path / "inputs")
    config = {
        "simulate": {"enabled": False},
        "genomes": {
            "human": {
                "fasta": str(genome.fasta),
                "tracks": str(genome.tracks),
                "splits": {"valid": ["chr2"], "test": ["chr3"]},
            }
        },
        "windows": {
            "length": TINY_SPEC.length, "stride": TINY_SPEC.stride, "bin_size": TINY_SPEC.bin_size,
            "target_length": TINY_SPEC.target_length, "max_n_fraction": TINY_SPEC.max_n_fraction,
        },
    }
    config_file = tmp_path / "own.yaml"
    config_file.write_text(yaml.safe_dump(config))
    work = tmp_path / "work"
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "--snakefile", str(ROOT / "Snakefile"), "--directory", str(work),
         "--configfile", str(config_file), "--cores", "1", "results/human/data.h5"],
        capture_output=True, text=True,
        env={**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"},
    )
    assert result.returncode == 0, result.stderr[-3000:]
    with h5py.File(work / "results/human/data.h5") as h5:
        chroms = [c.decode() for c in h5["windows"]["chrom"]]
        assert sorted(set(chroms)) == ["chr1", "chr2", "chr3"]
        row = chroms.index("chr3")
        start = int(h5["windows"]["start"][row])
        fa = pyfaidx.Fasta(str(genome.fasta))
        want = str(fa["chr3"][start : start + TINY_SPEC.length]).upper()
        got = "".join("ACGTN"[c] for c in h5["sequence"][row][: len(want)])
        assert got == want
        assert np.isfinite(h5["targets"][...].astype(np.float32)).all()
    assert not list((work / "results/human").glob("parts/*.h5")), "temporary parts should be removed"
    assert (work / "logs/windows/human.log").read_text().count("dropped") == 1

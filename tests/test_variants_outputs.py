"""Writing outputs from a score file: annotated VCF edge cases, atomic failure, skipped table."""

from __future__ import annotations

from pathlib import Path

import cyvcf2
import numpy as np
import pandas as pd
import pytest

from enformer_lite.errors import InputError
from enformer_lite.variants.outputs import output_paths, write_outputs
from enformer_lite.variants.store import ScoreWriter
from test_variants_support import TRACKS, write_vcf


def _score_file(path: Path, alleles: list[tuple[int, int, str, int, str, str, bool]], sad: np.ndarray,
                skips: list[tuple[int, int, str, int, str, str]] = ()) -> Path:
    """A score file with alleles (record, alt_index, chrom, pos, ref, alt, flipped) and their SAD (N, T)."""
    scores = np.zeros((len(alleles), 4, len(TRACKS)), np.float32)
    scores[:, 0] = sad
    columns = {
        "record": [a[0] for a in alleles], "alt_index": [a[1] for a in alleles], "chrom": [a[2] for a in alleles],
        "vcf_chrom": [a[2] for a in alleles], "pos": [a[3] for a in alleles], "id": ["."] * len(alleles),
        "ref": [a[4] for a in alleles], "alt": [a[5] for a in alleles], "flipped": [a[6] for a in alleles],
        "window_start": [0] * len(alleles),
    }
    skip_columns = {k: [] for k in ("record", "alt_index", "chrom", "pos", "id", "ref", "alt", "reason", "detail")}
    for record, alt_index, chrom, pos, ref, alt in skips:
        for key, value in zip(("record", "alt_index", "chrom", "pos", "id", "ref", "alt", "reason", "detail"),
                              (record, alt_index, chrom, pos, ".", ref, alt, "symbolic_alt", "")):
            skip_columns[key].append(value)
    with ScoreWriter(path, TRACKS, [], {"head": "human"}) as writer:
        writer.add_alleles(columns, scores)
        writer.add_skips(skip_columns)
    return path


def test_flipped_alleles_are_annotated_in_vcf_orientation(tmp_path: Path) -> None:
    vcf = write_vcf(tmp_path / "in.vcf", ["chr1\t10\t.\tA\tG,<DEL>", "chr1\t20\t.\tC\tT", "chr1\t30\t.\tG\t."])
    sad = np.array([[0.5, -2.0, 1.0], [3.0, 0.1, -0.2]], np.float32)
    h5 = _score_file(tmp_path / "s.h5", [(0, 0, "chr1", 10, "A", "G", False), (1, 0, "chr1", 20, "T", "C", True)], sad,
                     [(0, 1, "chr1", 10, "A", "<DEL>")])
    paths = write_outputs(h5, vcf, tmp_path / "out")
    records = list(cyvcf2.VCF(str(paths["vcf"])))
    assert records[0].INFO.get("EL_STATUS") == "scored,symbolic_alt"
    assert records[0].INFO.get("EL_SAD") == pytest.approx((-2.0, None))
    assert records[0].INFO.get("EL_SAD_TRACK") == "cage_minus,."
    assert records[1].INFO.get("EL_STATUS") == "flipped"
    assert records[1].INFO.get("EL_SAD") == pytest.approx(-3.0)  # scored T→C, the VCF says C→T
    assert records[2].INFO.get("EL_STATUS") is None  # ALT '.', not in the score file
    skipped = pd.read_csv(paths["skipped"], sep="\t")
    assert skipped[["pos", "alt", "reason"]].values.tolist() == [[10, "<DEL>", "symbolic_alt"]]
    table = pd.read_csv(paths["tsv"], sep="\t")
    assert table["SAD:cage_minus"].tolist() == pytest.approx([-2.0, 0.1])


def test_unsorted_vcf_fails_cleanly(tmp_path: Path) -> None:
    vcf = write_vcf(tmp_path / "in.vcf", ["chr1\t20\t.\tC\tT", "chr1\t10\t.\tA\tG"])
    h5 = _score_file(tmp_path / "s.h5", [(0, 0, "chr1", 20, "C", "T", False), (1, 0, "chr1", 10, "A", "G", False)],
                     np.ones((2, 3), np.float32))
    with pytest.raises(InputError, match="sorted"):
        write_outputs(h5, vcf, tmp_path / "out")
    paths = output_paths(tmp_path / "out")
    assert not paths["vcf"].exists() and not paths["tbi"].exists()
    assert not [p for p in tmp_path.iterdir() if ".tmp" in p.name]


def test_scores_of_another_vcf_are_rejected(tmp_path: Path) -> None:
    vcf = write_vcf(tmp_path / "in.vcf", ["chr1\t10\t.\tA\tG", "chr1\t20\t.\tC\tT"])
    h5 = _score_file(tmp_path / "s.h5", [(1, 0, "chr1", 25, "C", "T", False)], np.ones((1, 3), np.float32))
    with pytest.raises(InputError, match="do not belong together"):
        write_outputs(h5, vcf, tmp_path / "out")

"""Published targets tables (Basenji/Enformer ``targets_human.txt``, Borzoi's extra columns) as tracks tables."""

from __future__ import annotations

from pathlib import Path

import pytest

from enformer_lite.data.tracks import read_tracks_table
from enformer_lite.errors import InputError

# The published layout: a header, then index, genome, identifier, file, clip, scale, sum_stat, description.
ENFORMER_ROWS = [
    "index\tgenome\tidentifier\tfile\tclip\tscale\tsum_stat\tdescription",
    "0\t0\tENCFF833POA\t/home/drk/tillage/datasets/human/dnase/encode/ENCSR000EIE/summary/coverage.w5\t32\t2\tmean\tDNASE:cerebellum male adult (27 years) and male adult (35 years)",
    "1\t0\tCNhs11760\t/home/drk/tillage/datasets/human/cage/fantom/CNhs11760/summary/coverage.w5\t384\t1\tsum\tCAGE:aorta, adult, pool1",
    "2\t0\tENCFF031NKP\t/home/drk/tillage/datasets/human/chip/encode/ENCSR000BGZ/summary/coverage.w5\t32\t2\tmean\tCHIP:H3K4me3:HepG2",
]


def test_enformer_targets_table_reads_with_ids_assays_and_transforms(tmp_path: Path) -> None:
    table = tmp_path / "targets_human.txt"
    table.write_text("\n".join(ENFORMER_ROWS) + "\n")
    tracks = read_tracks_table(table)
    assert [t.id for t in tracks] == ["ENCFF833POA", "CNhs11760", "ENCFF031NKP"]
    assert [t.assay for t in tracks] == ["DNASE", "CAGE", "CHIP"]
    assert [(t.clip, t.scale, t.sum_stat) for t in tracks] == [(32.0, 2.0, "mean"), (384.0, 1.0, "sum"), (32.0, 2.0, "mean")]
    assert tracks[1].description == "CAGE:aorta, adult, pool1"
    assert [t.strand_pair for t in tracks] == [0, 1, 2] and all(t.strand == "." for t in tracks)


def test_borzoi_columns_and_an_unsupported_sum_stat(tmp_path: Path) -> None:
    header = "index\tidentifier\tfile\tclip\tclip_soft\tscale\tsum_stat\tstrand_pair\tdescription"
    rows = [header, "0\tCNhs1+\tf.w5\t768\t384\t0.3\tsum\t1\tCAGE:liver +", "1\tCNhs1-\tf.w5\t768\t384\t0.3\tsum\t0\tCAGE:liver -"]
    table = tmp_path / "targets.txt"
    table.write_text("\n".join(rows) + "\n")
    tracks = read_tracks_table(table)
    assert [(t.clip_soft, t.strand_pair) for t in tracks] == [(384.0, 1), (384.0, 0)]
    table.write_text("\n".join([header, "0\tx\tf.w5\t768\t384\t0.3\tsum_sqrt\t0\tRNA:liver"]) + "\n")
    with pytest.raises(InputError, match=r"line 2 \(track 'x'\).*sum_sqrt is not supported"):
        read_tracks_table(table)


def test_tracks_are_selected_by_id_assay_and_description(tmp_path: Path) -> None:
    from enformer_lite.data.tracks import select_tracks

    table = tmp_path / "targets_human.txt"
    table.write_text("\n".join(ENFORMER_ROWS + [
        "3\t0\tCNhs10624\tx.w5\t384\t1\tsum\tCAGE:liver, adult, pool1",
        "4\t0\tENCFF001\ty.w5\t32\t2\tmean\tDNASE:liver tissue female",
    ]) + "\n")
    tracks = read_tracks_table(table)
    ids = lambda chosen: [t.id for t in chosen]  # noqa: E731
    assert ids(select_tracks(tracks, ["CAGE:.*liver"])) == ["CNhs10624"]
    assert ids(select_tracks(tracks, ["CAGE:"])) == ["CNhs11760", "CNhs10624"]
    assert ids(select_tracks(tracks, ["liver"])) == ["CNhs10624", "ENCFF001"]
    assert ids(select_tracks(tracks, ["ENCFF031NKP", "DNASE:cerebellum"])) == ["ENCFF833POA", "ENCFF031NKP"]
    assert select_tracks(tracks, []) == tracks
    with pytest.raises(InputError, match="'CAGE:.*kidney' matches no track"):
        select_tracks(tracks, ["CAGE:.*kidney"])
    with pytest.raises(InputError, match="not a regular expression"):
        select_tracks(tracks, ["(("])

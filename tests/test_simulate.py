"""The simulated world: determinism, file formats, and agreement with the oracle."""

from __future__ import annotations

import argparse
import csv
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyBigWig
import pyfaidx
import pysam
import pytest

from enformer_lite.cli import simulate as cli
from enformer_lite.data.sequence import encode
from enformer_lite.simulate.genomes import HUMAN, MOUSE
from enformer_lite.simulate.observe import NoiseConfig
from enformer_lite.simulate.oracle import GeneSet, Oracle
from enformer_lite.simulate.outputs import TRACKS_COLUMNS
from enformer_lite.simulate.world import simulate

SEED = 7


@pytest.fixture(scope="module")
def worlds(tmp_path_factory):
    """World A (human + mouse), B (same seed, human only, through the CLI), C (other seed)."""
    root = tmp_path_factory.mktemp("worlds")
    cwd = os.getcwd()
    os.chdir(root)  # tracks.tsv paths are relative to the working directory, as given
    try:
        simulate("tiny", SEED, "a")
        parser = argparse.ArgumentParser()
        cli.configure(parser)
        assert (
            cli.run(parser.parse_args(["--size", "tiny", "--seed", str(SEED), "--outdir", "b", "--genomes", "human"]))
            == 0
        )
        simulate("tiny", SEED + 1, "c", genomes=("human",))
    finally:
        os.chdir(cwd)
    return root


def human_files(directory: Path) -> list[Path]:
    return sorted(
        p.relative_to(directory)
        for p in directory.rglob("*")
        if p.is_file() and "mouse" not in p.name and "mouse" not in p.parts
    )


def read_genes(path: Path) -> dict[str, GeneSet]:
    rows = [line.split("\t") for line in path.read_text().splitlines()]
    out = {}
    for chrom in dict.fromkeys(r[0] for r in rows):
        mine = [r for r in rows if r[0] == chrom]
        out[chrom] = GeneSet(
            tuple(r[3] for r in mine),
            np.array([int(r[1]) for r in mine], dtype=np.int64),
            np.array([1 if r[5].strip() == "+" else -1 for r in mine], dtype=np.int8),
        )
    return out


@pytest.fixture(scope="module")
def human_oracle(worlds):
    """The oracle re-run from the written FASTA and genes.bed of world A, chr1."""
    fasta = pyfaidx.Fasta(str(worlds / "a" / "human.fa"))
    genes = read_genes(worlds / "a" / "human" / "genes.bed")
    codes = encode(str(fasta["chr1"][:]))
    return Oracle(HUMAN.oracle_params()).evaluate(codes, genes["chr1"])


def test_same_seed_gives_identical_bytes(worlds):
    a, b = worlds / "a", worlds / "b"
    files = human_files(b)
    names = {str(f) for f in files}
    for expected in (
        "human.fa",
        "human.fa.fai",
        "human/genes.bed",
        "human/candidates.bed",
        "human/variants.vcf.gz",
        "human/variants.vcf.gz.tbi",
        "human/DNASE_erythroid.bw",
        "human/CAGE_hepatocyte_plus.bw",
        "human/truth/variants.tsv",
        "human/truth/enhancer_gene.tsv",
        "human/truth/genes.tsv",
    ):
        assert expected in names
    assert files == human_files(a)
    for f in files:
        if f.name == "tracks.tsv":  # holds the output directory name, which differs
            continue
        assert (a / f).read_bytes() == (b / f).read_bytes(), f


def test_different_seed_differs(worlds):
    a, c = worlds / "a", worlds / "c"
    for f in ("human.fa", "human/variants.vcf.gz", "human/DNASE_myeloid.bw", "human/genes.bed"):
        assert (a / f).read_bytes() != (c / f).read_bytes(), f


def test_no_temporary_files_left(worlds):
    assert not [p for p in worlds.rglob(".*") if p.is_file()]


def test_fasta_chromosomes(worlds):
    for genome in ("human", "mouse"):
        fasta = pyfaidx.Fasta(str(worlds / "a" / f"{genome}.fa"))
        names = list(fasta.keys())
        assert names == [f"chr{i + 1}" for i in range(len(names))]
        seq = "".join(str(fasta[c][:]) for c in names)
        for c in names:
            assert len(fasta[c]) >= 1_000_000
            assert str(fasta[c][:100]) == "N" * 100  # every chromosome starts with a gap
        upper = np.frombuffer(seq.upper().encode(), np.uint8)
        called = upper != ord("N")
        gc = np.isin(upper, [ord("C"), ord("G")]).sum() / called.sum()
        assert 0.38 < gc < 0.44
        lower = np.frombuffer(seq.encode(), np.uint8) >= ord("a")
        assert 0.15 < lower.sum() / called.sum() < 0.5


def test_tracks_tables(worlds):
    ids = {}
    for genome, spec in (("human", HUMAN), ("mouse", MOUSE)):
        path = worlds / "a" / genome / "tracks.tsv"
        with open(path) as handle:
            rows = list(csv.DictReader(handle, delimiter="\t"))
        assert tuple(rows[0].keys()) == TRACKS_COLUMNS
        for i, row in enumerate(rows):
            assert int(row["index"]) == i
            assert row["file"] == os.path.join("a", genome, f"{row['id']}.bw")
            assert (worlds / row["file"]).exists()
            pair = rows[int(row["strand_pair"])]
            assert int(pair["strand_pair"]) == i
            assert (row["strand"] == ".") == (pair is row)
            if row["strand"] != ".":
                assert {row["strand"], pair["strand"]} == {"+", "-"}
        ids[genome] = {r["id"] for r in rows}
        assays = [r["assay"] for r in rows]
        if genome == "human":
            assert len(rows) >= 8 and assays.count("DNASE") == 3 and "CHIP" in assays
            assert len({r["description"].split(",")[1] for r in rows if r["assay"] == "CAGE"}) == 3
            assert sorted(r["strand"] for r in rows if r["strand"] != ".") == ["+", "-"]
            assert any(r["clip"] == "" for r in rows)
        else:
            assert len(rows) >= 4
    assert ids["human"] != ids["mouse"]


def test_bigwig_header_follows_fasta_and_gaps_are_missing(worlds):
    fai = [line.split("\t")[:2] for line in (worlds / "a" / "human.fa.fai").read_text().splitlines()]
    bw = pyBigWig.open(str(worlds / "a" / "human" / "DNASE_erythroid.bw"))
    assert list(bw.chroms().items()) == [(name, int(length)) for name, length in fai]
    assert np.isnan(bw.values("chr1", 0, 100)).all()
    assert not np.isnan(bw.values("chr1", 500_000, 500_100)).any()


def test_bigwig_sums_match_expected(worlds, human_oracle):
    """Observed signal is a negative-binomial sample of the oracle's expected signal:
    totals over the chromosome and over its strongest stretches lie within 5 standard
    deviations of the expectation, and 128-bp bins are high where expected."""
    length = human_oracle.length
    res = NoiseConfig().resolution
    n_full = length // res
    per_base = human_oracle.base_tracks(0, n_full * res)
    mu = per_base.reshape(n_full, res, -1).sum(axis=1)  # (chunks, T)
    called = human_oracle.codes[: n_full * res].reshape(n_full, res).max(axis=1) < 4
    expected_bins = human_oracle.tracks(128)
    for j, spec in enumerate(HUMAN.tracks):
        bw = pyBigWig.open(str(worlds / "a" / "human" / f"{spec.spec.id}.bw"))
        values = np.asarray(bw.values("chr1", 0, n_full * res), dtype=np.float64)
        observed = np.nan_to_num(values).reshape(n_full, res).sum(axis=1)
        assert np.isnan(values.reshape(n_full, res)[~called]).all()
        r = NoiseConfig().dispersion[spec.spec.assay]
        m = mu[called, j]
        variance = m + m**2 / r
        for pick in (np.ones(m.shape[0], bool), m > np.quantile(m, 0.999)):
            z = (observed[called][pick].sum() - m[pick].sum()) / np.sqrt(variance[pick].sum())
            assert abs(z) < 5, (spec.spec.id, z)
        bins = np.add.reduceat(np.nan_to_num(np.asarray(bw.values("chr1", 0, length))), np.arange(0, length, 128))
        top = expected_bins[:, j] >= np.quantile(expected_bins[:, j], 0.99)
        assert bins[top].mean() > 3 * bins[~top].mean(), spec.spec.id  # the signal sits where expected


def test_files_reproduce_truth_genes(worlds, human_oracle):
    truth = pd.read_csv(worlds / "a" / "human" / "truth" / "genes.tsv", sep="\t")
    chr1 = truth[truth.chrom == "chr1"]
    for c, cell in enumerate(HUMAN.cell_types):
        np.testing.assert_allclose(chr1[f"cage_{cell}"], human_oracle.cage[:, c], rtol=1e-5, atol=1e-4)


def test_gene_density_and_enhancer_distances(worlds):
    genes = pd.read_csv(worlds / "a" / "human" / "genes.bed", sep="\t", header=None)
    fai = pd.read_csv(worlds / "a" / "human.fa.fai", sep="\t", header=None)
    per_mb = len(genes) / (fai[1].sum() / 1e6)
    assert 8 <= per_mb <= 15
    elements = pd.read_csv(worlds / "a" / "human" / "truth" / "elements.tsv", sep="\t")
    assert set(elements.kind) == {"promoter", "enhancer", "insulator", "decoy"}
    tss = dict(zip(genes[3], genes[1]))
    enh = elements[(elements.kind == "enhancer")]
    distance = (enh.start + enh.end) // 2 - enh.planted_for.map(tss)
    distance = distance.abs()
    assert ((distance >= 2_000) & (distance <= 150_000)).all()
    assert ((distance > 20_000) & (distance <= 100_000)).mean() > 0.25
    beds = pd.read_csv(worlds / "a" / "human" / "candidates.bed", sep="\t", header=None)
    assert list(beds[3]) == list(elements.element)


def test_distal_enhancers_carry_a_real_share(worlds, human_oracle):
    truth = pd.read_csv(worlds / "a" / "human" / "truth" / "genes.tsv", sep="\t")
    share = truth[[f"distal_share_{c}" for c in HUMAN.cell_types]].max(axis=1)
    assert share[truth.n_enhancers > 0].median() > 0.2
    # independent check of the definition: hide everything farther than 20 kb from a TSS
    result = human_oracle
    oracle = result.oracle
    checked = 0
    for g in np.argsort(-result.distal_share.max(axis=1))[:3]:
        t = int(result.genes.tss[g])
        codes = result.codes.copy()
        codes[: max(t - 20_000, 0)] = 4
        codes[t + 20_001 :] = 4
        alone = oracle.evaluate(codes, GeneSet(("g",), np.array([t]), result.genes.strand[g : g + 1]))
        np.testing.assert_allclose(1 - alone.cage[0] / result.cage[g], result.distal_share[g], rtol=1e-5, atol=1e-6)
        checked += 1
    assert checked == 3


def test_vcf(worlds):
    path = worlds / "a" / "human" / "variants.vcf.gz"
    fasta = pyfaidx.Fasta(str(worlds / "a" / "human.fa"))
    vcf = pysam.VariantFile(str(path))
    assert vcf.header.version == "VCFv4.2"
    order = list(fasta.keys())
    assert {c: vcf.header.contigs[c].length for c in vcf.header.contigs} == {c: len(fasta[c]) for c in order}
    records = list(vcf.fetch())
    keys = [(order.index(r.chrom), r.pos) for r in records]
    assert keys == sorted(keys)
    for r in records:
        assert r.ref == str(fasta[r.chrom][r.pos - 1 : r.pos - 1 + len(r.ref)]).upper()
    n = len(records)
    multi = sum(len(r.alts) > 1 for r in records)
    indels = sum(any(len(a) != len(r.ref) for a in r.alts) for r in records)
    assert n > 100 and 0 < multi < 0.1 * n and 0 < indels < 0.15 * n
    assert {r.info["SITE"] for r in records} == {"promoter", "enhancer", "insulator", "background"}
    assert len(list(vcf.fetch("chr2", 0, 500_000))) > 0  # the tabix index works


def test_variant_truth_matches_recompute(worlds, human_oracle):
    table = pd.read_csv(worlds / "a" / "human" / "truth" / "variants.tsv", sep="\t")
    assert set(table.category) == {"promoter", "proximal", "distal", "background"}
    result = human_oracle
    column = "cage_delta_CAGE_erythroid"
    rows = table[(table.chrom == "chr1") & (table[column].abs() > 1.0)]
    assert len(rows) >= 3
    index = {gid: i for i, gid in enumerate(result.genes.ids)}
    erythroid = HUMAN.cell_types.index("erythroid")
    for _, row in rows.head(3).iterrows():
        pos = int(row.pos) - 1
        codes = np.concatenate([result.codes[:pos], encode(row.alt), result.codes[pos + len(row.ref) :]])
        delta = len(row.alt) - len(row.ref)
        tss = np.where(result.genes.tss >= pos + len(row.ref), result.genes.tss + delta, result.genes.tss)
        edited = result.oracle.evaluate(codes, GeneSet(result.genes.ids, tss, result.genes.strand))
        g = index[row.gene]
        assert edited.cage[g, erythroid] - result.cage[g, erythroid] == pytest.approx(row[column], rel=1e-4, abs=1e-3)


def test_enhancer_gene_truth_matches_recompute(worlds, human_oracle):
    table = pd.read_csv(worlds / "a" / "human" / "truth" / "enhancer_gene.tsv", sep="\t")
    assert table.regulates.any() and not table.regulates.all()
    assert table[table.kind == "enhancer"].regulates.mean() > table[table.kind == "decoy"].regulates.mean()
    result = human_oracle
    index = {gid: i for i, gid in enumerate(result.genes.ids)}
    rows = table[(table.chrom == "chr1") & table.regulates].head(2)
    for _, row in rows.iterrows():
        codes = result.codes.copy()
        codes[int(row.start) : int(row.end)] = 4
        removed = result.oracle.evaluate(codes, result.genes)
        g = index[row.gene]
        for c, cell in enumerate(HUMAN.cell_types):
            assert removed.cage[g, c] - result.cage[g, c] == pytest.approx(row[f"delta_{cell}"], rel=1e-4, abs=1e-3)


def test_unknown_size_is_rejected(tmp_path):
    with pytest.raises(ValueError, match="unknown world size"):
        simulate("huge", 1, str(tmp_path))

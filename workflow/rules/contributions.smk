# Enhancer–gene contributions: genes scored in chunks (one job each), gathered per genome into the
# enhancer-gene table, a BEDPE of the top links and per-gene bigWigs; evaluated against truth tables.
include: "contributions_common.smk"


wildcard_constraints:
    chunk="[0-9]+",


rule contributions_chunk:
    input:
        ckpt=CONTRIB["checkpoint"],
        data="results/{genome}/data.h5",
        fasta=lambda wc: genome_cfg(wc)["fasta"],
        genes=genome_genes,
        candidates=lambda wc: genome_cfg(wc)["candidates"],
    output:
        chunk=directory("results/contributions/{genome}/chunks/{chunk}"),
    log:
        "logs/contributions/{genome}/{chunk}.log",
    benchmark:
        "benchmarks/contributions/{genome}/{chunk}.tsv"
    conda:
        "../envs/enformer-lite.yaml"
    threads: job_threads()
    resources:
        **job_resources(mem_mb=6000, runtime=60, gpus="contributions"),
        hardware=pipeline_flags.hardware_json(config, "contributions"),
    params:
        n_chunks=CONTRIB["chunks"],
        settings=contrib_settings,
    shell:
        "enformer-lite contributions score --checkpoint {input.ckpt} --data {input.data} --fasta {input.fasta} "
        "--genes {input.genes} --candidates {input.candidates} --head {wildcards.genome} "
        "--chunk {wildcards.chunk} --n-chunks {params.n_chunks} --threads {threads} --outdir {output.chunk} "
        "--params {params.settings:q} --params {resources.hardware:q} 2> {log}"


rule contributions:
    input:
        chunks=contrib_chunks,
    output:
        table="results/contributions/{genome}.enhancer_gene.tsv",
        bedpe="results/contributions/{genome}.bedpe",
        tracks=directory("results/contributions/{genome}.tracks"),
    log:
        "logs/contributions/{genome}.gather.log",
    conda:
        "../envs/enformer-lite.yaml"
    resources:
        **job_resources(mem_mb=2000, runtime=10),
    params:
        settings=pipeline_flags.settings_json(config, "contributions"),
    shell:
        "enformer-lite contributions gather {input.chunks} --out-tsv {output.table} --out-bedpe {output.bedpe} "
        "--out-tracks {output.tracks} --params {params.settings:q} 2> {log}"


rule contributions_eval:
    input:
        tables=lambda wc: expand(
            "results/contributions/{genome}.enhancer_gene.tsv",
            genome=contrib_truth_genomes(),
        ),
        truth=lambda wc: [CONTRIB["truth"][g] for g in contrib_truth_genomes()],
    output:
        table="results/contributions/eval.tsv",
    log:
        "logs/contributions/eval.log",
    conda:
        "../envs/enformer-lite.yaml"
    resources:
        **job_resources(mem_mb=2000, runtime=10),
    params:
        scores=lambda wc, input: " ".join(
            f"{g}={p}" for g, p in zip(contrib_truth_genomes(), input.tables)
        ),
        truth=lambda wc, input: " ".join(
            f"{g}={p}" for g, p in zip(contrib_truth_genomes(), input.truth)
        ),
        bins=" ".join(str(d) for d in CONTRIB["distance_bins"]),
    shell:
        "enformer-lite contributions evaluate --scores {params.scores} --truth {params.truth} "
        "--distance-bins {params.bins} --out {output.table} 2> {log}"

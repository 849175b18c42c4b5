# Variant effects: each configured VCF is scattered into variants.n_chunks record ranges (one
# scoring job each), gathered into tables, HDF5 and an annotated VCF (with the scores as signed
# quantiles against a background when the interpretation stage calibrates the VCF), and, where the
# simulator's truth exists, compared with the exact effects.


include: "variants_common.smk"


wildcard_constraints:
    vcf_name="[A-Za-z0-9_.-]+",
    chunk="[0-9]+",


rule score_variants:
    input:
        vcf=lambda wc: variant_input(wc)["vcf"],
        index=lambda wc: variant_input(wc)["index"],
        ckpt=VARIANTS["checkpoint"],
        fasta=lambda wc: variant_genome(wc)["fasta"],
        genes=variant_genes,
    output:
        part=temp("results/variants/{vcf_name}/part{chunk}.h5"),
    log:
        "logs/variants/{vcf_name}/part{chunk}.log",
    benchmark:
        "benchmarks/variants/{vcf_name}/part{chunk}.tsv"
    conda:
        "../envs/enformer-lite.yaml"
    threads: job_threads()
    resources:
        **job_resources(mem_mb=4000, runtime=60, gpus="score"),
        hardware=pipeline_flags.hardware_json(config, "variants"),
    params:
        head=variant_head,
        genes=lambda wc, input: (
            f"--genes {shlex.quote(input.genes[0])}" if input.genes else ""
        ),
        n_chunks=VARIANTS["n_chunks"],
        settings=variant_settings(),
    shell:
        "enformer-lite score-variants --vcf {input.vcf} --fasta {input.fasta} --checkpoint {input.ckpt} "
        "--head {params.head} {params.genes} --chunk {wildcards.chunk} --n-chunks {params.n_chunks} "
        "--threads {threads} --params {params.settings:q} --params {resources.hardware:q} "
        "--part {output.part} 2> {log}"


rule gather_variants:
    input:
        vcf=lambda wc: variant_input(wc)["vcf"],
        index=lambda wc: variant_input(wc)["index"],
        parts=expand(
            "results/variants/{{vcf_name}}/part{chunk}.h5",
            chunk=range(VARIANTS["n_chunks"]),
        ),
        background=lambda wc: pipeline_interpret.gather_background(config, wc.vcf_name),
    output:
        h5="results/variants/{vcf_name}.h5",
        tsv="results/variants/{vcf_name}.tsv.gz",
        genes="results/variants/{vcf_name}.genes.tsv.gz",
        skipped="results/variants/{vcf_name}.skipped.tsv",
        vcf="results/variants/{vcf_name}.vcf.gz",
        tbi="results/variants/{vcf_name}.vcf.gz.tbi",
    log:
        "logs/variants/{vcf_name}/gather.log",
    benchmark:
        "benchmarks/variants/{vcf_name}/gather.tsv"
    conda:
        "../envs/enformer-lite.yaml"
    resources:
        **job_resources(mem_mb=4000, runtime=30),
    params:
        prefix=lambda wc, output: output.tsv[: -len(".tsv.gz")],
        calibration=lambda wc, input: pipeline_interpret.calibration_flags(
            config, wc.vcf_name, input.background
        ),
    shell:
        "enformer-lite gather-variants --vcf {input.vcf} --out-prefix {params.prefix} "
        "{params.calibration} {input.parts} 2> {log}"


rule eval_variants:
    input:
        scores=expand("results/variants/{vcf_name}.h5", vcf_name=variant_eval_cases()),
        truth=[VARIANTS["vcfs"][n]["truth"] for n in variant_eval_cases()],
        genes=[
            pipeline_flags.GENES_BED.format(genome=VARIANTS["vcfs"][n]["genome"])
            for n in variant_eval_cases()
        ],
    output:
        table="results/variants/eval.tsv",
    log:
        "logs/variants/eval.log",
    conda:
        "../envs/enformer-lite.yaml"
    resources:
        **job_resources(mem_mb=2000, runtime=10),
    params:
        cases=lambda wc, input: " ".join(
            f"--case {shlex.quote(n)} {shlex.quote(s)} {shlex.quote(t)} {shlex.quote(g)}"
            for n, s, t, g in zip(
                variant_eval_cases(), input.scores, input.truth, input.genes
            )
        ),
    shell:
        "enformer-lite eval-variants {params.cases} --out {output.table} 2> {log}"


rule index_variants:
    input:
        vcf=lambda wc: variant_vcf(wc)["path"],
    output:
        vcf="results/variants/{vcf_name}/input.vcf.gz",
        tbi="results/variants/{vcf_name}/input.vcf.gz.tbi",
    log:
        "logs/variants/{vcf_name}/index.log",
    conda:
        "../envs/enformer-lite.yaml"
    resources:
        **job_resources(mem_mb=1000, runtime=30),
    shell:
        "enformer-lite score-variants --vcf {input.vcf} --index-copy {output.vcf} 2> {log}"

# Model: train on every genome's data.h5, then score the test windows and write predicted bigWigs.
# The training job resumes from results/model/run/checkpoints/last.ckpt when it is run again after
# a crash; that directory is not a declared output, so Snakemake does not delete it on failure.


include: "model_common.smk"


rule train:
    input:
        data=expand("results/{genome}/data.h5", genome=GENOMES),
    output:
        best="results/model/best.ckpt",
        last="results/model/last.ckpt",
        metrics="results/model/metrics.csv",
    log:
        "logs/train.log",
    benchmark:
        "benchmarks/train.tsv"
    conda:
        "../envs/enformer-lite.yaml"
    threads: job_threads()
    resources:
        **train_resources(mem_mb=8000, runtime=60),
        hardware=hardware_json("train"),
    params:
        data=lambda wc, input: " ".join(
            f"--data {g}={shlex.quote(p)}" for g, p in zip(GENOMES, input.data)
        ),
        settings=settings_json("model", "train"),
        outdir=lambda wc, output: os.path.dirname(output.best),
        launcher=train_launcher(),
    # stdout goes to the log too: Lightning's progress bar writes there
    shell:
        "{params.launcher} enformer-lite train {params.data} --outdir {params.outdir} "
        "--params {params.settings:q} --params {resources.hardware:q} > {log} 2>&1"


rule evaluate:
    input:
        ckpt="results/model/best.ckpt",
        data="results/{genome}/data.h5",
        genes=genome_genes,
    output:
        table="results/eval/{genome}.tsv",
        tss="results/eval/{genome}.tss.tsv",
    log:
        "logs/evaluate/{genome}.log",
    benchmark:
        "benchmarks/evaluate/{genome}.tsv"
    conda:
        "../envs/enformer-lite.yaml"
    threads: job_threads()
    resources:
        **job_resources(mem_mb=6000, runtime=30),
        hardware=hardware_json("evaluate"),
    params:
        genes=genes_flag,
        settings=settings_json("evaluate"),
    shell:
        "enformer-lite evaluate --checkpoint {input.ckpt} --data {input.data} --head {wildcards.genome} "
        "{params.genes} --out {output.table} --tss-out {output.tss} --params {params.settings:q} "
        "--params {resources.hardware:q} 2> {log}"


rule predict:
    input:
        ckpt="results/model/best.ckpt",
        data="results/{genome}/data.h5",
        fasta=lambda wc: genome_cfg(wc)["fasta"],
    output:
        bigwigs=directory("results/predict/{genome}"),
    log:
        "logs/predict/{genome}.log",
    benchmark:
        "benchmarks/predict/{genome}.tsv"
    conda:
        "../envs/enformer-lite.yaml"
    threads: job_threads()
    resources:
        **job_resources(mem_mb=4000, runtime=20),
        hardware=hardware_json("predict"),
    params:
        settings=lambda wc: pipeline_flags.settings_json(
            config,
            "predict",
            predict={"regions": config["predict"]["regions"].get(wc.genome, [])},
        ),
    shell:
        "enformer-lite predict --checkpoint {input.ckpt} --data {input.data} --fasta {input.fasta} "
        "--head {wildcards.genome} --outdir {output.bigwigs} --params {params.settings:q} "
        "--params {resources.hardware:q} 2> {log}"

# Model: train on every genome's data.h5, then score the test windows and write predicted bigWigs.
# The training job resumes from results/model/run/checkpoints/last.ckpt when it is run again after
# a crash; that directory is not a declared output, so Snakemake does not delete it on failure.
# With model.pretrained and train.finetune: none (the default then), use_pretrained writes the
# published heads as results/model/best.ckpt instead of training, and nothing is evaluated (the
# published tracks are not the data's); finetune: head first caches the trunk's embeddings (embed).


include: "model_common.smk"


if FINETUNE == "none":

    rule use_pretrained:
        input:
            data=expand("results/{genome}/data.h5", genome=GENOMES),
            pretrained=PRETRAINED_INPUTS,
        output:
            best="results/model/best.ckpt",
        log:
            "logs/use_pretrained.log",
        conda:
            "../envs/enformer-lite.yaml"
        resources:
            **job_resources(mem_mb=4000, runtime=10),
        params:
            data=lambda wc, input: data_flags("--data", input.data),
            settings=settings_json("model"),
        shell:
            "enformer-lite use-pretrained {params.data} --out {output.best} "
            "--params {params.settings:q} 2> {log}"


if FINETUNE == "head":

    rule embed:
        input:
            data="results/{genome}/data.h5",
            pretrained=PRETRAINED_INPUTS,
        output:
            embeddings="results/{genome}/embeddings.h5",
        log:
            "logs/embed/{genome}.log",
        benchmark:
            "benchmarks/embed/{genome}.tsv"
        conda:
            "../envs/enformer-lite.yaml"
        threads: job_threads()
        resources:
            **job_resources(mem_mb=6000, runtime=60, gpus="train"),
        params:
            settings=settings_json("model"),
        shell:
            "enformer-lite embed --data {input.data} --out {output.embeddings} "
            "--params {params.settings:q} 2> {log}"


if FINETUNE != "none":

    rule train:
        input:
            data=expand("results/{genome}/data.h5", genome=GENOMES),
            pretrained=PRETRAINED_INPUTS,
            embeddings=(
                expand("results/{genome}/embeddings.h5", genome=GENOMES)
                if FINETUNE == "head"
                else []
            ),
        output:
            **train_outputs(),
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
            data=lambda wc, input: data_flags("--data", input.data)
            + " "
            + data_flags("--embeddings", input.embeddings),
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

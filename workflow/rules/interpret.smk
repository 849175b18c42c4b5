# What the model learned: in-silico saturation mutagenesis of configured regions and top variants,
# TF-MoDISco motifs matched to JASPAR by TOMTOM (checked against the planted truth per genome, and pooled
# over the genomes with truth), the background that variant scores are calibrated against (the
# quantiles are written by gather_variants, into the variant outputs), and one explanation per variant.
include: "interpret_common.smk"


rule interpret_ism:
    input:
        ckpt=INTERPRET["checkpoint"],
        data="results/{genome}/data.h5",
        fasta=lambda wc: genome_cfg(wc)["fasta"],
        genes=genome_genes,
        candidates=lambda wc: genome_cfg(wc)["candidates"],
        variants=lambda wc: pipeline_interpret.ism_variants(config, wc.genome),
    output:
        h5="results/interpret/{genome}/ism.h5",
        bw="results/interpret/{genome}/ism.bw",
        logo=report(
            "results/interpret/{genome}/ism.png",
            caption="../report/interpret_ism.rst",
            category="Interpretation",
            labels={"genome": "{genome}", "figure": "ISM logos"},
        ),
    log:
        "logs/interpret/{genome}/ism.log",
    benchmark:
        "benchmarks/interpret/{genome}/ism.tsv"
    conda:
        "../envs/enformer-lite.yaml"
    threads: job_threads()
    resources:
        **job_resources(mem_mb=4000, runtime=60),
        hardware=pipeline_interpret.step_hardware(config, "ism"),
    params:
        genes=genes_flag,
        variants=lambda wc, input: pipeline_flags.first_file_flag(
            "--variants", input.variants
        ),
        settings=lambda wc: pipeline_interpret.ism_settings(config, wc.genome),
    shell:
        "enformer-lite ism --checkpoint {input.ckpt} --data {input.data} --fasta {input.fasta} "
        "--head {wildcards.genome} {params.genes} --candidates {input.candidates} {params.variants} "
        "--out-h5 {output.h5} --out-bigwig {output.bw} --out-logo {output.logo} --threads {threads} "
        "--params {params.settings:q} --params {resources.hardware:q} 2> {log}"


rule interpret_motifs:
    input:
        ckpt=INTERPRET["checkpoint"],
        data="results/{genome}/data.h5",
        fasta=lambda wc: genome_cfg(wc)["fasta"],
        genes=genome_genes,
        candidates=lambda wc: genome_cfg(wc)["candidates"],
        truth=interpret_truth,
    output:
        motifs=directory("results/interpret/{genome}/motifs"),
        logo=report(
            "results/interpret/{genome}/motifs.png",
            caption="../report/interpret_motifs.rst",
            category="Interpretation",
            labels={"genome": "{genome}", "figure": "TF-MoDISco motifs"},
        ),
    log:
        "logs/interpret/{genome}/motifs.log",
    benchmark:
        "benchmarks/interpret/{genome}/motifs.tsv"
    conda:
        "../envs/enformer-lite.yaml"
    threads: job_threads()
    resources:
        **job_resources(mem_mb=6000, runtime=120),
        hardware=pipeline_interpret.step_hardware(config, "motifs"),
    params:
        genes=genes_flag,
        truth=interpret_truth_flag,
        settings=pipeline_interpret.step_settings(config, "motifs"),
    shell:
        "enformer-lite motifs --checkpoint {input.ckpt} --data {input.data} --fasta {input.fasta} "
        "--head {wildcards.genome} {params.genes} --candidates {input.candidates} {params.truth} "
        "--outdir {output.motifs} --logo {output.logo} --threads {threads} "
        "--params {params.settings:q} --params {resources.hardware:q} 2> {log}"


rule interpret_motifs_eval:
    input:
        motifs=pipeline_interpret.pooled_motif_dirs(config),
    output:
        table=report(
            pipeline_interpret.POOLED_EVAL,
            caption="../report/interpret_motifs_eval.rst",
            category="Interpretation",
            labels={"genome": "all", "table": "motifs_eval.tsv"},
        ),
        motifs=pipeline_interpret.POOLED_EVAL_MOTIFS,
    log:
        "logs/interpret/motifs_eval.log",
    conda:
        "../envs/enformer-lite.yaml"
    resources:
        **job_resources(mem_mb=1000, runtime=5),
    params:
        evals=pipeline_interpret.pooled_eval_flags(config),
    shell:
        "enformer-lite pool-motif-evals {params.evals} --out {output.table} "
        "--out-motifs {output.motifs} 2> {log}"


rule interpret_background_vcf:
    input:
        fasta=lambda wc: interpret_vcf_genome(wc)["fasta"],
        windows=lambda wc: "results/{}/windows.bed".format(
            pipeline_interpret.vcf_genome(config, wc.vcf_name)
        ),
    output:
        vcf="results/interpret/background/{vcf_name}.vcf.gz",
        tbi="results/interpret/background/{vcf_name}.vcf.gz.tbi",
    log:
        "logs/interpret/background/{vcf_name}.vcf.log",
    conda:
        "../envs/enformer-lite.yaml"
    resources:
        **job_resources(mem_mb=2000, runtime=10),
    params:
        settings=pipeline_interpret.step_settings(config, "calibration"),
    shell:
        "enformer-lite background-variants --fasta {input.fasta} --windows {input.windows} "
        "--out {output.vcf} --params {params.settings:q} 2> {log}"


rule interpret_background_score:
    input:
        vcf=lambda wc: pipeline_interpret.background_vcf(config, wc.vcf_name),
        ckpt=config["variants"]["checkpoint"],
        fasta=lambda wc: interpret_vcf_genome(wc)["fasta"],
        genes=lambda wc: pipeline_flags.genes_input(
            config, pipeline_interpret.vcf_genome(config, wc.vcf_name)
        ),
    output:
        h5=pipeline_interpret.background_scores("{vcf_name}"),
    log:
        "logs/interpret/background/{vcf_name}.score.log",
    benchmark:
        "benchmarks/interpret/background/{vcf_name}.tsv"
    conda:
        "../envs/enformer-lite.yaml"
    threads: job_threads()
    resources:
        **job_resources(mem_mb=4000, runtime=120, gpus="score"),
        hardware=pipeline_flags.hardware_json(config, "variants"),
    params:
        head=interpret_vcf_head,
        genes=lambda wc, input: pipeline_flags.first_file_flag("--genes", input.genes),
        settings=pipeline_interpret.background_settings(config),
    shell:
        "enformer-lite score-variants --vcf {input.vcf} --fasta {input.fasta} --checkpoint {input.ckpt} "
        "--head {params.head} {params.genes} --threads {threads} --params {params.settings:q} "
        "--params {resources.hardware:q} --part {output.h5} 2> {log}"


rule interpret_explain:
    input:
        scores="results/variants/{vcf_name}.h5",
        fasta=lambda wc: interpret_vcf_genome(wc)["fasta"],
        candidates=lambda wc: pipeline_flags.optional_file(
            interpret_vcf_genome(wc), "candidates"
        ),
        motifs=lambda wc: pipeline_interpret.explain_motifs(config, wc.vcf_name),
        truth=interpret_truth,
    output:
        table=report(
            "results/interpret/{vcf_name}.explain.tsv",
            caption="../report/interpret_explain.rst",
            category="Interpretation",
            labels={"vcf": "{vcf_name}", "table": "explain.tsv"},
        ),
        accuracy="results/interpret/{vcf_name}.explain_eval.tsv",
    log:
        "logs/interpret/{vcf_name}.explain.log",
    conda:
        "../envs/enformer-lite.yaml"
    resources:
        **job_resources(mem_mb=2000, runtime=10),
    params:
        candidates=lambda wc, input: pipeline_flags.first_file_flag(
            "--candidates", input.candidates
        ),
        motifs=lambda wc, input: pipeline_flags.first_file_flag(
            "--motifs", input.motifs
        ),
        truth=interpret_truth_flag,
        settings=pipeline_interpret.step_settings(config, "explain"),
    shell:
        "enformer-lite explain-variants --scores {input.scores} --fasta {input.fasta} {params.candidates} "
        "{params.motifs} {params.truth} --out {output.table} --eval-out {output.accuracy} "
        "--params {params.settings:q} 2> {log}"

# Figures (PNG + PDF) of every stage, each marked for `snakemake --report results/report.html`.


include: "plots_common.smk"


wildcard_constraints:
    locus="[A-Za-z0-9_.-]+",


checkpoint plot_loci:
    input:
        data="results/{genome}/data.h5",
        genes=genome_genes,
    output:
        table="results/plots/{genome}/loci.tsv",
    log:
        "logs/plots/{genome}/loci.log",
    conda:
        "../envs/enformer-lite.yaml"
    resources:
        **job_resources(mem_mb=2000, runtime=10),
    params:
        genes=genes_flag,
        regions=plot_configured_loci,
        n=PLOTS["auto_loci"],
        width=f"--width {PLOTS['locus_width']}" if PLOTS["locus_width"] else "",
    shell:
        "enformer-lite plot loci --data {input.data} {params.genes} --n {params.n} {params.width} "
        "{params.regions} --out {output.table} 2> {log}"


rule plot_locus:
    input:
        ckpt=MODEL_CKPT,
        loci=plot_loci_table,
        fasta=lambda wc: genome_cfg(wc)["fasta"],
        tracks=lambda wc: genome_cfg(wc)["tracks"],
        bigwigs=track_files,
        genes=genome_genes,
        candidates=plot_optional_file("candidates"),
    output:
        **plot_figure(
            "results/plots/{genome}/tracks/{locus}",
            "../report/tracks.rst",
            "Tracks at loci",
            "{genome}",
            genome="{genome}",
            locus="{locus}",
        ),
    log:
        "logs/plots/{genome}/tracks/{locus}.log",
    benchmark:
        "benchmarks/plots/{genome}/tracks/{locus}.tsv"
    conda:
        "../envs/enformer-lite.yaml"
    threads: job_threads()
    resources:
        **job_resources(mem_mb=4000, runtime=20),
    params:
        genes=genes_flag,
        candidates=plot_optional_flag("--candidates", "candidates"),
    shell:
        "enformer-lite plot-tracks --checkpoint {input.ckpt} --fasta {input.fasta} --head {wildcards.genome} "
        "--tracks {input.tracks} {params.genes} {params.candidates} --loci {input.loci} --locus {wildcards.locus} "
        "--title '{wildcards.genome} {wildcards.locus}' --threads {threads} --out {output.png} --out {output.pdf} 2> {log}"


rule plot_accuracy:
    input:
        tables=expand("results/eval/{genome}.tsv", genome=GENOMES),
    output:
        **plot_figure(
            "results/plots/accuracy",
            "../report/accuracy.rst",
            "Model accuracy",
            "per track",
            figure="accuracy",
        ),
    log:
        "logs/plots/accuracy.log",
    conda:
        "../envs/enformer-lite.yaml"
    resources:
        **job_resources(mem_mb=1000, runtime=5),
    params:
        tables=lambda wc, input: " ".join(f"--eval {t}" for t in input.tables),
    shell:
        "enformer-lite plot accuracy {params.tables} --out {output.png} --out {output.pdf} 2> {log}"


rule plot_tss:
    input:
        values="results/eval/{genome}.tss.tsv",
    output:
        **plot_figure(
            "results/plots/{genome}/tss_scatter",
            "../report/tss_scatter.rst",
            "Model accuracy",
            "CAGE at TSS",
            genome="{genome}",
        ),
    log:
        "logs/plots/{genome}/tss_scatter.log",
    conda:
        "../envs/enformer-lite.yaml"
    resources:
        **job_resources(mem_mb=1000, runtime=5),
    shell:
        "enformer-lite plot tss --values {input.values} --title '{wildcards.genome}: CAGE at TSS of test genes' "
        "--out {output.png} --out {output.pdf} 2> {log}"


rule plot_training:
    input:
        metrics="results/model/metrics.csv",
    output:
        **plot_figure(
            "results/plots/training",
            "../report/training.rst",
            "Training",
            figure="training curves",
        ),
    log:
        "logs/plots/training.log",
    conda:
        "../envs/enformer-lite.yaml"
    resources:
        **job_resources(mem_mb=1000, runtime=5),
    shell:
        "enformer-lite plot training --metrics {input.metrics} --out {output.png} --out {output.pdf} 2> {log}"


rule plot_variants:
    input:
        scores="results/variants/{name}.h5",
        ckpt=lambda wc: config["variants"]["checkpoint"],
        fasta=lambda wc: plot_vcf_genome(wc)["fasta"],
        genes=plot_vcf_genes,
    output:
        **plot_figure(
            "results/plots/variants/{name}/strongest",
            "../report/variants_strongest.rst",
            "Variant effects",
            "{name}",
            key="top_",
            vcf="{name}",
            figure="strongest variants",
        ),
        **plot_figure(
            "results/plots/variants/{name}/scores",
            "../report/variants_scores.rst",
            "Variant effects",
            "{name}",
            key="dist_",
            vcf="{name}",
            figure="score distribution",
        ),
    log:
        "logs/plots/variants/{name}.log",
    benchmark:
        "benchmarks/plots/variants/{name}.tsv"
    conda:
        "../envs/enformer-lite.yaml"
    threads: job_threads()
    resources:
        **job_resources(mem_mb=4000, runtime=20),
    params:
        top=PLOTS["top_variants"],
        genes=lambda wc, input: f"--genes {input.genes[0]}" if input.genes else "",
    shell:
        "enformer-lite plot variants --scores {input.scores} --checkpoint {input.ckpt} --fasta {input.fasta} "
        "{params.genes} --top {params.top} --threads {threads} --title 'variants {wildcards.name}' "
        "--top-out {output.top_png} --top-out {output.top_pdf} "
        "--distribution-out {output.dist_png} --distribution-out {output.dist_pdf} 2> {log}"


rule plot_contributions:
    input:
        table="results/contributions/{genome}.enhancer_gene.tsv",
        tracks="results/contributions/{genome}.tracks",
        genes=genome_genes,
    output:
        **plot_figure(
            "results/plots/contributions/{genome}",
            "../report/contributions.rst",
            "Enhancer-gene contributions",
            "{genome}",
            genome="{genome}",
        ),
    log:
        "logs/plots/contributions/{genome}.log",
    conda:
        "../envs/enformer-lite.yaml"
    resources:
        **job_resources(mem_mb=2000, runtime=10),
    params:
        score=lambda wc: config["contributions"]["rank_by"],
        genes=genes_flag,
        chosen=lambda wc: " ".join(
            f"--gene {shlex.quote(g)}"
            for g in PLOTS["contribution_genes"].get(wc.genome, [])
        ),
        n=PLOTS["n_contribution_genes"],
        top=PLOTS["top_links"],
    shell:
        "enformer-lite plot contributions --table {input.table} --tracks-dir {input.tracks} {params.genes} "
        "--score {params.score} {params.chosen} --n {params.n} --top-links {params.top} "
        "--title '{wildcards.genome}: element contributions ({params.score})' "
        "--out {output.png} --out {output.pdf} 2> {log}"

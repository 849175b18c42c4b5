# Data preparation: demo world, windows with splits, FASTA/bigWig → HDF5 per chromosome, merged per genome.


# Only a demo config (simulate.enabled) has a simulate rule; a run on own data never generates anything.
if SIM["enabled"]:

    rule simulate:
        output:
            fasta=expand(
                "{outdir}/{genome}.fa", outdir=SIM["outdir"], genome=["human", "mouse"]
            ),
            tracks=expand(
                "{outdir}/{genome}/tracks.tsv",
                outdir=SIM["outdir"],
                genome=["human", "mouse"],
            ),
            genes=expand(
                "{outdir}/{genome}/genes.bed",
                outdir=SIM["outdir"],
                genome=["human", "mouse"],
            ),
            candidates=expand(
                "{outdir}/{genome}/candidates.bed",
                outdir=SIM["outdir"],
                genome=["human", "mouse"],
            ),
            vcf=f"{SIM['outdir']}/human/variants.vcf.gz",
            vcf_index=f"{SIM['outdir']}/human/variants.vcf.gz.tbi",
            truth_links=expand(
                "{outdir}/{genome}/truth/enhancer_gene.tsv",
                outdir=SIM["outdir"],
                genome=["human", "mouse"],
            ),
            truth_variants=f"{SIM['outdir']}/human/truth/variants.tsv",
            truth_tables=expand(
                "{outdir}/{genome}/truth/{table}.tsv",
                outdir=SIM["outdir"],
                genome=["human", "mouse"],
                table=["genes", "elements", "motifs"],
            ),
        log:
            "logs/simulate.log",
        benchmark:
            "benchmarks/simulate.tsv"
        conda:
            "../envs/enformer-lite.yaml"
        resources:
            **job_resources(mem_mb=4000, runtime=30),
        params:
            size=SIM["size"],
            seed=SIM["seed"],
            outdir=lambda wc, output: os.path.dirname(output.fasta[0]),
        shell:
            "enformer-lite simulate --size {params.size} --seed {params.seed} --outdir {params.outdir} 2> {log}"


checkpoint windows:
    input:
        fasta=lambda wc: genome_cfg(wc)["fasta"],
        blacklist=lambda wc: pipeline_flags.optional_file(genome_cfg(wc), "blacklist"),
    output:
        bed="results/{genome}/windows.bed",
    log:
        "logs/windows/{genome}.log",
    conda:
        "../envs/enformer-lite.yaml"
    resources:
        **job_resources(mem_mb=4000, runtime=20),
    params:
        valid=lambda wc: " ".join(genome_cfg(wc)["splits"]["valid"]),
        test=lambda wc: " ".join(genome_cfg(wc)["splits"]["test"]),
        exclude=lambda wc: " ".join(genome_cfg(wc)["splits"]["exclude"]),
        geometry=window_args(),
        chroms=lambda wc: shlex.quote(genome_cfg(wc)["chroms"]),
        blacklist=lambda wc: pipeline_flags.blacklist_flags(
            genome_cfg(wc), with_mode=True
        ),
    shell:
        "enformer-lite windows --fasta {input.fasta} --valid {params.valid} --test {params.test} "
        "--exclude {params.exclude} --chroms {params.chroms} {params.blacklist} {params.geometry} "
        "--out {output.bed} 2> {log}"


rule extract:
    input:
        fasta=lambda wc: genome_cfg(wc)["fasta"],
        tracks=lambda wc: genome_cfg(wc)["tracks"],
        bigwigs=track_files,
        bed="results/{genome}/windows.bed",
        blacklist=lambda wc: pipeline_flags.optional_file(genome_cfg(wc), "blacklist"),
    output:
        part=temp("results/{genome}/parts/{chrom}.h5"),
    log:
        "logs/extract/{genome}/{chrom}.log",
    benchmark:
        "benchmarks/extract/{genome}/{chrom}.tsv"
    conda:
        "../envs/enformer-lite.yaml"
    resources:
        **job_resources(mem_mb=extract_mem_mb, runtime=extract_runtime),
    params:
        geometry=window_args(),
        blacklist=lambda wc: pipeline_flags.blacklist_flags(
            genome_cfg(wc), with_mode=False
        ),
    shell:
        "enformer-lite extract --fasta {input.fasta} --tracks {input.tracks} --windows {input.bed} "
        "--chrom {wildcards.chrom} --genome {wildcards.genome} {params.geometry} {params.blacklist} "
        "--out {output.part} 2> {log}"


rule merge:
    input:
        fasta=lambda wc: genome_cfg(wc)["fasta"],
        parts=extract_parts,
    output:
        h5="results/{genome}/data.h5",
    log:
        "logs/merge/{genome}.log",
    benchmark:
        "benchmarks/merge/{genome}.tsv"
    conda:
        "../envs/enformer-lite.yaml"
    resources:
        **job_resources(mem_mb=4000, runtime=60),
    shell:
        "enformer-lite merge --fasta {input.fasta} --out {output.h5} {input.parts} 2> {log}"


rule genes:
    input:
        annotation=lambda wc: genome_cfg(wc)["genes"],
        fasta=lambda wc: genome_cfg(wc)["fasta"],
    output:
        bed=pipeline_flags.GENES_BED,
        skipped="results/{genome}/genes.skipped.tsv",
    log:
        "logs/genes/{genome}.log",
    conda:
        "../envs/enformer-lite.yaml"
    resources:
        **job_resources(mem_mb=4000, runtime=20),
    params:
        select=lambda wc: pipeline_flags.gene_filter_flags(genome_cfg(wc)),
    shell:
        "enformer-lite genes --annotation {input.annotation} --fasta {input.fasta} {params.select} "
        "--out {output.bed} --skipped {output.skipped} 2> {log}"

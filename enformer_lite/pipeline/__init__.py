"""The logic of the Snakemake workflow (``workflow/rules/*.smk``) as plain, typed functions.

The rule files keep only thin input/params functions that pass the validated workflow config
(and, where needed, what Snakemake alone knows: wildcards, which files some rule produces) to
the functions here, so that the logic can be tested without running Snakemake. One module per job:

- :mod:`~enformer_lite.pipeline.resources`: memory, wall time, threads, GPUs and SLURM placement of a job
- :mod:`~enformer_lite.pipeline.training`: process layout, resources and launcher of the training job
- :mod:`~enformer_lite.pipeline.windows`: window geometry from config, chromosomes of a windows.bed
- :mod:`~enformer_lite.pipeline.tracks`: bigWig files named in a tracks table
- :mod:`~enformer_lite.pipeline.flags`: ``--params`` JSON and optional command-line flags
- :mod:`~enformer_lite.pipeline.variants`: VCFs to score and evaluate, their heads and targets
- :mod:`~enformer_lite.pipeline.contributions`: genomes, chromosomes, chunks and targets of the contribution stage
- :mod:`~enformer_lite.pipeline.plots`: loci flags, locus regions, figure outputs and figure targets

Nothing here imports Snakemake; paths are the workflow's (relative to its working directory).
"""

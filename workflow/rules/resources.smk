# Resources of every job, from the `resources:` config section (see enformer_lite.pipeline.resources
# and .training, and profiles/README.md). Rules write
#     threads: job_threads()            (only the torch-heavy rules)
#     resources: **job_resources(mem_mb=8000, runtime=60)
#     resources: **job_resources(mem_mb=16000, runtime=240, gpus="score")
# and the training rule uses train_resources() and train_launcher().
from enformer_lite.pipeline import resources as pipeline_resources
from enformer_lite.pipeline import training as pipeline_training


def job_threads():
    """Threads of a job that runs the model (SLURM --cpus-per-task)."""
    return pipeline_resources.job_threads(config["resources"])


def job_resources(mem_mb, runtime, gpus=None):
    """Resources of one job: demo-scale need scaled by config and attempt, GPUs, SLURM placement."""
    return pipeline_resources.job_resources(config["resources"], mem_mb, runtime, gpus)


def train_resources(mem_mb, runtime):
    """Resources of the training job, with the SLURM task layout of multi-process training."""
    return pipeline_training.train_resources(config, mem_mb, runtime)


def train_launcher():
    """Command prefix that starts the training processes (srun inside a multi-process SLURM job)."""
    return pipeline_training.train_launcher(config)


def extract_mem_mb(wildcards):
    """MB of one extract job, from the genome's track count and this chromosome's length (bench/extract.py)."""
    cfg = config["genomes"][wildcards.genome]
    return pipeline_resources.extract_mem_mb(
        *pipeline_resources.extract_need(cfg["tracks"], cfg["fasta"], wildcards.chrom)
    )


def extract_runtime(wildcards):
    """Minutes of one extract job: every track's chromosome is read once."""
    cfg = config["genomes"][wildcards.genome]
    return pipeline_resources.extract_runtime_min(
        *pipeline_resources.extract_need(cfg["tracks"], cfg["fasta"], wildcards.chrom)
    )

# Helpers of the model rules (kept apart from the rules, as snakemake --lint asks).
import json
import shlex

from enformer_lite.pipeline import flags as pipeline_flags
from enformer_lite.pipeline import training as pipeline_training

FINETUNE = pipeline_training.finetune_mode(config)
PRETRAINED_INPUTS = pipeline_training.pretrained_inputs(config)


def settings_json(*sections):
    """What the named config sections say about the result, as JSON for the CLI's --params."""
    return pipeline_flags.settings_json(config, *sections)


def hardware_json(*sections):
    """How the job runs (devices, batching), as JSON for a second --params; a resource, so no rerun trigger."""
    return pipeline_flags.hardware_json(config, *sections)


def data_flags(flag, paths):
    """``--flag genome=path`` for each genome (in GENOMES order) and its file."""
    return " ".join(f"{flag} {g}={shlex.quote(p)}" for g, p in zip(GENOMES, paths))


def train_outputs():
    """The training job's outputs; with a pretrained model also the leakage-guard table."""
    out = {
        "best": "results/model/best.ckpt",
        "last": "results/model/last.ckpt",
        "metrics": "results/model/metrics.csv",
    }
    if FINETUNE:
        out["overlap"] = "results/model/pretrained_overlap.tsv"
    return out


def model_targets():
    """Evaluation tables (not with the published heads, whose tracks are not the data's) and
    predicted-track folders of every genome."""
    evaluated = (
        []
        if FINETUNE == "none"
        else expand("results/eval/{genome}.tsv", genome=GENOMES)
    )
    return evaluated + expand("results/predict/{genome}", genome=GENOMES)

"""The rules' conda environment (``workflow/envs/enformer-lite.yaml``) and where its package comes from."""

from __future__ import annotations

import os

SOURCE_VARIABLE = "ENFORMER_LITE_SOURCE"
"""Read by ``workflow/envs/enformer-lite.post-deploy.sh``: the checkout to install into the env."""


def export_source(workflow_basedir: object) -> None:
    """Set :data:`SOURCE_VARIABLE` to the checkout holding ``workflow/`` (``workflow_basedir``).

    Snakemake creates conda environments from a copy of the env file, so the post-deploy script
    cannot find the package from its own path; it inherits this variable instead. A workflow loaded
    as a module from GitHub has no local base directory: then nothing is set and the user exports it.
    """
    basedir = str(workflow_basedir)
    if os.path.isdir(basedir):
        os.environ[SOURCE_VARIABLE] = os.path.dirname(os.path.abspath(basedir))

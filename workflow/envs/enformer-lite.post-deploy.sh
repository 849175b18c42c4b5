#!/bin/sh
# Snakemake runs this once, inside the freshly created conda environment of enformer-lite.yaml
# (from a copy under .snakemake/conda/, so paths relative to this file do not work), with
# Snakemake's own environment variables. workflow/Snakefile sets ENFORMER_LITE_SOURCE to the
# repository it was loaded from; the package is installed from there, editable, so that the rules
# run the code of the checkout that runs the workflow. Its dependencies come from conda
# (--no-deps) and setuptools from the environment (--no-build-isolation): no PyPI needed.
# A workflow used as a module from GitHub sets no ENFORMER_LITE_SOURCE: export it yourself, the
# path of a local checkout of the same release.
set -eu
src=${ENFORMER_LITE_SOURCE:-}
if [ -z "$src" ]; then
    echo "enformer-lite.post-deploy.sh: ENFORMER_LITE_SOURCE is not set, so the package cannot be" \
        "installed into the rules' conda environment. workflow/Snakefile sets it to the repository" \
        "root when loaded from a local checkout; otherwise export ENFORMER_LITE_SOURCE=<path of a" \
        "local enformer-lite checkout> and run snakemake again." >&2
    exit 1
fi
if ! grep -qs '^name = "enformer-lite"' "$src/pyproject.toml"; then
    echo "enformer-lite.post-deploy.sh: ENFORMER_LITE_SOURCE=$src is not an enformer-lite checkout" \
        "(no pyproject.toml naming enformer-lite there)." >&2
    exit 1
fi
python -m pip install --no-deps --no-build-isolation --no-input --disable-pip-version-check -e "$src"
enformer-lite --help > /dev/null

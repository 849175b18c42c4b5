# enformer-lite: reference genome + signal tracks → trained Enformer-style model → variant effects and
# enhancer-gene links. Run `snakemake --cores 2` for the demo; see README.md.
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


report: "workflow/report/workflow.rst"


include: "workflow/rules/common.smk"
include: "workflow/rules/data.smk"
include: "workflow/rules/model.smk"
include: "workflow/rules/plots.smk"
include: "workflow/rules/variants.smk"
include: "workflow/rules/contributions.smk"


rule all:
    input:
        all_targets(),
    default_target: True

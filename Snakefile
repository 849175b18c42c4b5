# Entry point for `snakemake --cores 2` run from the repository root. The workflow itself is
# workflow/Snakefile (the Snakemake workflow catalog's layout; snakedeploy deploys it as a module).


include: "workflow/Snakefile"


# `include:` drops the default target of the included file (snakemake/snakemake#2773), so name
# workflow/Snakefile's `rule all` again here; `snakemake -s workflow/Snakefile` needs no such line.
workflow.default_target = "all"

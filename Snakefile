# zegclip workflow: every table of the ZegCLIP paper, trained once, evaluated, rendered.
# Rules live in workflow/rules/*.smk and call the `zegclip` command line.
from snakemake.utils import min_version, validate

min_version("8.0")


configfile: "workflow/config.yaml"


validate(config, "workflow/schemas/config.schema.yaml")


include: "workflow/rules/efficiency.smk"


rule all:
    input:
        expand("results/efficiency/{dataset}.json", dataset=config["efficiency_datasets"]),
    default_target: True

# zegclip workflow: every table of the ZegCLIP paper, each run trained once, evaluated, rendered.
# Rules live in workflow/rules/*.smk and call the `zegclip` command line.
#   snakemake --cores all reports/table5.md        one table (mini-world by default)
#   snakemake --cores all --config scale=paper   paper scale, one seed (see README)
from snakemake.utils import min_version

min_version("8.0")


configfile: "workflow/config.yaml"


include: "workflow/rules/config.smk"
include: "workflow/rules/common.smk"
include: "workflow/rules/mini.smk"
include: "workflow/rules/train.smk"
include: "workflow/rules/report.smk"
include: "workflow/rules/efficiency.smk"
include: "workflow/rules/gate.smk"


rule all:
    input:
        expand(f"{config['reports']}/table{{n}}.md", n=[2, 3, 4, 5, 6, 7, 8, 9]),
        f"{config['reports']}/claims_table5.md",
        expand(f"{config['reports']}/figures/{{figure}}.png", figure=figures_for(SCALE)),
        # the qualitative figures: at mini scale (at paper scale: snakemake reports/figures/qualitative_voc.png)
        expand(f"{config['reports']}/figures/qualitative_{{ds}}.png", ds=QUALITATIVE_DATASETS if SCALE == "mini" else []),
        # your own datasets' tables (config `datasets:`)
        expand(f"{config['reports']}/{{ds}}/{{table}}.md", ds=list(USER_DATASETS), table=USER_TABLES),
    default_target: True

rule render_table:
    """A paper table from its rows' results: ours (mean ± std over seeds) beside the paper's."""
    input:
        lambda wc: table_inputs(wc.table),
    output:
        md=f"{config['reports']}/{{table}}.md",
        tex=f"{config['reports']}/{{table}}.tex",
        csv=LAYOUT.text(layout.TABLE),
        fingerprints=LAYOUT.text(layout.TABLE_FINGERPRINTS),
    log:
        f"{RESULTS}/logs/render_table/{{table}}.log",
    conda:
        "../../env/zegclip.yaml"
    wildcard_constraints:
        table="table[2456789]",
    params:
        seeds=" ".join(map(str, SEEDS)),
        scale=SCALE,
        results=lambda wc, output: layout.results_root(output.csv, layout.TABLE),
        world_seed=config["mini"]["world_seed"],  # whose committed convergence verdicts mark the rows
    shell:
        "zegclip report --table {wildcards.table} --scale {params.scale} --results {params.results} "
        "--seeds {params.seeds} --world-seed {params.world_seed} --out {output.md} > {log} 2>&1"


rule render_convergence:
    """The budget-doubling rule: every row of the table trained for T and for 2T (convergence_seeds)."""
    input:
        convergence_inputs,
    output:
        md=f"{config['reports']}/convergence_{{table}}.md",
        csv=LAYOUT.text(layout.TABLE, table="convergence_{table}"),
    log:
        f"{RESULTS}/logs/render_convergence/{{table}}.log",
    conda:
        "../../env/zegclip.yaml"
    wildcard_constraints:
        table="|".join(CONVERGENCE_TABLES),
    params:
        scale=SCALE,
        results=lambda wc, output: layout.results_root(output.csv, layout.TABLE),
        world_seed=config["mini"]["world_seed"],
        seeds=" ".join(map(str, CONVERGENCE_SEEDS)),
    shell:
        "zegclip convergence --table {wildcards.table} --scale {params.scale} --results {params.results} "
        "--seeds {params.seeds} --world-seed {params.world_seed} --out {output.md} > {log} 2>&1"


rule render_claims:
    """The paper's Table 5 claims tested on our Table 5 runs, seed by seed (zegclip claims)."""
    input:
        lambda wc: table_inputs("table5"),
    output:
        md=f"{config['reports']}/claims_table5.md",
    log:
        f"{RESULTS}/logs/render_claims.log",
    conda:
        "../../env/zegclip.yaml"
    params:
        seeds=" ".join(map(str, SEEDS)),
        scale=SCALE,
        results=config["results"],
        label=f"world seed {config['mini']['world_seed']}" if SCALE == "mini" else "",
    shell:
        "zegclip claims --scale {params.scale} --results {params.results} --seeds {params.seeds} "
        "--label {params.label:q} --out {output.md} > {log} 2>&1"


rule check_results:
    """Regression check of the rendered tables: the paper's numbers (paper scale) or golden ones (mini)."""
    input:
        csv=expand(LAYOUT.text(layout.TABLE), table=config["check_tables"]),
        fingerprints=expand(LAYOUT.text(layout.TABLE_FINGERPRINTS), table=config["check_tables"]),
    output:
        report=LAYOUT.text(layout.CHECK),
    log:
        f"{RESULTS}/logs/check_results.log",
    conda:
        "../../env/zegclip.yaml"
    params:
        scale=SCALE,
        tables=" ".join(config["check_tables"]),
        results=lambda wc, output: layout.results_root(output.report, layout.CHECK),
    shell:
        "zegclip check --scale {params.scale} --results {params.results} --tables {params.tables} "
        "> {output.report} 2> {log}"


rule render_efficiency_table:
    """Table 3: the efficiency command's counts of the paper-scale model beside the paper's."""
    input:
        reports=expand(LAYOUT.text(layout.EFFICIENCY), dataset=["voc", "coco"]),
    output:
        md=f"{config['reports']}/table3.md",
        tex=f"{config['reports']}/table3.tex",
        csv=LAYOUT.text(layout.TABLE, table="table3"),
    log:
        f"{RESULTS}/logs/render_efficiency_table.log",
    conda:
        "../../env/zegclip.yaml"
    params:
        scale=SCALE,
        results=lambda wc, output: layout.results_root(output.csv, layout.TABLE),
    shell:
        "zegclip report --table table3 --scale {params.scale} --results {params.results} "
        "--seeds 0 --out {output.md} > {log} 2>&1"


rule draw_figure:
    """A seaborn figure from the results tree: per-class unseen IoU, prompt depth, prompt tokens,
    Table 5 learning curves (mini scale)."""
    input:
        lambda wc: figure_inputs(wc.figure),
    output:
        image=f"{config['reports']}/figures/{{figure}}.png",
    log:
        f"{RESULTS}/logs/draw_figure/{{figure}}.log",
    conda:
        "../../env/zegclip.yaml"
    wildcard_constraints:
        figure="|".join(FIGURES),
    params:
        seeds=" ".join(map(str, SEEDS)),
        scale=SCALE,
        results=config["results"],
    shell:
        "zegclip figure --name {wildcards.figure} --scale {params.scale} --results {params.results} "
        "--seeds {params.seeds} --out {output.image} > {log} 2>&1"


rule draw_qualitative:
    """Validation images with the ground truth and the Baseline-Fix and ZegCLIP predictions of
    seed 0 (Table 5's rows), unseen classes outlined: the paper's qualitative figure."""
    input:
        unpack(qualitative_inputs),
    output:
        image=f"{config['reports']}/figures/qualitative_{{dataset}}.png",
    log:
        f"{RESULTS}/logs/draw_qualitative/{{dataset}}.log",
    conda:
        "../../env/zegclip.yaml"
    wildcard_constraints:
        dataset="|".join(QUALITATIVE_DATASETS),
    params:
        dataset=lambda wc: ("mini_" if SCALE == "mini" else "") + wc.dataset,
        root=lambda wc: data_root(wc.dataset),
        runs=qualitative_args,
    shell:
        "zegclip qualitative --dataset {params.dataset} --data-root {params.root} {params.runs} "
        "--out {output.image} > {log} 2>&1"


rule render_user_table:
    """Table 5's rows on a user's own dataset (config `datasets:`): ours over seeds, no paper numbers."""
    input:
        user_table_inputs,
    output:
        md=f"{config['reports']}/{{dataset}}/{{table}}.md",
        tex=f"{config['reports']}/{{dataset}}/{{table}}.tex",
        csv=LAYOUT.text(layout.USER_TABLE),
    log:
        f"{RESULTS}/logs/render_user_table/{{dataset}}/{{table}}.log",
    conda:
        "../../env/zegclip.yaml"
    wildcard_constraints:
        dataset="|".join(USER_DATASETS) or "(?!)",  # (?!): no dataset configured, nothing matches
        table="|".join(USER_TABLES),
    params:
        seeds=" ".join(map(str, SEEDS)),
        scale=SCALE,
        results=lambda wc, output: layout.results_root(output.csv, layout.USER_TABLE),
        custom=lambda wc: f"{wc.dataset}={USER_DATASETS[wc.dataset].description}",
        preset=lambda wc: USER_DATASETS[wc.dataset].preset_at(SCALE),
    shell:
        "zegclip report --table {wildcards.table} --scale {params.scale} --results {params.results} "
        "--seeds {params.seeds} --custom {params.custom:q} --preset {params.preset} --out {output.md} > {log} 2>&1"

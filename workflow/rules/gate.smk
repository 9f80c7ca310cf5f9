# The regression gate's own measurement (docs/workflow.md, "Regression checks"): clean one-seed
# tables held out from the tolerances' fit (other training seeds, other numerical back-ends), and
# ZegCLIP runs with a planted regression; `snakemake reports/gate_power.md` renders what the
# gate catches and what it passes.

rule train_backend:
    """A run of the run sheet under another numerical back-end (BACKENDS), in its own tree."""
    input:
        unpack(run_inputs),
    output:
        results=LAYOUT.text(layout.BACKEND_RESULTS),
    log:
        f"{RESULTS}/logs/train_backend/{{backend}}/{{run}}/seed{{seed}}.log",
    conda:
        "../../env/zegclip.yaml"
    wildcard_constraints:
        backend="|".join(BACKENDS),
        run="[^/]+",
        seed=r"\d+",
    threads: lambda wc: BACKEND_THREADS.get(wc.backend, 1)
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        env=lambda wc: backend_env(wc.backend),
        overrides=run_overrides,
        recipe=run_recipe,
        preset=lambda wc: RUNS[wc.run].preset(SCALE),
        out=lambda wc, output: Path(output.results).parent,
    shell:
        "env {params.env} zegclip train --preset {params.preset} --out {params.out} --restart-if-changed "
        "{params.overrides} > {log} 2>&1"


rule train_planted:
    """The gate row's run with a planted regression (zegclip gate plant; PLANTS)."""
    input:
        unpack(run_inputs),
    output:
        results=LAYOUT.text(layout.PLANTED_RESULTS),
    log:
        f"{RESULTS}/logs/train_planted/{{plant}}/{{run}}/seed{{seed}}.log",
    conda:
        "../../env/zegclip.yaml"
    wildcard_constraints:
        plant="|".join(PLANTS),
        run="|".join(GATE_RUNS),
        seed=r"\d+",
    threads: 1
    resources:
        mem_mb=4000,
        runtime=20,
    params:
        overrides=run_overrides,
        recipe=run_recipe,
        preset=lambda wc: RUNS[wc.run].preset(SCALE),
        out=lambda wc, output: Path(output.results).parent,
    shell:
        "zegclip gate plant {wildcards.plant} --preset {params.preset} --out {params.out} --restart-if-changed "
        "{params.overrides} > {log} 2>&1"


rule render_gate_power:
    """What the regression check catches (planted regressions) and passes (held-out clean tables)."""
    input:
        gate_power_inputs,
    output:
        md=f"{config['reports']}/gate_power.md",
        csv=LAYOUT.text(layout.GATE_POWER),
    log:
        f"{RESULTS}/logs/render_gate_power.log",
    conda:
        "../../env/zegclip.yaml"
    params:
        results=lambda wc, output: layout.results_root(output.csv, layout.GATE_POWER),
        seed=GATE["seed"],
        clean=" ".join(map(str, GATE["clean_seeds"])),
        backends=" ".join(GATE["backends"]) or "none",
    shell:
        "zegclip gate power --results {params.results} --seed {params.seed} --clean-seeds {params.clean} "
        "--backends {params.backends} --out {output.md} > {log} 2>&1"

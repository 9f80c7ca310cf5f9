rule train_run:
    """One run of the run sheet for one seed: train, then evaluate on its dataset."""
    input:
        unpack(run_inputs),
    output:
        results=LAYOUT.text(layout.RUN_RESULTS),
    log:
        f"{RESULTS}/logs/train_run/{{run}}/seed{{seed}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/train_run/{{run}}/seed{{seed}}.tsv"
    conda:
        "../../env/zegclip.yaml"
    wildcard_constraints:
        run="[^/]+",
        seed=r"\d+",
    threads: 8 if SCALE == "paper" else 1
    resources:
        gpu=GPUS_PER_RUN,  # the SLURM plugin's name: gpu=N becomes sbatch --gpus=N
        mem_mb=32000 if SCALE == "paper" else 4000,
        runtime=720 if SCALE == "paper" else 20,
    params:
        # several GPUs of one node: torchrun splits the same global batch over them
        launcher=(f"torchrun --standalone --nproc_per_node={GPUS_PER_RUN} -m zegclip.cli"
                  if GPUS_PER_RUN > 1 else "zegclip"),
        overrides=run_overrides,
        recipe=run_recipe,  # unused by the command; a new preset changes it, and Snakemake reruns
        preset=lambda wc: RUNS[wc.run].preset(SCALE),
        out=lambda wc: LAYOUT.text(layout.RUN_DIR, run=wc.run, seed=wc.seed),
    shell:
        # A changed configuration (extra_sets, a retrained parent) makes Snakemake rerun the job;
        # --restart-if-changed then starts the run afresh instead of refusing its old checkpoints.
        "{params.launcher} train --preset {params.preset} --out {params.out} --restart-if-changed "
        "{params.overrides} > {log} 2>&1"


rule evaluate_cross_dataset:
    """Table 7: a COCO-Stuff run evaluated on another dataset's classes."""
    input:
        results=LAYOUT.text(layout.RUN_RESULTS),
    output:
        results=LAYOUT.text(layout.EVAL_RESULTS),
    log:
        f"{RESULTS}/logs/evaluate_cross_dataset/{{run}}/seed{{seed}}/{{target}}.log",
    conda:
        "../../env/zegclip.yaml"
    wildcard_constraints:
        run="[^/]+",
        seed=r"\d+",
    threads: 8 if SCALE == "paper" else 1
    resources:
        gpu=1 if SCALE == "paper" else 0,
        mem_mb=16000 if SCALE == "paper" else 4000,
        runtime=60 if SCALE == "paper" else 10,
    params:
        dataset=lambda wc: ("mini_" if SCALE == "mini" else "") + wc.target,
        root=lambda wc: data_root(wc.target),
        checkpoint=lambda wc: LAYOUT.text(layout.RUN_FINAL, run=wc.run, seed=wc.seed),
    shell:
        "zegclip evaluate --checkpoint {params.checkpoint} --dataset {params.dataset} "
        "--data-root {params.root} --output {output.results} > {log} 2>&1"

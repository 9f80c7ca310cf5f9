rule measure_efficiency:
    """Table 3: parameters, FLOPs and throughput of the paper-scale model for one dataset config."""
    output:
        report=LAYOUT.text(layout.EFFICIENCY),
    log:
        f"{RESULTS}/logs/measure_efficiency/{{dataset}}.log",
    conda:
        "../../env/zegclip.yaml"
    threads: 2
    resources:
        # throughput on a GPU needs one allocated (SLURM: --gpus=1); zegclip fails without it
        gpu=1 if EFFICIENCY_DEVICE == "cuda" else 0,
        mem_mb=8000,
        runtime=30,
    params:
        iters=config["efficiency_iters"],
        device=EFFICIENCY_DEVICE,
    shell:
        "zegclip efficiency --dataset {wildcards.dataset} --json --iters {params.iters} "
        "--device {params.device} > {output.report} 2> {log}"

rule measure_efficiency:
    """Table 3: parameters, FLOPs and throughput of the paper-scale model for one dataset config."""
    output:
        report=f"{RESULTS}/efficiency/{{dataset}}.json",
    log:
        f"{RESULTS}/logs/measure_efficiency/{{dataset}}.log",
    conda:
        "../../env/zegclip.yaml"
    threads: 2
    resources:
        mem_mb=8000,
        runtime=30,
    params:
        iters=config["efficiency_iters"],
    shell:
        "zegclip efficiency --dataset {wildcards.dataset} --json --iters {params.iters} "
        "> {output.report} 2> {log}"

rule generate_world:
    """The three mini datasets in the real layouts (deterministic for the world seed)."""
    output:
        marker=f"{WORLD}/world.json",
    log:
        f"{RESULTS}/logs/generate_world.log",
    conda:
        "../../env/zegclip.yaml"
    params:
        seed=config["mini"]["world_seed"],
        train=config["mini"]["train_images"],
        val=config["mini"]["val_images"],
        world=lambda wc, output: Path(output.marker).parent,
    shell:
        "zegclip mini world --out {params.world} --seed {params.seed} --train {params.train} --val {params.val} "
        "> {log} 2>&1"


rule pretrain_clip:
    """The tiny CLIP, pretrained contrastively on every class of the world."""
    output:
        weights=MINI_CLIP,
    log:
        f"{RESULTS}/logs/pretrain_clip.log",
    benchmark:
        f"{RESULTS}/benchmarks/pretrain_clip.tsv"
    conda:
        "../../env/zegclip.yaml"
    threads: 2
    resources:
        mem_mb=4000,
        runtime=30,
    params:
        steps=config["mini"]["clip_steps"],
    shell:
        "zegclip mini clip --out {output.weights} --steps {params.steps} > {log} 2>&1"


rule compute_references:
    """Uniform-chance and attribute-only scores of a mini dataset."""
    input:
        world=f"{WORLD}/world.json",
    output:
        scores=LAYOUT.text(layout.REFERENCES),
    log:
        f"{RESULTS}/logs/compute_references/{{dataset}}.log",
    conda:
        "../../env/zegclip.yaml"
    params:
        world=lambda wc, input: Path(input.world).parent,
    shell:
        "zegclip mini references --world {params.world} --dataset {wildcards.dataset} "
        "--output {output.scores} > {log} 2>&1"

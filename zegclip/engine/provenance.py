"""What a result says about how it was made: commit, package versions, device."""
from __future__ import annotations

import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Dict

import torch

PACKAGES = ("zegclip", "torch", "open_clip_torch", "numpy", "fvcore")


def git_commit() -> str:
    """The commit of the zegclip checkout, with ``-dirty`` if it has uncommitted changes."""
    repo = Path(__file__).resolve().parents[2]
    if not (repo / ".git").exists():
        return "not a git checkout"
    run = lambda *a: subprocess.run(["git", "-C", str(repo), *a], capture_output=True, text=True, check=True).stdout
    commit = run("rev-parse", "HEAD").strip()
    return commit + ("-dirty" if run("status", "--porcelain", "--untracked-files=no").strip() else "")


def package_versions() -> Dict[str, str]:
    out = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


def machine_name() -> str:
    """The CPU's model name and core count (a GPU run names its device separately)."""
    model = platform.processor() or platform.machine()
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.is_file():
        names = [line.split(":", 1)[1].strip() for line in cpuinfo.read_text().splitlines()
                 if line.startswith("model name")]
        model = names[0] if names else model
    return f"{model}, {os.cpu_count()} cores"


def device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"

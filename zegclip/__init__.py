"""zegclip: a reference harness for ZegCLIP (Zhou et al., CVPR 2023)."""
__version__ = "0.1.0"

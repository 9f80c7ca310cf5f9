"""Deterministic, resumable training batches.

The sample at position j of iteration i is fixed by (seed, i, j) alone: which image (an
epoch-wise permutation drawn from the seed) and its augmentation (a generator seeded with
(seed, i, j)). A run restarted at iteration k therefore sees exactly the batches an
uninterrupted run sees from k on, whatever the number of workers or processes.
"""
from __future__ import annotations

from typing import Dict, Iterator, List, Tuple

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Sampler

from zegclip.config import AugmentConfig
from zegclip.data.datasets import DataError, SegmentationDataset
from zegclip.data.transforms import train_transform

Key = Tuple[int, int]  # (dataset index, augmentation seed)


class AugmentedSamples(Dataset):
    def __init__(self, dataset: SegmentationDataset, augment: AugmentConfig) -> None:
        self.dataset, self.augment = dataset, augment

    def __len__(self) -> int:
        return len(self.dataset)

    def __getitem__(self, key: Key):
        index, seed = key
        image, label = self.dataset.load(index)
        return train_transform(image, label, self.augment, np.random.default_rng(seed))


class IterationBatches(Sampler[List[Key]]):
    """Batches of keys for iterations ``start .. iters-1``; this process's share of each."""

    def __init__(self, n: int, batch: int, seed: int, start: int, iters: int, rank: int = 0, world: int = 1):
        if batch % world:
            raise ValueError(f"train.batch={batch} must be divisible by the number of processes ({world})")
        self.n, self.batch, self.seed, self.start, self.iters = n, batch, seed, start, iters
        self.rank, self.world = rank, world
        self._perms: Dict[int, np.ndarray] = {}

    def _index(self, position: int) -> int:
        epoch = position // self.n
        if epoch not in self._perms:
            self._perms = {epoch: np.random.default_rng([self.seed, epoch]).permutation(self.n)}
        return int(self._perms[epoch][position % self.n])

    def __len__(self) -> int:
        return max(self.iters - self.start, 0)

    def __iter__(self) -> Iterator[List[Key]]:
        per = self.batch // self.world
        for it in range(self.start, self.iters):
            slots = range(self.rank * per, (self.rank + 1) * per)
            yield [(self._index(it * self.batch + j),
                    int(np.random.SeedSequence([self.seed, it, j]).generate_state(1)[0])) for j in slots]


def _own_message(err: DataError) -> str:
    """A worker's DataError reaches the main process as "Caught DataError in DataLoader worker
    process N. Original Traceback ...": keep only the original message, its last line."""
    text = str(err)
    if "Original Traceback" not in text:
        return text
    last = [line for line in text.splitlines() if line.strip()][-1]
    return last.split("DataError: ", 1)[-1]


def training_batches(dataset: SegmentationDataset, augment: AugmentConfig, batch: int, seed: int, start: int,
                     iters: int, workers: int, rank: int = 0, world: int = 1) -> Iterator:
    """(images, labels, valid) for iterations ``start .. iters-1``; bad data stops with the
    dataset's own one-line message, from the main process or a worker."""
    sampler = IterationBatches(len(dataset), batch, seed, start, iters, rank, world)
    # An explicit generator keeps the loader from drawing on the global RNG (model dropout).
    loader = DataLoader(AugmentedSamples(dataset, augment), batch_sampler=sampler, num_workers=workers,
                        pin_memory=torch.cuda.is_available(), generator=torch.Generator().manual_seed(seed),
                        persistent_workers=False)
    batches = iter(loader)
    while True:
        try:
            yield next(batches)
        except StopIteration:
            return
        except DataError as err:
            raise DataError(_own_message(err)) from None

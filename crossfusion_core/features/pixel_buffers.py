"""Shared-memory pixel buffers that a reader process fills again and again.

A tensor that a DataLoader worker returns is copied into a new shared-memory file on its way to the
main process, and the kernel zero-fills each 4 KiB page of it on first touch: about 1.5 ms per MiB here,
more than decoding the JPEG tiles behind those pixels (benchmarks/bench_feature_io.py). So each reader
process writes its work items straight into a few shared buffers that it keeps, and sends the same
buffer again once the main process is done with it: each buffer has a one-byte lease, also in shared
memory, that the worker sets when it fills the buffer and the main process clears when the buffer's
storage is freed there (a weakref finalizer on the storage, which outlives every view and numpy array
of it). A worker never writes into a leased buffer; when all are leased (a consumer holding many
blocks) it allocates a plain tensor as before, so holding blocks costs speed, never correctness.
"""

from __future__ import annotations

import math
import weakref

import torch
from torch.utils.data import get_worker_info

FREE = 0
LEASED = 1


class PixelBuffers:
    """A reader process's shared buffers of ``capacity_bytes`` each, at most ``count`` of them.

    Made in the main process and copied into each worker by the fork; buffers are created in the
    worker on first use and never pickled.
    """

    def __init__(self, capacity_bytes: int, count: int) -> None:
        self.capacity_bytes = capacity_bytes
        self.count = count
        self._buffers: list[tuple[torch.Tensor, torch.Tensor]] = []

    def __getstate__(self) -> dict:
        return {**self.__dict__, "_buffers": []}

    def take(self, shape: tuple[int, ...]) -> tuple[torch.Tensor, torch.Tensor | None]:
        """A uint8 tensor of ``shape`` and its lease: a free shared buffer in a reader process, else a
        plain tensor and no lease (in the main process, or when every buffer is leased)."""
        size = math.prod(shape)
        if get_worker_info() is None or size > self.capacity_bytes:
            return torch.empty(shape, dtype=torch.uint8), None
        buffer = next((b for b in self._buffers if b[1].numpy()[0] == FREE), None)
        if buffer is None and len(self._buffers) < self.count:
            buffer = (
                torch.empty(self.capacity_bytes, dtype=torch.uint8).share_memory_(),
                torch.zeros(1, dtype=torch.uint8).share_memory_(),
            )
            self._buffers.append(buffer)
        if buffer is None:
            return torch.empty(shape, dtype=torch.uint8), None
        pixels, lease = buffer
        lease.numpy()[0] = LEASED
        return pixels[:size].view(shape), lease


def release_when_freed(pixels: torch.Tensor, lease: torch.Tensor) -> None:
    """Clear ``lease`` once the storage under ``pixels`` is freed in this process."""
    weakref.finalize(pixels.untyped_storage(), release, lease)


def release(lease: torch.Tensor | None) -> None:
    """Give a buffer back (its pixels were freed, or its work item failed and sends none).

    Written through numpy: a lease received under ``torch.inference_mode`` is an inference tensor,
    which torch does not let change in place outside that mode, where finalizers may run.
    """
    if lease is not None:
        lease.numpy()[0] = FREE

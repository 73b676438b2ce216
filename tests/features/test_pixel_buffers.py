"""Reader processes reuse their shared pixel buffers only once the main process has let go of them."""

from __future__ import annotations

import pytest
import torch
from torch.utils.data import DataLoader, Dataset

from crossfusion_core.features.pixel_buffers import FREE, LEASED, PixelBuffers
from crossfusion_core.features.reading import PatchBlock

SHAPE = (4, 8, 8, 3)
BUFFERS = 4


class Numbered(Dataset):
    """Item ``i``: a block whose pixels all equal ``i``, and the address of the memory it was written to."""

    def __init__(self, length: int) -> None:
        self.length = length
        self.buffers = PixelBuffers(torch.Size(SHAPE).numel(), BUFFERS)

    def __len__(self) -> int:
        return self.length

    def __getitem__(self, index: int) -> tuple[PatchBlock, int]:
        pixels, lease = self.buffers.take(SHAPE)
        pixels.fill_(index)
        rows = torch.arange(SHAPE[0])
        return PatchBlock(torch.zeros_like(rows), rows, pixels, lease), pixels.data_ptr()


def test_buffers_are_reused_once_the_main_process_lets_go():
    addresses = set()
    for index, (block, address) in enumerate(DataLoader(Numbered(40), batch_size=None, num_workers=1)):
        assert block.lease is not None and (block.pixels_rgb == index).all()
        addresses.add(address)
        del block
    assert len(addresses) <= BUFFERS


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_leases_received_in_inference_mode_are_released_outside_it():
    """Extraction receives blocks under ``torch.inference_mode`` (the leases become inference tensors)
    and may free them after leaving it."""
    with torch.inference_mode():
        held = [block for block, _ in DataLoader(Numbered(BUFFERS), batch_size=None, num_workers=1)]
    leases = [block.lease for block in held]
    assert all(lease is not None and lease.item() == LEASED for lease in leases)
    held.clear()
    assert [lease.item() for lease in leases] == [FREE] * BUFFERS


def test_blocks_held_by_the_main_process_are_never_overwritten():
    held = list(DataLoader(Numbered(30), batch_size=None, num_workers=2))
    assert sum(block.lease is not None for block, _ in held) == 2 * BUFFERS
    for index, (block, _) in enumerate(held):
        assert (block.pixels_rgb == index).all()


def test_the_main_process_gets_a_plain_tensor():
    pixels, lease = PixelBuffers(torch.Size(SHAPE).numel(), BUFFERS).take(SHAPE)
    assert lease is None and not pixels.is_shared() and pixels.shape == SHAPE

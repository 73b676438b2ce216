"""Pieces of the training loop: the per-step patch subsampling of ``training.max_train_patches``."""

from __future__ import annotations

import torch

from crossfusion_core.training.loop import subsampled


def _item(sizes: tuple[int, int, int]) -> tuple:
    """Bags whose rows hold their own index, so a subsample shows which patches it kept, in which order."""
    bags = tuple(torch.arange(n, dtype=torch.float32).unsqueeze(1).repeat(1, 3) for n in sizes)
    return (*bags, 2, 14.5, 0, "SYN-P0001")


def test_every_bag_is_cut_to_the_limit_keeping_patch_order_and_labels() -> None:
    torch.manual_seed(0)
    cut = subsampled(_item((5, 40, 160)), 16)
    assert [len(bag) for bag in cut[:3]] == [5, 16, 16]
    for bag in cut[1:3]:
        kept = bag[:, 0]
        assert torch.all(kept[1:] > kept[:-1])  # original order, no repeats
    assert cut[3:] == (2, 14.5, 0, "SYN-P0001")


def test_the_draw_changes_from_step_to_step_and_follows_the_seed() -> None:
    item = _item((4, 64, 256))
    torch.manual_seed(1)
    first, second = subsampled(item, 8), subsampled(item, 8)
    torch.manual_seed(1)
    again = subsampled(item, 8)
    assert not torch.equal(first[2], second[2])
    assert torch.equal(first[2], again[2])


def test_no_limit_leaves_the_item_as_it_is() -> None:
    item = _item((3, 9, 36))
    assert subsampled(item, None) is item

"""CrossFusion's patch scores: informative at every scale, and equal to the unchunked definition."""

from __future__ import annotations

import torch

from crossfusion_core.models.crossfusion import CrossFusion


def test_scores_have_bag_lengths_and_vary(original_model: CrossFusion, structured_bags: tuple) -> None:
    scores = original_model.patch_scores(*structured_bags, chunk_size=8)
    for key, bag in zip(("x5", "x10", "x20"), structured_bags, strict=True):
        assert scores[key].shape == (bag.shape[0],)
        assert torch.isfinite(scores[key]).all()
        assert scores[key].std() > 1e-3 * scores[key].abs().mean(), f"{key} scores are constant"


def test_received_attention_sums_to_the_number_of_queries(
    original_model: CrossFusion, structured_bags: tuple
) -> None:
    scores = original_model.patch_scores(*structured_bags, chunk_size=5)
    n_source = structured_bags[1].shape[0]
    torch.testing.assert_close(scores["x5"].sum(), torch.tensor(float(n_source)))
    torch.testing.assert_close(scores["x20"].sum(), torch.tensor(float(n_source)))
    assert 0.5 < scores["x10"].sum() < 1.0  # the class token's attention to itself is not a patch's


def test_fine_scores_match_the_full_attention_matrix(
    original_model: CrossFusion, structured_bags: tuple
) -> None:
    """The unchunked definition, written out: softmax over all 20x keys, summed over 10x queries."""
    _, source, fine = original_model._embedded(*structured_bags)
    block = original_model.cross["fine"]
    attn = block.attn
    queries = attn.split_heads(attn.query(source + block.scale_embedding))
    keys = attn.split_heads(attn.key(fine + block.scale_embedding))
    head_dim = queries.shape[-1]
    full = torch.softmax(queries @ keys.transpose(-2, -1) / head_dim**0.5, dim=-1)
    expected = full.sum(dim=2).mean(dim=1)[0].detach()
    torch.testing.assert_close(original_model.patch_scores(*structured_bags, chunk_size=3)["x20"], expected)


def test_padding_sources_are_not_favoured_at_10x(original_model: CrossFusion) -> None:
    """40 patches pad to 49 with copies of the first 9: over random bags, those 9 score like the rest
    (summing copies instead of averaging them gave them twice the score)."""
    generator = torch.Generator().manual_seed(0)
    sources, others = [], []
    for _ in range(10):
        bags = (torch.randn(n, 96, generator=generator) for n in (10, 40, 160))
        scores = original_model.patch_scores(*bags)["x10"]
        sources.append(scores[:9].mean())
        others.append(scores[9:].mean())
    assert 0.85 < (torch.stack(sources).mean() / torch.stack(others).mean()).item() < 1.15

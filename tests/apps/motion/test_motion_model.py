"""HD-SNN layer: causality, delay and offset semantics, loss targets, options, pruning, bad input."""

from __future__ import annotations

import pytest
import torch

from snnlab.apps.motion.model import HDSNN, cone_mask, prune_kernel, shorten_kernel
from snnlab.apps.motion.samples import past_windows
from snnlab.errors import ConfigError, ShapeError


def _voxels(batch: int = 2, steps: int = 12, side: int = 8, seed: int = 0) -> torch.Tensor:
    g = torch.Generator().manual_seed(seed)
    return (torch.rand(batch, 2, steps, side, side, generator=g) < 0.2).float()  # (B, P, T, H, W)


@pytest.mark.parametrize("invariant", [False, True])
def test_output_at_t_ignores_input_after_t(invariant):
    torch.manual_seed(0)
    layer = HDSNN(3, kernel_t=4, kernel_xy=3, polarity_invariant=invariant, init_std=0.5)
    x = _voxels()
    y = x.clone()
    y[:, :, 7:] = 1.0 - y[:, :, 7:]  # change the future from step 7 on
    with torch.no_grad():
        a, b = layer(x), layer(y)
    assert torch.equal(a[:, :, :7], b[:, :, :7])
    assert not torch.equal(a[:, :, 7:], b[:, :, 7:])


def test_single_synapse_delays_and_shifts_an_impulse():
    layer = HDSNN(2, kernel_t=5, kernel_xy=3, init_std=0.0)
    layer.set_synapses([(1, 0, 3, 1, -1, 2.0)])  # class 1, OFF, delay 3 ms, dy=+1, dx=-1
    x = torch.zeros(1, 2, 10, 6, 6)
    x[0, 0, 2, 3, 3] = 1.0  # OFF event at t=2, y=3, x=3
    with torch.no_grad():
        evidence = layer.evidence(x)  # (1, 2, 10, 6, 6)
    hits = torch.nonzero(evidence)
    assert hits.tolist() == [[0, 1, 5, 4, 2]]  # t = 2 + 3, y = 3 + 1, x = 3 - 1
    assert float(evidence[0, 1, 5, 4, 2]) == 2.0


def test_polarity_invariance_takes_the_max_over_swapped_polarities():
    layer = HDSNN(1, kernel_t=2, kernel_xy=1, polarity_invariant=True, init_std=0.0)
    layer.set_synapses([(0, 1, 0, 0, 0, 1.5), (0, 0, 0, 0, 0, -1.0)])  # ON +1.5, OFF -1
    x = torch.zeros(1, 2, 3, 1, 1)
    x[0, 0, 1] = 1.0  # one OFF event: plain evidence -1, swapped +1.5
    assert float(layer.evidence(x)[0, 0, 1, 0, 0].detach()) == 1.5
    swapped = x.flip(1)
    torch.testing.assert_close(layer.evidence(x), layer.evidence(swapped))


def test_cone_mask_radius_grows_with_delay_and_limits_synapses():
    mask = cone_mask(4, 7)  # (K_T, K_XY, K_XY)
    counts = mask.sum(dim=(1, 2))
    assert torch.all(counts[1:] >= counts[:-1]) and counts[0] < counts[-1]
    assert mask[0, 3, 3] == 1 and mask[-1, 3, 0] == 1 and mask[0, 3, 0] == 0
    layer = HDSNN(2, kernel_t=4, kernel_xy=7, cone=True)
    assert layer.n_synapses() == 2 * 2 * int(mask.sum())


@pytest.mark.parametrize("invariant", [False, True])
def test_window_logits_equal_the_convolution_at_those_voxels(invariant):
    torch.manual_seed(3)
    layer = HDSNN(3, kernel_t=4, kernel_xy=5, polarity_invariant=invariant, init_std=0.5)
    x = _voxels(steps=10, side=7)
    index = torch.tensor([[0, 0, 0, 0], [1, 9, 6, 6], [0, 5, 3, 2], [1, 2, 0, 4]])  # (movie, t, y, x)
    with torch.no_grad():
        full = layer(x)  # (B, C, T, H, W)
        at = layer.window_logits(past_windows(x, index, 4, 5))
    torch.testing.assert_close(at, full[index[:, 0], :, index[:, 1], index[:, 2], index[:, 3]])


def test_loss_matches_bce_of_probabilities_and_has_gradients():
    torch.manual_seed(1)
    layer = HDSNN(3, kernel_t=3, kernel_xy=3, init_std=0.1)
    index = torch.tensor([[0, 2, 1, 1], [1, 5, 4, 7], [0, 4, 0, 3]])
    windows, labels = past_windows(_voxels(steps=6), index, 3, 3), torch.tensor([2, 0, 1])
    loss = layer.loss(windows, labels)
    prob = torch.sigmoid(layer.window_logits(windows))
    torch.testing.assert_close(loss, torch.nn.functional.binary_cross_entropy(prob, torch.eye(3)[labels]))
    loss.backward()
    assert layer.weight.grad.abs().sum() > 0 and layer.bias.grad.abs().sum() > 0


def test_spikes_are_thresholded_winner_take_all():
    torch.manual_seed(2)
    layer = HDSNN(4, kernel_t=3, kernel_xy=3, init_std=1.0)
    spikes = layer.spikes(_voxels(), threshold=0.3)
    assert spikes.dtype == torch.bool and spikes.sum(dim=1).max() <= 1 and spikes.any()
    with pytest.raises(ConfigError, match="threshold"):
        layer.spikes(_voxels(), threshold=1.5)


def test_pruning_keeps_the_largest_weights_and_shortening_the_short_delays():
    kernel = torch.arange(1.0, 1.0 + 2 * 2 * 4 * 3 * 3).view(2, 2, 4, 3, 3)
    pruned = prune_kernel(-kernel, 0.25)
    assert int(torch.count_nonzero(pruned)) == round(0.25 * kernel.numel())
    assert pruned.abs().min() == 0 and pruned.abs().max() == kernel.max()
    assert torch.equal(pruned != 0, kernel > kernel.numel() - 36)  # the 36 largest |w| survive
    short = shorten_kernel(kernel, 2)
    assert torch.count_nonzero(short[:, :, 2:]) == 0 and torch.equal(short[:, :, :2], kernel[:, :, :2])
    with pytest.raises(ConfigError, match="fraction"):
        prune_kernel(kernel, 0.0)
    with pytest.raises(ConfigError, match="n_delays"):
        shorten_kernel(kernel, 5)


@pytest.mark.parametrize(
    "synapse, field",
    [
        ((0, 0, 5, 0, 0, 1.0), "delay"),
        ((0, 0, -1, 0, 0, 1.0), "delay"),
        ((0, 2, 0, 0, 0, 1.0), "p"),
        ((0, 0, 0, 2, 0, 1.0), "dy"),
        ((3, 0, 0, 0, 0, 1.0), "c"),
    ],
)
def test_synapses_outside_the_kernel_are_rejected(synapse, field):
    layer = HDSNN(2, kernel_t=5, kernel_xy=3)
    with pytest.raises(ConfigError, match=rf"{field}=.*outside \["):
        layer.set_synapses([synapse])


def test_bad_shapes_and_sizes_raise_clear_errors():
    layer = HDSNN(2, kernel_t=5, kernel_xy=3)
    with pytest.raises(ShapeError, match="shorter than the kernel"):
        layer(torch.zeros(1, 2, 4, 6, 6))
    with pytest.raises(ShapeError, match="polarities"):
        layer(torch.zeros(1, 3, 8, 6, 6))
    with pytest.raises(ShapeError, match="batch, polarity, time, height, width"):
        layer(torch.zeros(2, 8, 6, 6))
    with pytest.raises(ShapeError, match="labels must be"):
        layer.loss(torch.zeros(4, 2, 5, 3, 3), torch.zeros(3, dtype=torch.long))
    with pytest.raises(ShapeError, match=r"\[0, 2\)"):
        layer.loss(torch.zeros(4, 2, 5, 3, 3), torch.full((4,), 2))
    with pytest.raises(ShapeError, match="windows must be"):
        layer.window_logits(torch.zeros(4, 2, 4, 3, 3))
    with pytest.raises(ConfigError, match="kernel_xy"):
        HDSNN(2, kernel_t=5, kernel_xy=4)
    with pytest.raises(ConfigError, match="kernel_t"):
        HDSNN(2, kernel_t=0)

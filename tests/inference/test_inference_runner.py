"""Step-wise early-stopping runner: same decisions as post hoc, fewer operations, state slicing."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from snnlab import nn as snn
from snnlab.inference import DynamicConfidence, EarlyExitRunner, NotStreamableError, check_streamable, run_streamed
from snnlab.inference.stream import keep_rows, streaming


def test_streamed_outputs_equal_multi_step(small_snn, spike_input):
    full = small_snn(spike_input)
    assert torch.allclose(run_streamed(small_snn, spike_input), full, atol=1e-5)
    check_streamable(small_snn, spike_input)
    assert all(m.step_mode == "m" and m.state is None for m in small_snn.modules() if isinstance(m, snn.SpikingNeuron))


def test_runner_decisions_equal_post_hoc_and_skip_work(small_snn, spike_input):
    rule = DynamicConfidence(0.35, smoothing=2.0)
    post = rule.decide(small_snn(spike_input))
    assert 1 < post.mean_latency() < 10  # some samples stop early, not all at once
    runner = EarlyExitRunner(small_snn, rule, count=True)
    labels = torch.zeros(spike_input.shape[1], dtype=torch.long)
    early = runner.run([(spike_input, labels)])
    full = runner.run([(spike_input, labels)], early_exit=False)
    assert early.decision.exit_step.tolist() == post.exit_step.tolist()
    assert early.decision.prediction.tolist() == post.prediction.tolist()
    assert full.decision.exit_step.tolist() == [10] * spike_input.shape[1]
    ratio = early.synaptic_ops / full.synaptic_ops
    assert ratio < 1.0
    # Synaptic work of a sample is spread over its steps: the saving tracks the latency cut.
    assert ratio == pytest.approx(post.mean_latency() / 10, abs=0.15)
    hidden = full.profile.layer("hidden.0.neuron")
    assert hidden.n_neurons == 24
    assert hidden.neuron_updates == 24 * 10 * spike_input.shape[1]
    assert early.profile.layer("hidden.0.neuron").neuron_updates == 24 * int(post.exit_step.sum())


def test_runner_honours_t_max_and_batches(small_snn, spike_input):
    rule = DynamicConfidence(1.0, t_max=4)
    labels = torch.arange(9) % 4
    stats = EarlyExitRunner(small_snn, rule).run([(spike_input[:, :5], labels[:5]), (spike_input[:, 5:], labels[5:])])
    assert stats.decision.exit_step.tolist() == [4] * 9
    expected = small_snn(spike_input)[:4].sum(0).argmax(-1)
    assert stats.decision.prediction.tolist() == expected.tolist()
    assert stats.labels.tolist() == labels.tolist() and stats.wall_s > 0


def test_keep_rows_slices_every_neuron_state(small_snn, spike_input):
    with streaming(small_snn):
        small_snn(spike_input[:1])
        keep = torch.tensor([0, 4, 8])
        keep_rows(small_snn, keep, spike_input.shape[1])
        after_slice = small_snn(spike_input[1:2, keep])
    with streaming(small_snn):
        small_snn(spike_input[:1, keep])
        direct = small_snn(spike_input[1:2, keep])
    assert torch.allclose(after_slice, direct, atol=1e-6)


class _TimeMixing(nn.Module):
    """Output at t depends on the whole sequence (a cumulative mean): not streamable."""

    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(12, 3)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc(x).mean(0, keepdim=True).expand(x.shape[0], -1, -1)


def test_not_streamable_model_is_refused(spike_input):
    with pytest.raises(NotStreamableError):
        check_streamable(_TimeMixing(), spike_input)

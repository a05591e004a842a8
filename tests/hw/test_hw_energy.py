"""Energy and latency: published figures recomputed from their stated inputs."""

from __future__ import annotations

import pytest

from snnlab.hw import ann_energy_j, ann_pass_macs, estimate, load_profile, spikformer_energy_j, ssa_acs
from snnlab.ir.activity import ActivityProfile, LayerActivity

from .conftest import mlp_graph


def two_layer(
    acs: float,
    macs: float,
    updates: float,
    spikes: float,
    neurons: int,
    steps: int,
    samples: int = 1,
    dense: float = 0.0,
) -> ActivityProfile:
    syn = LayerActivity("fc", "synapse", "Linear", acs=acs, macs=macs, dense_ops=dense)
    neu = LayerActivity("lif", "neuron", "LIF", n_neurons=neurons, neuron_updates=updates, spikes=spikes)
    return ActivityProfile(samples, steps, 1e-3, [syn, neu])


def test_truenorth_real_time_power_matches_merolla_2014():
    # Merolla 2014: 1M neurons at 20 Hz, 128 active synapses each, 26 pJ per event -> 65-72 mW.
    neurons, rate, fan = 4096 * 256, 20.0, 128
    spikes = neurons * rate  # one second
    report = estimate(two_layer(spikes * fan, 0, neurons * 1000, spikes, neurons, 1000), "truenorth")
    assert report.latency_s == pytest.approx(1.0)  # 1000 ticks of 1 ms
    assert 65e-3 <= report.total_j / report.latency_s <= 72e-3


def test_loihi_from_davies_2018_table2():
    acs, updates, spikes = 2.0e6, 1.0e5, 4.0e3
    report = estimate(two_layer(acs, 0, updates, spikes, 1000, 100), "loihi")
    expected = acs * 23.6e-12 + updates * 81e-12 + spikes * 1.7e-12
    assert report.total_j == pytest.approx(expected)
    by_layer = {l.name: l for l in report.layers}
    assert by_layer["fc"].synaptic_j == pytest.approx(acs * 23.6e-12)


def test_spikformer_convention():
    # E = 4.6 pJ * MAC + 0.9 pJ * AC, e.g. an encoder conv of 1e8 MACs/step over T=4 and a
    # spiking layer of 1e9 dense FLOPs/step at input firing rate 0.15.
    macs, acs = 4 * 1e8, 0.15 * 4 * 1e9
    assert spikformer_energy_j(macs, acs) == pytest.approx(4.6e-12 * 4e8 + 0.9e-12 * 6e8)
    activity = two_layer(acs * 10, macs * 10, 0, 0, 10, 4, samples=10)  # totals over 10 samples
    report = estimate(activity, "cmos45", method="spikformer")
    assert report.total_j == pytest.approx(spikformer_energy_j(macs, acs))


def test_ssa_formula():
    # T * H * N * d_h^2 * (fr_q + min(fr_k, fr_v)) for Spikformer-8-768 shapes, firing rates stated.
    assert ssa_acs(4, 12, 196, 64, 0.1, 0.2, 0.05) == pytest.approx(4 * 12 * 196 * 64**2 * 0.15)


def test_snn_saves_against_ann_only_when_sparse():
    dense = 1e9
    sparse = two_layer(0.05 * dense, 0, 0, 0, 10, 1, dense=dense)
    assert ann_energy_j(sparse) / estimate(sparse, "cmos45", method="spikformer").total_j == pytest.approx(
        4.6 / (0.9 * 0.05)
    )


def test_ann_baseline_is_one_dense_pass_not_t_passes():
    # 16 steps of a layer with 1e6 dense MACs per step: the ANN runs once, 1e6 MACs x 4.6 pJ.
    steps, per_step = 16, 1e6
    activity = two_layer(0.1 * per_step * steps, 0, 0, 0, 10, steps, dense=per_step * steps)
    assert ann_pass_macs(activity) == pytest.approx(per_step)
    assert ann_energy_j(activity) == pytest.approx(per_step * 4.6e-12)
    assert ann_energy_j(activity, e_mac=1e-12) == pytest.approx(per_step * 1e-12)
    twice = two_layer(0, 0, 0, 0, 10, steps, samples=2, dense=per_step * steps)  # dense_ops is per sample
    assert ann_energy_j(twice.per_inference()) == pytest.approx(ann_energy_j(activity))


def test_loihi2_energies_say_they_are_loihi_1s():
    report = estimate(two_layer(1e6, 0, 1e4, 100, 100, 10), "loihi2")
    assert "Loihi 1" in report.title and report.label == "loihi2 (Loihi 1 per-op energies)"
    assert report.to_dict()["label"] == report.label
    assert estimate(two_layer(1e6, 0, 1e4, 100, 100, 10), "loihi").label == "loihi"


def test_gpu_charges_dense_ops_regardless_of_sparsity():
    a = estimate(two_layer(1e3, 0, 0, 0, 10, 1, dense=1e6), "gpu")
    b = estimate(two_layer(1e5, 0, 0, 0, 10, 1, dense=1e6), "gpu")
    assert a.dynamic_j == pytest.approx(b.dynamic_j) == pytest.approx(1e6 * load_profile("gpu").energy["mac_j"])


def test_latency_steps_override_and_parallel_cores():
    activity = two_layer(1e6, 0, 1e4, 100, 100, 100)
    full = estimate(activity, "loihi")
    half = estimate(activity, "loihi", steps=50)
    assert half.latency_s == pytest.approx(full.latency_s / 2)
    assert half.dynamic_j == pytest.approx(full.dynamic_j / 2)
    t = load_profile("loihi").timing
    per_step = max(1e4 * t["synop_s"], 100 * t["neuron_update_s"]) + t["step_overhead_s"]
    assert full.time_per_step_s == pytest.approx(per_step)
    assert estimate(activity, "truenorth").time_per_step_s == pytest.approx(1e-3)


def test_static_energy_scales_with_latency():
    report = estimate(two_layer(1e6, 0, 1e4, 100, 100, 100), "speck")
    assert report.static_j == pytest.approx(0.42e-3 * report.latency_s)


def test_estimate_with_graph_reports_fit():
    graph = mlp_graph()
    activity = two_layer(1e5, 0, 1e4, 100, 128, 100)
    ok = estimate((graph, activity), "loihi")
    assert ok.fits and ok.cores_used == 1 and 0 < ok.utilisation <= 1
    bad = estimate((graph, activity), "truenorth")
    assert not bad.fits and "fan-in" in bad.mapping_error
    assert bad.to_dict()["total_j"] == pytest.approx(bad.total_j)


def test_chip_label_carries_the_caveat():
    from snnlab.hw import chip_label

    assert chip_label("loihi2") == "loihi2 (Loihi 1 per-op energies)" and chip_label("loihi") == "loihi"
    assert chip_label("cmos45_mac_ac") == "cmos45_mac_ac"  # a convention, not a profile

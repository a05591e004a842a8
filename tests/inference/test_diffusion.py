"""Gaussian diffusion: closed-form checks of the schedule, q_sample, DDIM/DDPM with a perfect oracle, EMA."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from snnlab.errors import ConfigError
from snnlab.functional.diffusion import NoiseSchedule
from snnlab.inference.diffusion import ddim_sample, ddim_timesteps, ddpm_sample, sample
from snnlab.inference.diffusion_sampling import image_grid, load_samples, save_samples, to_uint8
from snnlab.train.ema import EMA


def test_linear_schedule_matches_ddpm_numbers() -> None:
    s = NoiseSchedule()
    assert s.betas[0] == pytest.approx(1e-4) and s.betas[-1] == pytest.approx(0.02)
    assert float(s.alphas_bar[-1]) == pytest.approx(np.prod(1 - np.linspace(1e-4, 0.02, 1000)), rel=1e-10)
    assert float(s.alphas_bar[-1]) == pytest.approx(4.036e-5, rel=1e-3)  # sqrt(abar_T) ~ 0.0064: x_T ~ pure noise
    assert float(s.posterior_var[0]) == 0.0


def test_q_sample_has_the_closed_form_mean_and_variance() -> None:
    s = NoiseSchedule()
    gen = torch.Generator().manual_seed(0)
    x0 = torch.full((20000, 1, 1, 1), 0.7, dtype=torch.float64)
    for step in (0, 250, 999):
        t = torch.full((x0.shape[0],), step)
        xt = s.q_sample(x0, t, torch.randn(x0.shape, generator=gen, dtype=torch.float64))
        ab = float(s.alphas_bar[step])
        assert float(xt.mean()) == pytest.approx(0.7 * ab**0.5, abs=0.02)
        assert float(xt.var()) == pytest.approx(1 - ab, abs=0.03 * max(1 - ab, 0.01) + 1e-4)


def _oracle(schedule: NoiseSchedule, x0: torch.Tensor):
    def eps(x_t: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        return schedule.predict_eps(x_t, t, x0)

    return eps


@pytest.mark.parametrize("steps", [1, 10, 50, 1000])
def test_ddim_with_a_perfect_noise_oracle_recovers_x0(steps: int) -> None:
    s = NoiseSchedule()
    x0 = torch.rand(3, 1, 4, 4, dtype=torch.float64) * 2 - 1
    x_T = torch.randn(3, 1, 4, 4, dtype=torch.float64)
    out = ddim_sample(_oracle(s, x0), s, x_T, steps=steps)
    assert torch.allclose(out, x0, atol=1e-9)


def test_ddpm_with_a_perfect_oracle_ends_at_x0_and_counts_every_step() -> None:
    s = NoiseSchedule(steps=100)
    x0 = torch.rand(2, 1, 3, 3, dtype=torch.float64) * 2 - 1
    calls = []
    out = ddpm_sample(_oracle(s, x0), s, torch.randn(2, 1, 3, 3, dtype=torch.float64), progress=calls.append)
    assert len(calls) == 100 and torch.allclose(out, x0, atol=1e-9)


def test_ddim_eta_1_adds_noise_and_stays_finite() -> None:
    s = NoiseSchedule(steps=100)
    x0 = torch.zeros(2, 1, 3, 3)
    gen = torch.Generator().manual_seed(0)
    out = ddim_sample(_oracle(s, x0), s, torch.randn(2, 1, 3, 3), steps=10, eta=1.0, generator=gen)
    assert torch.isfinite(out).all()


def test_ddim_step_sequence() -> None:
    assert ddim_timesteps(1000, 50) == list(range(980, -1, -20))
    assert ddim_timesteps(1000, 1000) == list(range(999, -1, -1))
    assert ddim_timesteps(1000, 1) == [0]
    seq = ddim_timesteps(1000, 7)
    assert len(seq) == 7 and seq[-1] == 0 and seq == sorted(set(seq), reverse=True)
    with pytest.raises(ConfigError, match="1..1000"):
        ddim_timesteps(1000, 1001)


def test_loss_is_the_epsilon_mse() -> None:
    s = NoiseSchedule(steps=10)
    x0 = torch.randn(4, 1, 2, 2)
    gen = torch.Generator().manual_seed(3)
    torch.randint(0, 10, (4,), generator=gen)  # the loss draws t first, then the noise
    noise = torch.randn(x0.shape, generator=gen)
    want = torch.mean((torch.ones_like(x0) - noise) ** 2)
    got = s.loss(lambda x, t: torch.ones_like(x), x0, torch.Generator().manual_seed(3))
    assert float(got) == pytest.approx(float(want))


def test_sample_is_reproducible_by_seed() -> None:
    s = NoiseSchedule(steps=20)
    model = lambda x, t: 0.1 * x  # noqa: E731
    a = sample(model, s, (2, 1, 4, 4), "ddim", 5, seed=3)
    b = sample(model, s, (2, 1, 4, 4), "ddim", 5, seed=3)
    c = sample(model, s, (2, 1, 4, 4), "ddim", 5, seed=4)
    assert torch.equal(a, b) and not torch.equal(a, c)
    with pytest.raises(ConfigError, match="ddim or ddpm"):
        sample(model, s, (2, 1, 4, 4), "euler")


def test_ema_follows_the_closed_form() -> None:
    model = torch.nn.Linear(1, 1, bias=False)
    with torch.no_grad():
        model.weight.fill_(0.0)
    ema = EMA(model, decay=0.9, warmup=False)
    with torch.no_grad():
        model.weight.fill_(1.0)
    for _ in range(3):
        ema.update(model)
    assert float(ema.model.weight) == pytest.approx(1 - 0.9**3)
    with pytest.raises(ConfigError, match="ema_decay"):
        EMA(model, decay=1.0)


def test_ema_multi_tensor_update_equals_the_per_tensor_one_bitwise() -> None:
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Conv2d(1, 3, 3), torch.nn.BatchNorm2d(3))
    ema = EMA(model, decay=0.95)
    ref = {k: v.clone() for k, v in ema.model.state_dict().items()}
    for step in range(4):
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p))
        model(torch.randn(2, 1, 5, 5))  # moves the BN running stats and the integer counter
        d = min(0.95, (1.0 + step) / (10.0 + step))
        for k, v in model.state_dict().items():
            ref[k] = ref[k].mul_(d).add_(v, alpha=1.0 - d) if v.is_floating_point() else v.clone()
        ema.update(model)
    for k, v in ema.model.state_dict().items():
        assert torch.equal(v, ref[k]), k


def test_grid_and_npz_round_trip(tmp_path) -> None:
    imgs = torch.rand(5, 1, 4, 4) * 2 - 1
    grid = image_grid(to_uint8(imgs), cols=3, pad=1)
    assert grid.shape == (2 * 5 + 1, 3 * 5 + 1, 1)
    npz, png = save_samples(imgs, tmp_path / "s")
    assert png.stat().st_size > 0
    back = load_samples(npz)
    assert back.shape == imgs.shape and torch.allclose(back, imgs, atol=1 / 127.5)

"""``linear.spikes`` (spike-sparse Linear) equals the dense ``x W^T + b`` and its autograd.

The numba kernel is checked here; the same cases run on the cuda kernel under the CUDA simulator
(``test_spike_linear_cuda.py``). float64 to 1e-12, float32 to float32 tolerance.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from tests.cuda_device import dispatch


def spike_input(M: int, K: int, density: float, kind: str, dtype: torch.dtype, seed: int = 0) -> torch.Tensor:
    """Binary spikes, dropout-scaled spikes (1 / 0.6) or small counts, ``density`` of them nonzero."""
    g = torch.Generator().manual_seed(seed)
    x = (torch.rand(M, K, generator=g) < density).to(dtype)
    if kind == "dropout":
        x = x * (torch.rand(1, K, generator=g) < 0.6).to(dtype) / 0.6
    elif kind == "counts":
        x = x * torch.randint(1, 5, (M, K), generator=g).to(dtype)
    return x


def grads(backend: str, x, w, b, gy, max_density: float = 1.0):
    """Output and the gradients wrt x, w, b of ``linear.spikes`` on ``backend`` (torch: the dense reference)."""
    x, w = x.clone().requires_grad_(), w.clone().requires_grad_()
    b = None if b is None else b.clone().requires_grad_()
    y = dispatch("linear.spikes", backend, x, w, b, max_density) if backend != "dense" else F.linear(x, w, b)
    y.backward(gy)
    return [y.detach(), x.grad, w.grad, None if b is None else b.grad]


def assert_matches_dense(backend: str, M, K, N, density, kind, dtype, bias=True, max_density=1.0):
    tol = 1e-12 if dtype == torch.float64 else 1e-4
    g = torch.Generator().manual_seed(1)
    x = spike_input(M, K, density, kind, dtype)
    w, gy = torch.randn(N, K, generator=g, dtype=dtype), torch.randn(M, N, generator=g, dtype=dtype)
    b = torch.randn(N, generator=g, dtype=dtype) if bias else None
    for ours, ref in zip(grads(backend, x, w, b, gy, max_density), grads("dense", x, w, b, gy)):
        if ref is None:
            assert ours is None
        else:
            torch.testing.assert_close(ours, ref, rtol=tol, atol=tol)


CASES = {  # M, K, N, density, kind
    "binary 5%": (64, 70, 33, 0.05, "binary"),
    "dropout-scaled 15%": (50, 40, 17, 0.15, "dropout"),
    "counts 10%": (40, 30, 9, 0.10, "counts"),
    "all zeros": (12, 8, 5, 0.0, "binary"),
    "one row": (1, 16, 4, 0.3, "binary"),
    "one output": (20, 16, 1, 0.2, "binary"),
}


@pytest.mark.parametrize("dtype", (torch.float64, torch.float32), ids=str)
@pytest.mark.parametrize("case", list(CASES), ids=list(CASES))
def test_numba_equals_dense_and_its_autograd(case, dtype):
    assert_matches_dense("numba", *CASES[case], dtype)


def test_numba_without_bias_and_above_the_density_limit():
    assert_matches_dense("numba", 30, 20, 7, 0.1, "binary", torch.float64, bias=False)
    assert_matches_dense("numba", 30, 20, 7, 0.8, "counts", torch.float64, max_density=0.25)  # dense path


@pytest.mark.parametrize("dtype", (torch.float64, torch.float32), ids=str)
def test_numba_rows_with_every_count_of_nonzeros(dtype):
    """Rows with 0..11 nonzeros (the forward adds four per pass, then the remainder): exact to dense."""
    tol = 1e-12 if dtype == torch.float64 else 1e-5
    g = torch.Generator().manual_seed(3)
    x = torch.zeros(24, 40, dtype=dtype)
    for m in range(24):
        cols = torch.randperm(40, generator=g)[: m % 12]
        x[m, cols] = torch.randint(1, 4, (len(cols),), generator=g).to(dtype) / 0.6
    w, gy = torch.randn(9, 40, generator=g, dtype=dtype), torch.randn(24, 9, generator=g, dtype=dtype)
    ours, ref = grads("numba", x, w, None, gy), grads("dense", x, w, None, gy)
    for a, b in zip(ours[:3], ref[:3]):  # y, grad x, grad w (no bias)
        torch.testing.assert_close(a, b, rtol=tol, atol=tol)


@pytest.mark.parametrize("n_out", (1, 5, 32, 33))
def test_numba_input_gradient_by_rows_and_by_gemm(n_out):
    """``dy W``: row accumulation up to SMALL_GEMM_N outputs, torch's GEMM above; float64 exact."""
    from snnlab.kernels.numba.spike_linear import SMALL_GEMM_N, NumbaSpikeLinear

    assert SMALL_GEMM_N == 32
    g = torch.Generator().manual_seed(5)
    gy, w = (
        torch.randn(70, n_out, generator=g, dtype=torch.float64),
        torch.randn(n_out, 23, generator=g, dtype=torch.float64),
    )
    torch.testing.assert_close(NumbaSpikeLinear.input_grad(gy, w), gy @ w, rtol=1e-12, atol=1e-12)


def test_pooled_outputs_are_not_shared_between_calls():
    """Outputs and input gradients come from reused buffers: tensors still held keep their values."""
    g = torch.Generator().manual_seed(4)
    xs = [spike_input(300, 64, 0.1, "binary", torch.float32, seed=s).requires_grad_() for s in range(3)]
    w = torch.randn(64, 64, generator=g, requires_grad=True)
    ys = [dispatch("linear.spikes", "numba", x, w, None) for x in xs]
    for y in ys:
        y.backward(torch.ones_like(y))
    for x, y in zip(xs, ys):
        torch.testing.assert_close(y, x.detach() @ w.detach().t(), rtol=1e-5, atol=1e-5)
        torch.testing.assert_close(x.grad, torch.ones(300, 64) @ w.detach(), rtol=1e-5, atol=1e-5)
    assert len({y.data_ptr() for y in ys} | {x.grad.data_ptr() for x in xs}) == 6


def test_density_decides_the_path():
    from snnlab.kernels.numba.spike_linear import NumbaSpikeLinear

    x = spike_input(100, 50, 0.1, "binary", torch.float64)
    nnz = int((x != 0).sum())
    csr = NumbaSpikeLinear.compress(x, 0.25)
    assert csr is not None and csr.val.numel() == nnz and int(csr.indptr[-1]) == nnz
    assert NumbaSpikeLinear.compress(x, 0.5 * nnz / x.numel()) is None
    rows, cols = (x != 0).nonzero().unbind(1)
    assert torch.equal(csr.idx.long(), cols) and torch.equal(torch.repeat_interleave(csr.indptr.diff()), rows)


@pytest.mark.parametrize("dense_rows", [0, 10], ids=["even", "one block denser than max_density"])
def test_compress_equals_the_torch_csr(dense_rows: int):
    """One-pass compaction by blocks of rows; a block over its share of ``max_density`` is filled again from x."""
    from snnlab.kernels.common.spike_linear import compress_torch
    from snnlab.kernels.numba.spike_linear import NumbaSpikeLinear

    x = spike_input(100, 64, 0.05, "counts", torch.float32, seed=3)
    x[:dense_rows] = 2.5
    ours, ref = NumbaSpikeLinear.compress(x, 0.25), compress_torch(x, 0.25)
    assert 0 < float((x != 0).double().mean()) < 0.25
    assert torch.equal(ours.indptr, ref.indptr) and torch.equal(ours.idx, ref.idx) and torch.equal(ours.val, ref.val)


def test_input_gradient_only_when_asked():
    x = spike_input(10, 12, 0.2, "binary", torch.float64)
    w = torch.randn(3, 12, dtype=torch.float64, requires_grad=True)
    dispatch("linear.spikes", "numba", x, w, None).sum().backward()
    assert x.grad is None and torch.allclose(w.grad, x.sum(0).expand(3, -1))


def test_spike_linear_module_is_a_linear_with_the_same_result():
    from snnlab.nn import SpikeLinear

    torch.manual_seed(0)
    ref = torch.nn.Linear(24, 8).double()
    ours = SpikeLinear(24, 8, backend="numba").double()
    ours.load_state_dict(ref.state_dict())
    assert isinstance(ours, torch.nn.Linear) and list(ours.state_dict()) == list(ref.state_dict())
    x = spike_input(5 * 3, 24, 0.1, "binary", torch.float64).reshape(5, 3, 24)  # (T, B, K)
    torch.testing.assert_close(ours(x), ref(x), rtol=1e-12, atol=1e-12)
    with pytest.raises(ValueError, match="max_density"):
        SpikeLinear(4, 2, max_density=1.5)


def test_mlp_snn_trains_the_same_with_and_without_the_sparse_path():
    """The SHD MLP's hidden and output Linears on the sparse path give the dense path's loss and gradients."""
    from snnlab.models import create_model
    from snnlab.nn import SpikeLinear

    kw = dict(in_features=40, num_classes=5, hidden=[16, 16], tau=10.0, batch_norm=True, dropout=0.4, bias=False)
    x = spike_input(6 * 4, 40, 0.05, "binary", torch.float64).reshape(6, 4, 40)
    results = []
    for max_density in (1.0, 0.0):  # 0.0: every call takes the dense GEMM
        torch.manual_seed(0)
        model = create_model("mlp_snn", backend="numba", **kw).double()
        for m in model.modules():
            if isinstance(m, SpikeLinear):
                m.max_density = max_density
        loss = model(x).mean(0).logsumexp(1).sum()
        loss.backward()
        results.append([loss.detach()] + [p.grad for p in model.parameters()])
    for a, b in zip(*results):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)

"""Attention backends and their selection."""

import sys
import types

import pytest
import torch
from numpy.testing import assert_allclose

from sk_brainjepa.nn import (
    _attention,
    attention,
    flash_attn_available,
    math_attention,
    select_attention_backend,
)

from ._helpers import _gen


# ------------------------------------------------------------------- attention
@pytest.mark.parametrize("n_keys", [7, 12])
def test_attention_backends_agree(n_keys):
    g = _gen(5)
    q = torch.randn(2, 3, 7, 8, generator=g)
    k = torch.randn(2, 3, n_keys, 8, generator=g)
    v = torch.randn(2, 3, n_keys, 8, generator=g)
    ref = math_attention(q, k, v)
    assert_allclose(attention(q, k, v, backend="sdpa"), ref, atol=1e-5)
    assert_allclose(attention(q, k, v, backend="auto"), ref, atol=1e-5)
    assert_allclose(attention(q, k, v, backend="math"), ref, atol=0)


@pytest.mark.parametrize(
    ("backend", "device", "dtype", "available", "expected"),
    [
        ("auto", "cuda", torch.bfloat16, True, "flash"),
        ("auto", "cuda", torch.float16, True, "flash"),
        ("auto", "cuda", torch.float32, True, "sdpa"),
        ("auto", "cpu", torch.bfloat16, True, "sdpa"),
        ("auto", "cuda", torch.bfloat16, False, "sdpa"),
        ("flash", "cuda", torch.bfloat16, True, "flash"),
        ("sdpa", "cuda", torch.bfloat16, True, "sdpa"),
        ("math", "cpu", torch.float32, False, "math"),
    ],
)
def test_select_attention_backend(backend, device, dtype, available, expected):
    assert select_attention_backend(backend, device, dtype, available) == expected


@pytest.mark.parametrize(
    ("device", "dtype", "available", "head_dim", "error", "match"),
    [
        ("cuda", torch.bfloat16, False, 64, ImportError, "not installed"),
        ("cpu", torch.bfloat16, True, 64, ValueError, "needs CUDA tensors"),
        ("cuda", torch.float32, True, 64, ValueError, "float16 or bfloat16"),
        ("cuda", torch.float16, True, 512, ValueError, "head_dim <= 256"),
    ],
)
def test_select_attention_backend_flash_errors(
    device, dtype, available, head_dim, error, match
):
    with pytest.raises(error, match=match):
        select_attention_backend("flash", device, dtype, available, head_dim)


def test_select_attention_backend_unknown():
    with pytest.raises(ValueError, match="backend must be one of"):
        attention(*[torch.zeros(1, 1, 2, 4)] * 3, backend="fast")


@pytest.fixture
def fake_flash(monkeypatch):
    """Install a fake flash_attn whose kernel is the math formula in (B, N, H, hd)."""
    calls = []

    def flash_attn_func(q, k, v, dropout_p=0.0, softmax_scale=None, causal=False):
        calls.append((tuple(q.shape), causal))
        out = math_attention(q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2))
        return out.transpose(1, 2)

    module = types.ModuleType("flash_attn")
    module.flash_attn_func = flash_attn_func
    monkeypatch.setitem(sys.modules, "flash_attn", module)
    _attention._import_flash_attn_func.cache_clear()
    yield calls
    _attention._import_flash_attn_func.cache_clear()


def test_attention_flash_dispatch_with_fake_module(fake_flash, monkeypatch):
    assert flash_attn_available()
    q = torch.randn(2, 3, 5, 8, generator=_gen(1))
    # Found, but CPU float32 is not a flash case: auto falls back, flash refuses.
    assert_allclose(
        attention(q, q, q, backend="auto"), math_attention(q, q, q), atol=1e-5
    )
    assert fake_flash == []
    with pytest.raises(ValueError, match="needs CUDA tensors"):
        attention(q, q, q, backend="flash")
    # When the rules choose flash, the kernel gets (B, N, H, hd) and non-causal.
    monkeypatch.setattr(_attention, "select_attention_backend", lambda *a: "flash")
    out = attention(q, q, q, backend="flash")
    assert fake_flash == [((2, 5, 3, 8), False)]
    assert_allclose(out, math_attention(q, q, q), atol=1e-6)


def test_attention_flash_missing(monkeypatch):
    monkeypatch.setitem(sys.modules, "flash_attn", None)  # makes the import fail
    _attention._import_flash_attn_func.cache_clear()
    try:
        assert not flash_attn_available()
        q = torch.zeros(1, 1, 2, 4)
        with pytest.raises(ImportError, match="flash_attn package is not installed"):
            attention(q, q, q, backend="flash")
    finally:
        _attention._import_flash_attn_func.cache_clear()


def test_cuda_sdpa_excludes_cudnn_attention_and_cpu_leaves_sdpa_alone(monkeypatch):
    """cuDNN attention re-plans per sequence length (measured slow on an H200)."""
    from torch.nn.attention import SDPBackend

    from sk_brainjepa.nn import _attention

    assert SDPBackend.CUDNN_ATTENTION not in _attention._CUDA_SDPA_KERNELS
    assert SDPBackend.FLASH_ATTENTION in _attention._CUDA_SDPA_KERNELS
    assert SDPBackend.MATH in _attention._CUDA_SDPA_KERNELS  # always a fallback

    def no_restriction_on_cpu(*args, **kwargs):
        raise AssertionError("sdpa_kernel entered for CPU tensors")

    monkeypatch.setattr(_attention, "sdpa_kernel", no_restriction_on_cpu)
    q = torch.randn(1, 2, 5, 8, generator=torch.Generator().manual_seed(0))
    torch.testing.assert_close(
        _attention.attention(q, q, q, backend="sdpa"),
        _attention.math_attention(q, q, q),
    )

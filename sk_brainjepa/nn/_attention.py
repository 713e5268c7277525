"""Scaled dot-product attention with selectable backends (flash-attn, SDPA, math).

All backends compute the same non-causal ``softmax(q k^T / sqrt(head_dim)) v``
without dropout; they differ only in speed, memory and floating-point rounding.
flash-attn is optional: it is imported lazily, and only used for CUDA tensors in
fp16/bf16 (its only supported case).
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable

import torch
import torch.nn.functional as F

from sk_brainjepa.nn._config import ATTENTION_BACKENDS

logger = logging.getLogger(__name__)

_FLASH_DTYPES = (torch.float16, torch.bfloat16)
# flash-attn 2 kernels support head dimensions up to 256.
_FLASH_MAX_HEAD_DIM = 256

try:  # torch >= 2.3
    from torch.nn.attention import SDPBackend, sdpa_kernel
except ImportError:  # pragma: no cover - older torch has no cuDNN attention either
    SDPBackend = sdpa_kernel = None

# SDPA kernels allowed on CUDA: all but cuDNN attention, which builds a plan per
# new sequence length, and JEPA's lengths change with every mask draw
# (measured: docs/user-guide.md, "GPUs").
_CUDA_SDPA_KERNELS = (
    None
    if SDPBackend is None
    else [
        SDPBackend.FLASH_ATTENTION,
        SDPBackend.EFFICIENT_ATTENTION,
        SDPBackend.MATH,
    ]
)


@functools.cache
def _import_flash_attn_func() -> Callable | None:
    """``flash_attn.flash_attn_func`` if the package imports, else None.

    Cached because a failed import is retried from scratch by Python (a path
    scan per attention call otherwise); ``_import_flash_attn_func.cache_clear()``
    resets it (tests use it after installing a fake module).
    """
    try:
        from flash_attn import flash_attn_func
    except ImportError as exc:
        logger.debug("flash_attn is not usable: %s", exc)
        return None
    return flash_attn_func


def flash_attn_available() -> bool:
    """Whether the optional ``flash_attn`` package can be imported."""
    return _import_flash_attn_func() is not None


def _flash_unusable_reason(
    device_type: str, dtype: torch.dtype, flash_available: bool, head_dim: int
) -> str | None:
    """Why flash-attn cannot run these tensors, or None when it can."""
    if not flash_available:
        return (
            "the flash_attn package is not installed or failed to import "
            "(pip install flash-attn)"
        )
    if device_type != "cuda":
        return f"flash-attn needs CUDA tensors; got device type {device_type!r}"
    if dtype not in _FLASH_DTYPES:
        return f"flash-attn needs float16 or bfloat16 tensors; got {dtype}"
    if head_dim > _FLASH_MAX_HEAD_DIM:
        return f"flash-attn supports head_dim <= {_FLASH_MAX_HEAD_DIM}; got {head_dim}"
    return None


def select_attention_backend(
    backend: str,
    device_type: str,
    dtype: torch.dtype,
    flash_available: bool,
    head_dim: int = 64,
) -> str:
    """Resolve a requested attention backend to the one that will run.

    Pure function of its arguments, so the dispatch rules can be tested without a
    GPU.

    Parameters
    ----------
    backend : {"auto", "flash", "sdpa", "math"}
        Requested backend.
    device_type : str
        ``tensor.device.type`` of the inputs (``"cpu"``, ``"cuda"``, ...).
    dtype : torch.dtype
        Dtype of the inputs.
    flash_available : bool
        Whether ``flash_attn`` imports.
    head_dim : int, default=64
        Per-head width.

    Returns
    -------
    backend : {"flash", "sdpa", "math"}
        ``"auto"`` becomes ``"flash"`` when flash-attn can run these tensors,
        else ``"sdpa"``.

    Raises
    ------
    ValueError
        If ``backend`` is unknown, or ``"flash"`` is requested for tensors it
        cannot run (wrong device, dtype or head size).
    ImportError
        If ``"flash"`` is requested and ``flash_attn`` is not importable.
    """
    if backend not in ATTENTION_BACKENDS:
        raise ValueError(
            f"backend must be one of {ATTENTION_BACKENDS}; got {backend!r}."
        )
    reason = _flash_unusable_reason(device_type, dtype, flash_available, head_dim)
    if backend == "auto":
        return "flash" if reason is None else "sdpa"
    if backend == "flash" and reason is not None:
        msg = f"attention backend 'flash' was requested but {reason}."
        if not flash_available:
            raise ImportError(msg)
        raise ValueError(msg)
    return backend


def math_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
    """Reference attention ``softmax(q k^T / sqrt(head_dim)) v``, written out.

    Shapes as in :func:`attention`.
    """
    scale = 1.0 / math.sqrt(q.shape[-1])
    weights = torch.softmax((q @ k.transpose(-2, -1)) * scale, dim=-1)
    return weights @ v


def _flash(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, flash_attn_func: Callable
) -> torch.Tensor:
    # flash-attn wants (B, N, H, hd); the transposes are views with a unit last
    # stride, which is all the kernel requires.
    out = flash_attn_func(
        q.transpose(1, 2), k.transpose(1, 2), v.transpose(1, 2), causal=False
    )
    return out.transpose(1, 2)  # back to (B, H, N, hd)


def attention(
    q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, backend: str = "auto"
) -> torch.Tensor:
    """Non-causal multi-head attention through a selectable backend.

    Parameters
    ----------
    q, k, v : Tensor of shape (batch, n_heads, n_tokens, head_dim)
        Queries, keys and values (``k`` and ``v`` may have another token count).
    backend : {"auto", "flash", "sdpa", "math"}, default="auto"
        ``"flash"``: ``flash_attn.flash_attn_func`` (optional package; CUDA and
        fp16/bf16 only). ``"sdpa"``:
        :func:`torch.nn.functional.scaled_dot_product_attention`. ``"math"``: the
        explicit softmax formula (a reference for tests). ``"auto"``: flash when
        usable for these tensors, else sdpa.

    Returns
    -------
    out : Tensor of shape (batch, n_heads, n_tokens, head_dim)

    Raises
    ------
    ValueError, ImportError
        See :func:`select_attention_backend`.

    Examples
    --------
    >>> import torch
    >>> q = torch.zeros(2, 4, 5, 8)
    >>> attention(q, q, q, backend="math").shape
    torch.Size([2, 4, 5, 8])
    """
    if q.ndim != 4 or k.ndim != 4 or v.ndim != 4:
        raise ValueError(
            "q, k, v must have shape (batch, n_heads, n_tokens, head_dim); got "
            f"{tuple(q.shape)}, {tuple(k.shape)}, {tuple(v.shape)}."
        )
    flash_func = None
    # Only look for flash-attn where it could matter: "auto" on CPU or in fp32
    # resolves to sdpa whatever is installed.
    if backend == "flash" or (
        backend == "auto" and q.device.type == "cuda" and q.dtype in _FLASH_DTYPES
    ):
        flash_func = _import_flash_attn_func()
    chosen = select_attention_backend(
        backend, q.device.type, q.dtype, flash_func is not None, q.shape[-1]
    )
    if chosen == "flash":
        return _flash(q, k, v, flash_func)
    if chosen == "sdpa":
        if q.device.type == "cuda" and _CUDA_SDPA_KERNELS is not None:
            with sdpa_kernel(_CUDA_SDPA_KERNELS):
                return F.scaled_dot_product_attention(q, k, v)
        return F.scaled_dot_product_attention(q, k, v)
    return math_attention(q, k, v)

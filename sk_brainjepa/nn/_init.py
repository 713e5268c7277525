"""Seeded initialisation: the helpers of the one idiom every weight owner uses.

Seeded initialisation: the one idiom
------------------------------------
Every module of the package that owns weights (in ``nn``, in ``baselines`` and
in any new module) is built the same way, so that the same ``torch.Generator``
seed gives the same weights and library code never reads or advances the
global torch RNG:

1. **Build shape-only.** Declare the submodules and parameters inside
   ``with torch.device("meta"):``. ``nn.Linear``, ``nn.LayerNorm``,
   ``nn.TransformerEncoderLayer`` & co. initialise themselves from the global
   RNG in their constructors; on the meta device they allocate nothing and
   draw nothing. (Not ``torch.random.fork_rng``, which still runs the wasted
   draws and reads and rewrites the global state.)
2. **Allocate.** :func:`materialize_` moves the meta tensors, uninitialised,
   to the current default device (honouring an outer ``with torch.device``).
3. **Draw.** ``self.reset_parameters(generator)`` fills every parameter and
   buffer: it resolves the generator once with :func:`fresh_generator`
   (``None`` gives a fresh OS seed, never the global RNG) and draws, in a fixed
   order, only through the helpers below, :func:`trunc_normal_init_`,
   :func:`glorot_uniform_` and :func:`init_weights_`, which all take the
   generator explicitly.

Constructors take ``generator=None`` as a keyword and pass it on to step 3.
A module built inside an outer ``with torch.device("meta")`` (a shape-only
model, e.g. to check a state dict's keys) stays on the meta device: the
helpers skip meta tensors, so nested modules draw nothing until the outermost
one allocates and resets them all. The helpers draw on the generator's device
in float32 and copy, so a seed gives the same weights on any device and dtype.
``torch.nn.init`` takes ``generator=`` too, but its functions draw on the
tensor's device and infer the fans from the shape, and ``xavier_uniform_``
rounds its bound differently from :func:`glorot_uniform_`, so it would not give
the same numbers.

``tests/nn/test_init_idiom.py`` checks, for every module family, that the same
seed gives the same weights and that construction leaves the global RNG alone.
"""

from __future__ import annotations

import math

import torch
from torch import nn


def fresh_generator(generator: torch.Generator | None) -> torch.Generator:
    """``generator`` itself, or a new CPU generator seeded from OS entropy.

    Never falls back to the global torch RNG.
    """
    if generator is not None:
        if not isinstance(generator, torch.Generator):
            raise ValueError(
                f"generator must be a torch.Generator or None; got "
                f"{type(generator).__name__}."
            )
        return generator
    fresh = torch.Generator()
    fresh.seed()
    return fresh


def default_device() -> torch.device:
    """Device new tensors go to here (honours ``with torch.device(...)``)."""
    return torch.empty(0).device


def materialize_(
    module: nn.Module, device: torch.device | str | None = None
) -> nn.Module:
    """Allocate a module built on the meta device, uninitialised, in place.

    Step 2 of the package's initialisation idiom (module docstring of
    ``sk_brainjepa.nn._init``: build inside ``with torch.device("meta")``,
    ``materialize_``, then ``reset_parameters(generator)``): the values
    are garbage until ``reset_parameters(generator)`` draws them. Under an
    outer ``with torch.device("meta")`` the default device is meta and the
    module stays shape-only.

    Parameters
    ----------
    module : nn.Module
        Built inside ``with torch.device("meta")``.
    device : torch.device, str or None, default=None
        Where to allocate; None: the current default device.

    Returns
    -------
    module : nn.Module
        The same module.
    """
    return module.to_empty(device=default_device() if device is None else device)


def glorot_uniform_(
    tensor: torch.Tensor,
    fan_in: int,
    fan_out: int,
    generator: torch.Generator | None = None,
    gain: float = 1.0,
) -> torch.Tensor:
    """Fill ``tensor`` in place with Glorot-uniform values for the given fans.

    Draws U(-b, b) with ``b = gain * sqrt(6 / (fan_in + fan_out))``: the
    Glorot/Xavier uniform rule with the fans given explicitly, because weights
    such as BrainNetCNN's ``(out, in, n_rois)`` filters or a packed q/k/v
    matrix do not encode their fans in their shape the way
    ``torch.nn.init.xavier_uniform_`` expects (which also rounds the bound
    differently). Values are drawn in float32 on the generator's device and
    copied in, so the same seed gives the same weights on any device. Meta
    tensors are left alone (shape-only models).

    Parameters
    ----------
    tensor : torch.Tensor
        Tensor to fill (any shape).
    fan_in, fan_out : int
        Inputs summed into one output, and outputs one input feeds.
    generator : torch.Generator or None, default=None
        Source of randomness; None draws a fresh OS seed (never the global
        torch RNG).
    gain : float, default=1.0
        Multiplier of the bound.

    Returns
    -------
    tensor : torch.Tensor
        The same tensor, filled.
    """
    if tensor.device.type == "meta":
        return tensor
    generator = fresh_generator(generator)
    bound = gain * math.sqrt(6.0 / (fan_in + fan_out))
    with torch.no_grad():
        values = torch.empty(tensor.shape, device=generator.device)
        values.uniform_(-bound, bound, generator=generator)
        tensor.copy_(values)
    return tensor


def trunc_normal_init_(
    tensor: torch.Tensor,
    std: float = 0.02,
    generator: torch.Generator | None = None,
    bound: float = 2.0,
) -> torch.Tensor:
    """Fill ``tensor`` with normal(0, std) draws; any outside +-bound are redrawn.

    At the std the models use, 0.02, the official absolute bounds of +-2 lie
    100 standard deviations out: no draw ever falls outside, nothing is
    redrawn, and the result is exactly ``normal_(0, std, generator=generator)``.
    The truncation only acts when ``bound`` is within a few ``std`` (e.g.
    ``std=1, bound=0.5``); the entries outside are then redrawn until none
    remain, which samples the truncated normal exactly.

    Not ``torch.nn.init.trunc_normal_(..., generator=)``: torch 2.13 draws the
    same values at these settings (it also starts with ``normal_``), but
    releases before its 2026 rewrite, which the package supports (torch >=
    2.1), use the inverse-CDF method (``uniform_`` then ``erfinv_``) and would
    give other weights from the same seed. The values are drawn on the
    generator's device (CPU by default) in float32 and copied in, so the same
    seed gives the same weights on any device, dtype and torch version. Meta
    tensors are left alone (shape-only models). ``generator=None`` draws a
    fresh OS seed (never the global torch RNG).
    """
    if tensor.device.type == "meta":
        return tensor
    generator = fresh_generator(generator)
    device = generator.device
    with torch.no_grad():
        # Draw straight into the tensor when it already lives where the draws
        # happen, in float32; else draw aside and copy.
        direct = tensor.device == device and tensor.dtype == torch.float32
        values = tensor if direct else torch.empty(tensor.shape, device=device)
        values.normal_(0.0, std, generator=generator)
        while True:
            lo, hi = torch.aminmax(values)
            if lo >= -bound and hi <= bound:
                break
            outside = values.abs() > bound
            redraw = torch.empty(int(outside.sum()), device=device)
            values[outside] = redraw.normal_(0.0, std, generator=generator)
        if not direct:
            tensor.copy_(values)
    return tensor


_BATCH_NORMS = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


def init_weights_(module: nn.Module, generator: torch.Generator | None = None) -> None:
    """Official effective init of every Linear, Conv2d and LayerNorm in ``module``.

    Linear and Conv2d weights get trunc-normal(std=0.02), biases 0; LayerNorm
    weight 1, bias 0. The official class init also divides ``attn.proj`` and
    ``mlp.fc2`` by sqrt(2 * layer), but its ``init_model`` (official repository
    file ``src/helper.py``) re-initialises all Linear layers afterwards, which
    undoes that, so we do not rescale. BatchNorm layers get their own reset
    (running mean 0, variance 1, affine weight 1 and bias 0), which draws
    nothing: after :func:`materialize_` their buffers hold garbage too.

    Parameters
    ----------
    module : nn.Module
        Initialised in place, submodules in :meth:`~torch.nn.Module.modules`
        order.
    generator : torch.Generator or None, default=None
        Source of randomness; None draws a fresh OS seed per tensor (never the
        global torch RNG).
    """
    for sub in module.modules():
        if isinstance(sub, (nn.Linear, nn.Conv2d)):
            trunc_normal_init_(sub.weight, std=0.02, generator=generator)
            if sub.bias is not None:
                with torch.no_grad():
                    sub.bias.zero_()
        elif isinstance(sub, nn.LayerNorm):
            with torch.no_grad():
                if sub.weight is not None:
                    sub.weight.fill_(1.0)
                if sub.bias is not None:
                    sub.bias.zero_()
        elif isinstance(sub, _BATCH_NORMS):
            sub.reset_parameters()  # constants only: no draw

"""Former names of ``sk_brainjepa.nn``, kept for one release with a FutureWarning."""

from __future__ import annotations

import warnings

from torch import Tensor

from sk_brainjepa.masking import apply_masks


def gather_tokens(x: Tensor, idx: Tensor) -> Tensor:
    """Deprecated alias of :func:`sk_brainjepa.masking.apply_masks`.

    One concept, one name: the token gather lives in ``masking``. This alias
    warns and will be removed in the next release.

    Parameters
    ----------
    x : Tensor of shape (B, N, D)
    idx : Tensor of shape (B, K)

    Returns
    -------
    tokens : Tensor of shape (B, K, D)
    """
    warnings.warn(
        "sk_brainjepa.nn.gather_tokens is deprecated and will be removed in the "
        "next release; use sk_brainjepa.masking.apply_masks.",
        FutureWarning,
        stacklevel=2,
    )
    return apply_masks(x, idx)

"""Former names of ``sk_brainjepa.nn``, kept for one release with a FutureWarning."""

from __future__ import annotations

import warnings

from torch import Tensor

from sk_brainjepa._utils._deprecation import REMOVED_IN, former_attribute
from sk_brainjepa.masking import apply_masks

# Former name -> (the attribute that holds it now in the module that asks,
# the spelling that replaces it).
RENAMED = {
    "BrainJEPAPredictionModel": (
        "BrainJEPAFineTuneModel",
        "sk_brainjepa.nn.BrainJEPAFineTuneModel",
    ),
}


def renamed_attribute(module_name: str, name: str):
    """The object formerly called ``name``, with a FutureWarning naming the new one.

    Serves the module-level ``__getattr__`` of ``sk_brainjepa.nn`` and of
    ``sk_brainjepa.nn._finetune``, which defines the renamed class (so that
    pickles that recorded the old name load); see
    :func:`sk_brainjepa._utils._deprecation.former_attribute`.
    """
    return former_attribute(module_name, name, RENAMED, package="sk_brainjepa.nn")


def gather_tokens(x: Tensor, idx: Tensor) -> Tensor:
    """Deprecated alias of :func:`sk_brainjepa.masking.apply_masks`.

    One concept, one name: the token gather lives in ``masking``. This alias
    warns and will be removed in 0.3.

    Parameters
    ----------
    x : Tensor of shape (B, N, D)
    idx : Tensor of shape (B, K)

    Returns
    -------
    tokens : Tensor of shape (B, K, D)
    """
    warnings.warn(
        "sk_brainjepa.nn.gather_tokens is deprecated and will be removed in "
        f"{REMOVED_IN}; use sk_brainjepa.masking.apply_masks.",
        FutureWarning,
        stacklevel=2,
    )
    return apply_masks(x, idx)

"""Former names of ``sk_brainjepa.nn``, kept for one release with a FutureWarning."""

from __future__ import annotations

import sys
import warnings

from torch import Tensor

from sk_brainjepa.masking import apply_masks

# Former name -> current name, in sk_brainjepa.nn.
RENAMED = {"BrainJEPAPredictionModel": "BrainJEPAFineTuneModel"}


def renamed_attribute(module_name: str, name: str):
    """The object formerly called ``name``, with a FutureWarning naming the new one.

    Serves the module-level ``__getattr__`` (PEP 562) of ``sk_brainjepa.nn``
    and of ``sk_brainjepa.nn._finetune``, which defines the renamed class, so
    that both ``from sk_brainjepa.nn import OldName`` and pickles that recorded
    the old name keep working, with a warning, for one release.

    Parameters
    ----------
    module_name : str
        Module whose attribute lookup failed (for the AttributeError).
    name : str
        Attribute looked up.

    Returns
    -------
    obj : object
        The attribute ``RENAMED[name]`` of the module ``module_name``.

    Raises
    ------
    AttributeError
        If ``name`` is no former name.
    """
    if name not in RENAMED:
        raise AttributeError(f"module {module_name!r} has no attribute {name!r}")
    warnings.warn(
        f"sk_brainjepa.nn.{name} is deprecated and will be removed in the next "
        f"release; use sk_brainjepa.nn.{RENAMED[name]}.",
        FutureWarning,
        stacklevel=3,
    )
    # The new name lives in the module that asks (both import it or define
    # it), so nothing is imported here and no import cycle arises.
    return getattr(sys.modules[module_name], RENAMED[name])


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

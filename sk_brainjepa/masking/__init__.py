"""Spatiotemporal mask sampling for Brain-JEPA, as index tensors.

Tokens of a sample form an ``n_rois`` x ``n_time_patches`` grid with flat index
``roi * n_time_patches + t``. A masker turns ``(batch_size, generator)`` into a
:class:`MaskBatch` of observation and target indices; :func:`apply_masks` gathers
the corresponding tokens. All randomness comes from the ``torch.Generator`` passed
in, never from the global RNG.
"""

import inspect

from sk_brainjepa.masking._masks import TARGET_KINDS, MaskBatch, apply_masks
from sk_brainjepa.masking._official_masker import OfficialMasker
from sk_brainjepa.masking._random_tokens import RandomTokenMasker
from sk_brainjepa.masking._spatiotemporal import SpatiotemporalMasker

_MASKERS = {
    "spatiotemporal": SpatiotemporalMasker,
    "official": OfficialMasker,
    "random": RandomTokenMasker,
}


def make_masker(kind: str, n_rois: int, n_time_patches: int, **options):
    """Build a masker by name.

    Parameters
    ----------
    kind : {"spatiotemporal", "official", "random"}
        :class:`SpatiotemporalMasker` (the paper's masking), :class:`OfficialMasker`
        (the official collator, quirks included) or :class:`RandomTokenMasker`
        (ablation).
    n_rois : int
        Number of ROIs.
    n_time_patches : int
        Number of time patches per ROI.
    **options
        Keyword arguments of the chosen class.

    Returns
    -------
    masker : SpatiotemporalMasker, OfficialMasker or RandomTokenMasker

    Examples
    --------
    >>> from sk_brainjepa.masking import make_masker
    >>> make_masker("random", 8, 4, observation_ratio=0.5).observation_ratio
    0.5
    """
    if kind not in _MASKERS:
        raise ValueError(f"kind must be one of {sorted(_MASKERS)}; got {kind!r}.")
    cls = _MASKERS[kind]
    allowed = set(inspect.signature(cls).parameters) - {"n_rois", "n_time_patches"}
    unknown = sorted(set(options) - allowed)
    if unknown:
        raise ValueError(
            f"Unknown option(s) {unknown} for {cls.__name__} (masking={kind!r}); "
            f"allowed: {sorted(allowed)}."
        )
    return cls(n_rois, n_time_patches, **options)


__all__ = [
    "TARGET_KINDS",
    "MaskBatch",
    "OfficialMasker",
    "RandomTokenMasker",
    "SpatiotemporalMasker",
    "apply_masks",
    "make_masker",
]

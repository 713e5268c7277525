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
    check_masker_options(kind, options)
    cls = _MASKERS[kind]
    return cls(n_rois, n_time_patches, **options)


def _options_of(cls) -> set[str]:
    return set(inspect.signature(cls).parameters) - {"n_rois", "n_time_patches"}


def check_masker_options(kind: str, options: dict) -> None:
    """Refuse a masker name, or option names its class does not take.

    Needs no token grid, so a caller can check ``masking_params`` before
    any data is read; the values are checked when the masker is built.

    Parameters
    ----------
    kind : str
        A name :func:`make_masker` accepts.
    options : dict
        Keyword arguments meant for that masker.

    Raises
    ------
    ValueError
        Naming ``kind``, the unknown options, the masker that takes each of
        them if another one does (``forecast`` is the spatiotemporal
        masker's), and the allowed ones.

    Examples
    --------
    >>> from sk_brainjepa.masking import check_masker_options
    >>> check_masker_options("official", {"forecast": True})  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: Unknown option(s) ['forecast'] for OfficialMasker \
(masking='official'): 'forecast' is an option of masking='spatiotemporal' \
only; allowed: [...].
    """
    if kind not in _MASKERS:
        raise ValueError(f"kind must be one of {sorted(_MASKERS)}; got {kind!r}.")
    cls = _MASKERS[kind]
    allowed = _options_of(cls)
    unknown = sorted(set(options) - allowed)
    if not unknown:
        return
    hints = []
    for name in unknown:
        owners = [other for other in _MASKERS if name in _options_of(_MASKERS[other])]
        if owners:
            hints.append(
                f"{name!r} is an option of masking="
                + " or ".join(repr(owner) for owner in owners)
                + " only"
            )
    hint = f": {'; '.join(hints)}" if hints else ""
    raise ValueError(
        f"Unknown option(s) {unknown} for {cls.__name__} (masking={kind!r})"
        f"{hint}; allowed: {sorted(allowed)}."
    )


__all__ = [
    "TARGET_KINDS",
    "MaskBatch",
    "OfficialMasker",
    "RandomTokenMasker",
    "SpatiotemporalMasker",
    "apply_masks",
    "check_masker_options",
    "make_masker",
]

"""What pretraining measures and warns about, outside the training loop.

The fixed windows the epoch diagnostics are measured on, the content gain
that balances patch content against the positional code, the warnings about
unscaled input and collapsed representations (with the text that names the
likely cause), and the reconstruction head of the frame-level objective.
Nothing here knows about scikit-learn; :class:`BrainJEPAPretrainer` calls it.
"""

from __future__ import annotations

import math
import warnings

import numpy as np
import torch

from sk_brainjepa.nn import BrainJEPAEncoder, fresh_generator, init_weights_
from sk_brainjepa.sources import window_starts

# Diagnostics are measured on the centre windows of this many subjects.
DIAGNOSTIC_SUBJECTS = 64
# Input whose ROIs' |mean| / sd has a median above this is dominated by offsets.
OFFSET_RATIO_LIMIT = 1.0
# Scaled input (robust or z-scored per ROI) has values of order 1; raw BOLD has
# values in the thousands. Above this median magnitude the input is unscaled.
UNSCALED_MAGNITUDE = 50.0


# What collapse_message says when no batch could measure the spread across
# samples (it is a standard deviation over the samples of a batch).
_UNMEASURED = (
    "The spread of the target representations across samples was not measured: "
    "it needs at least 2 samples in a training batch (at least 2 subjects and "
    "batch_size >= 2), so a positional collapse (every subject the same "
    "features) cannot be ruled out. Train on more subjects or a larger batch_size."
)


class RepresentationCollapseWarning(UserWarning):
    """The target representations stopped varying across tokens."""


class UnscaledInputWarning(UserWarning):
    """The training data look like raw, unscaled BOLD signal."""


def diagnostic_windows(source, n_timepoints: int) -> np.ndarray:
    """The fixed windows the epoch diagnostics are measured on.

    The centre window of each of the first ``DIAGNOSTIC_SUBJECTS`` subjects
    (all of them when there are fewer): the same input at every epoch, so the
    statistics compare across epochs.

    Returns
    -------
    windows : ndarray of shape (min(n_subjects, 64), n_rois, n_timepoints), float32
    """
    n = min(len(source), DIAGNOSTIC_SUBJECTS)
    starts = [window_starts(source.lengths[i], n_timepoints)[0] for i in range(n)]
    return np.stack(
        [source.window(i, starts[i], n_timepoints) for i in range(n)]
    ).astype(np.float32)


@torch.no_grad()
def balancing_gain(encoder: BrainJEPAEncoder, x: torch.Tensor) -> float:
    """Patch gain that gives the content of ``x`` the RMS of the positional code.

    Parameters
    ----------
    encoder : BrainJEPAEncoder
        At its initial weights (its current ``patch_gain`` is ignored).
    x : Tensor of shape (B, R, T)

    Returns
    -------
    gain : float
        ``rms(positional code) / rms(patch embedding of x)``; 1.0 when the
        content is all zero or not finite.
    """
    content = encoder.patch_embed(x.to(encoder.patch_embed.proj.weight.device))
    position = encoder.positional_embedding(encoder.n_time_patches(x.shape[-1]))
    content_rms = float(content.double().pow(2).mean().sqrt())
    # All-zero or overflowing input: leave the model as it is (training then
    # reports the overflow as a diverged loss).
    if not 0.0 < content_rms < float("inf"):
        return 1.0
    return float(position.float().pow(2).mean().sqrt()) / content_rms


def reconstruction_head(
    embed_dim: int, patch_size: int, generator: torch.Generator | None
) -> torch.nn.Linear:
    """Linear map from predicted features (..., D) to raw patch frames (..., p)."""
    with torch.device("meta"):
        head = torch.nn.Linear(embed_dim, patch_size)
    head.to_empty(device="cpu")
    init_weights_(head, fresh_generator(generator))
    return head


def warn_if_unscaled(x: torch.Tensor, input_offset: float) -> None:
    """Warn before training when the input looks unscaled.

    Parameters
    ----------
    x : Tensor of shape (n_windows, n_rois, n_timepoints)
        The diagnostic windows, as the model reads them.
    input_offset : float
        Their :func:`~sk_brainjepa.training.offset_ratio`.
    """
    magnitude = float(x.float().abs().median())
    if magnitude > UNSCALED_MAGNITUDE:
        warnings.warn(
            f"X looks unscaled: the median |value| of its windows is {magnitude:.3g} "
            f"and each ROI's offset is {input_offset:.3g} times its fluctuations "
            "(median |mean| / sd). The model expects each ROI scaled to values of "
            "order 1; scale each subject first (SubjectRobustScaler, or "
            "official_scaling for the official checkpoint's recipe).",
            UnscaledInputWarning,
            stacklevel=3,
        )


def collapse_message(last: dict, input_offset: float, threshold: float) -> str | None:
    """Why the last epoch's representations look collapsed, or None when they do not.

    The message names the likely cause: input dominated by constant ROI
    offsets (the encoder sees a constant per ROI, whatever the subject),
    every token mapped to one vector, or a positional collapse (each token
    its position's vector, the same for every subject).

    Parameters
    ----------
    last : dict
        The last epoch's history record (``spread``, ``sample_spread``,
        ``loss``, ``position_share``).
    input_offset : float
        The input's :func:`~sk_brainjepa.training.offset_ratio`.
    threshold : float
        ``collapse_threshold``.
    """
    spread, across = last["spread"], last["sample_spread"]
    measured = not math.isnan(across)
    if spread >= threshold and (across >= threshold or not measured):
        return None if measured else _UNMEASURED
    across_text = f"{across:.4f}" if measured else "not measured"
    if input_offset > OFFSET_RATIO_LIMIT:
        return (
            "The target representations barely vary (spread across tokens "
            f"{spread:.4f}, across samples {across_text}; collapse_threshold="
            f"{threshold}) and the input is dominated by constant ROI offsets: "
            f"the median |mean| / sd of a ROI's series is {input_offset:.1f}. "
            "Scale each subject's ROIs first (SubjectRobustScaler, or "
            "ROIRobustScaler with per-subject statistics)."
        )
    if spread < threshold:
        return (
            "The target representations collapsed: their spread across tokens "
            f"is {spread:.4f} (< collapse_threshold={threshold}) and the loss "
            f"is {last['loss']:.4g}. Features will carry little information; "
            "try a higher EMA start (ema), a lower lr, or more data."
        )
    share = last.get("position_share", float("nan"))
    return (
        "Positional collapse: the target representations barely differ "
        f"between subjects (spread across samples {across:.4f} < "
        f"collapse_threshold={threshold}, across tokens {spread:.4f}); "
        f"{share:.1%} of their energy is the same for every subject at a "
        "token position. They encode where a token is, not what the "
        "subject's signal does there; downstream scores may be at chance. "
        "Use recipe='vicreg' (the default) or recipe='balanced' (targets "
        "standardised per token position, content rebalanced against "
        "position), or add sigreg_weight / vicreg_weight."
    )


def warn_if_collapsed(last: dict, input_offset: float, threshold: float) -> None:
    """Warn with :class:`RepresentationCollapseWarning` when the last epoch collapsed.

    When the spread across samples could not be measured (no training batch
    held two samples), a ``UserWarning`` says so instead: a positional
    collapse can then be neither seen nor ruled out. See
    :func:`collapse_message` for the parameters.
    """
    message = collapse_message(last, input_offset, threshold)
    if message is _UNMEASURED:
        warnings.warn(message, UserWarning, stacklevel=3)
    elif message is not None:
        warnings.warn(message, RepresentationCollapseWarning, stacklevel=3)

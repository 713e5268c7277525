"""Load a pretrained Brain-JEPA encoder from any of the sources we accept.

Shared by :class:`BrainJEPAEmbedder` and the fine-tuners, so that a fitted
pretrainer, one of our checkpoints and the official ``jepa-ep300.pth.tar`` all
give the same encoder wherever they are used. Every source holds two: the EMA
target encoder (the default, what the paper evaluates) and the online (context)
encoder that gradient descent trained.
"""

from __future__ import annotations

import copy
import os

import torch
from sklearn.exceptions import NotFittedError
from sklearn.frozen import FrozenEstimator
from sklearn.utils.validation import check_is_fitted

from sk_brainjepa._utils._validation import OFFICIAL_ATLAS, ROI_COUNT_OFFICIAL
from sk_brainjepa.estimators._hub import locate_pretrained
from sk_brainjepa.estimators._persistence import CHECKPOINT_FORMAT
from sk_brainjepa.estimators._pretrained_folder import encoder_from_folder
from sk_brainjepa.estimators._pretrained_format import read_folder
from sk_brainjepa.estimators._pretrainer import BrainJEPAPretrainer
from sk_brainjepa.gradients import gradient_array
from sk_brainjepa.nn import (
    BrainJEPAEncoder,
    convert_official_encoder_state_dict,
    infer_encoder_config_from_state_dict,
)
from sk_brainjepa.training import load_checkpoint

OFFICIAL_N_TIMEPOINTS = 160

# Which of a pretrained model's two encoders gives the features.
ENCODERS = ("target", "online")
# Where each lives: an attribute of a fitted pretrainer, a key of a checkpoint
# (ours and the official one name them alike).
_PRETRAINER_ATTRIBUTES = {"target": "target_encoder_", "online": "online_encoder_"}
_CHECKPOINT_KEYS = {"target": "target_encoder", "online": "encoder"}


def unfreeze(estimator):
    """The estimator inside a ``sklearn.frozen.FrozenEstimator``, or itself."""
    return estimator.estimator if isinstance(estimator, FrozenEstimator) else estimator


def is_official_checkpoint(payload: dict) -> bool:
    """True for the official layout: a ``target_encoder`` state dict, no format tag."""
    target = payload.get("target_encoder")
    return (
        payload.get("format") is None
        and isinstance(target, dict)
        and any(k.endswith("patch_embed.proj.weight") for k in target)
    )


def check_encoder(encoder) -> str:
    """The ``encoder`` parameter, checked.

    Parameters
    ----------
    encoder : {"target", "online"}

    Returns
    -------
    encoder : str

    Raises
    ------
    ValueError
        For any other value.
    """
    if not isinstance(encoder, str) or encoder not in ENCODERS:
        raise ValueError(
            f"encoder must be one of {ENCODERS} (the EMA target encoder or the "
            f"online context encoder of the pretrained model); got {encoder!r}."
        )
    return encoder


def _official_state_dict(payload: dict, encoder: str, checkpoint) -> dict:
    """The state dict of the chosen encoder in an official checkpoint."""
    key = _CHECKPOINT_KEYS[encoder]
    state = payload.get(key)
    if not isinstance(state, dict) or not state:
        raise ValueError(
            f"encoder={encoder!r} reads the checkpoint's {key!r} state dict, which "
            f"{checkpoint} does not hold (its top-level keys are "
            f"{sorted(payload)[:10]}); use encoder='target'."
        )
    return state


def load_pretrained_encoder(
    *,
    checkpoint=None,
    pretrainer=None,
    gradients=None,
    n_heads=None,
    n_timepoints=None,
    encoder="target",
) -> tuple[BrainJEPAEncoder, int]:
    """A fresh copy of a pretrained encoder and its window length.

    Parameters
    ----------
    checkpoint : str, os.PathLike or None
        Our checkpoint (:meth:`BrainJEPAPretrainer.save`), a folder written by
        ``save_pretrained`` (or a Hugging Face Hub repo id of one), or the
        official checkpoint.
    pretrainer : BrainJEPAPretrainer, FrozenEstimator or None
        A fitted pretrainer (exactly one of ``checkpoint`` and ``pretrainer``).
    gradients : None, array-like or path
        Required for the official checkpoint, which does not contain them.
    n_heads : int or None
        Heads of an official encoder; None uses the official count for its width.
    n_timepoints : int or None
        Window in frames; None takes the pretrainer's or checkpoint's (160 for
        the official checkpoint).
    encoder : {"target", "online"}, default="target"
        The EMA target encoder (``target_encoder_`` of a pretrainer, key
        ``target_encoder`` of a checkpoint) or the online context encoder
        (``encoder_``, key ``encoder``).

    Returns
    -------
    encoder : BrainJEPAEncoder
        In eval mode, on the CPU, independent of the source's weights.
    n_timepoints : int
    """
    check_encoder(encoder)
    if (checkpoint is None) == (pretrainer is None):
        raise ValueError(
            "Give exactly one of checkpoint (a path) or pretrainer (a fitted "
            "BrainJEPAPretrainer); got "
            + ("neither." if checkpoint is None else "both.")
        )
    if pretrainer is not None:
        pretrainer = unfreeze(pretrainer)
        if not isinstance(pretrainer, BrainJEPAPretrainer):
            raise ValueError(
                "pretrainer must be a fitted BrainJEPAPretrainer (optionally wrapped "
                f"in sklearn.frozen.FrozenEstimator); got {type(pretrainer).__name__}."
            )
        try:
            check_is_fitted(pretrainer)
        except NotFittedError:
            raise ValueError(
                "The pretrainer is not fitted: fit it first, or save a fitted one "
                "and pass checkpoint=path. (sklearn.base.clone unfits a pretrainer "
                "nested in estimators other than BrainJEPAEmbedder; wrap it as "
                "FrozenEstimator(pretrainer) there.)"
            ) from None
        source = getattr(pretrainer, _PRETRAINER_ATTRIBUTES[encoder])
        return (
            copy.deepcopy(source).cpu().eval(),
            int(n_timepoints or pretrainer.window_length_),
        )
    if not isinstance(checkpoint, (str, os.PathLike)):
        raise ValueError(f"checkpoint must be a path; got {type(checkpoint).__name__}.")

    # A folder written by save_pretrained (also fetched from the Hub by repo id)
    # carries its own gradients, window and configs.
    location = locate_pretrained(checkpoint)
    if location.is_dir():
        module, window = encoder_from_folder(read_folder(location), encoder)
        return module, int(n_timepoints or window)
    payload = load_checkpoint(location)
    if payload.get("format") == CHECKPOINT_FORMAT:
        pre = BrainJEPAPretrainer.load(location)
        module = getattr(pre, _PRETRAINER_ATTRIBUTES[encoder])
        return module.eval(), int(n_timepoints or pre.window_length_)
    if not is_official_checkpoint(payload):
        raise ValueError(
            f"{checkpoint} is neither a BrainJEPAPretrainer checkpoint nor an official "
            "Brain-JEPA checkpoint (a dict with a 'target_encoder' state dict); its "
            f"top-level keys are {sorted(payload)[:10]}."
        )
    if gradients is None:
        raise ValueError(
            "The official checkpoint does not contain the gradients: pass gradients= "
            "(the path of gradient_mapping_450.csv or an array of shape (n_rois, 30))."
        )
    grads = torch.from_numpy(gradient_array(gradients))
    return official_encoder(
        payload,
        grads,
        checkpoint=checkpoint,
        encoder=encoder,
        n_heads=n_heads,
        n_timepoints=n_timepoints,
    )


def official_encoder(
    payload: dict, gradients, *, checkpoint, encoder="target", n_heads=None,
    n_timepoints=None,
) -> tuple[BrainJEPAEncoder, int]:  # fmt: skip
    """One encoder of an official checkpoint's payload, converted and checked.

    Parameters
    ----------
    payload : dict
        What ``load_checkpoint`` read from the official file.
    gradients : Tensor of shape (n_rois, m)
        float32.
    checkpoint : path
        Named in messages.
    encoder : {"target", "online"}, default="target"
    n_heads, n_timepoints : int or None
        See :func:`load_pretrained_encoder`.

    Returns
    -------
    encoder : BrainJEPAEncoder
        In eval mode, on the CPU.
    n_timepoints : int
    """
    official = _official_state_dict(payload, encoder, checkpoint)
    _check_official_rois(official, gradients.shape[0], checkpoint, n_heads)
    n_timepoints = int(n_timepoints or OFFICIAL_N_TIMEPOINTS)
    config = infer_encoder_config_from_state_dict(
        official, n_heads=n_heads, n_rois=gradients.shape[0]
    )
    if n_timepoints % config.patch_size:
        raise ValueError(
            f"n_timepoints={n_timepoints} must be a multiple of the checkpoint's patch "
            f"size {config.patch_size}."
        )
    # Checks every key and shape (and the stored 450 x 10 time table) and adds the
    # gradients; the encoder itself then embeds any window length.
    state = convert_official_encoder_state_dict(
        official, gradients=gradients, config=config
    )
    module = BrainJEPAEncoder(config, gradients)
    module.load_state_dict(state, strict=True)
    return module.eval(), n_timepoints


def _check_official_rois(state, n_gradient_rows, checkpoint, n_heads) -> None:
    """Gradients for as many ROIs as the official checkpoint's time table."""
    try:
        n_rois = infer_encoder_config_from_state_dict(state, n_heads=n_heads).n_rois
    except ValueError:  # no time table to count: the shape checks decide
        return
    if n_rois == n_gradient_rows:
        return
    atlas = (
        f" Its {ROI_COUNT_OFFICIAL} ROIs are those of {OFFICIAL_ATLAS} (pass "
        "gradient_mapping_450.csv; sk_brainjepa.imaging.official_brainjepa_atlas "
        "builds the atlas)."
        if n_rois == ROI_COUNT_OFFICIAL
        else ""
    )
    raise ValueError(
        f"gradients has {n_gradient_rows} rows (ROIs), but the official checkpoint "
        f"{checkpoint} was trained on {n_rois} ROIs.{atlas}"
    )

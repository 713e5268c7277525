"""Saving and loading a fitted :class:`BrainJEPAPretrainer` (its ``save`` and ``load``).

A model file holds the three modules' state dicts (and the reconstruction
head's when there is one), their configs, the gradients, the history, the
parameters (as JSON) and the package version, tagged with
:data:`~sk_brainjepa.estimators._resume.CHECKPOINT_FORMAT`. A training
checkpoint is the same payload with a ``training`` entry, so it also loads as
a fitted model; what resuming it checks lives in ``_resume``.
``save_pretrained`` and ``from_pretrained`` (a shareable folder instead of one
torch file) are in ``_pretrained_folder``.
"""

from __future__ import annotations

import inspect
from dataclasses import asdict

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from sk_brainjepa._utils._deprecation import translate_renamed
from sk_brainjepa._version import __version__
from sk_brainjepa.estimators._common import params_from_json, params_to_json
from sk_brainjepa.estimators._pretraining_checks import reconstruction_head
from sk_brainjepa.estimators._pretraining_settings import PRETRAINER_RENAMES
from sk_brainjepa.estimators._recipes import recipe_values
from sk_brainjepa.estimators._resume import CHECKPOINT_FORMAT
from sk_brainjepa.nn import (
    BrainJEPAEncoder,
    BrainJEPAPredictor,
    EncoderConfig,
    PredictorConfig,
)
from sk_brainjepa.training import load_checkpoint, require_keys, save_checkpoint

__all__ = [
    "CHECKPOINT_FORMAT",
    "PretrainerPersistenceMixin",
    "cpu_state",
    "load_module",
    "model_payload",
    "pretrainer_from_payload",
]

# Entries every model file has.
_MODEL_KEYS = (
    "params",
    "encoder_config",
    "predictor_config",
    "encoder",
    "target_encoder",
    "predictor",
    "gradients",
    "history",
    "n_rois",
)


def cpu_state(module: torch.nn.Module) -> dict:
    """A state dict on the CPU (cloned: later training must not change it)."""
    return {k: v.detach().cpu().clone() for k, v in module.state_dict().items()}


def load_module(module: torch.nn.Module, state_dict: dict, path) -> torch.nn.Module:
    """``module`` with ``state_dict`` loaded (strictly), in eval mode.

    Raises
    ------
    ValueError
        Naming ``path`` when the weights do not fit the module.
    """
    try:
        module.load_state_dict(state_dict, strict=True)
    except RuntimeError as exc:
        raise ValueError(
            f"The weights in {path} do not fit the model they describe: {exc}"
        ) from exc
    return module.eval()


def model_payload(
    params, encoder, predictor, target_encoder, gradients, history, n_rois, head
) -> dict:
    """What ``BrainJEPAPretrainer.save`` writes (training checkpoints add ``training``).

    Parameters
    ----------
    params : dict
        The pretrainer's parameters (``get_params(deep=False)``), recorded.
    encoder, predictor, target_encoder : nn.Module
        The plain modules (not wrapped), on any device.
    gradients : ndarray of shape (n_rois, m)
    history : list of dict
    n_rois : int
    head : nn.Module or None
        The reconstruction head.

    Returns
    -------
    payload : dict
        Tensors and plain values only (read with ``weights_only=True``).
    """
    payload = {
        "format": CHECKPOINT_FORMAT,
        "version": __version__,
        "params": params_to_json(params),
        "encoder_config": asdict(encoder.config),
        "predictor_config": asdict(predictor.config),
        "encoder": cpu_state(encoder),
        "target_encoder": cpu_state(target_encoder),
        "predictor": cpu_state(predictor),
        "gradients": torch.from_numpy(np.ascontiguousarray(gradients)),
        "history": [dict(h) for h in history],
        "n_rois": int(n_rois),
    }
    if head is not None:
        payload["reconstruction_head"] = cpu_state(head)
    return payload


class PretrainerPersistenceMixin:
    """``save`` and ``load`` (one torch file) of :class:`BrainJEPAPretrainer`."""

    def save(self, path):
        """Write the fitted model to ``path`` (atomically; read with ``load``).

        The file holds the three modules' state dicts, their configs, the
        gradients, the history, the parameters (as JSON) and the package
        version; it is read back with ``torch.load(weights_only=True)``.

        Parameters
        ----------
        path : str or os.PathLike

        Returns
        -------
        path : pathlib.Path
        """
        check_is_fitted(self)
        payload = model_payload(
            self.get_params(deep=False),
            self.online_encoder_,
            self.predictor_,
            self.target_encoder_,
            self.gradients_,
            self.history_,
            self.n_rois_,
            self.reconstruction_head_,
        )
        if getattr(self, "n_subjects_", None) is not None:
            payload["n_subjects"] = int(self.n_subjects_)
        return save_checkpoint(payload, path)

    @classmethod
    def load(cls, path, *, device="cpu"):
        """Rebuild a fitted pretrainer from a file written by :meth:`save`.

        Parameters
        ----------
        path : str or os.PathLike
        device : str, default="cpu"
            Stored as the ``device`` parameter of the returned estimator.

        Returns
        -------
        pretrainer : BrainJEPAPretrainer
            Fitted; ``transform`` gives the same features as the saved model.
        """
        payload = load_checkpoint(path)
        if payload.get("format") != CHECKPOINT_FORMAT:
            raise ValueError(
                f"{path} is not a BrainJEPAPretrainer checkpoint (format "
                f"{payload.get('format')!r}). For the official Brain-JEPA "
                "checkpoint, use BrainJEPAEmbedder(checkpoint=..., gradients=...)."
            )
        require_keys(payload, _MODEL_KEYS, path, "BrainJEPAPretrainer.load")
        return pretrainer_from_payload(cls, payload, path, device=device)


def pretrainer_from_payload(cls, payload: dict, path, *, device="cpu"):
    """A fitted pretrainer from a model payload (what :func:`model_payload` makes).

    Parameters
    ----------
    cls : type
        ``BrainJEPAPretrainer`` or a subclass.
    payload : dict
        ``params`` (JSON text), the two configs, the three state dicts (and
        ``reconstruction_head`` when there is one), ``gradients`` (Tensor),
        ``history`` and ``n_rois``; optionally ``n_subjects``.
    path : str or os.PathLike
        Where it was read from, named in messages.
    device : str, default="cpu"

    Returns
    -------
    pretrainer : BrainJEPAPretrainer
    """
    names = set(inspect.signature(cls.__init__).parameters) - {"self"}
    # Files written before a parameter was renamed hold its old name.
    params = translate_renamed(
        params_from_json(payload["params"], names), PRETRAINER_RENAMES
    )
    params["device"] = device
    est = cls(**params)
    gradients = payload["gradients"]
    enc_cfg = EncoderConfig(**payload["encoder_config"])
    pred_cfg = PredictorConfig(**payload["predictor_config"])
    est.online_encoder_ = load_module(
        BrainJEPAEncoder(enc_cfg, gradients), payload["encoder"], path
    )
    est.target_encoder_ = load_module(
        BrainJEPAEncoder(enc_cfg, gradients), payload["target_encoder"], path
    )
    est.predictor_ = load_module(
        BrainJEPAPredictor(pred_cfg, gradients), payload["predictor"], path
    )
    est.target_encoder_.requires_grad_(False)
    est.reconstruction_head_ = None
    if "reconstruction_head" in payload:
        est.reconstruction_head_ = load_module(
            reconstruction_head(enc_cfg.embed_dim, enc_cfg.patch_size, None),
            payload["reconstruction_head"],
            path,
        )
    est.objective_ = {
        **recipe_values(est.recipe, params),
        "content_gain": enc_cfg.patch_gain,
    }
    est.window_length_ = int(est.window_length)
    est.input_offset_ratio_ = float("nan")
    est.gradients_ = gradients.numpy()
    est.history_ = list(payload["history"])
    est.device_ = torch.device("cpu")
    est.n_rois_ = est.n_features_in_ = int(payload["n_rois"])
    # Older files did not record it.
    n_subjects = payload.get("n_subjects")
    est.n_subjects_ = None if n_subjects is None else int(n_subjects)
    return est

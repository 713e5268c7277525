"""The folder of a fitted pretrainer: what is written, and what is read back.

:func:`write_pretrained` writes one fitted :class:`BrainJEPAPretrainer` and
the scaling it was trained with as a folder (the file layout is in
:mod:`._pretrained_format`): safetensors weights, the gradients, the scaling
(rebuilt on load, never unpickled), the TR, atlas and ROI order, parameters,
history and a model card. :func:`pretrained_from_folder` and
:func:`encoder_from_folder` read it back; :class:`PretrainedFolderMixin` gives
the pretrainer its ``save_pretrained`` and ``from_pretrained`` methods. The
public functions that also take a ``Pipeline`` are in :mod:`._pretrained`.
Nothing here imports the pretrainer class: the methods receive it.
"""

from __future__ import annotations

import json
import math
from dataclasses import asdict
from numbers import Real

from sklearn.exceptions import NotFittedError
from sklearn.pipeline import Pipeline
from sklearn.utils import Bunch
from sklearn.utils.validation import check_is_fitted

from sk_brainjepa._version import __version__
from sk_brainjepa.estimators._common import params_to_json
from sk_brainjepa.estimators._hub import locate_pretrained
from sk_brainjepa.estimators._model_card import render_card
from sk_brainjepa.estimators._persistence import (
    cpu_state,
    load_module,
    pretrainer_from_payload,
)
from sk_brainjepa.estimators._preprocessing_record import (
    TemporalResampler,
    rebuild_preprocessing,
    record_preprocessing,
    steps_of,
)
from sk_brainjepa.estimators._pretrained_format import (
    FORMAT,
    FORMAT_VERSION,
    GRADIENTS_FILE,
    PREPROCESSING_FILE,
    FolderContents,
    check_destination,
    read_folder,
    write_folder,
)
from sk_brainjepa.nn import BrainJEPAEncoder, EncoderConfig

__all__ = [
    "TR_TOLERANCE",
    "PretrainedFolderMixin",
    "base_config",
    "check_tr",
    "encoder_from_folder",
    "model_tr",
    "pretrained_from_folder",
    "read_pretrained",
    "write_pretrained",
]

# Relative TR difference above which data and model are refused as mismatched.
TR_TOLERANCE = 0.05
_MODULES = ("encoder", "target_encoder", "predictor", "reconstruction_head")
# The pretrainer's attribute of each module (the online encoder is "encoder"
# in files, as in the official checkpoint).
_ATTRIBUTES = {
    "encoder": "online_encoder_",
    "target_encoder": "target_encoder_",
    "predictor": "predictor_",
    "reconstruction_head": "reconstruction_head_",
}


# ------------------------------------------------------------------ checks
def check_tr(tr, name: str = "tr"):
    """``tr`` as a positive float, or None."""
    if tr is None:
        return None
    if isinstance(tr, bool) or not isinstance(tr, Real) or not 0 < tr < math.inf:
        raise ValueError(
            f"{name} must be a positive number of seconds or None; got {tr!r}."
        )
    return float(tr)


def _check_roi_names(roi_names, n_rois: int):
    if roi_names is None:
        return None
    names = [str(name) for name in roi_names]
    if len(names) != n_rois:
        raise ValueError(
            f"roi_names has {len(names)} names, but the model has {n_rois} ROIs; give "
            "one name per ROI, in the order of the rows of X."
        )
    return names


def _resolved_tr(tr, preprocessing) -> float | None:
    """The TR of the frames the encoder sees, given ``tr`` and any resampler."""
    tr = check_tr(tr)
    resamplers = [
        s for _, s in steps_of(preprocessing) if isinstance(s, TemporalResampler)
    ]
    if not resamplers:
        return tr
    target = float(resamplers[-1].target_tr)
    if tr is not None and abs(tr - target) > TR_TOLERANCE * target:
        raise ValueError(
            f"tr={tr} s, but the preprocessing's TemporalResampler resamples to "
            f"target_tr={target} s: tr is the TR of the frames the model sees, after "
            "resampling. Leave tr=None to take target_tr."
        )
    return target if tr is None else tr


# -------------------------------------------------------------------- save
def base_config(
    *,
    source: str,
    n_rois: int,
    n_timepoints: int,
    encoder_config,
    predictor_config,
    tr,
    atlas,
    roi_names,
    description,
) -> dict:
    """What every folder's ``config.json`` holds, whoever wrote it.

    Parameters
    ----------
    source : str
        ``"save_pretrained"`` or ``"convert_official_checkpoint"``.
    n_rois, n_timepoints : int
        ROIs and the model window in frames.
    encoder_config : EncoderConfig
    predictor_config : PredictorConfig or None
    tr : float or None
        Seconds between the frames the encoder sees.
    atlas : str or None
    roi_names : list of str or None
    description : str or None

    Returns
    -------
    config : dict
    """
    patch = encoder_config.patch_size
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "software": {"name": "sk_brainjepa", "version": __version__},
        "source": source,
        "description": description,
        "n_rois": int(n_rois),
        "n_timepoints": int(n_timepoints),
        "patch_size": int(patch),
        "n_time_patches": int(n_timepoints) // int(patch),
        "embed_dim": int(encoder_config.embed_dim),
        "tr": tr,
        "atlas": None if atlas is None else str(atlas),
        "roi_names": roi_names,
        "encoder_config": asdict(encoder_config),
        "predictor_config": None
        if predictor_config is None
        else asdict(predictor_config),
    }


def _pretrainer_config(pre, *, tr, atlas, roi_names, description) -> dict:
    """``config.json`` of a fitted pretrainer (preprocessing added by the caller)."""
    config = base_config(
        source="save_pretrained",
        n_rois=pre.n_rois_,
        n_timepoints=pre.window_length_,
        encoder_config=pre.target_encoder_.config,
        predictor_config=pre.predictor_.config,
        tr=tr,
        atlas=atlas,
        roi_names=roi_names,
        description=description,
    )
    history = [dict(record) for record in pre.history_]
    config.update(
        {
            "modules": [
                m for m in _MODULES if getattr(pre, _ATTRIBUTES[m], None) is not None
            ],
            "params": json.loads(params_to_json(pre.get_params(deep=False))),
            "recipe": pre.recipe,
            "objective": dict(pre.objective_),
            "input_offset_ratio": float(pre.input_offset_ratio_),
            "collapse_threshold": float(pre.collapse_threshold),
            "training": {
                "n_subjects": getattr(pre, "n_subjects_", None),
                "epochs": len(history),
                "final": history[-1] if history else None,
            },
            "history": history,
        }
    )
    return config


def write_pretrained(
    pre,
    folder,
    *,
    preprocessing=None,
    tr=None,
    atlas=None,
    roi_names=None,
    description=None,
    overwrite=False,
):
    """Write a fitted pretrainer and its scaling as a folder (see ``save_pretrained``).

    Parameters
    ----------
    pre : BrainJEPAPretrainer
        Fitted.
    folder : str or os.PathLike
    preprocessing : Pipeline, transformer or None, default=None
        The fitted scaling the pretrainer was trained behind.
    tr, atlas, roi_names, description, overwrite
        As for :func:`~sk_brainjepa.estimators.save_pretrained`.

    Returns
    -------
    folder : pathlib.Path
    """
    try:
        check_is_fitted(pre)
    except NotFittedError:
        raise ValueError(
            "The BrainJEPAPretrainer is not fitted: fit it before save_pretrained."
        ) from None
    check_destination(folder, overwrite)
    record, arrays = record_preprocessing(preprocessing, n_rois=pre.n_rois_)
    config = _pretrainer_config(
        pre,
        tr=_resolved_tr(tr, preprocessing),
        atlas=atlas,
        roi_names=_check_roi_names(roi_names, pre.n_rois_),
        description=description,
    )
    if record is not None:
        record["file"] = PREPROCESSING_FILE if arrays else None
    config["preprocessing"] = record
    config["gradients"] = {"file": GRADIENTS_FILE, "shape": list(pre.gradients_.shape)}
    states = {m: cpu_state(getattr(pre, _ATTRIBUTES[m])) for m in config["modules"]}
    contents = FolderContents(
        config=config,
        states=states,
        gradients=pre.gradients_,
        preprocessing_arrays=arrays,
        card=render_card(config),
    )
    return write_folder(folder, contents, overwrite=overwrite)


# -------------------------------------------------------------------- load
def _history(records) -> list[dict]:
    """History records with the NaNs that JSON stored as null."""
    return [
        {k: float("nan") if v is None else v for k, v in record.items()}
        for record in records or []
    ]


def _pretrainer_from_folder(read, cls, device):
    config, states = read.config, read.states
    if "predictor" not in states or config.get("predictor_config") is None:
        raise ValueError(
            f"{read.path} holds no predictor (it was converted from a checkpoint "
            "without one), so it cannot be rebuilt as a BrainJEPAPretrainer; use "
            "BrainJEPAEmbedder(checkpoint=folder) for features."
        )
    payload = {
        "params": json.dumps(config.get("params") or {}),
        "encoder_config": config["encoder_config"],
        "predictor_config": config["predictor_config"],
        "gradients": read.gradients,
        "history": _history(config.get("history")),
        "n_rois": config["n_rois"],
        "n_subjects": (config.get("training") or {}).get("n_subjects"),
        **{m: states[m] for m in _MODULES if m in states},
    }
    if "encoder" not in states:  # a conversion that had the target encoder only
        payload["encoder"] = states["target_encoder"]
    pre = pretrainer_from_payload(cls, payload, read.path, device=device)
    if config.get("objective"):
        pre.objective_ = dict(config["objective"])
    ratio = config.get("input_offset_ratio")
    pre.input_offset_ratio_ = float("nan") if ratio is None else float(ratio)
    return pre


def read_pretrained(folder, *, revision=None):
    """The checked contents of a local folder or Hub repo, and its preprocessing.

    Returns
    -------
    read : ReadFolder
    preprocessing : Pipeline, transformer or None
        The recorded scaling, fitted, rebuilt without unpickling.
    """
    path = locate_pretrained(folder, revision=revision, want="folder")
    read = read_folder(path)
    preprocessing = rebuild_preprocessing(
        read.config.get("preprocessing"),
        read.preprocessing_arrays,
        n_rois=int(read.config["n_rois"]),
        where=str(path),
    )
    return read, preprocessing


def pretrained_from_folder(folder, cls, *, device="cpu", revision=None):
    """Everything a pretrained folder holds, rebuilt, the pretrainer as ``cls``.

    See :func:`~sk_brainjepa.estimators.load_pretrained`, which defaults
    ``cls`` to ``BrainJEPAPretrainer``.

    Returns
    -------
    model : sklearn.utils.Bunch
        ``pretrainer``, ``preprocessing``, ``pipeline``, ``config``, ``path``.
    """
    read, preprocessing = read_pretrained(folder, revision=revision)
    pre = _pretrainer_from_folder(read, cls, device)
    steps = steps_of(preprocessing)
    return Bunch(
        pretrainer=pre,
        preprocessing=preprocessing,
        pipeline=Pipeline([*steps, ("pretrainer", pre)]),
        config=read.config,
        path=read.path,
    )


def encoder_from_folder(read, encoder: str = "target") -> tuple[BrainJEPAEncoder, int]:
    """The target or online encoder of a read folder, and its window in frames.

    Parameters
    ----------
    read : ReadFolder
    encoder : {"target", "online"}

    Returns
    -------
    encoder : BrainJEPAEncoder
        In eval mode, on the CPU.
    n_timepoints : int
    """
    key = "target_encoder" if encoder == "target" else "encoder"
    if key not in read.states:
        raise ValueError(
            f"encoder={encoder!r} reads the folder's {key!r} module, which {read.path} "
            f"does not hold (it holds {sorted(read.states)}); use encoder='target'."
        )
    config = EncoderConfig(**read.config["encoder_config"])
    module = load_module(
        BrainJEPAEncoder(config, read.gradients), read.states[key], read.path
    )
    return module.requires_grad_(False), int(read.config["n_timepoints"])


def model_tr(config: dict):
    """The folder's TR as a float, or None."""
    value = config.get("tr")
    return None if value is None else float(value)


class PretrainedFolderMixin:
    """``save_pretrained`` and ``from_pretrained`` of :class:`BrainJEPAPretrainer`."""

    def save_pretrained(
        self,
        folder,
        *,
        preprocessing=None,
        tr=None,
        atlas=None,
        roi_names=None,
        description=None,
        overwrite=False,
    ):
        """Write a shareable pretrained-model folder (safetensors, JSON, model card).

        See :func:`sk_brainjepa.estimators.save_pretrained`, which also takes
        a fitted ``Pipeline`` of scalers ending with the pretrainer.

        Returns
        -------
        folder : pathlib.Path
        """
        return write_pretrained(
            self,
            folder,
            preprocessing=preprocessing,
            tr=tr,
            atlas=atlas,
            roi_names=roi_names,
            description=description,
            overwrite=overwrite,
        )

    @classmethod
    def from_pretrained(cls, folder, *, device="cpu", revision=None):
        """A fitted pretrainer from a folder written by :meth:`save_pretrained`.

        Parameters
        ----------
        folder : str or os.PathLike
            A local folder, or a Hugging Face Hub repo id (``"org/name"``,
            needs ``pip install "sk_brainjepa[hub]"``).
        device : str, default="cpu"
            Stored as the ``device`` parameter of the returned estimator.
        revision : str or None, default=None
            Hub revision (branch, tag or commit) of a repo id.

        Returns
        -------
        pretrainer : BrainJEPAPretrainer
            Fitted, with the saved weights bit for bit. The folder's scaling
            is in ``load_pretrained(folder).preprocessing``.
        """
        return pretrained_from_folder(
            folder, cls, device=device, revision=revision
        ).pretrainer

"""Convert the official Brain-JEPA checkpoint into a pretrained folder, once.

The official release is a torch file (``jepa-ep300.pth.tar``), a gradient CSV
(``gradient_mapping_450.csv``) and knowledge spread over its README, loaders
and issues: the ROI order, the TR, the scaling. :func:`convert_official_checkpoint`
puts all of it in one folder (see :func:`save_pretrained` for the layout):
the converted encoders (and the predictor when it converts), the gradient
file copied byte for byte, the official downstream scaling as a step that
loading applies, the atlas name and ROI order, and TR and window length.
Sources for each value: docs/differences-from-official.md.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import torch

from sk_brainjepa._utils._validation import ROI_COUNT_OFFICIAL
from sk_brainjepa.estimators._loading import (
    OFFICIAL_N_TIMEPOINTS,
    is_official_checkpoint,
    official_encoder,
)
from sk_brainjepa.estimators._model_card import render_card
from sk_brainjepa.estimators._persistence import cpu_state
from sk_brainjepa.estimators._preprocessing_record import record_preprocessing
from sk_brainjepa.estimators._pretrained_folder import base_config
from sk_brainjepa.estimators._pretrained_format import (
    GRADIENTS_FILE,
    FolderContents,
    check_destination,
    write_folder,
)
from sk_brainjepa.gradients import gradient_array
from sk_brainjepa.nn import (
    BrainJEPAPredictor,
    PredictorConfig,
    time_sincos_embedding,
)
from sk_brainjepa.preprocessing import official_scaling
from sk_brainjepa.training import load_checkpoint

__all__ = [
    "OFFICIAL_ACQUISITION_TR",
    "OFFICIAL_ATLAS_NAME",
    "OFFICIAL_TR",
    "convert_official_checkpoint",
]

logger = logging.getLogger(__name__)

# UK Biobank runs: 490 volumes at TR 0.735 s; the official loader keeps 160
# frames spread over a 480-frame clip, about every third one.
OFFICIAL_ACQUISITION_TR = 0.735
OFFICIAL_TR = 3 * OFFICIAL_ACQUISITION_TR
OFFICIAL_ATLAS_NAME = (
    "Brain-JEPA 450: Tian Scale-III subcortex (50 regions, rows 1-50) then "
    "Schaefer-2018 400 parcels in 17-network order (rows 51-450)"
)
_PREPROCESSING = ("downstream", "none")
_OFFICIAL_TIME_PATCHES = 10
_PREPROCESSING_NOTE = (
    "The official code scales differently at its two stages. Pretraining (UK "
    "Biobank loader) scaled each ROI by the median and IQR across training "
    "subjects of their temporal ROI means (ROIRobustScaler(statistics="
    "'subject_mean')), with statistics (normalization_params_train.npz) that "
    "were never released (official issue #18), so that step cannot be recorded. "
    "What the authors fed this checkpoint downstream, and what is recorded "
    "here, is the per-sample z-score over ROIs x time (SampleZScore(ddof=1), "
    "official_scaling('downstream')), applied to whole runs before cropping."
)
_TRAINING_NOTE = (
    "Converted from the official Brain-JEPA checkpoint (Dong, Li et al., NeurIPS "
    "2024; the released jepa-ep300 is a ViT-B pretrained 300 epochs) on UK "
    "Biobank resting-state fMRI "
    "(490 volumes at TR 0.735 s, 160 frames of about every third volume, so "
    "frames about 2.2 s apart) with the official code's recipe (smooth-L1, its "
    "mask collator, its EMA schedule). The number of subjects and the training "
    "history are not in the checkpoint."
)


def _official_roi_names(n_rois: int):
    """The default names of ``official_brainjepa_atlas``, in the official order."""
    from sk_brainjepa.imaging import (
        N_SCHAEFER_OFFICIAL,
        N_TIAN_OFFICIAL,
    )

    if n_rois != ROI_COUNT_OFFICIAL:
        return None
    return [f"Tian_S3_{k}" for k in range(1, N_TIAN_OFFICIAL + 1)] + [
        f"Schaefer400_{k}" for k in range(1, N_SCHAEFER_OFFICIAL + 1)
    ]


def _block_count(state: Mapping, prefix: str) -> int:
    pattern = re.compile(rf"^{re.escape(prefix)}\.(\d+)\.")
    return len({int(m.group(1)) for key in state if (m := pattern.match(key))})


def _official_predictor(payload: dict, gradients, encoder_config, n_heads):
    """The official predictor, converted; ``(None, None)`` when it is absent."""
    raw = payload.get("predictor")
    if not isinstance(raw, Mapping) or not raw:
        logger.info("the checkpoint holds no predictor: the folder has encoders only")
        return None, None
    state = {str(k).removeprefix("module."): v for k, v in raw.items()}
    width, encoder_dim = state["predictor_embed.weight"].shape
    proj = state.get("predictor_2dpe_proj.predictor_pos_embed_proj.weight")
    config = PredictorConfig(
        n_rois=encoder_config.n_rois,
        encoder_dim=int(encoder_dim),
        gradient_dim=int(proj.shape[1]) if proj is not None else gradients.shape[1],
        embed_dim=int(width),
        depth=_block_count(state, "predictor_blocks"),
        # The official predictor reuses the encoder's head count.
        n_heads=int(n_heads or encoder_config.n_heads),
        mlp_ratio=state["predictor_blocks.0.mlp.fc1.weight"].shape[0] / width
        if "predictor_blocks.0.mlp.fc1.weight" in state
        else 4.0,
        qkv_bias="predictor_blocks.0.attn.qkv.bias" in state,
        roi_embedding="gradient" if proj is not None else "sincos",
    )
    table = state.pop("predictor_2dpe_proj.emb_h", None)
    if table is not None:
        ours = time_sincos_embedding(config.n_rois, _OFFICIAL_TIME_PATCHES, width // 2)
        if tuple(table.shape) != tuple(ours.shape) or not torch.allclose(
            table.float(), ours, atol=1e-5
        ):
            raise ValueError(
                "predictor_2dpe_proj.emb_h is not the time sin-cos table of "
                f"{_OFFICIAL_TIME_PATCHES} time patches."
            )
    module = BrainJEPAPredictor(config, gradients)
    if config.roi_embedding == "gradient":
        state["gradients"] = gradients
    module.load_state_dict(state, strict=True)
    return module.eval(), config


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def convert_official_checkpoint(
    checkpoint,
    gradients,
    folder,
    *,
    preprocessing="downstream",
    n_heads=None,
    overwrite=False,
    description=None,
):
    """Convert the official checkpoint and gradient file into a pretrained folder.

    The folder then loads with ``BrainJEPAEmbedder(checkpoint=folder)`` (no
    ``gradients=`` needed, the scaling applied by default) and, when the
    checkpoint's predictor converts, ``BrainJEPAPretrainer.from_pretrained``.

    Parameters
    ----------
    checkpoint : str or os.PathLike
        ``jepa-ep300.pth.tar`` (read with ``torch.load(weights_only=True)``).
    gradients : str or os.PathLike
        ``gradient_mapping_450.csv``; copied byte for byte into the folder
        as ``gradients.csv`` (its name and SHA-256 are recorded).
    folder : str or os.PathLike
        Destination; must not exist or be empty unless ``overwrite``.
    preprocessing : {"downstream", "none"}, default="downstream"
        ``"downstream"`` records the official downstream scaling,
        ``SampleZScore(ddof=1)`` over each whole run, which loading then
        applies to raw input; ``"none"`` records none. The pretraining
        scaling cannot be recorded: its statistics were not released (the
        model card says so).
    n_heads : int or None, default=None
        Attention heads (not readable from shapes); None uses the official
        value for the width (768 -> 12).
    overwrite : bool, default=False
    description : str or None, default=None
        Extra text for the model card.

    Returns
    -------
    folder : pathlib.Path

    Raises
    ------
    ValueError
        When ``checkpoint`` is not in the official layout, the gradients do
        not fit it (the message names the official atlas), or ``folder`` is
        not empty.

    Notes
    -----
    Recorded: TR 2.205 s (UK Biobank's 0.735 s, every third frame, as the
    official loader samples 160 of 480 frames), a 160-frame window, the
    atlas name and ROI order (Tian Scale-III subcortex, then Schaefer-400 in
    17-network order; the ROI names are those
    ``sk_brainjepa.imaging.official_brainjepa_atlas`` gives by default).
    """
    if preprocessing not in _PREPROCESSING:
        raise ValueError(
            f"preprocessing must be one of {_PREPROCESSING}; got {preprocessing!r}."
        )
    check_destination(folder, overwrite)
    gradient_file = Path(gradients)
    grads = torch.from_numpy(gradient_array(gradient_file))
    payload = load_checkpoint(checkpoint)
    if not is_official_checkpoint(payload):
        raise ValueError(
            f"{checkpoint} is not an official Brain-JEPA checkpoint (a dict with a "
            "'target_encoder' state dict and no sk_brainjepa format tag); its "
            f"top-level keys are {sorted(payload)[:10]}."
        )
    target, _ = official_encoder(payload, grads, checkpoint=checkpoint, n_heads=n_heads)
    modules = {"target_encoder": target}
    if isinstance(payload.get("encoder"), Mapping) and payload["encoder"]:
        modules["encoder"], _ = official_encoder(
            payload, grads, checkpoint=checkpoint, encoder="online", n_heads=n_heads
        )
    try:
        predictor, predictor_config = _official_predictor(
            payload, grads, target.config, n_heads
        )
    except (KeyError, ValueError, RuntimeError) as exc:
        # The encoders are what features need; a predictor we cannot read is
        # left out (the folder then loads for features, not as a pretrainer).
        logger.warning("the official predictor was not converted: %s", exc)
        predictor = predictor_config = None
    if predictor is not None:
        modules["predictor"] = predictor
    del payload  # the optimiser state can be large; free it before writing

    n_rois = target.config.n_rois
    scaling = official_scaling("downstream") if preprocessing == "downstream" else None
    if scaling is not None:
        scaling.fit(np.zeros((1, n_rois, 2)))  # learns only the ROI count
    record, arrays = record_preprocessing(scaling, n_rois=n_rois)
    config = base_config(
        source="convert_official_checkpoint",
        n_rois=n_rois,
        n_timepoints=OFFICIAL_N_TIMEPOINTS,
        encoder_config=target.config,
        predictor_config=predictor_config,
        tr=OFFICIAL_TR,
        atlas=OFFICIAL_ATLAS_NAME if n_rois == ROI_COUNT_OFFICIAL else None,
        roi_names=_official_roi_names(n_rois),
        description=description,
    )
    config.update(
        {
            "title": "Brain-JEPA (official checkpoint, converted)",
            "modules": [
                m for m in ("encoder", "target_encoder", "predictor") if m in modules
            ],
            "params": {
                "recipe": "official",
                "window_length": OFFICIAL_N_TIMEPOINTS,
                "patch_size": target.config.patch_size,
            },
            "recipe": "official",
            "acquisition_tr": OFFICIAL_ACQUISITION_TR,
            "tr_note": "UK Biobank TR 0.735 s; the official loader takes 160 of "
            "480 frames (stride about 3.01), so the frames are about 2.2 s apart.",
            "training_note": _TRAINING_NOTE,
            "preprocessing": record,
            "preprocessing_note": _PREPROCESSING_NOTE,
            "gradients": {
                "file": GRADIENTS_FILE,
                "shape": list(grads.shape),
                "original_name": gradient_file.name,
                "sha256": _sha256(gradient_file),
            },
            "official_checkpoint": {
                "name": Path(checkpoint).name,
                "sha256": _sha256(Path(checkpoint)),
            },
            "history": [],
        }
    )
    contents = FolderContents(
        config=config,
        states={name: cpu_state(module) for name, module in modules.items()},
        gradients=grads.numpy(),
        gradient_file=gradient_file,
        preprocessing_arrays=arrays,
        card=render_card(config),
    )
    return write_folder(folder, contents, overwrite=overwrite)

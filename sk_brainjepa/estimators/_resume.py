"""What a training checkpoint must match before ``resume=True`` continues it.

A resumed run must compute what the uninterrupted run would have: the same
parameters (except where and how it runs, and a longer ``max_epochs``), the
same data with the same scaling, the same gradients. Each mismatch is refused
by name rather than spliced into one history.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import numpy as np

from sk_brainjepa._utils._deprecation import translate_renamed
from sk_brainjepa.estimators._common import params_from_json, params_to_json
from sk_brainjepa.estimators._pretraining_settings import PRETRAINER_RENAMES
from sk_brainjepa.training import load_checkpoint, require_keys

logger = logging.getLogger(__name__)

CHECKPOINT_FORMAT = "sk_brainjepa.pretrainer"

#: Parameters that may change between an interrupted run and its resumption:
#: they decide where and how the run executes, not what it computes.
#: ``max_epochs`` may grow (the schedules then follow the new length);
#: ``gradients`` and ``layout`` are compared through what they produce.
RUNTIME_PARAMS = frozenset(
    {
        "checkpoint_path",
        "checkpoint_every",
        "resume",
        "distributed",
        "num_workers",
        "device",
        "verbose",
        "window_position",
        "embed_window",
        "embed_batch_size",
        "monitor",
        "monitor_every",
        "monitor_readout",
        "monitor_task",
        "max_epochs",
        "gradients",
        "layout",
    }
)

# Keys a training checkpoint needs to be continued.
_TRAINING_KEYS = (
    "params",
    "n_rois",
    "gradients",
    "history",
    "encoder",
    "predictor",
    "target_encoder",
    "encoder_config",
)

# Subjects and frames hashed for the data fingerprint: enough to tell two data
# sets (or two scalings) apart without reading a streamed cohort in full.
_FINGERPRINT_SUBJECTS = 16
_FINGERPRINT_FRAMES = 32


def describe_scaling(source) -> str:
    """Name of the scaling a source applies as it is read ("none" for raw data).

    Parameters
    ----------
    source : TimeSeriesSource
        A :class:`~sk_brainjepa.sources.ScaledSource` names its transform.
    """
    transform = getattr(source, "transform", None)
    if transform is None:
        return "none"
    if hasattr(transform, "get_params"):
        params = transform.get_params(deep=False)
    else:
        params = {
            k: v
            for k, v in vars(transform).items()
            if not k.startswith("_") and isinstance(v, (bool, int, float, str, tuple))
        }
    body = ", ".join(f"{k}={params[k]!r}" for k in sorted(params))
    return f"{type(transform).__name__}({body})"


def data_fingerprint(source) -> dict:
    """A short record that tells one training set (and its scaling) from another.

    Parameters
    ----------
    source : TimeSeriesSource
        The data as the model sees it (after any lazy scaling).

    Returns
    -------
    fingerprint : dict
        ``n_subjects``, ``n_rois``, ``scaling`` and ``sha256`` of the frame
        counts and of the first frames of up to 16 evenly spaced subjects.
    """
    digest = hashlib.sha256()
    digest.update(np.asarray(source.lengths, dtype=np.int64).tobytes())
    n = len(source)
    for index in np.unique(
        np.linspace(0, n - 1, min(n, _FINGERPRINT_SUBJECTS)).round()
    ):
        index = int(index)
        frames = min(int(source.lengths[index]), _FINGERPRINT_FRAMES)
        window = np.asarray(source.window(index, 0, frames), dtype=np.float32)
        digest.update(np.ascontiguousarray(window).tobytes())
    return {
        "n_subjects": int(n),
        "n_rois": int(source.n_rois),
        "scaling": describe_scaling(source),
        "sha256": digest.hexdigest(),
    }


def load_resume_checkpoint(settings, source) -> dict | None:
    """The training checkpoint a run continues from, or None to start afresh.

    Parameters
    ----------
    settings : PretrainingSettings
        Of a run with ``resume=True``; its ``params`` are compared with the
        checkpoint's.
    source : TimeSeriesSource
        The training data of this call.

    Returns
    -------
    payload : dict or None
        None when there is no checkpoint yet.

    Raises
    ------
    ValueError
        When the file is not a training checkpoint, lacks entries, or was
        written for other parameters, other data or another scaling, or
        already ran more epochs than ``max_epochs``.
    """
    if settings.checkpoint.path is None:
        raise ValueError("resume=True needs checkpoint_path to be set.")
    path = Path(settings.checkpoint.path)
    if not path.exists():
        logger.info("no checkpoint at %s yet: training from the start", path)
        return None
    payload = load_checkpoint(path)
    if payload.get("format") != CHECKPOINT_FORMAT or "training" not in payload:
        raise ValueError(
            f"{path} is not a training checkpoint of BrainJEPAPretrainer "
            "(written with checkpoint_path during fit); cannot resume from it."
        )
    require_keys(payload, _TRAINING_KEYS, path, "resume")
    require_keys(
        payload["training"],
        ("epoch", "n_subjects", "trainer", "data_rng"),
        path,
        "resume (its 'training' entry)",
    )
    _check_same_params(settings.params, payload, path)
    _check_same_data(payload, source, path)
    done = int(payload["training"]["epoch"])
    max_epochs = settings.schedule.max_epochs
    if done > max_epochs:
        raise ValueError(
            f"Cannot resume from {path}: it has already run {done} epochs, more than "
            f"max_epochs={max_epochs}. Raise max_epochs to continue it."
        )
    return payload


def _check_same_params(params: dict, payload: dict, path: Path) -> None:
    names = set(params)
    # Compared under the current names: a checkpoint written before a rename,
    # or a call still passing an old name, means the same run.
    saved = translate_renamed(
        params_from_json(payload["params"], names), PRETRAINER_RENAMES
    )
    ours = translate_renamed(params, PRETRAINER_RENAMES)
    changed = sorted(
        name
        for name in names - RUNTIME_PARAMS - set(PRETRAINER_RENAMES)
        if params_to_json({name: saved.get(name)})
        != params_to_json({name: ours.get(name)})
    )
    if changed:
        raise ValueError(
            f"Cannot resume from {path}: it was trained with other values of "
            f"{', '.join(changed)} (saved: "
            + ", ".join(f"{n}={saved.get(n)!r}" for n in changed)
            + ")."
        )


def _check_same_data(payload: dict, source, path: Path) -> None:
    state = payload["training"]
    if (int(payload["n_rois"]), int(state["n_subjects"])) != (
        source.n_rois,
        len(source),
    ):
        raise ValueError(
            f"Cannot resume from {path}: it was trained on {state['n_subjects']} "
            f"subjects x {payload['n_rois']} ROIs; X has {len(source)} x "
            f"{source.n_rois}."
        )
    saved = state.get("data")
    if saved is None:  # written before fingerprints were recorded
        logger.warning(
            "%s records no data fingerprint; resuming without checking the data", path
        )
        return
    ours = data_fingerprint(source)
    if saved["scaling"] != ours["scaling"]:
        raise ValueError(
            f"Cannot resume from {path}: it was trained on data scaled with "
            f"{saved['scaling']}; X is scaled with {ours['scaling']}. Use the same "
            "scaling to continue it."
        )
    if saved["sha256"] != ours["sha256"]:
        raise ValueError(
            f"Cannot resume from {path}: it was trained on other data (the data "
            "fingerprint differs: other values or other frame counts with the same "
            "number of subjects and ROIs). Resume with the same data, or start a "
            "new run with another checkpoint_path."
        )


def check_same_gradients(saved: np.ndarray, resolved: np.ndarray, path) -> None:
    """Refuse to resume when ``gradients`` now resolve to other positions.

    Parameters
    ----------
    saved : ndarray of shape (n_rois, m)
        The gradients in the checkpoint.
    resolved : ndarray of shape (n_rois, m')
        What this call's ``gradients`` parameter gives.
    path : str or os.PathLike
        The checkpoint, named in the message.
    """
    if saved.shape != resolved.shape:
        what = f"shape {resolved.shape} vs saved {saved.shape}"
    elif not np.allclose(saved, resolved, rtol=1e-5, atol=1e-6):
        # Same shape: say how far apart the values are, not two equal shapes.
        difference = float(np.max(np.abs(np.asarray(saved) - np.asarray(resolved))))
        what = f"same shape {saved.shape}, values differ by up to {difference:.3g}"
    else:
        return
    raise ValueError(
        f"Cannot resume from {path}: gradients give other ROI positions than the "
        f"checkpoint's ({what}). Pass the gradients the run started with."
    )

"""The pretrainer's parameters, declared the scikit-learn way.

``BrainJEPAPretrainer._parameter_constraints`` is read by scikit-learn's
``_validate_params`` at the start of ``fit``: numpy scalars pass
(``lr=np.float32(1e-3)``), and a bad value fails before any data is read,
with scikit-learn's message naming the parameter. Checks that relate two
parameters (``window_length`` a multiple of ``patch_size``, the ``ema`` pair,
the model size) follow in :func:`check_pretrainer_relations`, on the resolved
settings.
"""

from __future__ import annotations

from numbers import Integral, Real

import torch
from sklearn.utils._param_validation import Hidden, Interval, StrOptions

from sk_brainjepa._utils._deprecation import DEPRECATED
from sk_brainjepa._utils._targets import TASKS
from sk_brainjepa._utils._validation import LAYOUTS
from sk_brainjepa.estimators._recipes import RECIPES
from sk_brainjepa.nn import FEATURE_READOUTS, MODEL_PRESETS
from sk_brainjepa.sources import WINDOWS
from sk_brainjepa.training import (
    CONSISTENCY_READOUTS,
    DISTRIBUTED_MODES,
    EMA_SCHEDULES,
    LOSSES,
    TARGET_NORMS,
)

MASKINGS = ("spatiotemporal", "official", "random")


# The default of a renamed parameter's old name (see _utils._deprecation).
_DEPRECATED = Hidden(StrOptions({DEPRECATED}))


def _positive_int():
    return [Interval(Integral, 1, None, closed="left")]


def _weight():
    # None defers to the recipe; otherwise a finite weight >= 0.
    return [Interval(Real, 0, None, closed="left"), None]


PRETRAINER_CONSTRAINTS: dict[str, list] = {
    "model": [StrOptions(set(MODEL_PRESETS))],
    "model_params": [dict, None],
    "patch_size": _positive_int(),
    "window_length": _positive_int(),
    "n_timepoints": [*_positive_int(), _DEPRECATED],
    "layout": [StrOptions(set(LAYOUTS))],
    # The array, file and positioner forms are checked when resolved.
    "gradients": "no_validation",
    "recipe": [StrOptions(set(RECIPES))],
    "masking": [StrOptions(set(MASKINGS)), None],
    "masking_params": [dict, None],
    "loss": [StrOptions(set(LOSSES)), None],
    "target_norm": [StrOptions(set(TARGET_NORMS)), None],
    "content_gain": [
        Interval(Real, 0, None, closed="neither"),
        StrOptions({"auto"}),
        None,
    ],
    "vicreg_weight": _weight(),
    "sigreg_weight": _weight(),
    "reconstruction_weight": _weight(),
    "consistency_weight": _weight(),
    "consistency_readout": [StrOptions(set(CONSISTENCY_READOUTS)), None],
    "context_loss_weight": _weight(),
    "ema_schedule": [StrOptions(set(EMA_SCHEDULES)), None],
    "max_epochs": [Interval(Integral, 0, None, closed="left")],
    "batch_size": _positive_int(),
    "lr": [Interval(Real, 0, None, closed="neither")],
    "start_lr": [Interval(Real, 0, None, closed="left"), None],
    "final_lr": [Interval(Real, 0, None, closed="left")],
    "warmup_epochs": [Interval(Real, 0, None, closed="left"), None],
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "final_weight_decay": [Interval(Real, 0, None, closed="left")],
    "ema": [tuple, list],
    "accumulation_steps": _positive_int(),
    "collapse_threshold": [Interval(Real, 0, None, closed="left")],
    "monitor": [tuple, list, None],
    "monitor_every": _positive_int(),
    "monitor_readout": [StrOptions(set(FEATURE_READOUTS))],
    "monitor_task": [StrOptions(set(TASKS))],
    "precision": [StrOptions({"auto", "float32", "bfloat16"})],
    "device": [str, torch.device],
    "window_position": [StrOptions(set(WINDOWS))],
    "embed_window": [StrOptions(set(WINDOWS)), _DEPRECATED],
    "embed_batch_size": _positive_int(),
    # A str or os.PathLike; a folder is refused by fit before the first epoch.
    "checkpoint_path": "no_validation",
    "checkpoint_every": _positive_int(),
    "resume": ["boolean"],
    "distributed": [StrOptions(set(DISTRIBUTED_MODES))],
    "num_workers": [Interval(Integral, 0, None, closed="left")],
    "compile": ["boolean"],
    "random_state": ["random_state"],
    "verbose": ["verbose"],
}


def check_pretrainer_relations(settings) -> None:
    """Checks that relate parameters to each other, after the per-parameter ones.

    Parameters
    ----------
    settings : PretrainingSettings
        Resolved from parameters that have passed ``_validate_params``.

    Raises
    ------
    ValueError
        Naming the parameters involved.
    """
    model = settings.model
    if model.window_length % model.patch_size:
        raise ValueError(
            f"window_length={model.window_length} must be a multiple of "
            f"patch_size={model.patch_size}."
        )
    ema = settings.params["ema"]
    try:
        m0, m1 = (float(m) for m in ema)
    except (TypeError, ValueError):
        raise ValueError(f"ema must be a pair (start, end); got {ema!r}.") from None
    if not 0.0 <= m0 <= m1 <= 1.0:
        raise ValueError(f"ema must satisfy 0 <= start <= end <= 1; got {ema!r}.")
    # Build the configs once on a stand-in ROI count: unknown model_params
    # keys and impossible sizes fail here, before any data is read.
    try:
        encoder_config, predictor_config = model.configs(n_rois=2)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"model_params: {exc}") from None
    for owner, config in (("encoder", encoder_config), ("predictor", predictor_config)):
        if config.depth < 1:
            raise ValueError(
                f"model_params: the {owner} needs depth >= 1 to be pretrained; got "
                f"depth={config.depth}."
            )

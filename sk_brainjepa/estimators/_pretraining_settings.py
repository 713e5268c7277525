"""The pretrainer's parameters, resolved once into frozen settings.

``BrainJEPAPretrainer`` keeps flat, grid-searchable scikit-learn parameters.
At the start of ``fit`` :func:`resolve_settings` turns them into one
:class:`PretrainingSettings`: the recipe applied (once), renamed parameters
read with their deprecation warning (once), the relations between parameters
checked. Each step of ``fit`` then receives the part it reads —
:class:`ModelSettings`, :class:`~sk_brainjepa.training.Objective`,
:class:`MaskingSettings`, :class:`ScheduleSettings`, :class:`MonitorSettings`,
:class:`CheckpointSettings`, :class:`RuntimeSettings` — so its signature says
what it depends on, and no step reads the estimator.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch

from sk_brainjepa._utils._deprecation import renamed_param
from sk_brainjepa.estimators._constraints import check_pretrainer_relations
from sk_brainjepa.estimators._recipes import recipe_objective, recipe_values
from sk_brainjepa.masking import check_masker_options, make_masker
from sk_brainjepa.nn import EncoderConfig, PredictorConfig, model_config
from sk_brainjepa.training import Objective

__all__ = [
    "PRETRAINER_RENAMES",
    "CheckpointSettings",
    "MaskingSettings",
    "ModelSettings",
    "MonitorSettings",
    "PretrainingSettings",
    "RuntimeSettings",
    "ScheduleSettings",
    "resolve_settings",
]

#: The pretrainer's renamed parameters, old name -> new one (deprecated in 0.2,
#: removed in 0.3); saved files may hold the old names.
PRETRAINER_RENAMES = {
    "n_timepoints": "window_length",
    "embed_window": "window_position",
}


@dataclass(frozen=True)
class ModelSettings:
    """Which model is built, and on what windows."""

    preset: str
    overrides: dict
    patch_size: int
    window_length: int
    # A float, or "auto" (measured on the data when the modules are built).
    content_gain: float | str

    @property
    def n_time_patches(self) -> int:
        """Tokens along time in one window."""
        return self.window_length // self.patch_size

    def configs(
        self, n_rois: int, gradient_dim: int | None = None
    ) -> tuple[EncoderConfig, PredictorConfig]:
        """The encoder and predictor configs for ``n_rois`` ROIs.

        ``gradient_dim`` (the width of the ROI positions) unless the overrides
        set it; None keeps the preset's.
        """
        overrides = dict(self.overrides)
        overrides.setdefault("patch_size", self.patch_size)
        if gradient_dim is not None:
            overrides.setdefault("gradient_dim", gradient_dim)
        return model_config(self.preset, n_rois=n_rois, **overrides)


@dataclass(frozen=True)
class MaskingSettings:
    """The masker's kind and options."""

    kind: str
    options: dict

    def check(self) -> None:
        """Refuse unknown option names before any data is read."""
        try:
            check_masker_options(self.kind, self.options)
        except ValueError as exc:
            raise ValueError(f"masking_params: {exc}") from None

    def make(self, n_rois: int, n_time_patches: int):
        """The masker for a grid of ``n_rois`` x ``n_time_patches`` tokens."""
        return make_masker(self.kind, n_rois, n_time_patches, **self.options)


@dataclass(frozen=True)
class ScheduleSettings:
    """How long, in what batches, and with which rates the run trains."""

    max_epochs: int
    batch_size: int
    accumulation_steps: int
    lr: float
    start_lr: float | None
    final_lr: float
    warmup_epochs: float | None
    weight_decay: float
    final_weight_decay: float
    ema: tuple[float, float]
    ema_schedule: str


@dataclass(frozen=True)
class MonitorSettings:
    """The online linear probe (``data`` None: no monitor)."""

    data: tuple | list | None
    every: int
    readout: str
    task: str

    def due(self, epoch: int, max_epochs: int) -> bool:
        """Whether ``epoch`` is scored (the last one always is)."""
        return epoch % self.every == 0 or epoch == max_epochs


@dataclass(frozen=True)
class CheckpointSettings:
    """Where and how often training checkpoints are written, and resuming."""

    path: str | Path | None
    every: int
    resume: bool

    def due(self, epoch: int, max_epochs: int) -> bool:
        """Whether a checkpoint is written after ``epoch``."""
        return self.path is not None and (
            epoch % self.every == 0 or epoch == max_epochs
        )


@dataclass(frozen=True)
class RuntimeSettings:
    """Where and how the run executes; none of it changes what it computes."""

    device: str | torch.device
    distributed: str
    num_workers: int
    compile: bool
    precision: str
    verbose: int
    window_position: str
    embed_batch_size: int

    def autocast_dtype(self, device: torch.device):
        """bfloat16 when asked for, or on CUDA with ``precision="auto"``."""
        if self.precision == "bfloat16" or (
            self.precision == "auto" and device.type == "cuda"
        ):
            return torch.bfloat16
        return None


@dataclass(frozen=True)
class PretrainingSettings:
    """Everything one ``fit`` of ``BrainJEPAPretrainer`` reads, resolved.

    ``params`` are the estimator's parameters as given (recorded in
    checkpoints and compared on resume); the other fields are what the steps
    read.
    """

    recipe: str
    # Every value the recipe decides, explicit parameters applied.
    recipe_values: dict
    model: ModelSettings
    objective: Objective
    masking: MaskingSettings
    schedule: ScheduleSettings
    monitor: MonitorSettings
    checkpoint: CheckpointSettings
    runtime: RuntimeSettings
    layout: str
    gradients: object
    collapse_threshold: float
    random_state: object
    params: dict

    def objective_record(self, content_gain: float) -> dict:
        """The recipe's values as the run used them (``objective_``)."""
        return {
            **self.recipe_values,
            "content_gain": content_gain,
        }


def resolve_settings(est) -> PretrainingSettings:
    """The settings of one fit of ``est``, checked, its recipe resolved once.

    Parameters
    ----------
    est : BrainJEPAPretrainer
        Its parameters have passed ``_validate_params``.

    Returns
    -------
    settings : PretrainingSettings

    Raises
    ------
    ValueError
        Before any data is read: parameters that contradict each other (see
        :func:`~._constraints.check_pretrainer_relations`), an unknown masker
        option, a folder as ``checkpoint_path``, or an old and a new name of
        a renamed parameter both given.
    """
    settings = _settings(est)
    check_pretrainer_relations(settings)
    settings.masking.check()
    path = settings.checkpoint.path
    if path is not None and Path(path).is_dir():
        raise ValueError(
            f"checkpoint_path={str(path)!r} is a folder; give a "
            "file path such as 'run/checkpoint.pt'."
        )
    return settings


def _settings(est) -> PretrainingSettings:
    """The settings of ``est``'s parameters, before the relation checks."""
    params = est.get_params(deep=False)
    recipe = recipe_values(est.recipe, params)
    # The loss terms validate their names and weights here, before any data.
    objective = recipe_objective(recipe)
    return PretrainingSettings(
        recipe=est.recipe,
        recipe_values=recipe,
        model=ModelSettings(
            preset=est.model,
            overrides=dict(est.model_params or {}),
            patch_size=est.patch_size,
            window_length=renamed_param(
                est, "n_timepoints", "window_length", stacklevel=6
            ),
            content_gain=recipe["content_gain"],
        ),
        objective=objective,
        masking=MaskingSettings(recipe["masking"], dict(est.masking_params or {})),
        schedule=ScheduleSettings(
            max_epochs=est.max_epochs,
            batch_size=est.batch_size,
            accumulation_steps=est.accumulation_steps,
            lr=est.lr,
            start_lr=est.start_lr,
            final_lr=est.final_lr,
            warmup_epochs=est.warmup_epochs,
            weight_decay=est.weight_decay,
            final_weight_decay=est.final_weight_decay,
            ema=tuple(est.ema),
            ema_schedule=recipe["ema_schedule"],
        ),
        monitor=MonitorSettings(
            data=est.monitor,
            every=est.monitor_every,
            readout=est.monitor_readout,
            task=est.monitor_task,
        ),
        checkpoint=CheckpointSettings(
            path=est.checkpoint_path,
            every=est.checkpoint_every,
            resume=est.resume,
        ),
        runtime=RuntimeSettings(
            device=est.device,
            distributed=est.distributed,
            num_workers=est.num_workers,
            compile=est.compile,
            precision=est.precision,
            verbose=est.verbose,
            window_position=renamed_param(
                est, "embed_window", "window_position", stacklevel=6
            ),
            embed_batch_size=est.embed_batch_size,
        ),
        layout=est.layout,
        gradients=est.gradients,
        collapse_threshold=est.collapse_threshold,
        random_state=est.random_state,
        params=params,
    )

"""Training of Brain-JEPA: objective, EMA, schedules, the trainer and checkpoints."""

from sk_brainjepa.training._checkpoint import load_checkpoint, save_checkpoint
from sk_brainjepa.training._objective import (
    LOSSES,
    normalize_targets,
    prediction_loss,
    representation_spread,
    sample_spread,
    update_ema,
)
from sk_brainjepa.training._schedules import (
    cosine_ramp,
    ema_momentum,
    official_ema_momentum,
    warmup_cosine,
)
from sk_brainjepa.training._trainer import (
    JEPATrainer,
    TrainingDivergedError,
    jepa_loss,
    parameter_groups,
)

__all__ = [
    "LOSSES",
    "JEPATrainer",
    "TrainingDivergedError",
    "cosine_ramp",
    "ema_momentum",
    "jepa_loss",
    "load_checkpoint",
    "normalize_targets",
    "official_ema_momentum",
    "parameter_groups",
    "prediction_loss",
    "representation_spread",
    "sample_spread",
    "save_checkpoint",
    "update_ema",
    "warmup_cosine",
]

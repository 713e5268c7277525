"""Training of Brain-JEPA: objective, EMA, schedules, the trainer and checkpoints."""

from sk_brainjepa.training._checkpoint import load_checkpoint, save_checkpoint
from sk_brainjepa.training._diagnostics import (
    collapse_diagnostics,
    effective_rank,
    offset_ratio,
    position_share,
)
from sk_brainjepa.training._objective import (
    LOSSES,
    TARGET_NORMS,
    Objective,
    normalize_targets,
    prediction_loss,
    representation_spread,
    sample_spread,
    update_ema,
)
from sk_brainjepa.training._regularizers import (
    consistency_terms,
    epps_pulley,
    expected_epps_pulley_under_null,
    sigreg,
    standardize_over_batch,
    variance_covariance_terms,
)
from sk_brainjepa.training._schedules import (
    cosine_ramp,
    ema_momentum,
    official_ema_momentum,
    warmup_cosine,
)
from sk_brainjepa.training._trainer import (
    EMA_SCHEDULES,
    JEPATrainer,
    TrainingDivergedError,
    jepa_loss,
    parameter_groups,
    patches_of,
)

__all__ = [
    "EMA_SCHEDULES",
    "LOSSES",
    "TARGET_NORMS",
    "JEPATrainer",
    "Objective",
    "TrainingDivergedError",
    "collapse_diagnostics",
    "consistency_terms",
    "cosine_ramp",
    "effective_rank",
    "ema_momentum",
    "epps_pulley",
    "expected_epps_pulley_under_null",
    "jepa_loss",
    "load_checkpoint",
    "normalize_targets",
    "offset_ratio",
    "official_ema_momentum",
    "parameter_groups",
    "patches_of",
    "position_share",
    "prediction_loss",
    "representation_spread",
    "sample_spread",
    "save_checkpoint",
    "sigreg",
    "standardize_over_batch",
    "update_ema",
    "variance_covariance_terms",
    "warmup_cosine",
]

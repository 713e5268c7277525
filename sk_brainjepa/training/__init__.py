"""Training of Brain-JEPA: objective, EMA, schedules, the trainer and checkpoints.

Also the streaming of training windows: :class:`EpochPlanner` draws which
window of which subject each batch holds (numpy, seeded, sharded per rank)
and :func:`make_loader` reads them in DataLoader workers.
"""

from sk_brainjepa.training._build import build_trainer, schedule_steps
from sk_brainjepa.training._checkpoint import (
    load_checkpoint,
    require_keys,
    save_checkpoint,
)
from sk_brainjepa.training._diagnostics import (
    collapse_diagnostics,
    effective_rank,
    nan_mean,
    offset_ratio,
    position_share,
)
from sk_brainjepa.training._distributed import (
    DISTRIBUTED_MODES,
    DistributedContext,
    average_across_ranks,
    barrier,
    rank_device,
    release_data_parallel,
    setup_distributed,
    shared_seeds,
    wrap_data_parallel,
)
from sk_brainjepa.training._jepa_loss import jepa_loss, patches_of
from sk_brainjepa.training._loader import (
    PlanBatchSampler,
    WindowDataset,
    iter_batches,
    make_loader,
)
from sk_brainjepa.training._objective import (
    CONSISTENCY_READOUTS,
    LOSSES,
    TARGET_NORMS,
    Objective,
    context_loss,
    normalize_targets,
    prediction_loss,
    representation_spread,
    sample_spread,
    supervised_layers,
    update_ema,
)
from sk_brainjepa.training._plans import (
    EpochPlan,
    EpochPlanner,
    draw_epoch,
    shard_batches,
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
    parameter_groups,
)

__all__ = [
    "CONSISTENCY_READOUTS",
    "DISTRIBUTED_MODES",
    "EMA_SCHEDULES",
    "LOSSES",
    "TARGET_NORMS",
    "DistributedContext",
    "EpochPlan",
    "EpochPlanner",
    "JEPATrainer",
    "Objective",
    "PlanBatchSampler",
    "TrainingDivergedError",
    "build_trainer",
    "WindowDataset",
    "average_across_ranks",
    "barrier",
    "collapse_diagnostics",
    "consistency_terms",
    "context_loss",
    "cosine_ramp",
    "draw_epoch",
    "effective_rank",
    "ema_momentum",
    "epps_pulley",
    "expected_epps_pulley_under_null",
    "iter_batches",
    "jepa_loss",
    "load_checkpoint",
    "make_loader",
    "nan_mean",
    "normalize_targets",
    "official_ema_momentum",
    "offset_ratio",
    "parameter_groups",
    "patches_of",
    "position_share",
    "prediction_loss",
    "rank_device",
    "release_data_parallel",
    "representation_spread",
    "require_keys",
    "sample_spread",
    "save_checkpoint",
    "schedule_steps",
    "setup_distributed",
    "shard_batches",
    "shared_seeds",
    "sigreg",
    "standardize_over_batch",
    "supervised_layers",
    "update_ema",
    "variance_covariance_terms",
    "warmup_cosine",
    "wrap_data_parallel",
]

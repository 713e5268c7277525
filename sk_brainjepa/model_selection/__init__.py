"""Model selection: 6/2/2 splits, linear probing, model comparisons, score tables."""

from sk_brainjepa.model_selection._compare import DEFAULT_COMPARED, compare_models
from sk_brainjepa.model_selection._comparison import ModelComparison
from sk_brainjepa.model_selection._contenders import MODEL_NAMES
from sk_brainjepa.model_selection._metadata_scoring import (
    MetadataScorer,
    metadata_scorer,
)
from sk_brainjepa.model_selection._metrics import (
    CLASSIFICATION_METRICS,
    REGRESSION_METRICS,
    classification_scores,
    format_scores,
    regression_scores,
)
from sk_brainjepa.model_selection._paired import corrected_paired_ttest
from sk_brainjepa.model_selection._probe import linear_probe, probe_features
from sk_brainjepa.model_selection._split import TrainValTestSplit, train_val_test_split

__all__ = [
    "CLASSIFICATION_METRICS",
    "DEFAULT_COMPARED",
    "MODEL_NAMES",
    "MetadataScorer",
    "ModelComparison",
    "REGRESSION_METRICS",
    "TrainValTestSplit",
    "classification_scores",
    "compare_models",
    "corrected_paired_ttest",
    "format_scores",
    "linear_probe",
    "metadata_scorer",
    "probe_features",
    "regression_scores",
    "train_val_test_split",
]

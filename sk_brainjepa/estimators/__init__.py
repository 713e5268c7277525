"""Estimators: Brain-JEPA pretraining, frozen features and fine-tuning."""

from sk_brainjepa.estimators._embedder import BrainJEPAEmbedder
from sk_brainjepa.estimators._finetune import BrainJEPAClassifier, BrainJEPARegressor
from sk_brainjepa.estimators._nets import SeededNetMixin
from sk_brainjepa.estimators._pretrainer import (
    BrainJEPAPretrainer,
    RepresentationCollapseWarning,
)

__all__ = [
    "BrainJEPAClassifier",
    "BrainJEPAEmbedder",
    "BrainJEPAPretrainer",
    "BrainJEPARegressor",
    "RepresentationCollapseWarning",
    "SeededNetMixin",
]

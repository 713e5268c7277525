"""Estimators: Brain-JEPA pretraining, frozen features and fine-tuning."""

from sk_brainjepa.estimators._embedder import BrainJEPAEmbedder
from sk_brainjepa.estimators._finetune import BrainJEPAClassifier, BrainJEPARegressor
from sk_brainjepa.estimators._finetune_callbacks import (
    FineTuneDiagnostics,
    WarmupCosineLR,
)
from sk_brainjepa.estimators._hub import push_to_hub
from sk_brainjepa.estimators._nets import SeededNetMixin
from sk_brainjepa.estimators._official_conversion import convert_official_checkpoint
from sk_brainjepa.estimators._pretrained import load_pretrained, save_pretrained
from sk_brainjepa.estimators._pretrainer import (
    BrainJEPAPretrainer,
    RepresentationCollapseWarning,
    UnscaledInputWarning,
)
from sk_brainjepa.estimators._recipes import DEFAULT_RECIPE, RECIPES

__all__ = [
    "DEFAULT_RECIPE",
    "RECIPES",
    "BrainJEPAClassifier",
    "BrainJEPAEmbedder",
    "BrainJEPAPretrainer",
    "BrainJEPARegressor",
    "FineTuneDiagnostics",
    "RepresentationCollapseWarning",
    "UnscaledInputWarning",
    "SeededNetMixin",
    "WarmupCosineLR",
    "convert_official_checkpoint",
    "load_pretrained",
    "push_to_hub",
    "save_pretrained",
]

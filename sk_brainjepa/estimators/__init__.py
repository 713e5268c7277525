"""Estimators: Brain-JEPA pretraining, frozen features and fine-tuning.

Also the helpers that the packages above use to take a ``model`` argument:
:func:`resolve_model` (any accepted model to a fitted embedder),
:func:`unfreeze`, :func:`check_encoder` and :data:`ENCODERS`,
:func:`resolve_device`, :func:`looks_like_repo_id` and
:func:`is_pretrained_folder`.
"""

from sk_brainjepa.estimators._common import resolve_device
from sk_brainjepa.estimators._embedder import BrainJEPAEmbedder
from sk_brainjepa.estimators._finetune import BrainJEPAClassifier, BrainJEPARegressor
from sk_brainjepa.estimators._finetune_callbacks import (
    FineTuneDiagnostics,
    WarmupCosineLR,
)
from sk_brainjepa.estimators._hub import looks_like_repo_id
from sk_brainjepa.estimators._hub_upload import push_to_hub
from sk_brainjepa.estimators._loading import ENCODERS, check_encoder, unfreeze
from sk_brainjepa.estimators._nets import SeededNetMixin
from sk_brainjepa.estimators._official_conversion import convert_official_checkpoint
from sk_brainjepa.estimators._pretrained import load_pretrained, save_pretrained
from sk_brainjepa.estimators._pretrained_format import is_pretrained_folder
from sk_brainjepa.estimators._pretrainer import (
    BrainJEPAPretrainer,
    RepresentationCollapseWarning,
    UnscaledInputWarning,
)
from sk_brainjepa.estimators._recipes import DEFAULT_RECIPE, RECIPES
from sk_brainjepa.estimators._resolve import resolve_model

__all__ = [
    "DEFAULT_RECIPE",
    "ENCODERS",
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
    "check_encoder",
    "convert_official_checkpoint",
    "is_pretrained_folder",
    "load_pretrained",
    "looks_like_repo_id",
    "push_to_hub",
    "resolve_device",
    "resolve_model",
    "save_pretrained",
    "unfreeze",
]

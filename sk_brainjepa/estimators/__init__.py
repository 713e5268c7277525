"""Estimators: Brain-JEPA pretraining and frozen feature extraction."""

from sk_brainjepa.estimators._embedder import BrainJEPAEmbedder
from sk_brainjepa.estimators._pretrainer import (
    BrainJEPAPretrainer,
    RepresentationCollapseWarning,
)

__all__ = ["BrainJEPAEmbedder", "BrainJEPAPretrainer", "RepresentationCollapseWarning"]

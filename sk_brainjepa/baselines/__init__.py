"""Task-specific baselines of the field: BrainNetCNN, BNT and FC + linear models."""

from sk_brainjepa.baselines._bnt import (
    BrainNetworkTransformer,
    OrthonormalClusterReadout,
)
from sk_brainjepa.baselines._brainnetcnn import (
    BrainNetCNN,
    EdgeToEdge,
    EdgeToNode,
    NodeToGraph,
)
from sk_brainjepa.baselines._estimators import (
    BNTClassifier,
    BNTRegressor,
    BrainNetCNNClassifier,
    BrainNetCNNRegressor,
    fc_linear_baseline,
)

__all__ = [
    "BNTClassifier",
    "BNTRegressor",
    "BrainNetCNN",
    "BrainNetCNNClassifier",
    "BrainNetCNNRegressor",
    "BrainNetworkTransformer",
    "EdgeToEdge",
    "EdgeToNode",
    "NodeToGraph",
    "OrthonormalClusterReadout",
    "fc_linear_baseline",
]

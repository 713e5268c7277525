"""sk_brainjepa: the Brain-JEPA brain-dynamics foundation model for scikit-learn.

The public names are re-exported here; the subpackages (``datasets``,
``preprocessing``, ``gradients``) hold the implementation.
"""

from sk_brainjepa._version import __version__
from sk_brainjepa.datasets import (
    load_group_fc,
    load_hcp_rest,
    load_timeseries,
    make_brain_dynamics,
)
from sk_brainjepa.estimators import (
    BrainJEPAClassifier,
    BrainJEPAEmbedder,
    BrainJEPAPretrainer,
    BrainJEPARegressor,
)
from sk_brainjepa.gradients import (
    GradientPositioner,
    diffusion_gradients,
    read_gradient_csv,
    write_gradient_csv,
)
from sk_brainjepa.inspection import network_attention, roi_attention
from sk_brainjepa.model_selection import (
    TrainValTestSplit,
    linear_probe,
    probe_features,
    train_val_test_split,
)
from sk_brainjepa.preprocessing import (
    FunctionalConnectivity,
    ROIRobustScaler,
    SampleZScore,
    SubjectRobustScaler,
    TemporalResampler,
    official_scaling,
)

__all__ = [
    "BrainJEPAClassifier",
    "BrainJEPAEmbedder",
    "BrainJEPAPretrainer",
    "BrainJEPARegressor",
    "FunctionalConnectivity",
    "GradientPositioner",
    "ROIRobustScaler",
    "SampleZScore",
    "SubjectRobustScaler",
    "TemporalResampler",
    "TrainValTestSplit",
    "__version__",
    "diffusion_gradients",
    "linear_probe",
    "probe_features",
    "load_group_fc",
    "load_hcp_rest",
    "load_timeseries",
    "make_brain_dynamics",
    "network_attention",
    "official_scaling",
    "read_gradient_csv",
    "roi_attention",
    "train_val_test_split",
    "write_gradient_csv",
]

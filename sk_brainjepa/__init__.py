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
from sk_brainjepa.estimators import BrainJEPAEmbedder, BrainJEPAPretrainer
from sk_brainjepa.gradients import (
    GradientPositioner,
    diffusion_gradients,
    read_gradient_csv,
    write_gradient_csv,
)
from sk_brainjepa.preprocessing import (
    FunctionalConnectivity,
    ROIRobustScaler,
    TemporalResampler,
)

__all__ = [
    "BrainJEPAEmbedder",
    "BrainJEPAPretrainer",
    "FunctionalConnectivity",
    "GradientPositioner",
    "ROIRobustScaler",
    "TemporalResampler",
    "__version__",
    "diffusion_gradients",
    "load_group_fc",
    "load_hcp_rest",
    "load_timeseries",
    "make_brain_dynamics",
    "read_gradient_csv",
    "write_gradient_csv",
]

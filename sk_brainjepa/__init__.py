"""sk_brainjepa: the Brain-JEPA brain-dynamics foundation model for scikit-learn.

The public names are re-exported here; the subpackages (``datasets``,
``preprocessing``, ``gradients``, ``estimators``, ...) hold the implementation.
Names are imported on first use (PEP 562), so ``import sk_brainjepa.preprocessing``
does not load torch, skorch or pandas.
"""

from __future__ import annotations

from sk_brainjepa._utils._lazy import lazy_attributes
from sk_brainjepa._version import __version__ as __version__

# Public name -> the subpackage that defines it.
_EXPORTS = {
    "load_group_fc": "datasets",
    "load_hcp_rest": "datasets",
    "load_timeseries": "datasets",
    "make_brain_dynamics": "datasets",
    "BrainJEPAClassifier": "estimators",
    "BrainJEPAEmbedder": "estimators",
    "BrainJEPAPretrainer": "estimators",
    "BrainJEPARegressor": "estimators",
    "GradientPositioner": "gradients",
    "diffusion_gradients": "gradients",
    "read_gradient_csv": "gradients",
    "write_gradient_csv": "gradients",
    "network_attention": "inspection",
    "roi_attention": "inspection",
    "TrainValTestSplit": "model_selection",
    "compare_models": "model_selection",
    "linear_probe": "model_selection",
    "probe_features": "model_selection",
    "train_val_test_split": "model_selection",
    "ComBatHarmonizer": "preprocessing",
    "FunctionalConnectivity": "preprocessing",
    "ROIRobustScaler": "preprocessing",
    "SampleZScore": "preprocessing",
    "SubjectRobustScaler": "preprocessing",
    "TemporalResampler": "preprocessing",
    "official_scaling": "preprocessing",
    "ROITimeSeriesExtractor": "imaging",
    "load_fmriprep": "imaging",
}

__all__ = sorted([*_EXPORTS, "__version__"])


__getattr__, __dir__ = lazy_attributes(
    "sk_brainjepa",
    {name: f"sk_brainjepa.{subpackage}" for name, subpackage in _EXPORTS.items()},
    globals(),
)

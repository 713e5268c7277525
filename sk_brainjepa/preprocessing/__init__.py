"""Preprocessing transformers for ROI time series (scaling, resampling, FC).

Also :class:`DynamicFeatures`, hand-made lagged, higher-moment and
connectivity-state features of the time series.
"""

from sk_brainjepa.preprocessing._connectivity import (
    FunctionalConnectivity,
    fisher_z,
    sym_matrix_to_vec,
    vec_to_sym_matrix,
)
from sk_brainjepa.preprocessing._dynamics import DynamicFeatures
from sk_brainjepa.preprocessing._resample import TemporalResampler
from sk_brainjepa.preprocessing._scaling import (
    ROIRobustScaler,
    SampleZScore,
    official_scaling,
)

__all__ = [
    "DynamicFeatures",
    "FunctionalConnectivity",
    "ROIRobustScaler",
    "SampleZScore",
    "TemporalResampler",
    "fisher_z",
    "official_scaling",
    "sym_matrix_to_vec",
    "vec_to_sym_matrix",
]

"""Preprocessing transformers for ROI time series (scaling, resampling, FC).

Also :class:`DynamicFeatures`, hand-made lagged, higher-moment and
connectivity-state features of the time series. Every transformer takes
``layout="rois_x_time"`` (or ``"time_x_rois"``) and returns time series in
the layout it was given.
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
    SubjectRobustScaler,
    official_scaling,
    robust_scale_subject,
)

__all__ = [
    "DynamicFeatures",
    "FunctionalConnectivity",
    "ROIRobustScaler",
    "SampleZScore",
    "SubjectRobustScaler",
    "TemporalResampler",
    "fisher_z",
    "official_scaling",
    "robust_scale_subject",
    "sym_matrix_to_vec",
    "vec_to_sym_matrix",
]

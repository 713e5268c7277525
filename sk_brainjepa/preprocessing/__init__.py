"""Preprocessing transformers for ROI time series (scaling, resampling, FC)."""

from sk_brainjepa.preprocessing._connectivity import (
    FunctionalConnectivity,
    fisher_z,
    sym_matrix_to_vec,
    vec_to_sym_matrix,
)
from sk_brainjepa.preprocessing._resample import TemporalResampler
from sk_brainjepa.preprocessing._scaling import ROIRobustScaler

__all__ = [
    "FunctionalConnectivity",
    "ROIRobustScaler",
    "TemporalResampler",
    "fisher_z",
    "sym_matrix_to_vec",
    "vec_to_sym_matrix",
]
